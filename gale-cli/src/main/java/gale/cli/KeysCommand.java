package gale.cli;

import com.fasterxml.jackson.databind.JsonNode;
import gale.client.GaleClient;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code gale keys}: named access keys with scopes, rate limits and expiry (docs/access.md). */
@Command(name = "keys", description = "Create, list and revoke named access keys: scoped credentials for CI, notebooks and callers.",
        subcommands = {KeysCommand.Create.class, KeysCommand.ListKeys.class, KeysCommand.Revoke.class},
        footer = {"", "Scopes: deploy, logs, admin, invoke:FUNCTION[,FUNCTION...] or invoke:*.",
                "A key goes where the admin token goes: 'Authorization: Bearer KEY', or",
                "GALE_TOKEN=KEY for gale and the clients (docs/access.md)."})
final class KeysCommand extends CommandGroup {

    /** What the server reads as a duration (30d, 12h); anything else is sent as a date or time. */
    private static final Pattern DURATION = Pattern.compile("\\d+(\\.\\d+)?\\s*(ms|s|m|h|d)?", Pattern.CASE_INSENSITIVE);

    @Command(name = "create", description = "Create a key and print it (to standard output, alone); it is shown this once.")
    static final class Create extends ClientCommand {
        @Parameters(index = "0", paramLabel = "NAME", description = "the key's name, e.g. ci-deploy")
        String name;

        @Option(names = "--scope", paramLabel = "SCOPE", required = true,
                description = "repeatable: deploy, logs, admin, invoke:FUNCTION[,FUNCTION...] or invoke:*")
        List<String> scopes = new ArrayList<>();

        @Option(names = "--rate", paramLabel = "N/UNIT", description = "rate limit per key, e.g. 10/s, 600/m or 5000/h (default: none)")
        Optional<String> rate = Optional.empty();

        @Option(names = "--burst", paramLabel = "N", description = "requests at once after a pause (default: the rate's N)")
        Optional<Long> burst = Optional.empty();

        @Option(names = "--expires", paramLabel = "WHEN", description = "when the key stops working: 30d, 12h, or a date like 2027-01-31 (default: never)")
        Optional<String> expires = Optional.empty();

        @Override
        int run(GaleClient client, Terminal terminal) {
            Map<String, Object> settings = new LinkedHashMap<>();
            settings.put("name", name);
            settings.put("scopes", scopes);
            rate.ifPresent(value -> settings.put("rate", value));
            burst.ifPresent(value -> settings.put("burst", value));
            expires.ifPresent(value -> settings.put(DURATION.matcher(value.strip()).matches() ? "expiresIn" : "expiresAt", value));
            JsonNode key = client.keyCreate(settings);
            terminal.err().println("Created access key " + key.path("name").asText() + " (" + key.path("id").asText() + ") with "
                    + String.join(", ", strings(key.path("scopes")))
                    + (key.path("rate").isTextual() ? ", rate " + key.path("rate").asText() + " (burst " + key.path("burst").asText() + ")" : "")
                    + (key.path("expiresAt").isTextual() ? ", expires " + key.path("expiresAt").asText() : "") + ".");
            terminal.err().println("This is the only time it is shown (Gale keeps its SHA-256 only). Use it as GALE_TOKEN, "
                    + "or send 'Authorization: Bearer KEY':");
            terminal.out().println(key.path("secret").asText());
            return ExitCode.OK;
        }
    }

    @Command(name = "ls", description = "List keys: name, id, scopes, rate, when created, last used and expiring; never the keys.")
    static final class ListKeys extends ClientCommand {
        @Option(names = "--all", description = "revoked keys too")
        boolean all;

        @Override
        int run(GaleClient client, Terminal terminal) {
            JsonNode keys = client.keys(all);
            if (keys.isEmpty()) {
                terminal.out().println("No keys yet: create one with `gale keys create NAME --scope deploy`.");
                return ExitCode.OK;
            }
            Table table = new Table("NAME", "ID", "SCOPES", "RATE", "STATE", "CREATED", "LAST USED", "EXPIRES");
            for (JsonNode k : keys) {
                table.row(k.path("name").asText(), k.path("id").asText(), String.join(" ", strings(k.path("scopes"))),
                        k.path("rate").isTextual() ? k.path("rate").asText() + " burst " + k.path("burst").asText() : "-",
                        k.path("state").asText(), k.path("createdAt").asText(), k.path("lastUsedAt").asText("-"),
                        k.path("expiresAt").asText("never"));
            }
            table.print(terminal.out(), terminal.colour());
            return ExitCode.OK;
        }
    }

    @Command(name = "revoke", description = "Revoke a key: it is refused from its next request on.")
    static final class Revoke extends ClientCommand {
        @Parameters(index = "0", paramLabel = "NAME", description = "the key's name, or its id (gk_...)")
        String name;

        @Override
        int run(GaleClient client, Terminal terminal) {
            if (!client.keyRevoke(name)) {
                terminal.err().println("ERROR: no live key " + name + "; gale keys ls lists them");
                return ExitCode.FAILED;
            }
            terminal.out().println("Revoked key " + name + ": requests with it get 401 from now on.");
            return ExitCode.OK;
        }
    }

    private static List<String> strings(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(node -> out.add(node.asText()));
        return out;
    }
}
