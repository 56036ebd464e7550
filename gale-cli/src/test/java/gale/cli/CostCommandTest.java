package gale.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import gale.cost.CostReport;
import gale.cost.PriceTable;
import gale.store.UsageRow;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** gale cost: the report the server builds, as a table per function; its options as query parameters and prices. */
class CostCommandTest {

    @RegisterExtension
    final FakeApi api = FakeApi.started();

    /** A report as the server answers it, built by the server's own code from one version's usage. */
    private static String report(PriceTable prices) {
        UsageRow scorer = new UsageRow(0, 0, "survey-scorer", 1, "", 256, 1.0, 20_000, 151_200_000, 157_885, 2_003_600, 2_003_600,
                204_620, 15_663_000, 2_000_000, 9_478_144, 4, "cgroup-v1");
        var period = new CostReport.Period(Instant.parse("2026-11-06T09:00:00Z"), Instant.parse("2026-12-06T09:00:00Z"));
        return CostReport.build(prices, JsonNodeFactory.instance.objectNode().put("function", "survey-scorer"), List.of(scorer), period,
                List.of("cgroup-v1"), new CostReport.Machine(2, 24_105)).toString();
    }

    @Test
    void printsWhatEachFunctionUsedAndItsPriceOnEachPlatformBesideTheVmAndThisMachine() {
        api.on("GET /v1/cost", 200, report(PriceTable.defaults()));

        GaleCli.Result result = GaleCli.run(api.env(), "cost", "survey-scorer", "--since", "30d");

        assertThat(result.exitCode()).as(result.err()).isEqualTo(ExitCode.OK);
        assertThat(api.requests().getFirst().uri()).isEqualTo("/v1/cost?function=survey-scorer&since=30d");
        assertThat(result.out())
                .contains("Usage since 2026-11-06T09:00:00Z (30 days); cgroup v1 (each instance's cpuacct.usage")
                .contains("survey-scorer v1 (256MB, cpu 1): 20000 calls, 157.885 s billed by the ms (2003.6 s by 100 ms), 15.663 CPU-s")
                .contains("up to 4 instances")
                .containsPattern("PLATFORM +COST +BILLED")
                // 0.008 for the requests + 500.9 GB-s x 0.0000025 + 801.44 GHz-s x 0.00001 = 0.01726665
                .containsPattern("Cloud Functions 1st gen +\\$0\\.017 +20000 requests, 500\\.9 GB-s, 801\\.44 GHz-s")
                .containsPattern("Cloud Run, instance-based +\\$0\\.0038 +20000 requests, 51\\.155 GiB-s, 204\\.62 vCPU-s")
                .containsPattern("AWS Lambda x86 +\\$0\\.0047 +20000 requests, 39\\.471 GB-s")
                .containsPattern("GCE e2-micro, always on +\\$6\\.03 +720 h at \\$0\\.0084/h, for 1024 MB and 0\\.033 vCPU")
                .contains("Gale on this machine: $130.20 for 30 days (GCE e2-highmem-4-sized VM, always on;")
                .contains("; cheapest cloud: $0.0038 (Cloud Run, instance-based)");
    }

    @Test
    void aJobsReportGoesByItsId() {
        api.on("GET /v1/cost", 200, report(PriceTable.defaults()));

        GaleCli.run(api.env(), "cost", "--job", "job-7f3a9c");

        assertThat(api.requests().getFirst().uri()).isEqualTo("/v1/cost?job=job-7f3a9c");
    }

    @Test
    void aPricesFileIsCheckedHereThenSentWithTheFreeTierToo(@TempDir Path dir) throws IOException {
        Path prices = Files.writeString(dir.resolve("prices.toml"), "[platforms.lambda-x86]\nperGbSecond = 0.00002\n");
        api.on("POST /v1/cost", 200, report(PriceTable.defaults()));

        GaleCli.Result result = GaleCli.run(api.env(), "cost", "--prices", prices.toString(), "--free-tier");

        assertThat(result.exitCode()).as(result.err()).isEqualTo(ExitCode.OK);
        JsonNode sent = new ObjectMapper().readTree(api.requests().getFirst().body());
        assertThat(sent.path("platforms").path("lambda-x86").path("perGbSecond").decimalValue()).isEqualByComparingTo("0.00002");
        assertThat(sent.path("freeTier").asBoolean()).isTrue();
    }

    @Test
    void aBrokenPricesFileIsNamedWithItsKeyAndNothingIsSent(@TempDir Path dir) throws IOException {
        Path prices = Files.writeString(dir.resolve("prices.toml"), "[platforms.lambda-x86]\nperGbSecond = \"cheap\"\n");
        Path garbled = Files.writeString(dir.resolve("garbled.json"), "{\"platforms\": ");

        GaleCli.Result bad = GaleCli.run(api.env(), "cost", "--prices", prices.toString());
        GaleCli.Result notJson = GaleCli.run(api.env(), "cost", "--prices", garbled.toString());
        GaleCli.Result missing = GaleCli.run(api.env(), "cost", "--prices", dir.resolve("nope.toml").toString());

        assertThat(bad.exitCode()).isEqualTo(ExitCode.USAGE);
        assertThat(bad.err()).contains("ERROR: prices file " + prices + ": platforms.lambda-x86.perGbSecond must be a number, got \"cheap\"");
        assertThat(notJson.err()).contains("prices file " + garbled + " is not valid JSON");
        assertThat(missing.err()).contains("does not exist");
        assertThat(api.requests()).isEmpty();
    }

    @Test
    void showPricesPrintsTheTableInUseAsAPricesFileWritesIt() throws IOException {
        api.on("GET /v1/cost", 200, report(PriceTable.defaults()));

        GaleCli.Result result = GaleCli.run(api.env(), "cost", "--show-prices");

        JsonNode printed = new ObjectMapper().readTree(result.out());
        assertThat(PriceTable.withOverrides(List.of(printed))).isEqualTo(PriceTable.defaults());
        assertThat(printed.path("platforms").path("gcf-gen1").path("source").asText()).startsWith("https://cloud.google.com/");
    }

    @Test
    void theServersRefusalIsPrintedAsItSaysIt() {
        api.on("GET /v1/cost", 400, "{\"error\": \"since '3x' is neither a span nor a date; write a span back from now like 30d\", \"status\": 400}");

        GaleCli.Result result = GaleCli.run(api.env(), "cost", "--since", "3x");

        assertThat(result.exitCode()).isEqualTo(ExitCode.FAILED);
        assertThat(result.err()).contains("since '3x' is neither a span nor a date; write a span back from now like 30d");
    }
}
