package gale.cli;

import static gale.cli.Jobs.ID;
import static gale.cli.Jobs.cancelled;
import static gale.cli.Jobs.failed;
import static gale.cli.Jobs.job;
import static gale.cli.Jobs.ok;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MapCommandTest {

    @TempDir
    Path dir;

    FakeApi api;
    Path inputs;

    @BeforeEach
    void start() throws IOException {
        api = new FakeApi().on("POST /v1/jobs", 201, job("QUEUED", 3, 0, 0, 0));
        inputs = Files.writeString(dir.resolve("inputs.jsonl"), "0\n1\n2\n");
    }

    @AfterEach
    void stop() {
        api.close();
    }

    private void answers(String finalState, int done, int failed, int cancelled, String resultLines) {
        api.on("GET /v1/jobs/" + ID + "/results", 200, resultLines, "Content-Type", "application/x-ndjson");
        api.on("GET /v1/jobs/" + ID, 200, job(finalState, done + failed + cancelled, done, failed, cancelled));
    }

    @Test
    void writesEachResultInInputOrderAndASummaryOnStderr() {
        answers("SUCCEEDED", 3, 0, 0, ok(0, "{\"y\": 0}") + ok(1, "{\"y\": 1}") + ok(2, "{\"y\": 4}"));

        GaleCli.Result result = GaleCli.run(api.env(), "map", "square", "--input", inputs.toString());

        assertThat(result.exitCode()).isEqualTo(ExitCode.OK);
        assertThat(result.out()).isEqualTo("{\"y\":0}\n{\"y\":1}\n{\"y\":4}\n");
        assertThat(result.err()).isEqualTo("job job-7f3a9c SUCCEEDED: 3 inputs in 4.2 s (95/s), 0 failed\n");
        FakeApi.Request submit = api.requests().getFirst();
        assertThat(submit.uri()).isEqualTo("/v1/jobs?function=square");
        assertThat(submit.header("Content-Type")).isEqualTo("application/x-ndjson");
        assertThat(submit.body()).isEqualTo("0\n1\n2\n");
    }

    @Test
    void sendsEveryOptionAsAQueryParameter() {
        answers("SUCCEEDED", 3, 0, 0, ok(0, "0") + ok(1, "1") + ok(2, "4"));

        GaleCli.run(api.env(), "map", "square", "-i", inputs.toString(), "--parallelism", "4", "--chunk-size", "2",
                "--task-timeout", "1.5m", "--retries", "1", "--retry-backoff", "250ms", "--stop-on-error");

        assertThat(api.requests().getFirst().uri()).isEqualTo("/v1/jobs?function=square&parallelism=4&chunkSize=2"
                + "&taskTimeout=90000ms&retries=1&retryBackoff=250ms&stopOnError=true");
    }

    @Test
    void exitsOneAndListsTheFailedInputsByIndexWithANullLineInTheirPlace() {
        answers("FAILED", 2, 1, 0, ok(0, "{\"y\": 0}") + failed(1, "ValueError: unlucky input 13") + ok(2, "{\"y\": 4}"));

        GaleCli.Result result = GaleCli.run(api.env(), "map", "square", "--input", inputs.toString());

        assertThat(result.exitCode()).isEqualTo(ExitCode.FAILED);
        assertThat(result.out()).isEqualTo("{\"y\":0}\nnull\n{\"y\":4}\n");
        assertThat(result.err()).isEqualTo("""
                input 1 failed: ValueError: unlucky input 13 (HTTP 500)
                job job-7f3a9c FAILED: 3 inputs in 4.2 s (95/s), 1 failed
                """);
    }

    @Test
    void listsTheFirstFiveFailuresAndCountsTheRest() {
        StringBuilder lines = new StringBuilder();
        for (int i = 0; i < 8; i++) lines.append(failed(i, "KeyError: " + i));
        answers("FAILED", 0, 8, 0, lines.toString());

        GaleCli.Result result = GaleCli.run(api.env(), "map", "square", "--input", inputs.toString());

        assertThat(result.err()).contains("input 4 failed: KeyError: 4").doesNotContain("input 5 failed")
                .contains("... and 3 more failed inputs; --full writes every error");
    }

    @Test
    void countsInputsCancelledByStopOnErrorWithoutListingThemAsFailures() {
        answers("FAILED", 1, 1, 1, ok(0, "0") + failed(1, "ValueError: bad") + cancelled(2));

        GaleCli.Result result = GaleCli.run(api.env(), "map", "square", "--input", inputs.toString(), "--stop-on-error");

        assertThat(result.exitCode()).isEqualTo(ExitCode.FAILED);
        assertThat(result.err()).doesNotContain("input 2 failed").endsWith("1 failed, 1 cancelled\n");
    }

    @Test
    void aCpuBudgetGoesWithTheJobAndAJobStoppedAtItExitsOneSayingSo() {
        String error = "stopped: the CPU budget of 0.5 CPU-seconds was spent (0.61 used); 2 of 3 inputs did not run";
        String notRun = "not run: job job-7f3a9c stopped when its CPU budget of 0.5 CPU-seconds was spent; its results so far are kept";
        api.on("GET /v1/jobs/" + ID + "/results", 200, ok(0, "0") + cancelled(1).replace("cancelled before it ran", notRun)
                + cancelled(2).replace("cancelled before it ran", notRun), "Content-Type", "application/x-ndjson");
        api.on("GET /v1/jobs/" + ID, 200, job("STOPPED_BUDGET", 3, 1, 0, 2).replace("\"error\": null", "\"error\": \"" + error + "\""));

        GaleCli.Result result = GaleCli.run(api.env(), "map", "square", "--input", inputs.toString(), "--max-cpu-seconds", "0.5");

        assertThat(api.requests().getFirst().uri()).isEqualTo("/v1/jobs?function=square&maxCpuSeconds=0.5");
        assertThat(result.exitCode()).isEqualTo(ExitCode.FAILED);
        assertThat(result.out()).isEqualTo("0\nnull\nnull\n");
        assertThat(result.err()).isEqualTo("ERROR: " + error + "\njob job-7f3a9c STOPPED_BUDGET: 3 inputs in 4.2 s (95/s), 0 failed, 2 cancelled\n");
    }

    @Test
    void writesTheWholeResultObjectsWithFull() {
        answers("FAILED", 0, 1, 0, failed(0, "ValueError: bad"));

        GaleCli.Result result = GaleCli.run(api.env(), "map", "square", "--input", inputs.toString(), "--full");

        assertThat(result.out()).isEqualTo("{\"index\":0,\"ok\":false,\"error\":\"ValueError: bad\","
                + "\"traceback\":\"Traceback ...\",\"status\":500,\"attempts\":1}\n");
    }

    @Test
    void readsTheInputsFromStdinWithADash() {
        answers("SUCCEEDED", 2, 0, 0, ok(0, "25") + ok(1, "36"));

        GaleCli.Result result = GaleCli.run(api.env(), false, "5\n6\n", "map", "square", "--input", "-");

        assertThat(api.requests().getFirst().body()).isEqualTo("5\n6\n");
        assertThat(result.out()).isEqualTo("25\n36\n");
    }

    @Test
    void writesTheResultsToAFileWithOutput() throws IOException {
        answers("SUCCEEDED", 3, 0, 0, ok(0, "0") + ok(1, "1") + ok(2, "4"));
        Path out = dir.resolve("out.jsonl");

        GaleCli.Result result = GaleCli.run(api.env(), "map", "square", "-i", inputs.toString(), "-o", out.toString());

        assertThat(result.exitCode()).isEqualTo(ExitCode.OK);
        assertThat(result.out()).isEmpty();
        assertThat(Files.readString(out)).isEqualTo("0\n1\n4\n");
    }

    @Test
    void refusesAnInputFileThatDoesNotExistWithoutSubmitting() {
        GaleCli.Result result = GaleCli.run(api.env(), "map", "square", "--input", "nope.jsonl");

        assertThat(result.exitCode()).isEqualTo(ExitCode.USAGE);
        assertThat(result.err()).contains("--input nope.jsonl: no such file; give an NDJSON file, or - for stdin");
        assertThat(api.requests()).isEmpty();
    }

    @Test
    void refusesToWriteTheResultsOverTheInputs() throws IOException {
        GaleCli.Result result = GaleCli.run(api.env(), "map", "square", "-i", inputs.toString(), "-o", inputs.toString());

        assertThat(result.exitCode()).isEqualTo(ExitCode.USAGE);
        assertThat(result.err()).contains("is the input file");
        assertThat(Files.readString(inputs)).isEqualTo("0\n1\n2\n");
    }

    @Test
    void refusesADurationItCannotRead() {
        GaleCli.Result result = GaleCli.run(api.env(), "map", "square", "-i", inputs.toString(), "--task-timeout", "soon");

        assertThat(result.exitCode()).isEqualTo(ExitCode.USAGE);
        assertThat(result.err()).contains("'soon' is not a duration");
    }

    @Test
    void reportsAJobTheServerRefusedWithExitOne() {
        api.on("POST /v1/jobs", 400, "{\"error\": \"function 'nope' not found; deploy it first\", \"status\": 400}");

        GaleCli.Result result = GaleCli.run(api.env(), "map", "nope", "-i", inputs.toString());

        assertThat(result.exitCode()).isEqualTo(ExitCode.FAILED);
        assertThat(result.err()).isEqualTo("ERROR: function 'nope' not found; deploy it first (HTTP 400)\n");
    }

    @Test
    void exitsThreeWhenNoServerAnswers() throws IOException {
        int closedPort;
        try (ServerSocket socket = new ServerSocket(0)) {
            closedPort = socket.getLocalPort();
        }

        GaleCli.Result result = GaleCli.run(Map.of("GALE_URL", "http://127.0.0.1:" + closedPort, "GALE_TOKEN", "t"),
                "map", "square", "-i", inputs.toString());

        assertThat(result.exitCode()).isEqualTo(ExitCode.UNREACHABLE);
    }

    @Test
    void cancelsTheJobWhenStoppedWithCtrlC() throws Exception {
        CountDownLatch streaming = new CountDownLatch(1);
        CountDownLatch cancelled = new CountDownLatch(1);
        api.handle("GET /v1/jobs/" + ID + "/results", (request, exchange) -> {
            exchange.sendResponseHeaders(200, 0);
            if (!request.uri().contains("after=-1")) return; // the job ended: nothing after the first result
            OutputStream out = exchange.getResponseBody();
            out.write(ok(0, "0").getBytes(UTF_8));
            out.flush();
            streaming.countDown();
            await(cancelled); // the job runs until it is cancelled
        });
        api.handle("DELETE /v1/jobs/" + ID, (request, exchange) -> {
            cancelled.countDown();
            byte[] body = job("CANCELLED", 3, 1, 0, 2).getBytes(UTF_8);
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
        });
        api.on("GET /v1/jobs/" + ID, 200, job("CANCELLED", 3, 1, 0, 2));

        Path stderr = dir.resolve("stderr.txt");
        Process gale = galeProcess(stderr, "map", "square", "--input", inputs.toString());
        try {
            assertThat(streaming.await(30, TimeUnit.SECONDS)).as("the results stream was opened").isTrue();
            gale.destroy(); // SIGTERM runs the shutdown hooks as Ctrl-C's SIGINT does

            assertThat(gale.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(cancelled.getCount()).as("DELETE /v1/jobs/" + ID + " was sent").isZero();
            assertThat(Files.readString(stderr)).contains("Cancelled job-7f3a9c: 1 of 3 inputs done.");
        } finally {
            gale.destroyForcibly();
        }
    }

    /** The gale command in a JVM of its own, with this test's classpath, pointed at the fake. */
    private Process galeProcess(Path stderr, String... args) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = new ArrayList<>(List.of(java, "-cp", System.getProperty("java.class.path"), "gale.cli.Main"));
        command.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(command)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectError(stderr.toFile());
        builder.environment().putAll(api.env());
        return builder.start();
    }

    private static void await(CountDownLatch latch) {
        try {
            latch.await(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
