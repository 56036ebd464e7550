package gale.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import gale.client.GaleClient;
import gale.cost.CostReport;
import gale.cost.InvalidPricesException;
import gale.cost.Money;
import gale.cost.PriceTable;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** What functions or a map job used, and what that would cost on Cloud Functions, Lambda, Cloud Run and a VM (docs/cost.md). */
@Command(name = "cost",
        description = {
                "What functions or a map job used, priced on Cloud Functions, Lambda, Cloud Run and a VM.",
                "Calls, billed seconds, CPU-seconds measured from the instances' cgroups and",
                "GB-seconds, priced on each platform beside an always-on VM of the size they",
                "needed, and beside this machine. Prices are Gale's defaults (each with its",
                "source and date), under the data dir's prices.toml or prices.json, under",
                "--prices FILE."},
        footer = {
                "",
                "Examples:",
                "  gale cost                          every function, the last 30 days",
                "  gale cost survey-scorer --since 2025-06-01",
                "  gale cost --job job-7f3a9c         what one map job used",
                "  gale cost --prices my-prices.toml --free-tier",
                "  gale cost --show-prices > prices.json   the table in use, to edit"})
final class CostCommand extends ClientCommand {

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
            .enable(com.fasterxml.jackson.core.JsonGenerator.Feature.WRITE_BIGDECIMAL_AS_PLAIN);

    @Parameters(index = "0", arity = "0..1", paramLabel = "NAME", description = "one function (default: every function)")
    Optional<String> function = Optional.empty();

    @Option(names = "--since", paramLabel = "PERIOD",
            description = "from when: a span back from now (30d, 12h, 90m, 2w) or a date (2025-06-01); default 30d")
    Optional<String> since = Optional.empty();

    @Option(names = "--job", paramLabel = "ID", description = "what one map job used, over its run")
    Optional<String> job = Optional.empty();

    @Option(names = "--prices", paramLabel = "FILE", description = "a prices file (TOML or JSON) laid over the server's prices")
    Optional<Path> prices = Optional.empty();

    @Option(names = "--free-tier", description = "take the platforms' monthly free allowances off (default: list prices)")
    boolean freeTier;

    @Option(names = "--json", description = "print the report as the API answers it (docs/api.md)")
    boolean json;

    @Option(names = "--show-prices", description = "print the price table in use (JSON, the keys of a prices file) and nothing else")
    boolean showPrices;

    @Override
    int run(GaleClient client, Terminal terminal) throws Exception {
        JsonNode report = client.cost(function, since, job, overrides());
        PrintStream out = terminal.out();
        if (showPrices) {
            out.println(JSON.writeValueAsString(report.path("prices")));
        } else if (json) {
            out.println(JSON.writeValueAsString(report));
        } else {
            print(report, out, terminal.colour());
        }
        return ExitCode.OK;
    }

    /** --prices and --free-tier as one layer over the server's prices; checked here, so a bad file is named before anything is sent. */
    private Optional<JsonNode> overrides() {
        if (prices.isEmpty() && !freeTier) return Optional.empty();
        ObjectNode layer = JsonNodeFactory.instance.objectNode();
        if (prices.isPresent()) {
            JsonNode file = PriceTable.readFile(prices.get());
            if (!file.isObject()) throw new InvalidPricesException("prices file " + prices.get() + " must hold a table of keys");
            layer.setAll((ObjectNode) file);
            try {
                PriceTable.withOverrides(List.of(layer));
            } catch (InvalidPricesException e) {
                throw new InvalidPricesException("prices file " + prices.get() + ": " + e.getMessage());
            }
        }
        if (freeTier) layer.put("freeTier", true);
        return Optional.of(layer);
    }

    private static void print(JsonNode report, PrintStream out, boolean colour) {
        String currency = report.path("currency").asText("USD");
        JsonNode scope = report.path("scope");
        String period = scope.hasNonNull("job")
                ? "of job " + scope.path("job").asText() + " (" + scope.path("function").asText() + ", " + scope.path("state").asText()
                + ") from " + report.path("since").asText() + " to " + report.path("until").asText()
                : "since " + report.path("since").asText() + " (" + CostReport.describeHours(report.path("periodHours").asDouble()) + ")";
        out.println("Usage " + period + "; " + report.path("source").path("description").asText());
        if (report.path("rows").isEmpty()) {
            out.println("No calls in this period" + (scope.hasNonNull("function") ? " of " + scope.path("function").asText() : "") + ".");
        }
        for (JsonNode row : report.path("rows")) {
            out.println();
            out.println(usageLine(row));
            printPlatforms(row.path("platforms"), row.path("vm"), currency, out, colour);
        }
        if (report.path("rows").size() > 1) {
            JsonNode total = report.path("total");
            out.println();
            out.println("All of them: " + total.path("calls").asLong() + " calls, " + number(total.path("cpuSeconds")) + " CPU-s"
                    + (report.path("freeTier").asBoolean() ? ", free allowances taken off" : ""));
            printPlatforms(total.path("platforms"), total.path("vm"), currency, out, colour);
        }
        out.println();
        out.println(report.path("summary").asText());
        out.println("Prices: " + (report.path("freeTier").asBoolean() ? "with" : "without") + " free allowances; their sources and dates: "
                + "gale cost --show-prices");
    }

    /** {@code survey-scorer v1-2 (256MB, cpu 1): 20000 calls, 52.3 s billed (2000 s at 100 ms), 41.2 CPU-s, ...}. */
    private static String usageLine(JsonNode row) {
        JsonNode versions = row.path("versions");
        String v = versions.size() == 1 ? "v" + versions.get(0).asInt() : "v" + versions.get(0).asInt() + "-" + versions.get(versions.size() - 1).asInt();
        JsonNode peakMemory = row.path("peakMemoryMb");
        return row.path("function").asText() + " " + v + " (" + row.path("memoryMb").asInt() + "MB, cpu " + number(row.path("cpu")) + "): "
                + row.path("calls").asLong() + " calls, " + number(row.path("billedSeconds").path("roundedTo1ms")) + " s billed by the ms ("
                + number(row.path("billedSeconds").path("roundedTo100ms")) + " s by 100 ms), " + number(row.path("cpuSeconds")) + " CPU-s, "
                + number(row.path("gbSeconds").path("requestBased")) + " GB-s of calls (" + number(row.path("gbSeconds").path("instanceBased"))
                + " GB-s of instances alive " + number(row.path("instanceSeconds")) + " s), up to " + row.path("peakInstances").asInt()
                + (row.path("peakInstances").asInt() == 1 ? " instance" : " instances") + (peakMemory.isNull() ? "" : ", " + number(peakMemory)
                + " MB peak");
    }

    private static void printPlatforms(JsonNode platforms, JsonNode vm, String currency, PrintStream out, boolean colour) {
        Table table = new Table("PLATFORM", "COST", "BILLED");
        for (JsonNode p : platforms) {
            if (p.path("cost").isNull()) {
                table.row(p.path("label").asText(), "-", "not offered: " + p.path("notOffered").asText());
                continue;
            }
            JsonNode q = p.path("quantities");
            table.row(p.path("label").asText(), money(p.path("cost"), currency), q.path("requests").asLong() + " requests, "
                    + number(q.path("memorySeconds")) + " " + q.path("memoryUnit").asText()
                    + (q.has("cpuUnit") ? ", " + number(q.path("cpuSeconds")) + " " + q.path("cpuUnit").asText() : ""));
        }
        if (vm.path("cost").isNull()) {
            table.row("VM, always on", "-", vm.path("note").asText());
        } else {
            table.row(vm.path("label").asText() + ", always on", money(vm.path("cost"), currency), number(vm.path("hours")) + " h at "
                    + money(vm.path("perHour"), currency) + "/h, for " + number(vm.path("needMemoryMb")) + " MB and " + number(vm.path("needCpu"))
                    + " vCPU");
        }
        table.print(out, colour);
    }

    private static String money(JsonNode amount, String currency) {
        return Money.format(amount.decimalValue(), currency);
    }

    private static String number(JsonNode value) {
        return JobFormat.number(value.asDouble());
    }
}
