package gale.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** The blob API over HTTP (docs/blobs.md) with the admin token: versions, aliases, splits, caching, and every hostile input. */
class BlobsApiTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long MAX_BLOB = 64 * 1024;

    @TempDir
    static Path tmp;
    static GaleHarness gale;

    @BeforeAll
    static void startGale() {
        gale = new GaleHarness(tmp, c -> c.withMaxBlobBytes(MAX_BLOB));
    }

    @AfterAll
    static void stopGale() {
        if (gale != null) gale.close();
    }

    @Test
    void putMakesVersionsTheSameBytesAgainMakeNoneAndEachVersionReadsBack() {
        var v1 = send("PUT", "/v1/blobs/models/churn.pkl", "one", "Content-Type", "application/x-pickle");
        assertThat(v1.statusCode()).as(v1.body()).isEqualTo(201);
        assertThat(json(v1).get("version").asInt()).isEqualTo(1);
        assertThat(json(send("PUT", "/v1/blobs/models/churn.pkl", "two")).get("version").asInt()).isEqualTo(2);
        var same = send("PUT", "/v1/blobs/models/churn.pkl", "two");
        assertThat(same.statusCode()).isEqualTo(200);
        assertThat(json(same).get("created").asBoolean()).isFalse();

        var latest = send("GET", "/v1/blobs/models/churn.pkl", null);
        assertThat(latest.body()).isEqualTo("two");
        assertThat(latest.headers().firstValue("X-Gale-Blob-Version")).contains("2");
        var first = send("GET", "/v1/blobs/models/churn.pkl?version=1", null);
        assertThat(first.body()).isEqualTo("one");
        assertThat(first.headers().firstValue("Content-Type").orElse("")).startsWith("application/x-pickle");
        assertThat(json(send("GET", "/v1/blobs/models/churn.pkl:versions", null)).get("versions").findValuesAsText("version"))
                .containsExactly("2", "1");
        assertThat(json(send("GET", "/v1/blobs/models?prefix=churn.", null)).get("keys").findValuesAsText("key")).containsExactly("churn.pkl");
    }

    @Test
    void aReaderRevalidatesWithTheDigestAndGets304UntilTheBytesChange() {
        send("PUT", "/v1/blobs/cache/model", "a");
        String etag = send("GET", "/v1/blobs/cache/model", null).headers().firstValue("ETag").orElseThrow();
        assertThat(etag).startsWith("\"sha256:");
        var unchanged = send("GET", "/v1/blobs/cache/model", null, "If-None-Match", etag);
        assertThat(unchanged.statusCode()).isEqualTo(304);
        assertThat(unchanged.body()).isEmpty();
        send("PUT", "/v1/blobs/cache/model", "b");
        var changed = send("GET", "/v1/blobs/cache/model", null, "If-None-Match", etag);
        assertThat(changed.statusCode()).isEqualTo(200);
        assertThat(changed.body()).isEqualTo("b");
    }

    @Test
    void anAliasResolvesMovesAndASplitCountsEachVersionNearItsWeight() {
        send("PUT", "/v1/blobs/models/churn", "v1");
        send("PUT", "/v1/blobs/models/churn", "v2");
        var set = send("PUT", "/v1/blobs/models/churn:aliases/prod", "{\"version\": 1}");
        assertThat(set.statusCode()).as(set.body()).isEqualTo(200);
        assertThat(send("GET", "/v1/blobs/models/churn@prod", null).body()).isEqualTo("v1");
        send("PUT", "/v1/blobs/models/churn:aliases/prod", "{\"version\": 2}");
        var moved = send("GET", "/v1/blobs/models/churn@prod", null);
        assertThat(moved.body()).isEqualTo("v2");
        assertThat(moved.headers().firstValue("X-Gale-Blob-Version")).contains("2");

        send("PUT", "/v1/blobs/models/churn:aliases/canary", "{\"split\": {\"1\": 90, \"2\": 10}}");
        Map<String, Integer> served = new HashMap<>();
        for (int i = 0; i < 200; i++) {
            served.merge(send("GET", "/v1/blobs/models/churn@canary", null, "X-Gale-Sticky", "user-" + i).body(), 1, Integer::sum);
        }
        assertThat(served.get("v1")).isGreaterThan(served.get("v2"));
        assertThat(served.get("v2")).isPositive();
        JsonNode alias = json(send("GET", "/v1/blobs/models/churn:aliases/canary", null));
        assertThat(alias.get("calls").get("1").asInt()).isEqualTo(served.get("v1"));
        assertThat(alias.get("calls").get("2").asInt()).isEqualTo(served.get("v2"));
        // A HEAD (a watcher asking whether the alias moved) is no call.
        send("HEAD", "/v1/blobs/models/churn@canary", null);
        assertThat(json(send("GET", "/v1/blobs/models/churn:aliases/canary", null)).get("calls").get("1").asInt()).isEqualTo(served.get("v1"));
    }

    @Test
    void aVersionAnAliasNamesIsKeptUntilTheAliasMovesAndDeletesAnswer204() {
        send("PUT", "/v1/blobs/keep/k", "1");
        send("PUT", "/v1/blobs/keep/k", "2");
        send("PUT", "/v1/blobs/keep/k:aliases/prod", "{\"version\": 1}");
        var refused = send("DELETE", "/v1/blobs/keep/k?version=1", null);
        assertThat(refused.statusCode()).isEqualTo(409);
        assertThat(json(refused).get("error").asText()).contains("point them at another version first");
        assertThat(send("DELETE", "/v1/blobs/keep/k:aliases/prod", null).statusCode()).isEqualTo(204);
        assertThat(send("DELETE", "/v1/blobs/keep/k?version=1", null).statusCode()).isEqualTo(204);
        assertThat(send("DELETE", "/v1/blobs/keep/k", null).statusCode()).isEqualTo(204);
        assertThat(send("GET", "/v1/blobs/keep/k", null).statusCode()).isEqualTo(404);
    }

    @ParameterizedTest(name = "{0} {1} -> {3}")
    @CsvSource(delimiter = '|', quoteCharacter = '\'', value = {
            "PUT    | /v1/blobs/Models/k                        | x                        | 400 | is not a bucket",
            "PUT    | /v1/blobs/models/                          | x                        | 400 | the key is empty",
            "PUT    | /v1/blobs/models/a//b                      | x                        | 400 | has a part ''",
            "PUT    | /v1/blobs/models/a%5C..%5Cb                | x                        | 400 | holds '\\'",
            "PUT    | /v1/blobs/models/k@prod                    | x                        | 400 | stores bytes",
            "PUT    | /v1/blobs/models/k:aliases/prod            | {\"split\": {\"1\": 90, \"2\": 20}} | 400 | add up to 110, not 100",
            "PUT    | /v1/blobs/models/k:aliases/prod            | {\"version\": 99}         | 404 | has no version 99",
            "PUT    | /v1/blobs/models/k:aliases/prod            | {\"version\": \"x\"}      | 400 | send {\"version\": 7}",
            "PUT    | /v1/blobs/models/k:aliases/prod            | {\"split\": {\"a\": 100}}  | 400 | the split's keys are version numbers",
            "PUT    | /v1/blobs/models/k:aliases/Prod            | {\"version\": 1}          | 400 | is not an alias",
            "PUT    | /v1/blobs/models/k:aliases/prod            | nope                     | 400 | the body is not JSON",
            "GET    | /v1/blobs/models/k?version=7               |                          | 404 | has no version 7 (its versions: [1];",
            "GET    | /v1/blobs/models/k?version=latest          |                          | 400 | version must be a version number",
            "GET    | /v1/blobs/models/k@staging                 |                          | 404 | has no alias 'staging'",
            "GET    | /v1/blobs/models/k:everything              |                          | 400 | unknown action ':everything'",
            "GET    | /v1/blobs/models/nothing                   |                          | 404 | no blob models/nothing",
            "PUT    | /v1/blobs/models/big                       | HUGE                     | 413 | over this server's limit of 65536 bytes",
            "DELETE | /v1/blobs/models                           |                          | 400 | DELETE needs a key",
            "POST   | /v1/blobs/models/k:aliases/nope            | {\"calls\": {\"1\": 1}}  | 404 | has no alias 'nope'",
            "POST   | /v1/blobs/models/k:aliases/nope            | {\"calls\": {\"1\": -5}} | 400 | calls are counts 0-1000000000, got -5",
            "POST   | /v1/blobs/models/k:aliases/nope            | {\"calls\": {\"x\": 1}}  | 400 | takes {\"calls\": {\"7\": 12",
            "POST   | /v1/blobs/models/k                         | {\"calls\": {}}         | 400 | takes {\"calls\"",
    })
    void everyHostileInputGetsAClearError(String method, String path, String body, int status, String message) {
        send("PUT", "/v1/blobs/models/k", "first");
        if ("HUGE".equals(body)) body = "x".repeat((int) MAX_BLOB + 1);
        var response = send(method, path, body);
        assertThat(response.statusCode()).as(response.body()).isEqualTo(status);
        assertThat(json(response).get("error").asText()).contains(message);
        assertThat(json(send("GET", "/v1/blobs/models/k:versions", null)).get("versions")).hasSize(1); // nothing was written
        assertThat(send("GET", "/v1/blobs/models/big", null).statusCode()).isEqualTo(404);
    }

    @Test
    void aPathThatClimbsOutOfTheBucketIsRefused() {
        for (String path : new String[]{"/v1/blobs/models/../x", "/v1/blobs/models/%2E%2E/x", "/v1/blobs/models/a/%2e%2e/%2e%2e/x"}) {
            var response = send("PUT", path, "x");
            assertThat(response.statusCode()).as(path + ": " + response.body()).isEqualTo(400);
        }
        assertThat(json(send("GET", "/v1/blobs/models?prefix=", null)).get("keys").findValuesAsText("key")).doesNotContain("x");
    }

    @Test
    void aBodyDeclaredOverTheLimitIsRefusedBeforeItIsRead() {
        var response = send("PUT", "/v1/blobs/models/huge", "y".repeat((int) MAX_BLOB * 3));
        assertThat(response.statusCode()).isEqualTo(413);
        assertThat(json(response).get("error").asText()).contains("start the server with a larger --max-blob-size");
    }

    // ---- HTTP

    static HttpResponse<String> send(String method, String path, String body, String... headers) {
        return BlobsApiTestHttp.send(gale, method, path, body, headers);
    }

    static JsonNode json(HttpResponse<String> response) {
        try {
            return JSON.readTree(response.body());
        } catch (IOException e) {
            throw new AssertionError("not JSON: " + response.body(), e);
        }
    }
}
