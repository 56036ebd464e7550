package gale.cli;

import com.fasterxml.jackson.databind.JsonNode;
import gale.client.GaleClient;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;

/** {@code gale traffic}: how a function's calls are shared between its versions, as Cloud Run's update-traffic (docs/traffic.md). */
@Command(name = "traffic", description = {
        "Show or set how a function's calls are shared between its versions, and its tags.",
        "Without options: the split, each version's calls and errors in the last hour, and the tag URLs.",
        "A split set with --to holds across deploys: a new version takes no calls until you give it some",
        "(or --to-latest). gale rollback sends all calls to one version at once."},
        footer = {"", "Examples:",
                "  gale traffic scorer --to v3=90,v4=10         # a canary: 10% of calls to v4",
                "  gale traffic scorer --tag canary=v4          # v4 also answers at /fn/scorer@canary",
                "  gale traffic scorer --to-latest              # all calls to the newest ACTIVE version, and to each new deploy",
                "  gale traffic scorer --remove-tag canary"})
final class TrafficCommand extends ClientCommand {

    @Parameters(index = "0", paramLabel = "NAME", description = "function name")
    String name;

    @ArgGroup(exclusive = true)
    Split split;

    static final class Split {
        @Option(names = "--to", paramLabel = "vN=PERCENT[,...]",
                description = "pin the split: each version's percent, adding up to 100 (like v3=90,v4=10)")
        Optional<String> to = Optional.empty();

        @Option(names = "--to-latest", description = "unpin: all calls to the ACTIVE version, and to each new version a deploy makes ACTIVE")
        boolean toLatest;
    }

    @Option(names = "--tag", paramLabel = "TAG=vN", description = "give version N a tag: it answers at /fn/NAME@TAG (repeatable)")
    List<String> tags = new ArrayList<>();

    @Option(names = "--remove-tag", paramLabel = "TAG", description = "remove a tag (repeatable)")
    List<String> removeTags = new ArrayList<>();

    @Override
    int run(GaleClient client, Terminal terminal) {
        Map<String, Object> change = new LinkedHashMap<>();
        if (split != null && split.to.isPresent()) change.put("to", percents(split.to.get()));
        if (split != null && split.toLatest) change.put("toLatest", true);
        if (!tags.isEmpty() || !removeTags.isEmpty()) {
            Map<String, Object> now = new TreeMap<>();
            client.traffic(name).path("tags").fields().forEachRemaining(e -> now.put(e.getKey(), e.getValue().asInt()));
            for (String tag : removeTags) {
                if (now.remove(tag) == null) throw new ParameterException(spec.commandLine(), name + " has no tag '" + tag + "'");
            }
            for (String tag : tags) {
                int eq = tag.indexOf('=');
                if (eq <= 0) throw new ParameterException(spec.commandLine(), "--tag " + tag + ": write TAG=vN, like canary=v4");
                now.put(tag.substring(0, eq), version(tag.substring(eq + 1), "--tag " + tag));
            }
            change.put("tags", now);
        }
        JsonNode traffic = change.isEmpty() ? client.traffic(name) : client.setTraffic(name, change);
        print(traffic, terminal);
        return ExitCode.OK;
    }

    /** "v3=90,v4=10" as the API's {"3": 90, "4": 10}; the server checks that they add up. */
    private Map<String, Object> percents(String text) {
        Map<String, Object> out = new LinkedHashMap<>();
        for (String part : text.split(",", -1)) {
            int eq = part.indexOf('=');
            if (eq <= 0) throw new ParameterException(spec.commandLine(), "--to " + text + ": write vN=PERCENT for each version, like v3=90,v4=10");
            String version = Integer.toString(version(part.substring(0, eq).strip(), "--to " + text));
            String percent = part.substring(eq + 1).strip().replaceFirst("%$", "");
            try {
                if (out.put(version, Integer.parseInt(percent)) != null) {
                    throw new ParameterException(spec.commandLine(), "--to " + text + ": v" + version + " is named twice");
                }
            } catch (NumberFormatException e) {
                throw new ParameterException(spec.commandLine(), "--to " + text + ": '" + percent + "' is not a whole percent");
            }
        }
        return out;
    }

    private int version(String text, String where) {
        String digits = text.startsWith("v") ? text.substring(1) : text;
        if (!digits.matches("[1-9][0-9]{0,8}")) {
            throw new ParameterException(spec.commandLine(), where + ": '" + text + "' is not a version; write v4 (gale versions " + name + " lists them)");
        }
        return Integer.parseInt(digits);
    }

    static void print(JsonNode traffic, Terminal terminal) {
        String name = traffic.path("function").asText();
        terminal.out().println(name + ": " + (traffic.path("pinned").asBoolean()
                ? "split pinned; a deploy does not change it (gale traffic " + name + " --to-latest to follow new versions)"
                : "all calls to the ACTIVE version, and to each new one a deploy makes ACTIVE"));
        Table table = new Table("VERSION", "STATE", "TRAFFIC", "CALLS (1H)", "ERRORS (1H)", "TAGS", "URL");
        for (JsonNode v : traffic.path("versions")) {
            List<String> versionTags = new ArrayList<>();
            v.path("tags").forEach(t -> versionTags.add(t.asText()));
            long calls = v.path("lastHour").path("calls").asLong();
            long errors = v.path("lastHour").path("errors").asLong();
            table.row("v" + v.path("version").asInt(), v.path("state").asText(), v.path("percent").asInt() + "%", calls,
                    errors + (calls > 0 ? String.format(" (%.1f%%)", 100.0 * errors / calls) : ""),
                    versionTags.isEmpty() ? "-" : String.join(",", versionTags), v.path("url").asText());
        }
        table.print(terminal.out(), terminal.colour());
        if (traffic.path("tagUrls").size() > 0) {
            terminal.out().println();
            traffic.path("tagUrls").fields().forEachRemaining(e -> terminal.out().println("  " + e.getKey() + "  " + e.getValue().asText()));
        }
    }
}
