package gale.cli;

import com.fasterxml.jackson.databind.JsonNode;
import gale.client.GaleClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code gale sampler}: items drawn for respondents, each shown at most a target number of times (docs/state.md#samplers). */
@Command(name = "sampler", description = "Draw items for respondents: unseen, least shown first, each up to a target.",
        subcommands = {SamplerCommand.Create.class, SamplerCommand.Draw.class, SamplerCommand.Confirm.class,
                SamplerCommand.Release.class, SamplerCommand.Stats.class, SamplerCommand.Remove.class},
        footer = {"", "Functions call samplers with gale.state.sampler(NAME) (docs/state.md#samplers)."})
final class SamplerCommand extends CommandGroup {


    @Command(name = "create", description = "Create a sampler from a JSON array of items: ids, or objects with an \"id\".")
    static final class Create extends ClientCommand {
        @Parameters(index = "0", paramLabel = "NAME", description = "the sampler's name (a namespace: a function may use the one named after it)")
        String name;

        @Option(names = "--items", paramLabel = "FILE", required = true, description = "items.json: [\"a\", {\"id\": \"b\", \"text\": \"...\"}]")
        Path items;

        @Option(names = "--target", paramLabel = "N", required = true, description = "how often each item may be shown at most")
        int target;

        @Option(names = "--lease", paramLabel = "DURATION", description = "how long a draw waits for its confirmation (default: 10m)")
        Optional<Duration> lease = Optional.empty();

        @Override
        int run(GaleClient client, Terminal terminal) throws Exception {
            JsonNode created = client.samplerCreate(name, Files.readString(items), target, lease);
            terminal.out().println("Created sampler " + name + ": " + created.path("items").asInt() + " items, each shown at most "
                    + created.path("target").asInt() + " times, draws leased for " + created.path("lease").asText() + ".");
            return ExitCode.OK;
        }
    }

    @Command(name = "draw", description = "Draw up to K items the respondent has not seen; print one JSON item a line.")
    static final class Draw extends ClientCommand {
        @Parameters(index = "0", paramLabel = "NAME") String name;
        @Parameters(index = "1", paramLabel = "RESPONDENT") String respondent;

        @Option(names = "-k", paramLabel = "K", defaultValue = "1", description = "how many items (default: ${DEFAULT-VALUE})")
        int k;

        @Override
        int run(GaleClient client, Terminal terminal) {
            JsonNode draw = client.samplerDraw(name, respondent, k);
            draw.path("items").forEach(item -> terminal.out().println(item.path("item")));
            if (draw.path("items").isEmpty()) {
                terminal.err().println("No item left for " + respondent + ": every item was seen by them or reached its target.");
            } else {
                terminal.err().println("Leased until " + draw.path("leaseExpiresAt").asText() + ": confirm with `gale sampler confirm "
                        + name + " " + respondent + "`.");
            }
            return ExitCode.OK;
        }
    }

    /** Confirm and release: the same request for all the respondent holds, or for the ITEMs given. */
    abstract static class Settle extends ClientCommand {
        @Parameters(index = "0", paramLabel = "NAME") String name;
        @Parameters(index = "1", paramLabel = "RESPONDENT") String respondent;
        @Parameters(index = "2..*", paramLabel = "ITEM", description = "item ids (default: every item the respondent holds)")
        List<String> items = new ArrayList<>();

        private final String action;   // confirm | release
        private final String settled;  // the answer's field: confirmed | released

        Settle(String action, String settled) {
            this.action = action;
            this.settled = settled;
        }

        @Override
        int run(GaleClient client, Terminal terminal) {
            JsonNode done = client.samplerSettle(name, action, respondent, items).path(settled);
            String verb = Character.toUpperCase(settled.charAt(0)) + settled.substring(1);
            terminal.out().println(done.isEmpty() ? "Nothing to " + action + "." : verb + " " + ids(done) + ".");
            return ExitCode.OK;
        }
    }

    @Command(name = "confirm", description = "Count the respondent's drawn items for good (all it holds, or the ITEMs given).")
    static final class Confirm extends Settle {
        Confirm() {
            super("confirm", "confirmed");
        }
    }

    @Command(name = "release", description = "Return the respondent's drawn items to the pool now (all it holds, or the ITEMs given).")
    static final class Release extends Settle {
        Release() {
            super("release", "released");
        }
    }

    @Command(name = "stats", description = "How often each item was confirmed and is leased now.")
    static final class Stats extends ClientCommand {
        @Parameters(index = "0", paramLabel = "NAME") String name;

        @Override
        int run(GaleClient client, Terminal terminal) {
            JsonNode s = client.samplerStats(name);
            terminal.out().println(name + ": " + s.path("items").asInt() + " items, target " + s.path("target").asInt() + ", "
                    + s.path("confirmed").asLong() + " confirmed, " + s.path("leased").asLong() + " leased, "
                    + s.path("remaining").asLong() + " remaining, " + s.path("full").asInt() + " items full, "
                    + s.path("respondents").asLong() + " respondents");
            Table table = new Table("ITEM", "CONFIRMED", "LEASED");
            s.path("counts").forEach(c -> table.row(c.path("id").asText(), c.path("confirmed").asInt(), c.path("leased").asInt()));
            table.print(terminal.out(), terminal.colour());
            return ExitCode.OK;
        }
    }

    @Command(name = "rm", description = "Delete a sampler with all its counts.")
    static final class Remove extends ClientCommand {
        @Parameters(index = "0", paramLabel = "NAME") String name;

        @Override
        int run(GaleClient client, Terminal terminal) {
            if (!client.samplerDelete(name)) {
                terminal.err().println("ERROR: no sampler named '" + name + "'");
                return ExitCode.FAILED;
            }
            terminal.out().println("Deleted sampler " + name + ".");
            return ExitCode.OK;
        }
    }

    private static String ids(JsonNode list) {
        List<String> ids = new ArrayList<>();
        list.forEach(id -> ids.add(id.asText()));
        return String.join(", ", ids);
    }
}
