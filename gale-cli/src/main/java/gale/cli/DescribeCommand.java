package gale.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import gale.client.FunctionSummary;
import gale.client.GaleClient;
import java.io.PrintStream;
import java.time.temporal.ChronoUnit;
import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "describe", description = "Show a function: state, URL, resolved config and versions.")
final class DescribeCommand extends ClientCommand {

    private static final ObjectMapper JSON = new ObjectMapper();

    @Parameters(index = "0", paramLabel = "NAME", description = "function name")
    String name;

    @Option(names = "--json", description = "print the admin API's JSON instead")
    boolean json;

    @Override
    int run(GaleClient client, Terminal terminal) throws Exception {
        PrintStream out = terminal.out();
        if (json) {
            out.println(JSON.writerWithDefaultPrettyPrinter().writeValueAsString(JSON.readTree(client.functionJson(name))));
            return ExitCode.OK;
        }
        FunctionSummary function = client.function(name);
        printFields(function, out);
        out.println();
        VersionsCommand.table(function.versions()).print(out, terminal.colour());
        com.fasterxml.jackson.databind.JsonNode triggers = JSON.readTree(client.functionJson(name)).path("triggers");
        if (!triggers.isEmpty()) {
            out.println();
            out.println("triggers:");
            TriggersCommand.table(triggers).print(out, terminal.colour());
        }
        return ExitCode.OK;
    }

    private static void printFields(FunctionSummary function, PrintStream out) {
        Map<String, Object> fields = new LinkedHashMap<>();
        fields.put("name", function.name());
        fields.put("url", function.url());
        fields.put("state", function.state());
        fields.put("active version", ListCommand.version(function.activeVersion()));
        fields.put("latest version", ListCommand.version(function.latestVersion()));
        fields.put("traffic", function.pinnedSplit().isEmpty() ? "all to the active version"
                : function.pinnedSplit().entrySet().stream().map(e -> "v" + e.getKey() + " " + e.getValue() + "%")
                        .collect(java.util.stream.Collectors.joining(", ")) + " (pinned; gale traffic " + function.name() + ")");
        fields.put("instances", function.instances());
        fields.put("public", ListCommand.publicness(function));
        fields.put("created", function.createdAt().truncatedTo(ChronoUnit.SECONDS));
        fields.put("updated", function.updatedAt().truncatedTo(ChronoUnit.SECONDS));
        printMap(fields, "", out);
        out.println("config:");
        printMap(function.config(), "  ", out);
    }

    /** A config value on one line: a list of triggers as "state:ns/prefix (put, delete)", comma-separated. */
    private static Object shown(Object value) {
        if (value instanceof Map) return "none";
        if (value instanceof java.util.List<?> list) {
            return list.isEmpty() ? "none" : String.join(", ", list.stream().map(item -> item instanceof Map<?, ?> m && m.containsKey("source")
                    ? m.get("source") + " (" + String.join(", ", ((java.util.List<?>) m.get("events")).stream().map(String::valueOf).toList()) + ")"
                    : String.valueOf(item)).toList());
        }
        return value;
    }

    /** Aligned "key: value" lines; nested maps (such as env) indented below their key. */
    static void printMap(Map<?, ?> map, String indent, PrintStream out) {
        int width = map.keySet().stream().mapToInt(key -> key.toString().length()).max().orElse(0) + 2;
        map.forEach((key, value) -> {
            if (value instanceof Map<?, ?> nested && !nested.isEmpty()) {
                out.println(indent + key + ":");
                printMap(nested, indent + "  ", out);
            } else {
                out.println(indent + String.format("%-" + width + "s", key + ":") + shown(value));
            }
        });
    }
}
