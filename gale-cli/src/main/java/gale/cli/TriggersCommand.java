package gale.cli;

import com.fasterxml.jackson.databind.JsonNode;
import gale.client.GaleClient;
import java.util.ArrayList;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "triggers",
        description = "List a function's triggers (state changes or blob writes under a prefix that call it) with their events: "
                + "pending, delivered, dead. `add` and `rm` change them; `gale deploy NAME --trigger SOURCE` adds one at deploy. "
                + "Dead events are in `gale dead-letters NAME`.",
        footer = {"", "  gale triggers retrain          (or gale triggers ls retrain)",
                "  gale triggers add retrain state:survey/responses/ --events put",
                "  gale triggers add thumbnails blob:uploads/images/", "  gale triggers rm retrain tr-3f2a9c1b7d4e"},
        subcommands = {TriggersCommand.List.class, TriggersCommand.Add.class, TriggersCommand.Remove.class})
final class TriggersCommand extends ClientCommand {

    @Parameters(index = "0", arity = "0..1", paramLabel = "NAME", description = "function name")
    String name;

    @Override
    int run(GaleClient client, Terminal terminal) {
        if (name == null) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                    "name a function: gale triggers NAME (or gale triggers add|rm ...)");
        }
        return list(client, terminal, name);
    }

    static int list(GaleClient client, Terminal terminal, String name) {
        JsonNode triggers = client.triggers(name);
        if (triggers.isEmpty()) {
            terminal.out().println(name + " has no triggers: add one with `gale triggers add " + name
                    + " state:NAMESPACE/PREFIX` or `gale deploy " + name + " --source DIR --trigger blob:BUCKET/PREFIX`.");
            return ExitCode.OK;
        }
        table(triggers).print(terminal.out(), terminal.colour());
        return ExitCode.OK;
    }

    /** One row per trigger, as `gale triggers` and `gale describe` show them. */
    static Table table(JsonNode triggers) {
        Table table = new Table("ID", "SOURCE", "EVENTS", "PENDING", "DELIVERED", "DEAD");
        for (JsonNode t : triggers) {
            java.util.List<String> events = new ArrayList<>();
            t.path("events").forEach(e -> events.add(e.asText()));
            table.row(t.path("id").asText(), t.path("source").asText(), String.join(",", events), t.path("pending").asLong(),
                    t.path("delivered").asLong(), t.path("dead").asLong());
        }
        return table;
    }

    @Command(name = "ls", description = "List a function's triggers with their events: pending, delivered, dead.")
    static final class List extends ClientCommand {
        @Parameters(index = "0", paramLabel = "NAME", description = "function name")
        String name;

        @Override
        int run(GaleClient client, Terminal terminal) {
            return TriggersCommand.list(client, terminal, name);
        }
    }

    @Command(name = "add", description = "Call the function with each change under a prefix: state:NAMESPACE/PREFIX or "
            + "blob:BUCKET/PREFIX (its own namespace or bucket, or one it was granted at deploy).")
    static final class Add extends ClientCommand {
        @Parameters(index = "0", paramLabel = "NAME", description = "function name")
        String name;

        @Parameters(index = "1", paramLabel = "SOURCE", description = "state:NAMESPACE/PREFIX or blob:BUCKET/PREFIX")
        String source;

        @Option(names = "--events", paramLabel = "KINDS", split = ",",
                description = "put,delete for state; finalize,delete for blobs (default: all)")
        java.util.List<String> events = new ArrayList<>();

        @Override
        int run(GaleClient client, Terminal terminal) {
            JsonNode t = client.addTrigger(name, source, events);
            terminal.out().println("Trigger " + t.path("id").asText() + ": " + name + " is called with each "
                    + String.join("/", eventNames(t)) + " under " + t.path("source").asText() + ".");
            return ExitCode.OK;
        }

        private static java.util.List<String> eventNames(JsonNode t) {
            java.util.List<String> out = new ArrayList<>();
            t.path("events").forEach(e -> out.add(e.asText()));
            return out;
        }
    }

    @Command(name = "rm", description = "Remove a trigger; events it already stored are still delivered.")
    static final class Remove extends ClientCommand {
        @Parameters(index = "0", paramLabel = "NAME", description = "function name")
        String name;

        @Parameters(index = "1", paramLabel = "ID", description = "the trigger's id (gale triggers NAME lists them)")
        String id;

        @Override
        int run(GaleClient client, Terminal terminal) {
            client.deleteTrigger(name, id);
            terminal.out().println("Removed trigger " + id + " of " + name + ".");
            return ExitCode.OK;
        }
    }
}
