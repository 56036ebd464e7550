package gale.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static gale.e2e.GaleHarness.text;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * gale.blobs inside a function: a model loaded at import from an alias follows the alias when it
 * moves, with no failed call while it swaps; a function reaches its own bucket and the granted ones
 * only; deleting a function leaves the buckets.
 */
class BlobsFromFunctionsTest extends GaleE2E {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    /** A "model" pickled by Python: a dict naming the version it is. */
    private static final String SERVE = """
            import json, pickle, time
            from gale import blobs

            def slow_load(f):  # a model that takes a while to load: calls keep being served meanwhile
                time.sleep(0.5)
                return pickle.load(f)

            model = blobs.load("models/churn@prod", slow_load, interval=0.2)

            def predict(request):
                m = model.value
                return json.dumps({"answer": m["answer"], "version": model.version.version})
            """;

    private static final String PROBE = """
            import json
            from gale import blobs
            from gale.errors import ApiError

            def handler(request):
                ref = request.args["ref"]
                try:
                    if request.args.get("op") == "put":
                        return json.dumps({"version": blobs.put(ref, b"from " + ref.encode()).version})
                    return json.dumps({"bytes": blobs.get(ref).decode()})
                except ApiError as e:
                    return json.dumps({"status": e.status, "error": str(e)})
            """;

    @Test
    void aModelLoadedFromAnAliasFollowsItWithNoFailedCallDuringTheSwap() throws Exception {
        putPickle("churn", "v1");
        putPickle("churn", "v2");
        assertThat(send("PUT", "/v1/blobs/models/churn:aliases/prod", "{\"version\": 1}").statusCode()).isEqualTo(200);
        gale.deployActive("churn", gale.bundle("churn", "main.py", SERVE), "entryPoint", "predict", "blobBuckets", "models");
        assertThat(call("churn").get("answer").asText()).isEqualTo("v1");

        // A client calls in a loop on its own thread while the alias moves; every call must answer 200.
        List<String> answers = java.util.Collections.synchronizedList(new ArrayList<>());
        var stop = new java.util.concurrent.atomic.AtomicBoolean();
        var failure = new java.util.concurrent.atomic.AtomicReference<Throwable>();
        var client = Thread.ofPlatform().start(() -> {
            try {
                while (!stop.get()) answers.add(call("churn").get("answer").asText()); // call() fails on any status but 200
            } catch (Throwable e) {
                failure.set(e);
            }
        });
        try {
            while (answers.size() < 5) Thread.sleep(10);
            assertThat(send("PUT", "/v1/blobs/models/churn:aliases/prod", "{\"version\": 2}").statusCode()).isEqualTo(200);
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (System.nanoTime() < deadline && !answers.contains("v2") && client.isAlive()) Thread.sleep(10);
            int seen = answers.size();
            while (answers.size() < seen + 20 && client.isAlive()) Thread.sleep(10); // and some more after the swap
        } finally {
            stop.set(true);
            client.join(Duration.ofSeconds(30));
        }
        assertThat(failure.get()).as("a call during the swap failed").isNull();
        List<String> all = List.copyOf(answers);
        assertThat(all).contains("v1", "v2").containsOnly("v1", "v2");
        assertThat(all.subList(all.indexOf("v2"), all.size())).containsOnly("v2"); // swapped once, never back
    }

    @Test
    void aCanarySplitServesBothVersionsFromOneInstanceAndCountsEachCallForTheVersionThatServedIt() throws Exception {
        String code = SERVE.replace("models/churn@prod", "models/canary@prod");
        putPickle("canary", "v1");
        putPickle("canary", "v2");
        assertThat(send("PUT", "/v1/blobs/models/canary:aliases/prod", "{\"split\": {\"1\": 90, \"2\": 10}}").statusCode()).isEqualTo(200);
        gale.deployActive("canary", gale.bundle("canary", "main.py", code), "entryPoint", "predict", "blobBuckets", "models",
                "maxInstances", 1);
        java.util.Map<String, Integer> served = new java.util.HashMap<>();
        for (int i = 0; i < 200; i++) served.merge(call("canary").get("version").asText(), 1, Integer::sum);
        assertThat(served.get("1")).isGreaterThan(served.getOrDefault("2", 0));
        assertThat(served.get("2")).isPositive(); // 10% of 200 calls, from one instance: p(none) = 0.9^200
        // The instance reports its counts with each poll of the alias (every 0.2 s here).
        JsonNode calls = null;
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (System.nanoTime() < deadline) {
            calls = BlobsApiTest.json(send("GET", "/v1/blobs/models/canary:aliases/prod", null)).get("calls");
            if (calls.path("1").asInt() + calls.path("2").asInt() >= 200) break;
            Thread.sleep(50);
        }
        assertThat(calls.path("1").asInt()).isEqualTo(served.get("1"));
        assertThat(calls.path("2").asInt()).isEqualTo(served.get("2"));
    }

    @Test
    void aFunctionUsesItsOwnBucketAndGrantedOnesOnly() {
        gale.deployActive("probe", gale.bundle("probe", "main.py", PROBE), "entryPoint", "handler", "blobBuckets", "shared");
        assertThat(call("probe", "?op=put&ref=probe/notes.txt").get("version").asInt()).isEqualTo(1);
        assertThat(call("probe", "?ref=probe/notes.txt").get("bytes").asText()).isEqualTo("from probe/notes.txt");
        assertThat(call("probe", "?op=put&ref=shared/x").get("version").asInt()).isEqualTo(1);

        JsonNode refused = call("probe", "?ref=secret/x");
        assertThat(refused.get("status").asInt()).isEqualTo(403);
        assertThat(refused.get("error").asText()).contains("function 'probe' may not use blob bucket 'secret'")
                .contains("gale deploy probe --blob-bucket secret");

        gale.client.delete("probe");
        assertThat(send("GET", "/v1/blobs/probe/notes.txt", null).statusCode()).isEqualTo(200); // buckets outlive functions
    }

    // ---- helpers

    private static void putPickle(String key, String answer) throws Exception {
        Path file = tmp.resolve(key + "-" + answer + ".pkl");
        Process p = new ProcessBuilder("python3", "-c", "import pickle, sys; pickle.dump({'answer': sys.argv[1]}, open(sys.argv[2], 'wb'))",
                answer, file.toString()).inheritIO().start();
        assertThat(p.waitFor()).isZero();
        var r = HTTP.send(HttpRequest.newBuilder(URI.create(gale.server.url() + "/v1/blobs/models/" + key))
                .header("Authorization", "Bearer " + gale.server.adminToken())
                .PUT(HttpRequest.BodyPublishers.ofFile(file)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
    }

    private static HttpResponse<String> send(String method, String path, String body) {
        return BlobsApiTestHttp.send(gale, method, path, body);
    }

    private static JsonNode call(String function) {
        return call(function, "");
    }

    private static JsonNode call(String function, String query) {
        var response = gale.get(function, query);
        assertThat(response.statusCode()).as(text(response)).isEqualTo(200);
        try {
            return JSON.readTree(response.body());
        } catch (IOException e) {
            throw new AssertionError("not JSON: " + text(response), e);
        }
    }
}
