package gale.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;

import static org.assertj.core.api.Assertions.assertThat;

/** The state API over HTTP (docs/state.md) with the admin token: every operation, and every hostile input. */
class StateApiTest extends GaleE2E {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    @Test
    void aKeyIsWrittenReadCompareAndSetAndDeleted() {
        var created = send("PUT", "/v1/state/survey/greeting", "{\"text\": \"hello\"}");
        assertThat(created.statusCode()).isEqualTo(201);
        String etag = created.headers().firstValue("ETag").orElseThrow();

        var read = send("GET", "/v1/state/survey/greeting", null);
        assertThat(read.statusCode()).isEqualTo(200);
        assertThat(json(read).get("value").get("text").asText()).isEqualTo("hello");
        assertThat(read.headers().firstValue("ETag")).contains(etag);

        var swapped = send("PUT", "/v1/state/survey/greeting", "\"hi\"", "If-Match", etag);
        assertThat(swapped.statusCode()).isEqualTo(200);
        var stale = send("PUT", "/v1/state/survey/greeting", "\"hey\"", "If-Match", etag);
        assertThat(stale.statusCode()).isEqualTo(412);
        assertThat(json(stale).get("error").asText()).contains("precondition failed: key 'greeting' is at version");
        assertThat(json(stale).get("currentVersion").asLong()).isEqualTo(json(swapped).get("version").asLong());
        assertThat(send("PUT", "/v1/state/survey/greeting", "1", "If-None-Match", "*").statusCode()).isEqualTo(412);

        assertThat(send("DELETE", "/v1/state/survey/greeting", null).statusCode()).isEqualTo(204);
        var gone = send("GET", "/v1/state/survey/greeting", null);
        assertThat(gone.statusCode()).isEqualTo(404);
        assertThat(json(gone).get("error").asText()).contains("no key 'greeting' in state namespace 'survey'");
        assertThat(send("DELETE", "/v1/state/survey/greeting", null).statusCode()).isEqualTo(404);
    }

    @Test
    void keysWithSlashesAndEscapedCharactersAreListedByPrefix() {
        send("PUT", "/v1/state/lists/user/1/seen", "[1, 2]");
        send("PUT", "/v1/state/lists/user/2/seen", "[3]");
        send("PUT", "/v1/state/lists/user%3F%20x", "true");
        send("PUT", "/v1/state/lists/admin", "0");

        JsonNode page = json(send("GET", "/v1/state/lists?prefix=user/&limit=1", null));
        assertThat(page.get("entries")).hasSize(1);
        assertThat(page.get("entries").get(0).get("key").asText()).isEqualTo("user/1/seen");
        assertThat(page.get("next").asText()).isEqualTo("user/1/seen");
        JsonNode rest = json(send("GET", "/v1/state/lists?prefix=user&after=user/1/seen", null));
        assertThat(rest.get("entries").findValuesAsText("key")).containsExactly("user/2/seen", "user? x");
        assertThat(rest.get("next").isNull()).isTrue();
        assertThat(json(send("GET", "/v1/state/lists/user%3F%20x", null)).get("value").asBoolean()).isTrue();
    }

    @Test
    void anIncrementAddsToAWholeNumberAndStartsFromZero() {
        assertThat(json(send("POST", "/v1/state/counters/visits?op=increment", null)).get("value").asLong()).isEqualTo(1);
        assertThat(json(send("POST", "/v1/state/counters/visits?op=increment", "{\"by\": 41}")).get("value").asLong()).isEqualTo(42);
        assertThat(json(send("GET", "/v1/state/counters/visits", null)).get("value").asLong()).isEqualTo(42);
    }

    @Test
    void aTransactionAppliesAllOpsOrAnswers409NamingTheCheckThatFailed() {
        var ok = send("POST", "/v1/state/bank:transaction", """
                {"checks": [{"key": "alice", "version": 0}],
                 "ops": [{"op": "put", "key": "alice", "value": 10}, {"op": "increment", "key": "bob", "by": 5},
                         {"op": "delete", "key": "carol"}]}""");
        assertThat(ok.statusCode()).isEqualTo(200);
        JsonNode results = json(ok).get("results");
        assertThat(results.get(1).get("value").asLong()).isEqualTo(5);
        assertThat(results.get(2).get("existed").asBoolean()).isFalse();
        long alice = results.get(0).get("version").asLong();

        var conflict = send("POST", "/v1/state/bank:transaction", """
                {"checks": [{"key": "alice", "version": %d}, {"key": "bob", "version": 1}],
                 "ops": [{"op": "increment", "key": "alice", "by": -3}, {"op": "increment", "key": "bob", "by": 3}]}"""
                .formatted(alice));
        assertThat(conflict.statusCode()).isEqualTo(409);
        assertThat(json(conflict).get("failedCheck").asInt()).isEqualTo(1);
        assertThat(json(conflict).get("error").asText()).contains("check 1 failed: key 'bob' is at version");
        assertThat(json(send("GET", "/v1/state/bank/alice", null)).get("value").asLong()).isEqualTo(10);
    }

    @Test
    void sixtyFourClientsIncrementingOverHttpLoseNoUpdate() throws Exception {
        int clients = 64;
        int each = 25;
        List<CompletableFuture<Void>> calls = new ArrayList<>();
        try (var threads = Executors.newFixedThreadPool(clients)) {
            for (int c = 0; c < clients; c++) {
                calls.add(CompletableFuture.runAsync(() -> {
                    for (int i = 0; i < each; i++) {
                        var r = send("POST", "/v1/state/race/hits?op=increment", null);
                        if (r.statusCode() != 200) throw new AssertionError("increment answered " + r.statusCode() + ": " + r.body());
                    }
                }, threads));
            }
            CompletableFuture.allOf(calls.toArray(CompletableFuture[]::new)).join();
        }
        assertThat(json(send("GET", "/v1/state/race/hits", null)).get("value").asLong()).isEqualTo((long) clients * each);
    }

    @Test
    void withoutATokenTheStateApiAnswers401AndAForgedTokenToo() {
        var none = sendRaw(HttpRequest.newBuilder(uri("/v1/state/survey/k")).GET().build());
        assertThat(none.statusCode()).isEqualTo(401);
        assertThat(none.body()).contains("GALE_STATE_TOKEN");
        var forged = sendRaw(HttpRequest.newBuilder(uri("/v1/state/survey/k"))
                .header("Authorization", "Bearer gst1.c2NvcmVyLzE.AAAA").GET().build());
        assertThat(forged.statusCode()).isEqualTo(401);
    }

    /** method | path | body | status | what the message says */
    @ParameterizedTest(name = "{0} {1} -> {3}")
    @CsvSource(delimiter = '|', textBlock = """
            PUT    | /v1/state/ns/k                  | {"a": 1                    | 400 | the body is not JSON
            PUT    | /v1/state/ns/k                  | hello                      | 400 | text needs the quotes
            PUT    | /v1/state/ns/k                  | 1 2                        | 400 | the body is not JSON
            PUT    | /v1/state/ns/k                  |                            | 400 | the body is empty
            PUT    | /v1/state/ns/                   | 1                          | 400 | the key is empty
            PUT    | /v1/state/ns/KKKK               | 1                          | 400 | keys are at most 512 bytes
            PUT    | /v1/state/Bad_NS/k              | 1                          | 400 | is not a namespace
            PUT    | /v1/state/NNNN/k                | 1                          | 400 | 1-63 lowercase letters
            PUT    | /v1/state/ns/k?ttl=soon         | 1                          | 400 | is not a duration
            PUT    | /v1/state/ns/k?ttl=0s           | 1                          | 400 | ttl must be between
            PUT    | /v1/state/ns:transaction        | 1                          | 400 | PUT takes a key
            GET    | /v1/state                       |                            | 400 | name a namespace
            GET    | /v1/state/ns?limit=many         |                            | 400 | limit must be a number
            GET    | /v1/state/ns?limit=100000       |                            | 400 | limit must be between 1 and 1000
            POST   | /v1/state/ns/k                  |                            | 400 | needs ?op=increment
            POST   | /v1/state/ns/k?op=append        |                            | 400 | unknown op 'append'
            POST   | /v1/state/ns/k?op=increment     | {"by": "abc"}              | 400 | by must be a whole number
            POST   | /v1/state/ns/k?op=increment     | {"by": 1.5}                | 400 | by must be a whole number
            POST   | /v1/state/ns/k?op=increment     | {"by": 99999999999999999999} | 400 | by must be a whole number
            POST   | /v1/state/ns/k?op=increment     | {"step": 1}                | 400 | unknown field 'step'
            POST   | /v1/state/ns/text?op=increment  |                            | 400 | not a whole number; put a number there first
            POST   | /v1/state/ns:merge              | {}                         | 400 | unknown action ':merge'
            POST   | /v1/state/ns:transaction        | []                         | 400 | a transaction is
            POST   | /v1/state/ns:transaction        | {"ops": [{"op": "upsert", "key": "k"}]} | 400 | op must be put, increment or delete
            POST   | /v1/state/ns:transaction        | {"ops": [{"op": "put", "key": "k"}]}    | 400 | has no "value"
            POST   | /v1/state/ns:transaction        | {"checks": [{"key": "k", "version": "x"}]} | 400 | each check is
            POST   | /v1/state/ns:transaction        | {}                         | 400 | no checks and no ops
            POST   | /v1/state/ns:transaction        | MANY_OPS                   | 400 | at most 64 checks and ops
            PUT    | /v1/state/ns/k                  | HUGE                       | 413 | keep large data in a blob
            """)
    void everyHostileInputGetsAClearError(String method, String path, String body, int status, String message) {
        send("PUT", "/v1/state/ns/text", "\"not a number\"");
        path = path.replace("KKKK", "k".repeat(513)).replace("NNNN", "n".repeat(64));
        if ("HUGE".equals(body)) body = "\"" + "x".repeat((1 << 20) + 1) + "\"";
        if ("MANY_OPS".equals(body)) {
            StringBuilder ops = new StringBuilder("{\"ops\": [");
            for (int i = 0; i < 65; i++) ops.append(i == 0 ? "" : ",").append("{\"op\": \"delete\", \"key\": \"k").append(i).append("\"}");
            body = ops.append("]}").toString();
        }
        var response = send(method, path, body);

        assertThat(response.statusCode()).as(response.body()).isEqualTo(status);
        assertThat(json(response).get("error").asText()).contains(message);
        assertThat(send("GET", "/v1/state/ns/k", null).statusCode()).isEqualTo(404); // nothing was written
    }

    @Test
    void aConditionalWriteWithABadIfMatchIsRefused() {
        var response = send("PUT", "/v1/state/ns/k", "1", "If-Match", "yesterday");
        assertThat(response.statusCode()).isEqualTo(400);
        assertThat(json(response).get("error").asText()).contains("If-Match must be a version");
    }

    // ---- HTTP

    static HttpResponse<String> send(String method, String path, String body, String... headers) {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri(path))
                .header("Authorization", "Bearer " + gale.server.adminToken())
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (body != null) b.header("Content-Type", "application/json");
        for (int i = 0; i < headers.length; i += 2) b.header(headers[i], headers[i + 1]);
        return sendRaw(b.build());
    }

    private static HttpResponse<String> sendRaw(HttpRequest request) {
        try {
            return HTTP.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new AssertionError(request + " failed", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    private static URI uri(String path) {
        return URI.create(gale.server.url() + path);
    }

    static JsonNode json(HttpResponse<String> response) {
        return json(response.body());
    }

    static JsonNode json(String text) {
        try {
            return JSON.readTree(text);
        } catch (IOException e) {
            throw new AssertionError("not JSON: " + text, e);
        }
    }
}
