package gale.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import gale.client.GaleApiException;
import gale.client.StateEntry;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** Triggers (docs/triggers.md) on a real server with real Python functions in each calling convention. */
class TriggersTest extends GaleE2E {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration WAIT = Duration.ofSeconds(90);

    /** Everything under {@code prefix} in the namespace, key to value. */
    private static Map<String, JsonNode> entries(String namespace, String prefix) throws Exception {
        Map<String, JsonNode> out = new HashMap<>();
        Optional<String> after = Optional.empty();
        do {
            var page = gale.client.stateList(namespace, prefix, after, 1000);
            for (StateEntry e : page.entries()) out.put(e.key(), JSON.readTree(e.valueJson().orElse("null")));
            after = page.next();
        } while (after.isPresent());
        return out;
    }

    private static JsonNode trigger(String function, String source) {
        for (JsonNode t : gale.client.triggers(function)) if (t.path("source").asText().equals(source)) return t;
        throw new AssertionError(function + " has no trigger on " + source + ": " + gale.client.triggers(function));
    }

    private static Path blobFile(String content) throws Exception {
        Path file = Files.createTempFile(tmp, "blob", ".bin");
        Files.writeString(file, content);
        return file;
    }

    @Test
    void stateAndBlobWritesReachEachCallingConventionInItsCloudsShape() throws Exception {
        List<Object> triggers = List.of("state:shared/in/", "blob:shared/models/");
        gale.deployActive("cloud-sink", gale.bundle("cloud-sink", "main.py", """
                from gale import state
                def on_event(cloud_event):
                    state.put("seen/" + cloud_event["id"], {"type": cloud_event["type"], "source": cloud_event["source"],
                              "subject": cloud_event["subject"], "id": cloud_event["id"], "data": cloud_event.data})
                """), "entryPoint", "on_event", "stateNamespaces", List.of("shared"), "blobBuckets", List.of("shared"),
                "triggers", triggers);
        gale.deployActive("lambda-sink", gale.bundle("lambda-sink", "main.py", """
                from gale import state
                def lambda_handler(event, context):
                    record = event["Records"][0]
                    state.put("seen/" + record.get("eventID", record.get("responseElements", {}).get("x-amz-request-id")), event)
                    return {"statusCode": 200}
                """), "entryPoint", "lambda_handler", "stateNamespaces", List.of("shared"), "blobBuckets", List.of("shared"),
                "triggers", triggers);
        gale.deployActive("gcf-sink", gale.bundle("gcf-sink", "main.py", """
                from gale import state
                def on_change(event, context):
                    state.put("seen/" + context.event_id, {"data": event, "event_type": context.event_type,
                              "resource": context.resource, "timestamp": context.timestamp})
                """), "entryPoint", "on_change", "signature", "background", "stateNamespaces", List.of("shared"),
                "blobBuckets", List.of("shared"), "triggers", triggers);

        long v1 = gale.client.statePut("shared", "in/a b", "{\"x\": 1}", Optional.empty(), OptionalLong.empty()).version();
        long v2 = gale.client.statePut("shared", "in/a b", "{\"x\": 2}", Optional.empty(), OptionalLong.empty()).version();
        gale.client.statePut("shared", "elsewhere", "1", Optional.empty(), OptionalLong.empty()); // under no prefix followed
        gale.client.stateDelete("shared", "in/a b");
        JsonNode blob = gale.client.blobPut("shared", "models/m 1.bin", blobFile("weights"), Optional.of("application/x-model"));

        for (String sink : List.of("cloud-sink", "lambda-sink", "gcf-sink")) {
            await().atMost(WAIT).until(() -> entries(sink, "seen/").size() == 4);
        }

        // def f(cloud_event): the CloudEvent, data modelled on DynamoDB Streams' NEW_AND_OLD_IMAGES
        Map<String, JsonNode> cloud = new HashMap<>();
        entries("cloud-sink", "seen/").values().forEach(e -> cloud.put(e.path("type").asText() + " "
                + e.path("data").path("newVersion").asText(e.path("data").path("generation").asText()), e));
        JsonNode modified = cloud.get("gale.state.v1.written " + v2);
        assertThat(modified.path("source").asText()).isEqualTo("//gale/state/namespaces/shared");
        assertThat(modified.path("subject").asText()).isEqualTo("keys/in/a b");
        assertThat(modified.path("data").path("key").asText()).isEqualTo("in/a b");
        assertThat(modified.path("data").path("kind").asText()).isEqualTo("put");
        assertThat(modified.path("data").path("newValue").path("x").asInt()).isEqualTo(2);
        assertThat(modified.path("data").path("oldValue").path("x").asInt()).isEqualTo(1);
        assertThat(modified.path("data").path("oldVersion").asLong()).isEqualTo(v1);
        JsonNode inserted = cloud.get("gale.state.v1.written " + v1);
        assertThat(inserted.path("data").path("oldVersion").isNull()).isTrue();
        JsonNode deleted = cloud.values().stream().filter(e -> e.path("type").asText().equals("gale.state.v1.deleted"))
                .findFirst().orElseThrow();
        assertThat(deleted.path("data").path("newVersion").isNull()).isTrue();
        assertThat(deleted.path("data").path("oldValue").path("x").asInt()).isEqualTo(2);
        JsonNode finalized = cloud.get("google.cloud.storage.object.v1.finalized 1");
        assertThat(finalized.path("subject").asText()).isEqualTo("objects/models/m 1.bin");
        assertThat(finalized.path("data").path("bucket").asText()).isEqualTo("shared");
        assertThat(finalized.path("data").path("name").asText()).isEqualTo("models/m 1.bin");
        assertThat(finalized.path("data").path("size").asText()).isEqualTo("7");
        assertThat(finalized.path("data").path("contentType").asText()).isEqualTo("application/x-model");
        assertThat(finalized.path("data").path("etag").asText()).isEqualTo(blob.path("digest").asText());

        // lambda_handler(event, context): S3 event notifications and DynamoDB Streams records
        List<JsonNode> records = entries("lambda-sink", "seen/").values().stream().map(e -> e.path("Records").get(0)).toList();
        JsonNode s3 = records.stream().filter(r -> r.path("eventSource").asText().equals("aws:s3")).findFirst().orElseThrow();
        assertThat(s3.path("eventName").asText()).isEqualTo("ObjectCreated:Put");
        assertThat(s3.path("s3").path("bucket").path("name").asText()).isEqualTo("shared");
        assertThat(s3.path("s3").path("object").path("key").asText()).as("S3 URL-encodes keys").isEqualTo("models/m+1.bin");
        assertThat(s3.path("s3").path("object").path("size").asLong()).isEqualTo(7);
        assertThat(s3.path("s3").path("object").path("versionId").asText()).isEqualTo("1");
        assertThat("sha256:" + s3.path("s3").path("object").path("eTag").asText()).isEqualTo(blob.path("digest").asText());
        assertThat(s3.path("s3").path("configurationId").asText()).isEqualTo(trigger("lambda-sink", "blob:shared/models/").path("id").asText());
        List<String> names = records.stream().filter(r -> r.path("eventSource").asText().equals("aws:dynamodb"))
                .map(r -> r.path("eventName").asText()).sorted().toList();
        assertThat(names).containsExactly("INSERT", "MODIFY", "REMOVE");
        JsonNode modify = records.stream().filter(r -> r.path("eventName").asText().equals("MODIFY")).findFirst().orElseThrow();
        assertThat(modify.path("dynamodb").path("StreamViewType").asText()).isEqualTo("NEW_AND_OLD_IMAGES");
        assertThat(modify.path("dynamodb").path("Keys").path("key").path("S").asText()).isEqualTo("in/a b");
        assertThat(modify.path("dynamodb").path("NewImage").path("value").path("M").path("x").path("N").asText()).isEqualTo("2");
        assertThat(modify.path("dynamodb").path("OldImage").path("version").path("N").asText()).isEqualTo(Long.toString(v1));

        // def f(data, context), signature background: Cloud Storage's object and a 1st gen context
        JsonNode gcs = entries("gcf-sink", "seen/").values().stream()
                .filter(e -> e.path("event_type").asText().equals("google.storage.object.finalize")).findFirst().orElseThrow();
        assertThat(gcs.path("data").path("name").asText()).isEqualTo("models/m 1.bin");
        assertThat(gcs.path("resource").path("name").asText()).isEqualTo("projects/_/buckets/shared/objects/models/m 1.bin");
        assertThat(gcs.path("timestamp").asText()).isNotEmpty();

        await().atMost(WAIT).until(() -> trigger("cloud-sink", "state:shared/in/").path("delivered").asInt() == 3);
        JsonNode counts = trigger("cloud-sink", "state:shared/in/");
        assertThat(counts.path("pending").asInt()).isZero();
        assertThat(counts.path("dead").asInt()).isZero();
    }

    @Test
    void eachKeysEventsArriveInOrderNoneMissingWhileManyWritersWriteAtOnce() throws Exception {
        gale.deployActive("ordered", gale.bundle("ordered", "main.py", """
                from gale import state
                def ordered(cloud_event):
                    key, version = cloud_event.data["key"], cloud_event.data["newVersion"]
                    last = state.get("last/" + key, 0)
                    if version <= last:
                        state.increment("violations")
                    state.put("last/" + key, version)
                    state.increment("count/" + key)
                """), "maxInstances", 4, "triggers", List.of("state:ordered/in/"));

        List<String> keys = List.of("k0", "k1", "k2", "k3", "k4", "k5");
        Map<String, List<Long>> written = new ConcurrentHashMap<>();
        List<Throwable> failures = new CopyOnWriteArrayList<>();
        try (ExecutorService writers = Executors.newFixedThreadPool(6)) {
            List<Future<?>> done = new ArrayList<>();
            for (int w = 0; w < 6; w++) {
                done.add(writers.submit(() -> {
                    for (int i = 0; i < 25; i++) {
                        String key = keys.get(ThreadLocalRandom.current().nextInt(keys.size()));
                        try {
                            long v = gale.client.statePut("ordered", "in/" + key, "{\"i\": " + i + "}", Optional.empty(),
                                    OptionalLong.empty()).version();
                            written.computeIfAbsent(key, k -> new CopyOnWriteArrayList<>()).add(v);
                        } catch (RuntimeException e) {
                            failures.add(e);
                        }
                    }
                }));
            }
            for (Future<?> f : done) f.get();
        }
        assertThat(failures).isEmpty();

        await().atMost(WAIT).until(() -> trigger("ordered", "state:ordered/in/").path("delivered").asInt() == 150);
        Map<String, JsonNode> seen = entries("ordered", "");
        assertThat(seen).doesNotContainKey("violations");
        for (var e : written.entrySet()) {
            assertThat(seen.get("count/in/" + e.getKey()).asInt()).as("events of " + e.getKey()).isEqualTo(e.getValue().size());
            assertThat(seen.get("last/in/" + e.getKey()).asLong()).isEqualTo(e.getValue().stream().mapToLong(Long::longValue).max().orElseThrow());
        }
    }

    @Test
    void aFailingFunctionsEventsAreRetriedThenDeadLetteredAndARedriveAfterTheFixDeliversThemInOrder() throws Exception {
        gale.deployActive("fragile", gale.bundle("fragile", "main.py", """
                from gale import state
                def fragile(cloud_event):
                    if not state.get("fixed", False):
                        raise ValueError("not fixed yet: " + cloud_event.data["key"])
                    state.put("got/" + str(cloud_event.data["newVersion"]), cloud_event.data["key"])
                    last = state.get("last", 0)
                    if cloud_event.data["newVersion"] <= last:
                        state.increment("violations")
                    state.put("last", cloud_event.data["newVersion"])
                """), "asyncMaxAttempts", 2, "asyncBackoff", "50ms", "triggers", List.of("state:fragile/in/"));

        gale.client.statePut("fragile", "in/a", "1", Optional.empty(), OptionalLong.empty());
        gale.client.statePut("fragile", "in/a", "2", Optional.empty(), OptionalLong.empty());
        gale.client.statePut("fragile", "in/a", "3", Optional.empty(), OptionalLong.empty());

        await().atMost(WAIT).until(() -> trigger("fragile", "state:fragile/in/").path("dead").asInt() == 3);
        JsonNode letters = gale.client.deadLetters("fragile", 10);
        assertThat(letters).hasSize(3);
        String triggerId = trigger("fragile", "state:fragile/in/").path("id").asText();
        for (JsonNode letter : letters) {
            assertThat(letter.path("trigger").asText()).isEqualTo(triggerId);
            assertThat(letter.path("attempts").asInt()).isEqualTo(2);
            assertThat(letter.path("error").asText()).contains("raised ValueError: not fixed yet: in/a");
            assertThat(letter.path("request").path("headers").toString()).contains("gale.state.v1.written");
        }

        gale.client.statePut("fragile", "fixed", "true", Optional.empty(), OptionalLong.empty());
        assertThat(gale.client.redriveDeadLetters("fragile", List.of()).path("redriven").asInt()).isEqualTo(3);
        await().atMost(WAIT).until(() -> trigger("fragile", "state:fragile/in/").path("delivered").asInt() == 3);
        assertThat(entries("fragile", "got/")).hasSize(3);
        assertThat(entries("fragile", "")).doesNotContainKey("violations");
        assertThat(gale.client.deadLetters("fragile", 10)).isEmpty();
    }

    @Test
    void afterADeployDropsTheGrantTheEventsAreDeadLettersSayingSoUntilItIsBackAndRedriven() throws Exception {
        String code = """
                from gale import state
                def reader(cloud_event):
                    state.increment("got")
                """;
        gale.deployActive("reader", gale.bundle("reader", "main.py", code), "stateNamespaces", List.of("feed"),
                "triggers", List.of("state:feed/in/"));
        gale.deployActive("reader", gale.bundle("reader", "main.py", code)); // no grant any more; the trigger stays

        gale.client.statePut("feed", "in/a", "1", Optional.empty(), OptionalLong.empty());
        await().atMost(WAIT).until(() -> trigger("reader", "state:feed/in/").path("dead").asInt() == 1);
        JsonNode letter = gale.client.deadLetters("reader", 10).get(0);
        assertThat(letter.path("error").asText()).startsWith("function 'reader' v2 may no longer get this event: trigger state:feed/: "
                + "function 'reader' may not read state namespace 'feed'").endsWith("then gale dead-letters reader redrive");
        assertThat(letter.path("attempts").asInt()).as("the function was never called").isZero();

        gale.deployActive("reader", gale.bundle("reader", "main.py", code), "stateNamespaces", List.of("feed"));
        gale.client.redriveDeadLetters("reader", List.of());
        await().atMost(WAIT).until(() -> gale.client.stateGet("reader", "got").isPresent());
        assertThat(trigger("reader", "state:feed/in/").path("delivered").asInt()).isEqualTo(1);
    }

    @Test
    void eventsNotDeliveredWhenTheServerStopsAreDeliveredAfterItStartsAgain() throws Exception {
        gale.deployActive("slow-sink", gale.bundle("slow-sink", "main.py", """
                import time
                from gale import state
                def slow_sink(cloud_event):
                    time.sleep(0.2)
                    state.increment("count/" + cloud_event.data["key"])
                """), "maxInstances", 1, "triggers", List.of("state:slow-sink/in/"));
        for (int i = 0; i < 20; i++) {
            gale.client.statePut("slow-sink", "in/k" + (i % 4), Integer.toString(i), Optional.empty(), OptionalLong.empty());
        }
        assertThat(trigger("slow-sink", "state:slow-sink/in/").path("pending").asInt()).as("most still wait").isGreaterThan(5);

        gale.restart();

        await().atMost(WAIT).until(() -> trigger("slow-sink", "state:slow-sink/in/").path("delivered").asInt() >= 20);
        Map<String, JsonNode> counts = entries("slow-sink", "count/");
        assertThat(counts.values().stream().mapToInt(JsonNode::asInt).sum()).isGreaterThanOrEqualTo(20);
        for (int k = 0; k < 4; k++) assertThat(counts.get("count/in/k" + k).asInt()).isGreaterThanOrEqualTo(5);
    }

    @Test
    void everyHostileTriggerGetsAClearError() throws Exception {
        gale.deployActive("guarded", gale.bundle("guarded", "main.py", """
                def guarded(request):
                    return {"trigger": request.headers.get("X-Gale-Trigger")}
                """), "stateNamespaces", List.of("granted"));

        assertRefused(() -> gale.client.addTrigger("guarded", "queue:guarded/x", List.of()), 400, "is not a trigger source");
        assertRefused(() -> gale.client.addTrigger("guarded", "state:Bad_NS/x", List.of()), 400, "is not a namespace");
        assertRefused(() -> gale.client.addTrigger("guarded", "blob:guarded/a@b", List.of()), 400, "holds '@'");
        assertRefused(() -> gale.client.addTrigger("guarded", "blob:guarded/../x", List.of()), 400, "no blob key starts with");
        assertRefused(() -> gale.client.addTrigger("guarded", "state:guarded/\u0001", List.of()), 400, "control character");
        assertRefused(() -> gale.client.addTrigger("guarded", "state:guarded/", List.of("finalize")), 400,
                "'finalize' is not an event of state (put, delete)");
        assertRefused(() -> gale.client.addTrigger("nobody", "state:nobody/", List.of()), 404, "function 'nobody' not found");
        assertRefused(() -> gale.client.addTrigger("guarded", "state:secret/", List.of()), 403,
                "function 'guarded' may not read state namespace 'secret'; it may use guarded, granted. Grant it: gale deploy guarded --state-namespace secret");
        assertRefused(() -> gale.client.addTrigger("guarded", "blob:models/", List.of()), 403, "--blob-bucket models");
        assertRefused(() -> gale.client.deleteTrigger("guarded", "tr-000000000000"), 404, "has no trigger 'tr-000000000000'");
        assertRefused(() -> gale.client.triggers("nobody"), 404, "not found");

        HttpClient http = HttpClient.newHttpClient();
        String api = gale.server.url() + "/v1/functions/guarded/triggers";
        for (var body : Map.of("not json", "not valid JSON", "[1]", "must be a JSON object", "{\"src\": \"state:guarded/\"}",
                "unknown key 'src'", "{\"source\": 7}", "no \\\"source\\\" string", "{\"source\": \"state:guarded/\", \"events\": \"put\"}",
                "must be a list").entrySet()) {
            var answer = http.send(HttpRequest.newBuilder(URI.create(api)).header("Authorization", "Bearer " + gale.server.adminToken())
                    .POST(HttpRequest.BodyPublishers.ofString(body.getKey())).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(answer.statusCode()).as(body.getKey()).isEqualTo(400);
            assertThat(answer.body()).as(body.getKey()).contains(body.getValue());
        }
        var noToken = http.send(HttpRequest.newBuilder(URI.create(api)).POST(HttpRequest.BodyPublishers.ofString("{}")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(noToken.statusCode()).isEqualTo(401);

        Path ungranted = gale.bundle("ungranted", "main.py", "def ungranted(request):\n    return 'x'\n");
        assertRefused(() -> gale.deploy("ungranted", ungranted, "triggers", List.of("state:secret/x")), 400,
                "trigger state:secret/x: function 'ungranted' may not read state namespace 'secret'");
        assertRefused(() -> gale.client.function("ungranted"), 404, "not found");

        // Only Gale (and an admin) may make a call look like a trigger's event: a public caller's header is dropped.
        gale.deployActive("guarded", gale.bundle("guarded", "main.py", """
                def guarded(request):
                    return {"trigger": request.headers.get("X-Gale-Trigger")}
                """), "stateNamespaces", List.of("granted"));
        var anonymous = http.send(HttpRequest.newBuilder(URI.create(gale.server.url() + "/fn/guarded"))
                .header("X-Gale-Trigger", "tr-forged").header("ce-type", "gale.state.v1.written").GET().build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(anonymous.statusCode()).isEqualTo(200);
        assertThat(JSON.readTree(anonymous.body()).path("trigger").isNull()).isTrue();
    }

    private static void assertRefused(Runnable call, int status, String message) {
        assertThatThrownBy(call::run).isInstanceOfSatisfying(GaleApiException.class, e -> {
            assertThat(e.status()).as(e.getMessage()).isEqualTo(status);
            assertThat(e.getMessage()).contains(message);
        });
    }

    @Test
    void aTriggerAddedOverTheApiFollowsLaterWritesAndRemovingItStopsNewEvents() throws Exception {
        gale.deployActive("counter", gale.bundle("counter", "main.py", """
                from gale import state
                def counter(cloud_event):
                    state.increment("events")
                """));
        JsonNode added = gale.client.addTrigger("counter", "blob:counter/in/", List.of("finalize"));
        assertThat(added.path("events").toString()).isEqualTo("[\"finalize\"]");
        assertThat(gale.client.addTrigger("counter", "blob:counter/in/", List.of("finalize")).path("id").asText())
                .as("the same trigger again is the same one").isEqualTo(added.path("id").asText());
        assertThat(gale.client.triggers("counter")).hasSize(1);

        gale.client.blobPut("counter", "in/a", blobFile("a"), Optional.empty());
        gale.client.blobPut("counter", "out/b", blobFile("b"), Optional.empty()); // not under the prefix
        await().atMost(WAIT).until(() -> gale.client.stateGet("counter", "events").map(e -> e.valueJson().orElse("")).orElse("").equals("1"));

        gale.client.deleteTrigger("counter", added.path("id").asText());
        gale.client.blobPut("counter", "in/c", blobFile("c"), Optional.empty());
        Thread.sleep(500);
        assertThat(gale.client.stateGet("counter", "events").orElseThrow().valueJson()).contains("1");
        assertThat(new String(gale.client.functionJson("counter").getBytes(StandardCharsets.UTF_8), StandardCharsets.UTF_8))
                .contains("\"triggers\":[]");
    }
}
