package gale.client;

import static gale.client.FakeGale.json;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.IntNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.TextNode;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalInt;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GaleClientJobsTest {

    /** A job as the server describes it; options are flattened into it, as JobsApi writes them. */
    static String job(String state, int inputs, int done, int failed, String extra) {
        return """
                {"id": "job-7f3a9c", "function": "square", "state": "%s", "inputs": %d,
                 "counts": {"queued": %d, "running": 0, "done": %d, "failed": %d, "cancelled": 0},
                 "parallelism": 100, "chunkSize": 1, "taskTimeout": "60s", "retries": 2, "retryBackoff": "500ms",
                 "stopOnError": false, "retryFunctionErrors": false,
                 "createdAt": "2026-11-25T11:40:00Z", "startedAt": "2026-11-25T11:40:00.050Z", "finishedAt": null,
                 "elapsedMs": 4210, "throughputPerSec": 95.0, "etaMs": null, "error": null%s}"""
                .formatted(state, inputs, inputs - done - failed, done, failed, extra);
    }

    static String ok(int index, String result) {
        return "{\"index\": " + index + ", \"ok\": true, \"result\": " + result + ", \"status\": 200, \"durationMs\": 12.1, \"attempts\": 1}\n";
    }

    static final String FAILED_13 = """
            {"index": 13, "ok": false, "error": "ValueError: unlucky input 13", "traceback": "Traceback ...", "status": 500, "attempts": 1}
            """;

    @TempDir
    Path dir;

    FakeGale gale;
    GaleClient client;

    @BeforeEach
    void start() throws IOException {
        gale = new FakeGale();
        client = new GaleClient(gale.url(), "t0ken");
    }

    @AfterEach
    void stop() {
        client.close();
        gale.close();
    }

    @Test
    void submitsValuesAsAJsonJobWithOnlyTheOptionsThatAreSet() throws IOException {
        gale.on("POST /v1/jobs", 201, job("QUEUED", 2, 0, 0, ""));

        Job job = client.submitJob(JobRequest.of("square", List.of(1, Map.of("x", 2))).with(JobOptions.defaults()
                .withParallelism(4).withTaskTimeout(Duration.ofSeconds(60)).withRetryBackoff(Duration.ofMillis(1500))
                .withStopOnError(true).withContext(Map.of("scale", 10))));

        FakeGale.Request submit = gale.lastRequest();
        assertThat(submit.pathAndQuery()).isEqualTo("/v1/jobs");
        assertThat(submit.header("Content-Type")).isEqualTo("application/json");
        assertThat(ApiJson.parse(submit.body()).toString()).isEqualTo("{\"function\":\"square\",\"inputs\":[1,{\"x\":2}],"
                + "\"context\":{\"scale\":10},\"parallelism\":4,\"taskTimeout\":\"60000ms\",\"retryBackoff\":\"1500ms\","
                + "\"stopOnError\":true}");
        assertThat(job.id()).isEqualTo("job-7f3a9c");
        assertThat(job.state()).isEqualTo(JobState.QUEUED);
    }

    @Test
    void sendsNullInputsAsJsonNull() throws IOException {
        gale.on("POST /v1/jobs", 201, job("QUEUED", 2, 0, 0, ""));

        client.submitJob(JobRequest.of("square", java.util.Arrays.asList(null, "a")));

        assertThat(ApiJson.parse(gale.lastRequest().body()).path("inputs").toString()).isEqualTo("[null,\"a\"]");
    }

    @Test
    void streamsAnNdjsonFileWithTheOptionsAsQueryParameters() throws IOException {
        Path inputs = Files.writeString(dir.resolve("inputs.jsonl"), "2\n3\n{\"s\": 4}\n");
        gale.on("POST /v1/jobs", 201, job("QUEUED", 3, 0, 0, ""));

        client.submitJob(JobRequest.ndjson("square", inputs).with(JobOptions.defaults()
                .withChunkSize(2).withRetries(0).withContext(Map.of("scale", 10))));

        FakeGale.Request submit = gale.lastRequest();
        assertThat(submit.header("Content-Type")).isEqualTo("application/x-ndjson");
        assertThat(submit.pathAndQuery())
                .isEqualTo("/v1/jobs?function=square&context=%7B%22scale%22%3A10%7D&chunkSize=2&retries=0");
        assertThat(submit.bodyText()).isEqualTo("2\n3\n{\"s\": 4}\n");
    }

    @Test
    void streamsNdjsonFromAnInputStreamSuchAsStdin() {
        gale.on("POST /v1/jobs", 201, job("QUEUED", 2, 0, 0, ""));

        client.submitJob(new JobRequest("square", JobInputs.ndjson(new ByteArrayInputStream("5\n6\n".getBytes(UTF_8))),
                JobOptions.defaults().withRetryFunctionErrors(true)));

        assertThat(gale.lastRequest().pathAndQuery()).isEqualTo("/v1/jobs?function=square&retryFunctionErrors=true");
        assertThat(gale.lastRequest().bodyText()).isEqualTo("5\n6\n");
    }

    @Test
    void namesTheFileWhenNdjsonInputsCannotBeRead() {
        Path missing = dir.resolve("missing.jsonl");

        assertThatThrownBy(() -> client.submitJob(JobRequest.ndjson("square", missing)))
                .hasMessageContaining("cannot read the inputs of square from " + missing);
        assertThat(gale.requests()).isEmpty();
    }

    @Test
    void turnsARejectedJobIntoAnExceptionWithTheServersMessage() {
        gale.on("POST /v1/jobs", 400, "{\"error\": \"input line 2 is not JSON: Unexpected character\", \"status\": 400}");

        assertThatThrownBy(() -> client.submitJob(JobRequest.of("square", List.of(1))))
                .isInstanceOfSatisfying(GaleApiException.class, e -> assertThat(e.status()).isEqualTo(400))
                .hasMessage("input line 2 is not JSON: Unexpected character (HTTP 400)");
    }

    @Test
    void readsAJobWithItsCountsRateAndEta() {
        gale.on("GET /v1/jobs/job-7f3a9c", 200, job("RUNNING", 3000, 398, 2, "").replace("\"etaMs\": null", "\"etaMs\": 26315"));

        Job job = client.job("job-7f3a9c");

        assertThat(job.state()).isEqualTo(JobState.RUNNING);
        assertThat(job.state().isFinished()).isFalse();
        assertThat(job.counts()).isEqualTo(new JobCounts(2600, 0, 398, 2, 0));
        assertThat(job.counts().finished()).isEqualTo(400);
        assertThat(job.parallelism()).isEqualTo(100);
        assertThat(job.startedAt()).contains(Instant.parse("2026-11-25T11:40:00.050Z"));
        assertThat(job.finishedAt()).isEmpty();
        assertThat(job.elapsed()).isEqualTo(Duration.ofMillis(4210));
        assertThat(job.throughputPerSec()).isEqualTo(95.0);
        assertThat(job.eta()).contains(Duration.ofMillis(26315));
        assertThat(job.error()).isEmpty();
    }

    @Test
    void listsTheJobsOfOneFunction() {
        gale.on("GET /v1/jobs", 200, "[" + job("SUCCEEDED", 3, 3, 0, "") + "]");

        List<Job> jobs = client.jobs(Optional.of("square"), 5);
        client.jobs(Optional.empty(), 50);

        assertThat(jobs).extracting(Job::state).containsExactly(JobState.SUCCEEDED);
        assertThat(gale.requests()).extracting(FakeGale.Request::pathAndQuery)
                .containsExactly("/v1/jobs?limit=5&function=square", "/v1/jobs?limit=50");
    }

    @Test
    void cancelsAJob() {
        gale.on("DELETE /v1/jobs/job-7f3a9c", 200, job("CANCELLED", 40, 2, 0, ""));

        Job cancelled = client.cancelJob("job-7f3a9c");

        assertThat(cancelled.state()).isEqualTo(JobState.CANCELLED);
        assertThat(gale.lastRequest().method()).isEqualTo("DELETE");
    }

    @Test
    void streamsResultsInInputOrderWithTheErrorsOfFailedInputs() {
        gale.on("GET /v1/jobs/job-7f3a9c/results", new FakeGale.Answer(200,
                ok(12, "{\"y\": 144}") + "\n" + FAILED_13 + ok(14, "196"), Map.of("Content-Type", "application/x-ndjson")));
        gale.on("GET /v1/jobs/job-7f3a9c", 200, job("FAILED", 15, 14, 1, ""));

        List<JobResult> results;
        try (Stream<JobResult> stream = client.results("job-7f3a9c", 11)) {
            results = stream.toList();
        }

        assertThat(gale.requests().getFirst().pathAndQuery()).isEqualTo("/v1/jobs/job-7f3a9c/results?after=11&wait=true");
        assertThat(gale.requests().getFirst().header("Accept")).isEqualTo("application/x-ndjson");
        assertThat(results).extracting(JobResult::index).containsExactly(12, 13, 14);
        assertThat(results.get(0).result().path("y").asInt()).isEqualTo(144);
        assertThat(results.get(0).durationMs()).isEqualTo(OptionalDouble.of(12.1));
        JobResult failed = results.get(1);
        assertThat(failed.ok()).isFalse();
        assertThat(failed.result()).isEqualTo(NullNode.getInstance());
        assertThat(failed.error()).contains("ValueError: unlucky input 13");
        assertThat(failed.traceback()).contains("Traceback ...");
        assertThat(failed.status()).isEqualTo(OptionalInt.of(500));
        assertThat(results.get(2).result()).isEqualTo(IntNode.valueOf(196));
    }

    @Test
    void goesOnAfterTheLastIndexWhenTheServerEndsTheStreamWhileTheJobRuns() {
        gale.on("GET /v1/jobs/job-7f3a9c/results",
                new FakeGale.Answer(200, ok(0, "0") + ok(1, "1"), Map.of()),
                new FakeGale.Answer(200, ok(2, "4"), Map.of()));
        gale.on("GET /v1/jobs/job-7f3a9c", json(200, job("RUNNING", 3, 2, 0, "")), json(200, job("SUCCEEDED", 3, 3, 0, "")));

        List<JobResult> results;
        try (Stream<JobResult> stream = client.results("job-7f3a9c", -1)) {
            results = stream.toList();
        }

        assertThat(results).extracting(JobResult::index).containsExactly(0, 1, 2);
        assertThat(gale.requests()).extracting(FakeGale.Request::pathAndQuery).containsExactly(
                "/v1/jobs/job-7f3a9c/results?after=-1&wait=true", "/v1/jobs/job-7f3a9c",
                "/v1/jobs/job-7f3a9c/results?after=1&wait=true", "/v1/jobs/job-7f3a9c");
    }

    @Test
    void waitsAfterTheLastResultUntilTheJobHasEnded() {
        gale.on("GET /v1/jobs/job-7f3a9c/results", new FakeGale.Answer(200, ok(0, "0") + ok(1, "1"), Map.of()));
        gale.on("GET /v1/jobs/job-7f3a9c", json(200, job("RUNNING", 2, 2, 0, "")), json(200, job("RUNNING", 2, 2, 0, "")),
                json(200, job("SUCCEEDED", 2, 2, 0, "")));

        try (Stream<JobResult> stream = client.results("job-7f3a9c", -1)) {
            assertThat(stream.toList()).hasSize(2);
        }
        assertThat(client.job("job-7f3a9c").state()).isEqualTo(JobState.SUCCEEDED);
        assertThat(gale.requests()).hasSize(5); // the stream, three looks at the job, and this test's own
    }

    @Test
    void returnsAJobThatIsStillRunningWhenTheWaitIsOver() {
        gale.on("GET /v1/jobs/job-7f3a9c", 200, job("RUNNING", 2, 1, 0, ""));

        Job job = client.awaitJob("job-7f3a9c", Duration.ofMillis(250));

        assertThat(job.state()).isEqualTo(JobState.RUNNING);
        assertThat(gale.requests().size()).isGreaterThan(1);
    }

    @Test
    void endsWhenTheJobHasEndedAndNoMoreResultsCome() {
        gale.on("GET /v1/jobs/job-7f3a9c/results", new FakeGale.Answer(200, ok(0, "0"), Map.of()),
                new FakeGale.Answer(200, "", Map.of()));
        gale.on("GET /v1/jobs/job-7f3a9c", 200, job("FAILED", 3, 1, 0, ", \"error\": \"internal error\""));

        try (Stream<JobResult> stream = client.results("job-7f3a9c", -1)) {
            assertThat(stream.toList()).extracting(JobResult::index).containsExactly(0);
        }
        assertThat(gale.requests()).hasSize(4); // a second look after the job had ended, then no more
    }

    @Test
    void reportsAnUnknownJobWhenTheStreamIsRead() {
        gale.on("GET /v1/jobs/job-000000000000/results", 404, "{\"error\": \"no job job-000000000000\", \"status\": 404}");

        try (Stream<JobResult> stream = client.results("job-000000000000", -1)) {
            assertThatThrownBy(stream::toList)
                    .isInstanceOf(GaleApiException.class)
                    .hasMessage("no job job-000000000000 (HTTP 404)");
        }
    }

    @Test
    void writesAResultLineTheWayTheServerDoes() throws IOException {
        gale.on("GET /v1/jobs/job-7f3a9c/results", new FakeGale.Answer(200, ok(12, "{\"y\": 144}") + FAILED_13, Map.of()));
        gale.on("GET /v1/jobs/job-7f3a9c", 200, job("FAILED", 14, 13, 1, ""));

        List<JobResult> results;
        try (Stream<JobResult> stream = client.results("job-7f3a9c", 11)) {
            results = stream.toList();
        }

        assertThat(results.get(0).toJson()).isEqualTo(ApiJson.MAPPER.readTree(ok(12, "{\"y\": 144}")));
        assertThat(results.get(1).toJson()).isEqualTo(ApiJson.MAPPER.readTree(FAILED_13));
    }

    @Test
    void mapCompletesWithEveryResultInInputOrder() throws IOException {
        gale.on("POST /v1/jobs", 201, job("QUEUED", 3, 0, 0, ""));
        gale.on("GET /v1/jobs/job-7f3a9c/results", new FakeGale.Answer(200, ok(0, "{\"y\": 1}") + ok(1, "{\"y\": 4}")
                + ok(2, "{\"y\": 9}"), Map.of()));
        gale.on("GET /v1/jobs/job-7f3a9c", 200, job("SUCCEEDED", 3, 3, 0, ""));

        List<JobResult> results = client.map("square", List.of(1, 2, 3), JobOptions.defaults().withChunkSize(2)).join();

        assertThat(results).extracting(r -> r.result().path("y").asInt()).containsExactly(1, 4, 9);
        assertThat(ApiJson.parse(gale.requests().getFirst().body()).toString())
                .isEqualTo("{\"function\":\"square\",\"inputs\":[1,2,3],\"chunkSize\":2}");
    }

    @Test
    void mapFailsWhenTheJobEndsWithoutAResultForEveryInput() {
        gale.on("POST /v1/jobs", 201, job("QUEUED", 3, 0, 0, ""));
        gale.on("GET /v1/jobs/job-7f3a9c/results", 200, "");
        gale.on("GET /v1/jobs/job-7f3a9c", 200, job("FAILED", 3, 0, 0, ", \"error\": \"internal error: boom\""));

        CompletableFuture<List<JobResult>> map = client.map("square", List.of(1, 2, 3), JobOptions.defaults());

        assertThatThrownBy(map::join)
                .isInstanceOf(CompletionException.class)
                .cause()
                .isInstanceOf(IncompleteJobException.class)
                .hasMessage("job job-7f3a9c on square ended FAILED with 0 of 3 results: internal error: boom;"
                        + " see the server log for job-7f3a9c");
    }

    @Test
    void mapFailsWithTheServersMessageWhenTheJobIsRejected() {
        gale.on("POST /v1/jobs", 400, "{\"error\": \"function 'nope' not found\", \"status\": 400}");

        assertThatThrownBy(() -> client.map("nope", List.of(1), JobOptions.defaults()).join())
                .cause()
                .isInstanceOf(GaleApiException.class)
                .hasMessageContaining("function 'nope' not found");
    }

    @Test
    void cancellingAMapCancelsTheJob() throws InterruptedException {
        CountDownLatch streaming = new CountDownLatch(1);
        CountDownLatch cancelled = new CountDownLatch(1);
        gale.on("POST /v1/jobs", 201, job("QUEUED", 3, 0, 0, ""));
        gale.handle("GET /v1/jobs/job-7f3a9c/results", (request, exchange) -> {
            exchange.sendResponseHeaders(200, 0);
            if (!request.pathAndQuery().contains("after=-1")) return; // the job ended: nothing after the first
            OutputStream out = exchange.getResponseBody();
            out.write(ok(0, "0").getBytes(UTF_8));
            out.flush();
            streaming.countDown();
            awaitQuietly(cancelled); // a job that runs until it is cancelled
        });
        gale.handle("DELETE /v1/jobs/job-7f3a9c", (request, exchange) -> {
            cancelled.countDown();
            byte[] body = job("CANCELLED", 3, 1, 0, "").getBytes(UTF_8);
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
        });
        gale.on("GET /v1/jobs/job-7f3a9c", 200, job("CANCELLED", 3, 1, 0, ""));

        CompletableFuture<List<JobResult>> map = client.map("square", List.of(1, 2, 3), JobOptions.defaults());
        assertThat(streaming.await(10, TimeUnit.SECONDS)).isTrue();
        map.cancel(true);

        assertThat(cancelled.await(10, TimeUnit.SECONDS)).as("DELETE /v1/jobs/job-7f3a9c was sent").isTrue();
        assertThat(map).isCancelled();
    }

    @Test
    void invokesAFunctionOnceWithAJsonBody() {
        gale.on("POST /fn/square", json(200, "{\"y\": 49}"));

        JsonNode answer = client.invokeAsync("square", 7).join();

        assertThat(answer.path("y").asInt()).isEqualTo(49);
        assertThat(gale.lastRequest().bodyText()).isEqualTo("7");
        assertThat(gale.lastRequest().header("Content-Type")).isEqualTo("application/json");
        assertThat(gale.lastRequest().header("Authorization")).isEqualTo("Bearer t0ken");
    }

    @Test
    void readsATextAnswerAsAJsonString() {
        gale.on("POST /fn/hello", new FakeGale.Answer(200, "hello gale", Map.of("Content-Type", "text/plain")));

        assertThat(client.invokeAsync("hello", Map.of("name", "gale")).join()).isEqualTo(TextNode.valueOf("hello gale"));
    }

    @Test
    void failsAnInvocationWithTheFunctionsErrorAndRequestId() {
        gale.on("POST /fn/square", new FakeGale.Answer(500, "{\"error\": \"ValueError: unlucky input 13\", \"requestId\": \"b3c1\"}",
                Map.of("X-Gale-Error", "function", "X-Gale-Request-Id", "b3c1")));

        assertThatThrownBy(() -> client.invokeAsync("square", 13).join())
                .cause()
                .isInstanceOfSatisfying(GaleApiException.class, e -> assertThat(e.status()).isEqualTo(500))
                .hasMessage("square failed (function error): ValueError: unlucky input 13 (request b3c1) (HTTP 500)");
    }

    @Test
    void refusesAJobWithoutAFunctionName() {
        assertThatThrownBy(() -> JobRequest.of(" ", List.of(1))).hasMessageContaining("name of a deployed function");
    }

    private static void awaitQuietly(CountDownLatch latch) {
        try {
            latch.await(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
