package gale.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static gale.e2e.GaleHarness.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * The cost report (docs/cost.md): what a function really used, read from its instances' cgroups (or
 * /proc), priced on each platform; and a map job's CPU budget, which stops the job with its results kept.
 */
class CostTest extends GaleE2E {

    static JobsHttp http;

    /** Burns CPU for the seconds asked (query ?s= or JSON {"s": ...}) and says how much its process used. */
    private static final String BURN = """
            import time

            def burn(request):
                body = request.get_json(silent=True) or {}
                seconds = float(request.args.get("s") or body.get("s", 0.2))
                start = time.process_time()
                x = 0
                while time.process_time() - start < seconds:
                    x += 1
                return {"burned": time.process_time() - start}
            """;

    @BeforeAll
    static void deploy() {
        http = new JobsHttp(gale);
        gale.deployActive("burn", gale.bundle("burn", "main.py", BURN), "memory", "256MB", "maxInstances", 2);
        gale.deployActive("burn-job", gale.bundle("burn-job", "main.py", BURN.replace("def burn", "def burn_job")),
                "entryPoint", "burn_job", "memory", "512MB", "maxInstances", 2);
    }

    @Test
    void theCpuTimeAFunctionBurnsIsMeasuredAndItsCallsArePricedOnEachPlatform() {
        double burned = 0;
        for (int i = 0; i < 5; i++) {
            var response = gale.get("burn", "?s=0.3");
            assertThat(response.statusCode()).as(text(response)).isEqualTo(200);
            burned += read(text(response)).path("burned").asDouble();
        }

        JsonNode report = cost("?function=burn&since=1h");

        JsonNode row = report.path("rows").get(0);
        assertThat(report.path("rows")).hasSize(1);
        assertThat(row.path("function").asText()).isEqualTo("burn");
        assertThat(row.path("calls").asLong()).isEqualTo(5);
        // The instance's CPU time includes what the calls burned (and its interpreter's own work besides).
        assertThat(row.path("cpuSeconds").asDouble()).isGreaterThan(0).isGreaterThanOrEqualTo(0.8 * burned);
        double billed1 = row.path("billedSeconds").path("roundedTo1ms").asDouble();
        double billed100 = row.path("billedSeconds").path("roundedTo100ms").asDouble();
        assertThat(billed1).isGreaterThanOrEqualTo(row.path("durationSeconds").asDouble());
        assertThat(billed100).isGreaterThanOrEqualTo(billed1);
        assertThat(billed100 * 10).isCloseTo(Math.rint(billed100 * 10), within(1e-6)); // whole tenths
        assertThat(row.path("instanceSeconds").asDouble()).isGreaterThan(0);
        assertThat(row.path("peakInstances").asInt()).isBetween(1, 2);
        assertThat(row.path("gbSeconds").path("requestBased").asDouble()).isCloseTo(billed1 * 0.25, within(0.002));
        // Every serverless platform of the default table, each with a price; and the VM it would take.
        assertThat(row.path("platforms")).extracting(p -> p.path("platform").asText())
                .contains("gcf-gen1", "gcf-gen2", "cloud-run-request", "cloud-run-instance", "lambda-x86", "lambda-arm");
        assertThat(row.path("platforms")).allMatch(p -> p.path("cost").asDouble() > 0);
        assertThat(row.path("vm").path("platform").asText()).isNotEmpty();
        assertThat(report.path("source").path("codes")).isNotEmpty();
        assertThat(report.path("source").path("description").asText()).matches("(?s).*(cgroup|/proc).*");
        assertThat(report.path("summary").asText()).startsWith("Gale on this machine: ").contains("; cheapest cloud: $");
        assertThat(report.path("prices").path("platforms").path("lambda-x86").path("source").asText()).contains("aws.amazon.com");
    }

    @Test
    void aJobWithACpuBudgetStopsOnceItIsSpentAndKeepsTheResultsItHas() {
        StringBuilder inputs = new StringBuilder("[");
        for (int i = 0; i < 40; i++) inputs.append(i == 0 ? "" : ",").append("{\"s\": 0.25, \"i\": ").append(i).append('}');
        JsonNode job = http.submit("{\"function\": \"burn-job\", \"inputs\": " + inputs + "], \"parallelism\": 1, \"maxCpuSeconds\": 1}");
        String id = job.path("id").asText();

        JsonNode end = http.awaitEnd(id);

        assertThat(end.path("state").asText()).isEqualTo("STOPPED_BUDGET");
        assertThat(end.path("maxCpuSeconds").asDouble()).isEqualTo(1.0);
        int done = end.path("counts").path("done").asInt();
        assertThat(done).as("inputs that ran before the budget was spent").isBetween(1, 39);
        assertThat(end.path("counts").path("cancelled").asInt()).isEqualTo(40 - done);
        assertThat(end.path("cpuSeconds").asDouble()).isGreaterThanOrEqualTo(1.0);
        assertThat(end.path("error").asText()).contains("CPU budget of 1 CPU-seconds was spent").contains((40 - done) + " of 40 inputs did not run");
        List<JsonNode> results = http.results(id, false);
        assertThat(results).hasSize(40);
        assertThat(results.subList(0, done)).allMatch(r -> r.path("ok").asBoolean() && r.path("result").path("burned").asDouble() > 0.2);
        assertThat(results.subList(done, 40)).allMatch(r -> !r.path("ok").asBoolean()
                && r.path("error").asText().contains("its CPU budget of 1 CPU-seconds was spent"));

        JsonNode report = cost("?job=" + id);
        assertThat(report.path("scope").path("state").asText()).isEqualTo("STOPPED_BUDGET");
        JsonNode row = report.path("rows").get(0);
        assertThat(row.path("function").asText()).isEqualTo("burn-job");
        assertThat(row.path("calls").asInt()).isEqualTo(done);
        assertThat(row.path("cpuSeconds").asDouble()).isGreaterThanOrEqualTo(0.8 * done * 0.25);
    }

    @Test
    void aJobsCpuBudgetMustBeAPositiveNumber() {
        for (String budget : List.of("-1", "0", "\"lots\"", "1e12")) {
            var answer = http.send("POST", "/v1/jobs", "application/json",
                    "{\"function\": \"burn\", \"inputs\": [1], \"maxCpuSeconds\": " + budget + "}");
            assertThat(answer.status()).as(budget).isEqualTo(400);
            assertThat(answer.text()).as(budget).contains("maxCpuSeconds");
        }
    }

    @Test
    void badPeriodsUnknownJobsAndFunctionsAreRefusedSayingWhatToDo() {
        assertRefused("GET", "/v1/cost?since=3x", null, 400, "30d");
        assertRefused("GET", "/v1/cost?since=0d", null, 400, "above 0");
        assertRefused("GET", "/v1/cost?since=-5d", null, 400, "2025-06-01");
        assertRefused("GET", "/v1/cost?since=99999999d", null, 400, "more than 3660 days");
        assertRefused("GET", "/v1/cost?since=2999-01-01", null, 400, "in the future");
        assertRefused("GET", "/v1/cost?job=job-nope", null, 404, "no job job-nope");
        assertRefused("GET", "/v1/cost?job=job-nope&since=1d", null, 400, "leave since out");
        assertRefused("GET", "/v1/cost?function=no-such-function", null, 404, "not found");
    }

    @Test
    void pricesSentWithTheRequestAreCheckedKeyByKey() {
        assertRefused("POST", "/v1/cost", "{\"platforms\": {\"lambda-x86\": {\"perGbSecond\": \"cheap\"}}}", 400,
                "platforms.lambda-x86.perGbSecond must be a number");
        assertRefused("POST", "/v1/cost", "{\"platforms\": {\"lambda-x86\": {\"perGBSecond\": 1}}}", 400,
                "unknown key platforms.lambda-x86.perGBSecond");
        assertRefused("POST", "/v1/cost", "{\"platforms\": {\"mine\": {\"kind\": \"mainframe\"}}}", 400, "kind must be one of");
        assertRefused("POST", "/v1/cost", "not json", 400, "not valid JSON");
        assertRefused("POST", "/v1/cost", "[1, 2]", 400, "JSON object");

        var cheaper = http.send("POST", "/v1/cost?function=burn", "application/json",
                "{\"platforms\": {\"lambda-x86\": {\"perGbSecond\": 0, \"perMillionRequests\": 0}}}");
        assertThat(cheaper.status()).as(cheaper.text()).isEqualTo(200);
        assertThat(cheaper.json().path("prices").path("platforms").path("lambda-x86").path("perGbSecond").asDouble()).isZero();
    }

    @Test
    void aBrokenPricesFileInTheDataDirIsNamedInTheAnswer() throws Exception {
        Path file = gale.dataDir.resolve("prices.toml");
        Files.writeString(file, "[platforms.lambda-x86]\nperGbSecond = -3\n");
        try {
            assertRefused("GET", "/v1/cost", null, 500, "prices.toml cannot be used: platforms.lambda-x86.perGbSecond must be at least 0");
            Files.writeString(file, "[platforms.lambda-x86]\nperGbSecond = 0.00002\n");
            var answer = http.send("GET", "/v1/cost", null, null);
            assertThat(answer.status()).as(answer.text()).isEqualTo(200);
            assertThat(answer.json().path("prices").path("platforms").path("lambda-x86").path("perGbSecond").asDouble()).isEqualTo(0.00002);
        } finally {
            Files.deleteIfExists(file);
        }
    }

    private static void assertRefused(String method, String path, String body, int status, String message) {
        var answer = http.send(method, path, body == null ? null : "application/json", body);
        assertThat(answer.status()).as(method + " " + path + ": " + answer.text()).isEqualTo(status);
        assertThat(answer.json().path("error").asText()).as(path).contains(message);
    }

    private static JsonNode cost(String query) {
        var answer = http.send("GET", "/v1/cost" + query, null, null);
        assertThat(answer.status()).as(answer.text()).isEqualTo(200);
        return answer.json();
    }

    private static JsonNode read(String json) {
        try {
            return JobsHttp.JSON.readTree(json);
        } catch (Exception e) {
            throw new AssertionError("not JSON: " + json);
        }
    }
}
