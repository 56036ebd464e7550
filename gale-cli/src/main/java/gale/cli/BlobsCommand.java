package gale.cli;

import com.fasterxml.jackson.databind.JsonNode;
import gale.client.GaleClient;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code gale blobs}: versioned blobs with aliases (docs/blobs.md), as the admin. */
@Command(name = "blobs", description = "Store versioned blobs (models, data) and point aliases at versions.",
        subcommands = {BlobsCommand.Put.class, BlobsCommand.Get.class, BlobsCommand.ListKeys.class, BlobsCommand.Versions.class,
                BlobsCommand.Alias.class, BlobsCommand.Remove.class},
        footer = {"", "A reference is BUCKET/KEY or BUCKET/KEY@ALIAS. Inside a function, gale.blobs reads its own bucket",
                "(named after it) and those granted with `gale deploy NAME --blob-bucket BUCKET` (docs/blobs.md)."})
final class BlobsCommand extends CommandGroup {

    /** BUCKET/KEY[@ALIAS], split. */
    record Ref(String bucket, String key, Optional<String> alias) {
        static Ref parse(CommandSpec spec, String text, boolean aliasAllowed) {
            int slash = text.indexOf('/');
            if (slash <= 0 || slash == text.length() - 1) {
                throw new ParameterException(spec.commandLine(), "'" + text + "' is no blob reference: write BUCKET/KEY"
                        + (aliasAllowed ? " or BUCKET/KEY@ALIAS" : "") + ", e.g. models/churn.pkl");
            }
            String key = text.substring(slash + 1);
            Optional<String> alias = Optional.empty();
            int at = key.lastIndexOf('@');
            if (at >= 0) {
                if (!aliasAllowed) throw new ParameterException(spec.commandLine(), "'" + text + "' names an alias; this takes BUCKET/KEY");
                alias = Optional.of(key.substring(at + 1));
                key = key.substring(0, at);
            }
            return new Ref(text.substring(0, slash), key, alias);
        }

        @Override
        public String toString() {
            return bucket + "/" + key + alias.map(a -> "@" + a).orElse("");
        }
    }

    @Command(name = "put", description = "Store a file as the key's next version (the same bytes again make none).")
    static final class Put extends ClientCommand {
        @Spec CommandSpec spec;
        @Parameters(index = "0", paramLabel = "BUCKET/KEY") String ref;
        @Parameters(index = "1", paramLabel = "FILE") Path file;

        @Option(names = "--content-type", paramLabel = "TYPE", description = "the type GET answers with (default: application/octet-stream)")
        Optional<String> contentType = Optional.empty();

        @Override
        int run(GaleClient client, Terminal terminal) {
            Ref r = Ref.parse(spec, ref, false);
            if (!Files.isRegularFile(file)) throw new ParameterException(spec.commandLine(), "no file " + file + " to put");
            JsonNode v = client.blobPut(r.bucket(), r.key(), file, contentType);
            terminal.out().println((v.path("created").asBoolean() ? "Stored " : "Unchanged: ") + r + " version " + v.path("version").asInt()
                    + " (" + v.path("bytes").asLong() + " bytes, " + v.path("digest").asText() + ").");
            return ExitCode.OK;
        }
    }

    @Command(name = "get", description = "Write a blob's bytes to a file (or stdout): the latest, --version N, or BUCKET/KEY@ALIAS.")
    static final class Get extends ClientCommand {
        @Spec CommandSpec spec;
        @Parameters(index = "0", paramLabel = "BUCKET/KEY[@ALIAS]") String ref;

        @Option(names = {"-o", "--output"}, paramLabel = "FILE", description = "write here (default: stdout)")
        Optional<Path> output = Optional.empty();

        @Option(names = "--version", paramLabel = "N", description = "this version instead of the latest")
        Optional<Integer> version = Optional.empty();

        @Override
        int run(GaleClient client, Terminal terminal) throws IOException {
            Ref r = Ref.parse(spec, ref, true);
            OptionalInt v = version.map(OptionalInt::of).orElse(OptionalInt.empty());
            if (output.isEmpty()) {
                client.blobGet(r.bucket(), r.key(), r.alias(), v, terminal.out());
                terminal.out().flush();
                return ExitCode.OK;
            }
            Path target = output.get().toAbsolutePath();
            Path part = Files.createTempFile(target.getParent(), ".gale-blob-", ".part"); // a failed read leaves no half file
            try {
                int got;
                try (OutputStream out = Files.newOutputStream(part)) {
                    got = client.blobGet(r.bucket(), r.key(), r.alias(), v, out);
                }
                Files.move(part, target, StandardCopyOption.REPLACE_EXISTING);
                terminal.err().println("Wrote " + r + " version " + got + " to " + output.get() + ".");
            } finally {
                Files.deleteIfExists(part);
            }
            return ExitCode.OK;
        }
    }

    @Command(name = "ls", description = "List a bucket's keys with their latest version.")
    static final class ListKeys extends ClientCommand {
        @Parameters(index = "0", paramLabel = "BUCKET") String bucket;

        @Option(names = "--prefix", paramLabel = "TEXT", defaultValue = "", description = "only keys that start with this")
        String prefix;

        @Option(names = "--limit", paramLabel = "N", defaultValue = "100", description = "most keys to list (default: ${DEFAULT-VALUE})")
        int limit;

        @Override
        int run(GaleClient client, Terminal terminal) {
            JsonNode page = client.blobList(bucket, prefix, Optional.empty(), Math.clamp(limit, 1, 1000));
            if (page.path("keys").isEmpty()) {
                terminal.out().println("No keys in " + bucket + (prefix.isEmpty() ? "" : " starting with '" + prefix + "'") + ".");
                return ExitCode.OK;
            }
            Table table = new Table("KEY", "VERSION", "BYTES", "CREATED");
            for (JsonNode k : page.path("keys")) {
                table.row(k.path("key").asText(), k.path("version").asInt(), k.path("bytes").asLong(), k.path("createdAt").asText());
            }
            table.print(terminal.out(), terminal.colour());
            if (!page.path("next").isNull()) terminal.err().println("(more keys after " + page.path("next").asText() + ": raise --limit or narrow --prefix)");
            return ExitCode.OK;
        }
    }

    @Command(name = "versions", description = "List a key's versions, newest first, and its aliases with their calls per version.")
    static final class Versions extends ClientCommand {
        @Spec CommandSpec spec;
        @Parameters(index = "0", paramLabel = "BUCKET/KEY") String ref;

        @Override
        int run(GaleClient client, Terminal terminal) {
            Ref r = Ref.parse(spec, ref, false);
            Table table = new Table("VERSION", "BYTES", "DIGEST", "CREATED");
            for (JsonNode v : client.blobVersions(r.bucket(), r.key()).path("versions")) {
                table.row(v.path("version").asInt(), v.path("bytes").asLong(), v.path("digest").asText().substring(0, 19), v.path("createdAt").asText());
            }
            table.print(terminal.out(), terminal.colour());
            for (JsonNode a : client.blobAliases(r.bucket(), r.key()).path("aliases")) terminal.out().println(aliasLine(r, a));
            return ExitCode.OK;
        }
    }

    @Command(name = "alias", description = "Point an alias at a version (`prod 7`), split it (`prod --split 7=90,8=10`), or show it (`prod`).")
    static final class Alias extends ClientCommand {
        @Spec CommandSpec spec;
        @Parameters(index = "0", paramLabel = "BUCKET/KEY") String ref;
        @Parameters(index = "1", paramLabel = "ALIAS") String alias;
        @Parameters(index = "2", paramLabel = "VERSION", arity = "0..1") Optional<Integer> version = Optional.empty();

        @Option(names = "--split", paramLabel = "V=W,V=W", split = ",",
                description = "two versions and their weights, adding up to 100: 7=90,8=10")
        Map<Integer, Integer> split = new LinkedHashMap<>();

        @Option(names = "--rm", description = "delete the alias")
        boolean remove;

        @Override
        int run(GaleClient client, Terminal terminal) {
            Ref r = Ref.parse(spec, ref, false);
            if (remove) {
                if (!client.blobDelete(r.bucket(), r.key(), OptionalInt.empty(), Optional.of(alias))) {
                    terminal.err().println("ERROR: " + r + " has no alias '" + alias + "'");
                    return ExitCode.FAILED;
                }
                terminal.out().println("Deleted the alias " + r + "@" + alias + ".");
                return ExitCode.OK;
            }
            if (version.isPresent() && !split.isEmpty()) throw new ParameterException(spec.commandLine(), "give a VERSION or --split, not both");
            JsonNode answer;
            if (version.isEmpty() && split.isEmpty()) {
                answer = null;
                for (JsonNode a : client.blobAliases(r.bucket(), r.key()).path("aliases")) {
                    if (a.path("alias").asText().equals(alias)) answer = a;
                }
                if (answer == null) {
                    terminal.err().println("ERROR: " + r + " has no alias '" + alias + "'; create it with `gale blobs alias " + r + " " + alias + " VERSION`");
                    return ExitCode.FAILED;
                }
            } else {
                StringBuilder body = new StringBuilder();
                if (version.isPresent()) {
                    body.append("{\"version\":").append(version.get()).append('}');
                } else {
                    body.append("{\"split\":{");
                    split.forEach((v, w) -> body.append(body.length() > 10 ? "," : "").append('"').append(v).append("\":").append(w));
                    body.append("}}");
                }
                answer = client.blobAlias(r.bucket(), r.key(), alias, body.toString());
            }
            terminal.out().println(aliasLine(r, answer));
            return ExitCode.OK;
        }
    }

    /** "models/churn@prod -> v7 90% (1,204 calls), v8 10% (131 calls)". */
    static String aliasLine(Ref r, JsonNode a) {
        StringBuilder line = new StringBuilder(r.bucket() + "/" + r.key() + "@" + a.path("alias").asText() + " ->");
        String sep = " ";
        for (JsonNode t : a.path("targets")) {
            int v = t.path("version").asInt();
            line.append(sep).append('v').append(v).append(' ').append(t.path("weight").asInt()).append("% (")
                    .append(a.path("calls").path(String.valueOf(v)).asLong(0)).append(" calls)");
            sep = ", ";
        }
        return line.toString();
    }

    @Command(name = "rm", description = "Delete a key with all its versions and aliases, or one --version.")
    static final class Remove extends ClientCommand {
        @Spec CommandSpec spec;
        @Parameters(index = "0", paramLabel = "BUCKET/KEY") String ref;

        @Option(names = "--version", paramLabel = "N", description = "only this version (refused while an alias names it)")
        Optional<Integer> version = Optional.empty();

        @Override
        int run(GaleClient client, Terminal terminal) {
            Ref r = Ref.parse(spec, ref, false);
            if (!client.blobDelete(r.bucket(), r.key(), version.map(OptionalInt::of).orElse(OptionalInt.empty()), Optional.empty())) {
                terminal.err().println("ERROR: no blob " + r + version.map(v -> " version " + v).orElse(""));
                return ExitCode.FAILED;
            }
            terminal.out().println("Deleted " + r + version.map(v -> " version " + v).orElse("") + ".");
            return ExitCode.OK;
        }
    }
}
