package gale.cli;

import com.fasterxml.jackson.databind.JsonNode;
import gale.client.GaleClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code gale secrets}: values kept sealed by the server and given to chosen functions as environment variables (docs/secrets.md). */
@Command(name = "secrets", description = "Keep secret values, sealed at rest, and give them to functions as environment variables or files.",
        subcommands = {SecretsCommand.Set.class, SecretsCommand.ListSecrets.class, SecretsCommand.Remove.class,
                SecretsCommand.Grant.class, SecretsCommand.Revoke.class},
        footer = {"", "Instances started after a change get it; redeploy to restart running ones (docs/secrets.md)."})
final class SecretsCommand extends CommandGroup {


    @Command(name = "set", description = "Store a secret's value, read from --from-file or standard input (never from the command line).")
    static final class Set extends ClientCommand {
        @Parameters(index = "0", paramLabel = "NAME", description = "the secret's name, e.g. db-password") String name;

        @Option(names = "--from-file", paramLabel = "FILE", description = "read the value from this file")
        Optional<Path> file = Optional.empty();

        @Override
        int run(GaleClient client, Terminal terminal) throws Exception {
            if (file.isEmpty() && terminal.interactive()) terminal.err().print("Value of " + name + " (then Enter): ");
            byte[] value = file.isPresent() ? Files.readAllBytes(file.get()) : terminal.in().readAllBytes();
            if (file.isEmpty()) value = stripOneNewline(value); // `echo x | gale secrets set` and a typed line end with one
            JsonNode stored = client.secretSet(name, value);
            terminal.out().println("Stored secret " + name + " version " + stored.path("version").asInt()
                    + ". Give it to a function with `gale secrets grant " + name + " FUNCTION --env VARIABLE`.");
            return ExitCode.OK;
        }

        private static byte[] stripOneNewline(byte[] value) {
            int n = value.length;
            if (n > 0 && value[n - 1] == '\n') n--;
            if (n > 0 && value[n - 1] == '\r') n--;
            return java.util.Arrays.copyOf(value, n);
        }
    }

    @Command(name = "ls", description = "List secrets (names, versions, sizes and grants; never values).")
    static final class ListSecrets extends ClientCommand {
        @Override
        int run(GaleClient client, Terminal terminal) {
            JsonNode all = client.secrets();
            if (all.isEmpty()) {
                terminal.out().println("No secrets yet: add one with `gale secrets set NAME < file`.");
                return ExitCode.OK;
            }
            Table table = new Table("NAME", "VERSION", "BYTES", "UPDATED", "GRANTED TO");
            for (JsonNode s : all) {
                List<String> grants = new ArrayList<>();
                s.path("grants").forEach(g -> grants.add(g.path("function").asText() + ":"
                        + (g.has("file") ? "file " + g.path("file").asText() : g.path("env").asText())));
                table.row(s.path("name").asText(), s.path("version").asText(), s.path("bytes").asText(), s.path("updatedAt").asText(),
                        grants.isEmpty() ? "-" : String.join(", ", grants));
            }
            table.print(terminal.out(), terminal.colour());
            return ExitCode.OK;
        }
    }

    @Command(name = "rm", description = "Delete a secret and its grants.")
    static final class Remove extends ClientCommand {
        @Parameters(index = "0", paramLabel = "NAME") String name;

        @Override
        int run(GaleClient client, Terminal terminal) {
            if (!client.secretDelete(name)) {
                terminal.err().println("ERROR: no secret " + name);
                return ExitCode.FAILED;
            }
            terminal.out().println("Deleted secret " + name + ".");
            return ExitCode.OK;
        }
    }

    @Command(name = "grant", description = "Give a secret to a function's instances as an environment variable or a file.")
    static final class Grant extends ClientCommand {
        @Parameters(index = "0", paramLabel = "NAME") String name;
        @Parameters(index = "1", arity = "0..1", paramLabel = "FUNCTION", description = "the function (or --function)")
        Optional<String> positionalFunction = Optional.empty();

        @Option(names = "--function", paramLabel = "FUNCTION", description = "the function, instead of the second argument")
        Optional<String> function = Optional.empty();

        @Option(names = "--env", paramLabel = "VARIABLE", description = "the variable it becomes, e.g. DB_PASSWORD")
        Optional<String> env = Optional.empty();

        @Option(names = "--file", paramLabel = "FILE", description = "the file of $GALE_SECRETS_DIR it becomes, e.g. api-key.json")
        Optional<String> file = Optional.empty();

        @Override
        int run(GaleClient client, Terminal terminal) {
            if (function.isPresent() == positionalFunction.isPresent() || env.isPresent() == file.isPresent()) {
                terminal.err().println("ERROR: name one function (FUNCTION or --function) and one of --env VARIABLE or --file FILE, e.g. "
                        + "`gale secrets grant " + name + " --function scorer --file key.json`");
                return ExitCode.USAGE;
            }
            String fn = function.or(() -> positionalFunction).orElseThrow();
            if (file.isPresent()) {
                client.secretGrantFile(name, fn, file.get());
                terminal.out().println("Instances of " + fn + " started from now on find " + name + " in $GALE_SECRETS_DIR/"
                        + file.get() + "; redeploy to restart running ones.");
            } else {
                client.secretGrant(name, fn, env.get());
                terminal.out().println("Instances of " + fn + " started from now on get " + name + " as $" + env.get()
                        + "; redeploy to restart running ones.");
            }
            return ExitCode.OK;
        }
    }

    @Command(name = "revoke", description = "Take a secret variable (or, with --file, a secret file) away from a function's future instances.")
    static final class Revoke extends ClientCommand {
        @Parameters(index = "0", paramLabel = "FUNCTION") String function;
        @Parameters(index = "1", arity = "0..1", paramLabel = "VARIABLE") Optional<String> env = Optional.empty();

        @Option(names = "--file", paramLabel = "FILE", description = "the secret file to take away instead of a variable")
        Optional<String> file = Optional.empty();

        @Override
        int run(GaleClient client, Terminal terminal) {
            if (env.isPresent() == file.isPresent()) {
                terminal.err().println("ERROR: name a VARIABLE or --file FILE, e.g. `gale secrets revoke " + function + " DB_PASSWORD`");
                return ExitCode.USAGE;
            }
            String what = file.map(f -> "secret file " + f).orElse("a secret as " + env.orElse(""));
            boolean revoked = file.isPresent() ? client.secretRevokeFile(function, file.get()) : client.secretRevoke(function, env.get());
            if (!revoked) {
                terminal.err().println("ERROR: function " + function + " has no " + what);
                return ExitCode.FAILED;
            }
            terminal.out().println("Instances of " + function + " started from now on do not get "
                    + file.map(f -> "$GALE_SECRETS_DIR/" + f).orElse("$" + env.orElse("")) + ".");
            return ExitCode.OK;
        }
    }
}
