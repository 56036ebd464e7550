package gale.client;

import static gale.client.FakeGale.json;
import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GaleClientTest {

    static final String SUMMARY = """
            {"name": "scorer", "url": "http://127.0.0.1:8080/fn/scorer", "activeVersion": 3, "latestVersion": 4,
             "state": "ACTIVE", "config": {"memory": "512MB", "allowUnauthenticated": true, "cors": null},
             "instances": 2, "createdAt": "2026-11-25T11:40:00Z", "updatedAt": "2026-11-25T12:00:00Z",
             "somethingNew": {"ignored": true}}""";

    static String version(int version, String state, String extra) {
        return """
                {"function": "scorer", "version": %d, "state": "%s", "config": {}, "bundleDigest": "sha256:ab",
                 "bundleBytes": 1234, "createdAt": "2026-11-25T11:40:00Z"%s}""".formatted(version, state, extra);
    }

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
    void sendsTheAdminTokenAndReadsFunctionSummaries() {
        gale.on("GET /v1/functions", 200, "[" + SUMMARY + "]");

        List<FunctionSummary> functions = client.functions();

        assertThat(gale.lastRequest().header("Authorization")).isEqualTo("Bearer t0ken");
        FunctionSummary scorer = functions.getFirst();
        assertThat(scorer.name()).isEqualTo("scorer");
        assertThat(scorer.url()).isEqualTo(URI.create("http://127.0.0.1:8080/fn/scorer"));
        assertThat(scorer.activeVersion()).isEqualTo(OptionalInt.of(3));
        assertThat(scorer.isPublic()).isTrue();
        assertThat(scorer.config()).containsOnlyKeys("memory", "allowUnauthenticated");
        assertThat(scorer.versions()).isEmpty();
    }

    @Test
    void readsVersionsWithTheReasonOfAFailure() {
        gale.on("GET /v1/functions/scorer/versions", 200,
                "[" + version(4, "FAILED", ", \"reason\": \"import error\", \"readyAt\": null") + "]");

        Version failed = client.versions("scorer").getFirst();

        assertThat(failed.state()).isEqualTo(VersionState.FAILED);
        assertThat(failed.reason()).contains("import error");
        assertThat(failed.readyAt()).isEmpty();
    }

    @Test
    void readsAFunctionThatHasNoVersionYet() {
        gale.on("GET /v1/functions", 200, "[" + SUMMARY.replace("\"activeVersion\": 3, \"latestVersion\": 4",
                "\"activeVersion\": null, \"latestVersion\": null").replace("\"ACTIVE\"", "\"NEW\"") + "]");

        FunctionSummary fresh = client.functions().getFirst();

        assertThat(fresh.activeVersion()).isEmpty();
        assertThat(fresh.latestVersion()).isEmpty();
        assertThat(fresh.state()).isEqualTo("NEW");
    }

    @Test
    void readsOneFunctionWithItsVersionsAndNoActiveVersion() {
        String summary = SUMMARY.replace("\"activeVersion\": 3", "\"activeVersion\": null")
                .replace("\"instances\"", "\"versions\": [" + version(4, "DEPLOYING", "") + "], \"instances\"");
        gale.on("GET /v1/functions/scorer", 200, summary);

        FunctionSummary scorer = client.function("scorer");

        assertThat(scorer.activeVersion()).isEmpty();
        assertThat(scorer.versions()).extracting(Version::version).containsExactly(4);
    }

    @Test
    void uploadsTheConfigAndTheZippedFolderAsMultipartFormData() throws IOException {
        Files.writeString(dir.resolve("main.py"), "def scorer(request): return 'ok'");
        Files.createDirectories(dir.resolve("__pycache__"));
        Files.writeString(dir.resolve("__pycache__/main.pyc"), "c");
        gale.on("POST /v1/functions/scorer/versions", 202, version(5, "DEPLOYING", ""));

        Version deployed = client.deploy("scorer", dir, Map.of("memory", "512MB"));

        assertThat(deployed.version()).isEqualTo(5);
        FakeGale.Request upload = gale.lastRequest();
        String contentType = upload.header("Content-Type");
        assertThat(contentType).startsWith("multipart/form-data; boundary=");
        assertThat(upload.header("Content-Length")).isEqualTo(String.valueOf(upload.body().length));
        Map<String, byte[]> parts = parts(upload.body(), contentType.substring(contentType.indexOf('=') + 1));
        assertThat(ApiJson.MAPPER.readTree(parts.get("config")).toString()).isEqualTo("{\"memory\":\"512MB\"}");
        assertThat(SourceBundleTest.entries(parts.get("bundle"))).containsOnlyKeys("main.py");
    }

    @Test
    void turnsAnErrorAnswerIntoAnExceptionWithTheServersMessage() {
        gale.on("GET /v1/functions/nope", 404, "{\"error\": \"no function named 'nope'\", \"status\": 404}");

        assertThatThrownBy(() -> client.function("nope"))
                .isInstanceOfSatisfying(GaleApiException.class, e -> {
                    assertThat(e.status()).isEqualTo(404);
                    assertThat(e.error()).isEqualTo("no function named 'nope'");
                });
    }

    @Test
    void showsTheBodyOfAnErrorThatIsNotGalesJson() {
        gale.on("GET /v1/functions", new FakeGale.Answer(502, "Bad Gateway from the proxy", Map.of()));

        assertThatThrownBy(() -> client.functions()).hasMessage("Bad Gateway from the proxy (HTTP 502)");
    }

    @Test
    void namesTheMissingFieldWhenAnAnswerIsNotTheExpectedShape() {
        gale.on("GET /v1/functions/scorer/versions/1", 200, "{\"function\": \"scorer\"}");

        assertThatThrownBy(() -> client.version("scorer", 1))
                .isInstanceOf(GaleApiException.class)
                .hasMessageContaining("GET /v1/functions/scorer/versions/1")
                .hasMessageContaining("field 'version' is missing");
    }

    @Test
    void pollsAVersionUntilItSettles() {
        gale.on("GET /v1/functions/scorer/versions/4",
                json(200, version(4, "DEPLOYING", "")),
                json(200, version(4, "DEPLOYING", "")),
                json(200, version(4, "FAILED", ", \"reason\": \"import error\", \"readyAt\": \"2026-11-25T11:41:00Z\"")));

        Version settled = client.awaitVersion("scorer", 4, Duration.ofSeconds(10));

        assertThat(settled.state()).isEqualTo(VersionState.FAILED);
        assertThat(settled.reason()).contains("import error");
        assertThat(gale.requests()).hasSize(3);
    }

    @Test
    void returnsTheVersionAsLastSeenWhenTheWaitRunsOut() {
        gale.on("GET /v1/functions/scorer/versions/4", 200, version(4, "DEPLOYING", ""));

        Version pending = client.awaitVersion("scorer", 4, Duration.ofMillis(250));

        assertThat(pending.state()).isEqualTo(VersionState.DEPLOYING);
    }

    @Test
    void asksForLogsAfterASeqAndReportsWhereToContinue() {
        gale.on("GET /v1/functions/scorer/logs", 200, """
                {"entries": [{"seq": 42, "time": "2026-11-25T11:40:00.123Z", "function": "scorer", "version": 3,
                  "instance": "scorer-3-a1b2", "requestId": "b3c1", "stream": "stdout", "message": "one line"},
                 {"seq": 43, "time": "2026-11-25T11:40:00.200Z", "function": "scorer", "version": 3,
                  "stream": "gale", "message": "instance started"}]}""");

        LogPage page = client.logs("scorer", 41, 100, 20);

        assertThat(gale.lastRequest().pathAndQuery()).isEqualTo("/v1/functions/scorer/logs?after=41&limit=100&wait=20");
        assertThat(page.next()).isEqualTo(43);
        assertThat(page.entries().get(0).requestId()).contains("b3c1");
        assertThat(page.entries().get(1).instance()).isEmpty();
    }

    @Test
    void asksForTheLatestLogEntriesWithoutAStartingPoint() {
        gale.on("GET /v1/functions/scorer/logs", 200, """
                {"entries": [{"seq": 9, "time": "2026-11-25T11:40:00Z", "function": "scorer", "version": 3,
                  "instance": null, "requestId": null, "stream": "gale", "message": "version 3 is ACTIVE"}], "next": 9}""");

        LogPage page = client.latestLogs("scorer", 5);

        assertThat(gale.lastRequest().pathAndQuery()).isEqualTo("/v1/functions/scorer/logs?limit=5");
        assertThat(page.next()).isEqualTo(9);
    }

    @Test
    void keepsItsPlaceInTheLogWhenNothingIsNew() {
        gale.on("GET /v1/functions/scorer/logs", 200, "{\"entries\": []}");

        LogPage page = client.logs("scorer", 41, 100, 0);

        assertThat(gale.lastRequest().pathAndQuery()).isEqualTo("/v1/functions/scorer/logs?after=41&limit=100");
        assertThat(page.next()).isEqualTo(41);
    }

    @Test
    void rollsBackToAChosenVersionOrToThePreviousOne() throws IOException {
        gale.on("POST /v1/functions/scorer/rollback", 200, SUMMARY);

        client.rollback("scorer", OptionalInt.of(2));
        JsonNode chosen = ApiJson.parse(gale.lastRequest().body());
        client.rollback("scorer", OptionalInt.empty());
        JsonNode previous = ApiJson.parse(gale.lastRequest().body());

        assertThat(chosen.toString()).isEqualTo("{\"version\":2}");
        assertThat(previous.toString()).isEqualTo("{}");
    }

    @Test
    void deletesAFunction() {
        gale.on("DELETE /v1/functions/scorer", new FakeGale.Answer(204, "", Map.of()));

        client.delete("scorer");

        assertThat(gale.lastRequest().method()).isEqualTo("DELETE");
    }

    @Test
    void readsInvocationRecords() {
        gale.on("GET /v1/invocations/b3c1", 200, """
                {"requestId": "b3c1", "function": "scorer", "version": 3, "instance": "scorer-3-a1b2", "status": 200,
                 "outcome": "ok", "durationMs": 12.5, "coldStart": false, "memoryMb": 61, "time": "2026-11-25T11:40:00Z"}""");

        Invocation invocation = client.invocation("b3c1");

        assertThat(invocation.durationMs()).isEqualTo(12.5);
        assertThat(invocation.memoryMb()).isEqualTo(OptionalInt.of(61));
    }

    @Test
    void callsAFunctionWithMethodPathBodyAndHeaders() {
        gale.on("POST /fn/scorer/predict", json(200, "{\"score\": 0.9}"));

        HttpResponse<byte[]> response = client.call("scorer", "POST", "/predict?threshold=0.5",
                "{\"amount\": 1}".getBytes(UTF_8), Map.of("Content-Type", "application/json"));

        assertThat(new String(response.body(), UTF_8)).isEqualTo("{\"score\": 0.9}");
        FakeGale.Request call = gale.lastRequest();
        assertThat(call.pathAndQuery()).isEqualTo("/fn/scorer/predict?threshold=0.5");
        assertThat(call.bodyText()).isEqualTo("{\"amount\": 1}");
        assertThat(call.header("Content-Type")).isEqualTo("application/json");
        assertThat(call.header("Authorization")).isEqualTo("Bearer t0ken");
    }

    @Test
    void returnsErrorStatusesAndRedirectsOfAFunctionWithoutFollowingThem() {
        gale.on("GET /fn/flask-app/old", new FakeGale.Answer(302, "", Map.of("Location", "/fn/flask-app/new")));
        gale.on("GET /fn/flask-app", json(500, "{\"error\": \"ZeroDivisionError\"}"));

        assertThat(client.call("flask-app", "GET", "old", new byte[0], Map.of()).statusCode()).isEqualTo(302);
        assertThat(client.call("flask-app", "GET", "", new byte[0], Map.of()).statusCode()).isEqualTo(500);
        assertThat(gale.requests()).hasSize(2);
    }

    @Test
    void letsACallerSendItsOwnAuthorization() {
        gale.on("GET /fn/scorer", json(200, "{}"));

        client.call("scorer", "GET", "", new byte[0], Map.of("authorization", "Bearer other"));

        assertThat(gale.lastRequest().header("Authorization")).isEqualTo("Bearer other");
    }

    @Test
    void callsAFunctionWithoutBlocking() {
        gale.on("GET /fn/scorer", json(200, "{\"ok\": true}"));

        HttpResponse<byte[]> response = client.callAsync("scorer", "GET", "?x=1", new byte[0], Map.of()).join();

        assertThat(response.statusCode()).isEqualTo(200);
    }

    @Test
    void saysWhichUrlItCouldNotReach() throws IOException {
        URI closed = closedPort();
        try (GaleClient unreachable = new GaleClient(closed, "t0ken")) {
            assertThatThrownBy(unreachable::functions)
                    .isInstanceOfSatisfying(GaleUnreachableException.class, e -> assertThat(e.url()).isEqualTo(closed))
                    .hasMessageStartingWith("cannot reach Gale at " + closed);
            assertThatThrownBy(() -> unreachable.callAsync("scorer", "GET", "", new byte[0], Map.of()).join())
                    .isInstanceOf(CompletionException.class)
                    .hasCauseInstanceOf(GaleUnreachableException.class);
        }
    }

    @Test
    void rejectsAUrlThatIsNotHttp() {
        assertThatThrownBy(() -> new GaleClient(URI.create("localhost:8080"), "t0ken"))
                .hasMessageContaining("looks like http://127.0.0.1:8080");
    }

    private static URI closedPort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return URI.create("http://127.0.0.1:" + socket.getLocalPort());
        }
    }

    /** The parts of a multipart/form-data body by name, just enough parsing for these tests. */
    private static Map<String, byte[]> parts(byte[] body, String boundary) {
        String text = new String(body, ISO_8859_1);
        Map<String, byte[]> parts = new HashMap<>();
        for (String part : text.split("--" + boundary)) {
            int headersEnd = part.indexOf("\r\n\r\n");
            if (headersEnd < 0) continue;
            String name = part.substring(part.indexOf("name=\"") + 6, part.indexOf('"', part.indexOf("name=\"") + 6));
            parts.put(name, part.substring(headersEnd + 4, part.length() - 2).getBytes(ISO_8859_1));
        }
        return parts;
    }
}
