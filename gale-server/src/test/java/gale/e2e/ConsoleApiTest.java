package gale.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.GZIPInputStream;

import static org.assertj.core.api.Assertions.assertThat;

/** What the console reads, over plain HTTP: its files, the call history, the live log stream, job failures. */
class ConsoleApiTest extends GaleE2E {

    private final HttpClient http = HttpClient.newHttpClient();

    @Test
    void theConsoleIsServedAtTheRootCompressedCachedAndUnderAStrictPolicy() throws Exception {
        HttpResponse<byte[]> page = get("/", Map.of());
        assertThat(page.statusCode()).isEqualTo(200);
        assertThat(page.headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).startsWith("text/html"));
        assertThat(new String(page.body(), StandardCharsets.UTF_8)).contains("<script type=\"module\" src=\"/console/app.js\">");
        assertThat(page.headers().firstValue("Content-Security-Policy")).hasValueSatisfying(policy -> assertThat(policy)
                .contains("script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'").doesNotContain("unsafe"));
        assertThat(page.headers().firstValue("Cache-Control")).contains("no-cache");

        HttpResponse<byte[]> gzipped = get("/console/app.js", Map.of("Accept-Encoding", "gzip, deflate"));
        HttpResponse<byte[]> plain = get("/console/app.js", Map.of());
        assertThat(gzipped.headers().firstValue("Content-Encoding")).contains("gzip");
        assertThat(new GZIPInputStream(new java.io.ByteArrayInputStream(gzipped.body())).readAllBytes()).isEqualTo(plain.body());
        assertThat(plain.headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).startsWith("text/javascript"));

        String etag = gzipped.headers().firstValue("ETag").orElseThrow();
        HttpResponse<byte[]> again = get("/console/app.js", Map.of("Accept-Encoding", "gzip", "If-None-Match", etag));
        assertThat(again.statusCode()).isEqualTo(304);
        assertThat(again.body()).isEmpty();
        assertThat(get("/console/app.js", Map.of("If-None-Match", etag)).statusCode()).as("another encoding").isEqualTo(200);

        HttpResponse<byte[]> uplot = get("/console/vendor/uplot-1.6.30/uPlot.esm.js", Map.of("Accept-Encoding", "gzip"));
        assertThat(uplot.headers().firstValue("Cache-Control")).contains("public, max-age=31536000, immutable");
        assertThat(uplot.body().length).isLessThan(60_000); // 140 KB as it is

        assertThat(get("/console/../admin-token", Map.of()).statusCode()).isIn(400, 404);
        assertThat(get("/console/nothing.js", Map.of()).statusCode()).isEqualTo(404);
        assertThat(get("/favicon.ico", Map.of()).headers().firstValue("Content-Type")).contains("image/svg+xml");
        assertThat(get("/fn/", Map.of()).statusCode()).as("functions stay the gateway's").isEqualTo(404);
    }

    @Test
    void theCallHistoryCountsWhatMetricsCountsByWhoFailed() throws Exception {
        gale.deployActive("counted", gale.bundle("counted", "main.py", """
                import time
                def counted(request):
                    time.sleep(float(request.args.get("sleep", 0)))
                    if request.args.get("fail"):
                        raise ValueError("asked to fail")
                    return "ok"
                """), "maxInstances", 1, "maxQueue", 0);
        for (int i = 0; i < 3; i++) assertThat(gale.get("counted", "/").statusCode()).isEqualTo(200);
        assertThat(gale.get("counted", "/?fail=1").statusCode()).isEqualTo(500);
        var slow = CompletableFuture.supplyAsync(() -> gale.get("counted", "/?sleep=1"));
        var jobs = new JobsHttp(gale);
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10))
                .until(() -> jobs.send("GET", "/v1/functions/counted", null, null).json().path("busy").asInt() == 1);
        assertThat(gale.get("counted", "/").statusCode()).as("no room: a platform error").isEqualTo(429);
        assertThat(slow.join().statusCode()).isEqualTo(200);

        JsonNode history = jobs.send("GET", "/v1/functions/counted/metrics", null, null).json();
        assertThat(history.path("bucketSeconds").asInt()).isEqualTo(10);
        assertThat(history.path("time").size()).isEqualTo(360);
        assertThat(sum(history.path("calls"))).isEqualTo(6);
        assertThat(sum(history.path("functionErrors"))).isEqualTo(1);
        assertThat(sum(history.path("platformErrors"))).isEqualTo(1);
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(15)).until(() -> // sampled every 5 s
                sum(jobs.send("GET", "/v1/functions/counted/metrics", null, null).json().path("instances")) > 0);
        JsonNode p99 = history.path("p99Ms");
        assertThat(p99.get(p99.size() - 1).isNull() && p99.get(p99.size() - 2).isNull()).as("a p99 in the last 20 s").isFalse();
        assertThat(p99.get(0).isNull()).as("an hour ago: no calls, no percentile").isTrue();

        String metrics = jobs.send("GET", "/metrics", null, null).text();
        Matcher calls = Pattern.compile("(?m)^gale_function_calls_total\\{function=\"counted\",[^}]*} (\\S+)$").matcher(metrics);
        double prometheus = 0;
        while (calls.find()) prometheus += Double.parseDouble(calls.group(1));
        assertThat(prometheus).as("the same calls on /metrics").isEqualTo(6.0);

        JsonNode summary = jobs.send("GET", "/v1/functions/counted", null, null).json();
        assertThat(summary.path("lastHour").path("calls").asInt()).isEqualTo(6);
        assertThat(summary.path("lastHour").path("errors").asInt()).isEqualTo(2);
        assertThat(summary.path("lastCall").asText()).isNotEmpty();
        assertThat(summary.path("latestState").asText()).isEqualTo("ACTIVE");

        assertThat(jobs.send("GET", "/v1/functions/nothing/metrics", null, null).status()).isEqualTo(404);
        assertThat(get("/v1/functions/counted/metrics", Map.of()).statusCode()).isEqualTo(401);
    }

    @Test
    void theLogStreamSendsTheTailThenNewLinesFilteredByRequestIdAndLevel() throws Exception {
        gale.deployActive("talker", gale.bundle("talker", "main.py", """
                import sys
                def talker(request):
                    word = request.args.get("word", "hello")
                    print("said", word)
                    print("WARNING:talker:careful with", word)
                    print("oops", word, file=sys.stderr)
                    return word
                """));
        String first = gale.get("talker", "/?word=first").headers().firstValue("X-Gale-Request-Id").orElseThrow();
        gale.server.logs().flush();

        try (var all = EventStream.open(this, "/v1/functions/talker/logs/stream?tail=3", Map.of())) {
            List<JsonNode> tail = all.events(3); // stdout and stderr are captured apart: their lines may interleave either way
            assertThat(tail).extracting(e -> e.path("message").asText() + " is " + e.path("level").asText()).containsExactlyInAnyOrder(
                    "said first is info", "WARNING:talker:careful with first is warning", "oops first is error");
            gale.get("talker", "/?word=second");
            assertThat(all.events(3)).extracting(e -> e.path("message").asText()).contains("said second");
        }
        try (var errors = EventStream.open(this, "/v1/functions/talker/logs/stream?level=warning&tail=10", Map.of())) {
            assertThat(errors.events(4)).extracting(e -> e.path("message").asText()).containsExactlyInAnyOrder(
                    "WARNING:talker:careful with first", "oops first", "WARNING:talker:careful with second", "oops second");
            assertThat(errors.nothingWithin(Duration.ofMillis(300))).isTrue();
        }
        try (var one = EventStream.open(this, "/v1/functions/talker/logs/stream?requestId=" + first, Map.of())) {
            List<JsonNode> lines = one.events(3);
            assertThat(lines).allSatisfy(e -> assertThat(e.path("requestId").asText()).isEqualTo(first));
            String third = gale.get("talker", "/?word=third").headers().firstValue("X-Gale-Request-Id").orElseThrow();
            gale.get("talker", "/?word=fourth");
            assertThat(one.nothingWithin(Duration.ofMillis(700))).as("other calls' lines are filtered out: " + third).isTrue();
        }
        long seq;
        try (var resumed = EventStream.open(this, "/v1/functions/talker/logs/stream?tail=1", Map.of())) {
            seq = resumed.events(1).getFirst().path("seq").asLong();
        }
        gale.get("talker", "/?word=fifth");
        try (var after = EventStream.open(this, "/v1/functions/talker/logs/stream", Map.of("Last-Event-ID", Long.toString(seq)))) {
            assertThat(after.events(3)).extracting(e -> e.path("message").asText()).as("only what came after it")
                    .containsExactlyInAnyOrder("said fifth", "WARNING:talker:careful with fifth", "oops fifth");
        }

        var jobs = new JobsHttp(gale);
        var badLevel = jobs.send("GET", "/v1/functions/talker/logs/stream?level=loud", null, null);
        assertThat(badLevel.status()).isEqualTo(400);
        assertThat(badLevel.json().path("error").asText()).contains("level must be one of [debug, info, warning, error]");
        assertThat(jobs.send("GET", "/v1/functions/talker/logs/stream?tail=5000", null, null).status()).isEqualTo(400);
        var badResume = get("/v1/functions/talker/logs/stream", Map.of("Authorization", "Bearer " + gale.server.adminToken(),
                "Last-Event-ID", "yesterday"));
        assertThat(badResume.statusCode()).isEqualTo(400);
        assertThat(new String(badResume.body(), StandardCharsets.UTF_8)).contains("Last-Event-ID must be the seq of a log line");
        assertThat(jobs.send("GET", "/v1/functions/nobody/logs/stream", null, null).status()).isEqualTo(404);
        assertThat(get("/v1/functions/talker/logs/stream", Map.of()).statusCode()).isEqualTo(401);
    }

    @Test
    void aJobsFailuresComeWithTheirTracebacksAndInputs() {
        gale.deployActive("halver", gale.bundle("halver", "main.py", """
                def halver(request):
                    x = request.get_json()
                    if x % 2:
                        raise ValueError(f"{x} is odd")
                    return {"half": x // 2}
                """));
        var jobs = new JobsHttp(gale);
        String id = jobs.submit("{\"function\": \"halver\", \"inputs\": [2, 3, 4, 5, 7]}").path("id").asText();
        jobs.awaitEnd(id);
        JsonNode failures = jobs.send("GET", "/v1/jobs/" + id + "/failures?limit=2", null, null).json();
        assertThat(failures).hasSize(2);
        assertThat(failures.get(0).path("index").asInt()).as(failures.toString()).isEqualTo(1);
        assertThat(failures.get(0).path("input").asText()).isEqualTo("3");
        assertThat(failures.get(0).path("traceback").asText()).contains("ValueError: 3 is odd");
        assertThat(failures.get(1).path("index").asInt()).isEqualTo(3);
        assertThat(jobs.send("GET", "/v1/jobs/nojob/failures", null, null).status()).isEqualTo(404);
    }

    private static long sum(JsonNode array) {
        long total = 0;
        for (JsonNode n : array) total += n.asLong();
        return total;
    }

    HttpResponse<byte[]> get(String path, Map<String, String> headers) throws IOException, InterruptedException {
        var request = HttpRequest.newBuilder(URI.create(gale.server.url() + path));
        headers.forEach(request::header);
        return http.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    /** A server-sent event stream read on a thread of its own: the data of each {@code log} event, parsed. */
    private static final class EventStream implements AutoCloseable {
        private final BlockingQueue<JsonNode> events = new LinkedBlockingQueue<>();
        private final InputStream body;

        private EventStream(InputStream body) {
            this.body = body;
            Thread.ofVirtual().start(this::read);
        }

        static EventStream open(ConsoleApiTest test, String path, Map<String, String> headers) throws Exception {
            var request = HttpRequest.newBuilder(URI.create(gale.server.url() + path))
                    .header("Authorization", "Bearer " + gale.server.adminToken());
            headers.forEach(request::header);
            HttpResponse<InputStream> response = test.http.send(request.build(), HttpResponse.BodyHandlers.ofInputStream());
            assertThat(response.statusCode()).isEqualTo(200);
            assertThat(response.headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).startsWith("text/event-stream"));
            return new EventStream(response.body());
        }

        private void read() {
            try (var lines = new BufferedReader(new InputStreamReader(body, StandardCharsets.UTF_8))) {
                String event = null;
                for (String line; (line = lines.readLine()) != null; ) {
                    if (line.startsWith("event: ")) event = line.substring(7);
                    if (line.startsWith("data: ") && "log".equals(event)) events.add(JobsHttp.JSON.readTree(line.substring(6)));
                }
            } catch (IOException closed) {
                // the test closed the stream
            }
        }

        List<JsonNode> events(int count) throws InterruptedException {
            List<JsonNode> got = new ArrayList<>();
            while (got.size() < count) {
                JsonNode next = events.poll(20, TimeUnit.SECONDS);
                if (next == null) throw new AssertionError("got " + got + ", and no more within 20 s; wanted " + count);
                got.add(next);
            }
            return got;
        }

        boolean nothingWithin(Duration wait) throws InterruptedException {
            return events.poll(wait.toMillis(), TimeUnit.MILLISECONDS) == null;
        }

        @Override
        public void close() {
            try {
                body.close();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }
}
