package gale.cli;

import com.fasterxml.jackson.databind.JsonNode;
import gale.client.GaleClient;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;

@Command(name = "dead-letters",
        description = "List a function's dead letters: async calls (gale call --async) and trigger events (gale triggers) "
                + "that failed their last attempt, with their error; `redrive` queues them again (all, or the IDs given), "
                + "`purge` deletes them.",
        footer = {"", "  gale dead-letters scorer", "  gale dead-letters scorer redrive", "  gale dead-letters scorer redrive ID ID",
                "  gale dead-letters scorer purge"})
final class DeadLettersCommand extends ClientCommand {

    @Parameters(index = "0", paramLabel = "NAME", description = "function name")
    String name;

    @Parameters(index = "1..*", paramLabel = "redrive [ID...] | purge", arity = "0..*",
            description = "what to do with them (default: list them)")
    List<String> action = new ArrayList<>();

    @Option(names = "--limit", paramLabel = "N", defaultValue = "100", description = "how many to list (default: ${DEFAULT-VALUE})")
    int limit;

    @Option(names = "--traceback", description = "print each one's input and traceback under the table")
    boolean traceback;

    @Override
    int run(GaleClient client, Terminal terminal) {
        if (action.isEmpty()) return list(client, terminal);
        List<String> ids = action.subList(1, action.size());
        switch (action.getFirst()) {
            case "redrive" -> {
                JsonNode done = client.redriveDeadLetters(name, ids);
                int n = done.path("redriven").asInt();
                terminal.out().println(n == 0 ? name + " has no dead letters to redrive."
                        : "Queued " + n + " dead letter" + (n == 1 ? "" : "s") + " of " + name + " again; "
                        + "each gets its attempts afresh on the version now ACTIVE.");
                return ExitCode.OK;
            }
            case "purge" -> {
                if (!ids.isEmpty()) throw new ParameterException(spec.commandLine(), "purge takes no IDs: it deletes every dead letter of " + name);
                int n = client.purgeDeadLetters(name).path("purged").asInt();
                terminal.out().println("Deleted " + n + " dead letter" + (n == 1 ? "" : "s") + " of " + name + ".");
                return ExitCode.OK;
            }
            default -> throw new ParameterException(spec.commandLine(), "unknown action '" + action.getFirst()
                    + "': use `gale dead-letters " + name + "`, `... redrive [ID...]` or `... purge`");
        }
    }

    private int list(GaleClient client, Terminal terminal) {
        JsonNode letters = client.deadLetters(name, limit);
        if (letters.isEmpty()) {
            terminal.out().println(name + " has no dead letters.");
            return ExitCode.OK;
        }
        Table table = new Table("ID", "TRIGGER", "ATTEMPTS", "FAILED AT", "ERROR");
        for (JsonNode letter : letters) {
            table.row(letter.path("invocationId").asText(), letter.path("trigger").asText("-"), letter.path("attempts").asInt(),
                    letter.path("finishedAt").asText("-"), firstLine(letter.path("error").asText("")));
        }
        table.print(terminal.out(), terminal.colour());
        if (traceback) {
            for (JsonNode letter : letters) {
                terminal.out().println();
                terminal.out().println(letter.path("invocationId").asText() + " input (" + letter.path("request").path("bodyEncoding").asText()
                        + "): " + letter.path("request").path("body").asText());
                terminal.out().println(letter.path("traceback").asText(letter.path("error").asText("")));
            }
        }
        return ExitCode.OK;
    }

    private static String firstLine(String s) {
        String line = s.lines().findFirst().orElse("");
        return line.length() > 120 ? line.substring(0, 117) + "..." : line;
    }
}
