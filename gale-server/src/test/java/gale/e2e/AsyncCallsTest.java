package gale.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import gale.client.GaleApiException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** Async calls (Prefer: respond-async), retries and dead letters on a real server with real Python functions. */
class AsyncCallsTest {

    @TempDir
    static Path tmp;
    static GaleHarness gale;
    private static final ObjectMapper JSON = new ObjectMapper();

    @BeforeAll
    static void startGale() {
        gale = new GaleHarness(tmp);
    }

    @AfterAll
    static void stopGale() {
        if (gale != null) gale.close();
    }

    private static HttpResponse<byte[]> callAsync(String name, String body) {
        return gale.client.call(name, "POST", "?x=1", body.getBytes(StandardCharsets.UTF_8),
                Map.of("Prefer", "respond-async", "Content-Type", "application/json"));
    }

    private static String accepted(HttpResponse<byte[]> response) throws Exception {
        assertThat(response.statusCode()).as(GaleHarness.text(response)).isEqualTo(202);
        JsonNode answer = JSON.readTree(response.body());
        String id = answer.path("invocationId").asText();
        assertThat(answer.path("status").asText()).isEqualTo("queued");
        assertThat(response.headers().firstValue("Location")).contains("/v1/invocations/" + id);
        assertThat(response.headers().firstValue("X-Gale-Request-Id")).contains(id);
        return id;
    }

    private static JsonNode awaitStatus(String id, String status) {
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100))
                .until(() -> gale.client.asyncInvocation(id).path("status").asText().equals(status));
        return gale.client.asyncInvocation(id);
    }

    @Test
    void anAsyncCallIsAnsweredAtOnceAndItsResultIsKeptUnderItsInvocationId() throws Exception {
        gale.deployActive("echo-async", gale.bundle("echo-async", "main.py", """
                def echo_async(request):
                    return {"got": request.get_json(), "x": request.args.get("x"),
                            "invocation": request.headers.get("X-Gale-Invocation-Id"),
                            "attempt": request.headers.get("X-Gale-Attempt"),
                            "prefer": request.headers.get("Prefer")}
                """));

        String id = accepted(callAsync("echo-async", "{\"n\": 7}"));
        JsonNode done = awaitStatus(id, "SUCCEEDED");

        assertThat(done.path("attempts").asInt()).isEqualTo(1);
        assertThat(done.path("result").path("status").asInt()).isEqualTo(200);
        assertThat(done.path("result").path("bodyEncoding").asText()).isEqualTo("utf-8");
        JsonNode body = JSON.readTree(done.path("result").path("body").asText());
        assertThat(body.path("got").path("n").asInt()).isEqualTo(7);
        assertThat(body.path("x").asText()).isEqualTo("1");
        assertThat(body.path("invocation").asText()).isEqualTo(id);
        assertThat(body.path("attempt").asText()).isEqualTo("1");
        assertThat(body.path("prefer").isNull()).as("the function answers as for any call").isTrue();
        await().atMost(Duration.ofSeconds(10)).until(() -> gale.client.invocations("echo-async", 10).stream()
                .anyMatch(i -> i.requestId().startsWith(id + "-1-")));
    }

    @Test
    void aFunctionThatFailsTwiceIsRetriedWithBackoffAndThenSucceeds() throws Exception {
        Path counter = tmp.resolve("flaky-count");
        gale.deployActive("flaky", gale.bundle("flaky", "main.py", """
                import os
                COUNTER = %s
                def flaky(request):
                    n = int(open(COUNTER).read()) + 1 if os.path.exists(COUNTER) else 1
                    open(COUNTER, "w").write(str(n))
                    if n < 3:
                        raise RuntimeError("not yet, attempt %%d" %% n)
                    return "third time lucky"
                """.formatted("'" + counter + "'")), "asyncBackoff", "100ms", "asyncMaxAttempts", 3, "sandbox", "off");

        String id = accepted(callAsync("flaky", "{}"));
        JsonNode done = awaitStatus(id, "SUCCEEDED");

        assertThat(done.path("attempts").asInt()).isEqualTo(3);
        assertThat(done.path("result").path("body").asText()).isEqualTo("third time lucky");
        assertThat(Files.readString(counter)).isEqualTo("3");
    }

    @Test
    void aFunctionThatAlwaysFailsBecomesADeadLetterWithItsTracebackAndARedriveAfterAFixSucceeds() throws Exception {
        gale.deployActive("doomed", gale.bundle("doomed", "main.py", """
                def doomed(request):
                    raise ValueError("bad input " + request.get_data(as_text=True))
                """), "asyncBackoff", "50ms", "asyncMaxAttempts", 2);
        String first = accepted(callAsync("doomed", "{\"k\": 1}"));
        String second = accepted(callAsync("doomed", "{\"k\": 2}"));

        JsonNode dead = awaitStatus(first, "DEAD");
        awaitStatus(second, "DEAD");
        assertThat(dead.path("attempts").asInt()).isEqualTo(2);
        assertThat(dead.path("error").asText()).contains("ValueError: bad input {\"k\": 1}").contains("attempt 2 of 2");
        assertThat(dead.path("traceback").asText()).contains("Traceback").contains("raise ValueError");
        JsonNode letters = gale.client.deadLetters("doomed", 100);
        assertThat(letters).hasSize(2);
        JsonNode letter = letters.findValues("invocationId").stream().anyMatch(n -> n.asText().equals(first)) ? letters.get(0) : null;
        assertThat(letter).isNotNull();
        assertThat(List.of(letters.get(0).path("request").path("body").asText(), letters.get(1).path("request").path("body").asText()))
                .containsExactlyInAnyOrder("{\"k\": 1}", "{\"k\": 2}");

        // Fixed in a new version: redrive one by id, then the rest.
        gale.deployActive("doomed", gale.bundle("doomed", "main.py", """
                def doomed(request):
                    return "fixed " + request.get_data(as_text=True)
                """), "asyncBackoff", "50ms", "asyncMaxAttempts", 2);
        assertThat(gale.client.redriveDeadLetters("doomed", List.of(first)).path("redriven").asInt()).isEqualTo(1);
        JsonNode redriven = awaitStatus(first, "SUCCEEDED");
        assertThat(redriven.path("result").path("body").asText()).isEqualTo("fixed {\"k\": 1}");
        assertThat(redriven.path("version").asInt()).isEqualTo(2);
        assertThat(gale.client.deadLetters("doomed", 100)).hasSize(1);
        assertThat(gale.client.redriveDeadLetters("doomed", List.of()).path("redriven").asInt()).isEqualTo(1);
        awaitStatus(second, "SUCCEEDED");
        assertThat(gale.client.deadLetters("doomed", 100)).isEmpty();
    }

    @Test
    void successAndFailureDestinationsGetALambdaLikeRecordOfTheCall() throws Exception {
        gale.deployActive("sink", gale.bundle("sink", "main.py", """
                import json
                def sink(request):
                    record = request.get_json()
                    print("record", request.headers.get("X-Gale-Destination"), json.dumps(record, sort_keys=True))
                    return "noted"
                """));
        gale.deployActive("judged", gale.bundle("judged", "main.py", """
                def judged(request):
                    if request.get_json()["ok"]:
                        return {"verdict": "fine"}
                    raise KeyError("not ok")
                """), "asyncMaxAttempts", 1, "asyncOnSuccess", "sink", "asyncOnFailure", "sink");

        String good = accepted(callAsync("judged", "{\"ok\": true}"));
        String bad = accepted(callAsync("judged", "{\"ok\": false}"));
        awaitStatus(good, "SUCCEEDED");
        awaitStatus(bad, "DEAD");

        await().atMost(Duration.ofSeconds(30)).until(() -> records().size() >= 2);
        JsonNode success = records().stream().filter(r -> r.path("requestContext").path("requestId").asText().equals(good))
                .findFirst().orElseThrow();
        assertThat(success.path("requestContext").path("condition").asText()).isEqualTo("Success");
        assertThat(success.path("requestContext").path("functionArn").asText()).isEqualTo("gale:function/judged:1");
        assertThat(success.path("requestPayload").path("ok").asBoolean()).isTrue();
        assertThat(success.path("responsePayload").path("verdict").asText()).isEqualTo("fine");
        assertThat(success.path("responseContext").path("statusCode").asInt()).isEqualTo(200);
        JsonNode failure = records().stream().filter(r -> r.path("requestContext").path("requestId").asText().equals(bad))
                .findFirst().orElseThrow();
        assertThat(failure.path("requestContext").path("condition").asText()).isEqualTo("RetriesExhausted");
        assertThat(failure.path("requestContext").path("approximateInvokeCount").asInt()).isEqualTo(1);
        assertThat(failure.path("responseContext").path("functionError").asText()).isEqualTo("Unhandled");
        assertThat(failure.path("responsePayload").path("errorMessage").asText()).contains("KeyError");
        assertThat(failure.path("responsePayload").path("stackTrace").asText()).contains("Traceback");
    }

    private static List<JsonNode> records() throws Exception {
        List<JsonNode> out = new java.util.ArrayList<>();
        for (var entry : gale.client.latestLogs("sink", 1000).entries()) {
            if (entry.message().startsWith("record ")) out.add(JSON.readTree(entry.message().substring(entry.message().indexOf('{'))));
        }
        return out;
    }

    @Test
    void purgeDeletesDeadLettersAndDeletingAFunctionDeletesItsAsyncCalls() throws Exception {
        gale.deployActive("purged", gale.bundle("purged", "main.py", """
                def purged(request):
                    raise RuntimeError("always")
                """), "asyncMaxAttempts", 1);
        String id = accepted(callAsync("purged", "1"));
        awaitStatus(id, "DEAD");

        assertThat(gale.client.purgeDeadLetters("purged").path("purged").asInt()).isEqualTo(1);
        assertThat(gale.client.deadLetters("purged", 100)).isEmpty();
        assertThatThrownBy(() -> gale.client.asyncInvocation(id)).isInstanceOf(GaleApiException.class).hasMessageContaining("no invocation");

        String queued = accepted(callAsync("purged", "2"));
        gale.client.delete("purged");
        assertThatThrownBy(() -> gale.client.asyncInvocation(queued)).isInstanceOf(GaleApiException.class);
    }

    @Test
    void aCallRunningWhenTheServerStopsRunsAgainAfterTheRestart() throws Exception {
        Path marker = tmp.resolve("slow-started");
        gale.deployActive("slow", gale.bundle("slow", "main.py", """
                import time
                def slow(request):
                    open(%s, "a").write("started\\n")
                    time.sleep(3)
                    return "slept"
                """.formatted("'" + marker + "'")), "sandbox", "off");
        String id = accepted(callAsync("slow", "{}"));
        await().atMost(Duration.ofSeconds(30)).until(() -> Files.exists(marker));

        gale.server.close(); // the drain cuts the call off (grace 10 s lets it finish, or not: either way it is stored)
        gale.start();

        JsonNode done = awaitStatus(id, "SUCCEEDED");
        assertThat(done.path("result").path("body").asText()).isEqualTo("slept");
    }

    @Test
    void aQueuedCallSurvivesAStopAndRunsAfterTheRestart() throws Exception {
        Path gate = tmp.resolve("gate-open");
        gale.deployActive("gated", gale.bundle("gated", "main.py", """
                import os
                def gated(request):
                    if not os.path.exists(%s):
                        raise RuntimeError("gate closed")
                    return "through"
                """.formatted("'" + gate + "'")), "sandbox", "off", "asyncBackoff", "2s", "asyncMaxAttempts", 5);
        String id = accepted(callAsync("gated", "{}"));
        await().atMost(Duration.ofSeconds(30)).until(() -> gale.client.asyncInvocation(id).path("attempts").asInt() >= 1);

        gale.server.close();
        Files.writeString(gate, "open");
        gale.start();

        JsonNode done = awaitStatus(id, "SUCCEEDED");
        assertThat(done.path("result").path("body").asText()).isEqualTo("through");
        assertThat(done.path("attempts").asInt()).isGreaterThanOrEqualTo(2);
    }

    @Test
    void everyHostileAsyncInputGetsA4xxThatSaysWhatToDo() throws Exception {
        gale.deploy("private-fn", gale.bundle("private-fn", "main.py", """
                def private_fn(request):
                    return "secret"
                """));
        gale.deployActive("open-fn", gale.bundle("open-fn", "main.py", """
                def open_fn(request):
                    return "ok"
                """));
        HttpClient http = HttpClient.newHttpClient();
        URI base = URI.create(gale.server.url());

        // A private function needs the token, async or not; nothing is stored.
        HttpResponse<String> anonymous = http.send(HttpRequest.newBuilder(base.resolve("/fn/private-fn"))
                .header("Prefer", "respond-async").POST(HttpRequest.BodyPublishers.ofString("{}")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(anonymous.statusCode()).isEqualTo(401);
        assertThat(anonymous.headers().firstValue("X-Gale-Request-Id")).isPresent();
        String refusedId = anonymous.headers().firstValue("X-Gale-Request-Id").orElseThrow();
        assertThatThrownBy(() -> gale.client.asyncInvocation(refusedId)).hasMessageContaining("no invocation");
        assertThat(accepted(gale.client.call("private-fn", "POST", "", new byte[0], Map.of("Prefer", "respond-async")))).isNotEmpty();

        // A function that does not exist: 404 before anything is stored.
        HttpResponse<byte[]> missing = gale.client.call("no-such-fn", "POST", "", new byte[0], Map.of("Prefer", "respond-async"));
        assertThat(missing.statusCode()).isEqualTo(404);
        assertThat(GaleHarness.text(missing)).contains("not found");

        // Prefer with junk, or respond-async with a value.
        for (String junk : List.of("respond-asynch", "respond-async=yes", "\u00e9t\u00e9", "respond-async, lol")) {
            HttpResponse<byte[]> r = gale.client.call("open-fn", "POST", "", new byte[0], Map.of("Prefer", junk));
            assertThat(r.statusCode()).as(junk).isEqualTo(400);
            assertThat(GaleHarness.text(r)).as(junk).contains("send 'Prefer: respond-async'");
        }
        // Registered preferences Gale does not act on are fine.
        assertThat(gale.client.call("open-fn", "GET", "", new byte[0], Map.of("Prefer", "return=minimal")).statusCode()).isEqualTo(200);

        // A body over the limit (10 MB): 413, nothing stored.
        HttpResponse<byte[]> big = gale.client.call("open-fn", "POST", "", new byte[11 << 20], Map.of("Prefer", "respond-async"));
        assertThat(big.statusCode()).isEqualTo(413);
        assertThat(GaleHarness.text(big)).contains("--max-body");

        // Unknown invocation id: 404.
        assertThatThrownBy(() -> gale.client.asyncInvocation("no-such-id")).isInstanceOf(GaleApiException.class)
                .hasMessageContaining("no invocation with id 'no-such-id'");
        // Redrive of an unknown id: 404, and nothing is redriven.
        assertThatThrownBy(() -> gale.client.redriveDeadLetters("open-fn", List.of("nope")))
                .isInstanceOf(GaleApiException.class).hasMessageContaining("no dead letter nope of function 'open-fn'");
        // Dead letters of a function that does not exist: 404.
        assertThatThrownBy(() -> gale.client.deadLetters("no-such-fn", 10)).hasMessageContaining("function 'no-such-fn' not found");
        assertThatThrownBy(() -> gale.client.redriveDeadLetters("no-such-fn", List.of())).hasMessageContaining("not found");
        // A redrive body that is not {"ids": [...]}: 400.
        HttpResponse<String> badBody = http.send(HttpRequest.newBuilder(base.resolve("/v1/functions/open-fn/dead-letters:redrive"))
                .header("Authorization", "Bearer " + gale.server.adminToken())
                .POST(HttpRequest.BodyPublishers.ofString("{\"ids\": \"abc\"}")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(badBody.statusCode()).isEqualTo(400);
        assertThat(badBody.body()).contains("ids must be a non-empty array");
    }
}
