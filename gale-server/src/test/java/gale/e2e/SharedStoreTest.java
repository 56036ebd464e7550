package gale.e2e;

import gale.client.GaleApiException;
import gale.store.PostgresCluster;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import static gale.e2e.GaleHarness.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * Two Gale nodes, each with its own data dir, on one PostgreSQL database (docs/postgresql.md): a function deployed,
 * redeployed, rolled back or deleted at node A serves (or stops) at node B within a second or two, fetching its bundle
 * from the store; a blob put at A reads at B, through the API and through gale.blobs inside a function on B; a split,
 * tags, a trigger and an access key set at A act at B. Always on
 * PostgreSQL (a throwaway cluster), so it runs in the build's first pass and not again in node-on-postgresql.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SharedStoreTest {

    private static final Duration FOLLOW_WAIT = Duration.ofSeconds(30);

    @TempDir
    static Path tmp;
    static GaleHarness a;
    static GaleHarness b;
    static String database;

    @BeforeAll
    static void startTwoNodes() throws IOException {
        database = PostgresCluster.shared().newDatabase();
        a = GaleHarness.onStore(tmp.resolve("a"), database);
        // One admin token for the cluster: B's data dir gets A's before B first starts (state tokens derive from it too).
        Path bData = tmp.resolve("b").resolve("data");
        Files.createDirectories(bData);
        Files.writeString(bData.resolve("admin-token"), a.server.adminToken() + "\n");
        b = GaleHarness.onStore(tmp.resolve("b"), database);
        assertThat(b.server.adminToken()).isEqualTo(a.server.adminToken());
    }

    @AfterAll
    static void stopNodes() {
        try {
            if (b != null) b.close();
        } finally {
            if (a != null) a.close();
        }
    }

    private static String hello(String version) {
        return """
                def handler(request):
                    return "%s"
                """.formatted(version);
    }

    @Test
    @Order(1)
    void aFunctionDeployedAtOneNodeServesAtTheOtherWhichFetchesItsBundleFromTheStore() {
        var v1 = a.deployActive("hello", a.bundle("hello", "main.py", hello("v1")), "entryPoint", "handler");

        await().atMost(FOLLOW_WAIT).until(() -> answer(b, "hello").equals("200 v1"));
        assertThat(b.dataDir.resolve("blobs/sha256").resolve(v1.bundleDigest().substring("sha256:".length()))).isRegularFile();
        assertThat(b.dataDir.resolve("functions/hello/1/bundle/main.py")).isRegularFile();
    }

    @Test
    @Order(2)
    void aRedeployAndARollbackAtOneNodeSwitchTheOtherWithNoFailedCall() throws Exception {
        List<String> answers = java.util.Collections.synchronizedList(new ArrayList<>());
        var stop = new AtomicBoolean();
        var failure = new AtomicReference<String>();
        Thread caller = Thread.ofPlatform().start(() -> {
            while (!stop.get()) {
                String got = answer(b, "hello");
                if (!got.startsWith("200 ")) failure.compareAndSet(null, got);
                answers.add(got);
            }
        });
        try {
            a.deployActive("hello", a.bundle("hello", "main.py", hello("v2")), "entryPoint", "handler");
            await().atMost(FOLLOW_WAIT).until(() -> answers.contains("200 v2"));
            a.client.rollback("hello", OptionalInt.of(1));
            await().atMost(FOLLOW_WAIT).until(() -> answers.getLast().equals("200 v1"));
        } finally {
            stop.set(true);
            caller.join();
        }
        assertThat(failure.get()).as("a call to B while A deployed and rolled back").isNull();
        assertThat(answers).contains("200 v1", "200 v2");
    }

    @Test
    @Order(3)
    void aBlobPutAtOneNodeReadsAtTheOther() throws IOException {
        byte[] bytes = new byte[2 * 1024 * 1024 + 12_345]; // three chunks in the store
        new Random(7).nextBytes(bytes);
        Path file = tmp.resolve("model.bin");
        Files.write(file, bytes);
        a.client.blobPut("models", "model.bin", file, Optional.empty());

        var out = new ByteArrayOutputStream();
        assertThat(b.client.blobGet("models", "model.bin", Optional.empty(), OptionalInt.empty(), out)).isEqualTo(1);
        assertThat(out.toByteArray()).isEqualTo(bytes);
    }

    @Test
    @Order(4)
    void aFunctionOnTheOtherNodeReadsABlobPutAtTheFirstThroughGaleBlobs() throws Exception {
        byte[] bytes = "weights put at node A".getBytes(StandardCharsets.UTF_8);
        Path file = tmp.resolve("weights.bin");
        Files.write(file, bytes);
        a.client.blobPut("models", "weights.bin", file, Optional.empty());
        a.deployActive("reader", a.bundle("reader", "main.py", """
                import hashlib
                from gale import blobs

                def handler(request):
                    return hashlib.sha256(blobs.get("models/weights.bin")).hexdigest()
                """), "entryPoint", "handler", "blobBuckets", "models");

        String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        await().atMost(FOLLOW_WAIT).until(() -> answer(b, "reader").equals("200 " + sha));
    }

    @Test
    @Order(5)
    void aFunctionDeletedAtOneNodeIsGoneAtTheOther() {
        assertThat(answer(b, "hello")).startsWith("200 ");
        a.client.delete("hello");

        await().atMost(FOLLOW_WAIT).until(() -> answer(b, "hello").startsWith("404 "));
        assertThat(b.dataDir.resolve("functions/hello")).doesNotExist();
    }

    @Test
    @Order(6)
    void aBlobDeletedAtOneNodeIsGoneAtTheOther() {
        assertThat(a.client.blobDelete("models", "model.bin", OptionalInt.empty(), Optional.empty())).isTrue();
        assertThatThrownBy(() -> b.client.blobGet("models", "model.bin", Optional.empty(), OptionalInt.empty(), new ByteArrayOutputStream()))
                .isInstanceOf(GaleApiException.class).hasMessageContaining("no blob models/model.bin");
    }

    @Test
    @Order(7)
    void aBundleOnlyOneNodeHasIsA503NamingWhyAtTheOtherUntilThatNodeSharesItAtItsNextStart() throws Exception {
        // Loads for a second: the version is ACTIVE (and followed by B) only after its bytes are gone from the store.
        var deploying = a.client.deploy("lost", a.bundle("lost", "main.py", """
                import time
                time.sleep(1)

                def handler(request):
                    return "found"
                """), java.util.Map.of("entryPoint", "handler", "allowUnauthenticated", true));
        try (var db = java.sql.DriverManager.getConnection(database);
             var delete = db.prepareStatement("DELETE FROM blob_chunks WHERE digest = ?")) {
            delete.setString(1, deploying.bundleDigest()); // as if A kept it before the store was shared
            assertThat(delete.executeUpdate()).isPositive();
        }
        assertThat(a.client.awaitVersion("lost", 1, GaleHarness.DEPLOY_WAIT).state().name()).isEqualTo("ACTIVE");

        await().atMost(FOLLOW_WAIT).until(() -> answer(b, "lost").startsWith("503 "));
        assertThat(answer(b, "lost")).contains("version 1 serves at another node but cannot serve on this one")
                .contains("neither in this node's data dir nor in the store");

        a.restart(); // shares what only it has
        await().atMost(FOLLOW_WAIT).until(() -> answer(b, "lost").equals("200 found"));
    }

    @Test
    @Order(8)
    void aSplitAndATagSetAtOneNodeRouteTheCallsAtTheOther() {
        a.deployActive("routed", a.bundle("routed", "main.py", hello("v1")), "entryPoint", "handler");
        a.deployActive("routed", a.bundle("routed", "main.py", hello("v2")), "entryPoint", "handler");
        await().atMost(FOLLOW_WAIT).until(() -> answer(b, "routed").equals("200 v2"));

        a.client.setTraffic("routed", Map.of("to", Map.of("1", 50, "2", 50), "tags", Map.of("old", 1)));

        // B splits too: 40 calls all to one version of a 50/50 split happen once in 5 * 10^11 runs.
        await().atMost(FOLLOW_WAIT).until(() -> versionsServed(b, "routed", 40).equals(Set.of("1", "2")));
        var tagged = b.get("routed@old", "");
        assertThat(text(tagged)).isEqualTo("v1");
        assertThat(tagged.headers().firstValue("X-Gale-Version")).hasValue("1");

        // A rollback to the ACTIVE version unpins the split (the functions table does not change): B follows it too.
        a.client.rollback("routed", OptionalInt.of(2));
        await().atMost(FOLLOW_WAIT).until(() -> versionsServed(b, "routed", 20).equals(Set.of("2")));
        assertThat(text(b.get("routed@old", ""))).as("tags stay across a rollback").isEqualTo("v1");

        a.client.setTraffic("routed", Map.of("tags", Map.of()));
        await().atMost(FOLLOW_WAIT).until(() -> b.get("routed@old", "").statusCode() == 404);
    }

    @Test
    @Order(9)
    void aTriggerAddedAtOneNodeFiresForAWriteAtTheOtherAndOneDeletedThereStops() throws Exception {
        a.deployActive("watcher", a.bundle("watcher", "main.py", """
                def on_event(cloud_event):
                    return "seen"
                """), "entryPoint", "on_event", "stateNamespaces", List.of("feed"));
        await().atMost(FOLLOW_WAIT).until(() -> servesAt(b, "watcher")); // either node may deliver its events
        String id = a.client.addTrigger("watcher", "state:feed/in/", List.of()).path("id").asText();

        // Each write at B is an event only once B follows the subscription A added: write until one is.
        var n = new AtomicInteger();
        await().atMost(FOLLOW_WAIT).pollInterval(Duration.ofMillis(200)).until(() -> {
            b.client.statePut("feed", "in/" + n.incrementAndGet(), "1", Optional.empty(), OptionalLong.empty());
            return eventsOf(id) > 0;
        });
        await().atMost(FOLLOW_WAIT).until(() -> a.client.triggers("watcher").get(0).path("delivered").asInt() > 0);

        a.client.deleteTrigger("watcher", id);
        long before = eventsOf(id);
        for (int i = 0; i < 5; i++) {
            b.client.statePut("feed", "in/after-" + i, "1", Optional.empty(), OptionalLong.empty());
            Thread.sleep(300); // across a round of B's follower: no write after the delete gets an event, before or after B reloads
        }
        assertThat(eventsOf(id)).isEqualTo(before);
    }

    @Test
    @Order(10)
    void anAccessKeyCreatedAtOneNodeWorksAtTheOtherAndOneRevokedThereIsRefused() {
        String secret = a.client.keyCreate(Map.of("name", "shared-reader", "scopes", List.of("deploy"))).path("secret").asText();
        var atB = new JobsHttp(b).as(secret);
        await().atMost(FOLLOW_WAIT).until(() -> atB.send("GET", "/v1/functions", null, null).status() == 200);

        assertThat(a.client.keyRevoke("shared-reader")).isTrue();
        await().atMost(FOLLOW_WAIT).until(() -> atB.send("GET", "/v1/functions", null, null).status() == 401);
        assertThat(atB.send("GET", "/v1/functions", null, null).text()).contains("was revoked");
    }

    @Test
    @Order(11)
    void aDeployLeftByANodeThatIsGoneIsFinishedByANodeLeftAndOneThatRunsIsLeftAlone() throws Exception {
        a.deployActive("orphan", a.bundle("orphan", "main.py", hello("v1")), "entryPoint", "handler");
        var source = a.deployActive("orphan-source", a.bundle("orphan-source", "main.py", hello("v2")), "entryPoint", "handler");
        // Version 2 as a node leaves it when it dies mid-deploy: DEPLOYING, its bundle in the store, its node gone;
        // version 3 as a live node (b) has it while it deploys. Neither node may leave 2 undone, nor touch 3.
        try (var db = java.sql.DriverManager.getConnection(database);
             var insert = db.prepareStatement("""
                     INSERT INTO versions (function_name, version, state, config, bundle_digest, bundle_bytes, created_at, deploying_node)
                     SELECT 'orphan', ?, 'DEPLOYING', config, ?, ?, created_at, ? FROM versions WHERE function_name = 'orphan' AND version = 1""")) {
            for (Object[] row : new Object[][] {{2, "gone-node"}, {3, b.server.nodeId()}}) {
                insert.setInt(1, (Integer) row[0]);
                insert.setString(2, source.bundleDigest());
                insert.setLong(3, source.bundleBytes());
                insert.setString(4, (String) row[1]);
                insert.executeUpdate();
            }
        }

        await().atMost(FOLLOW_WAIT).until(() -> answer(a, "orphan").equals("200 v2") && answer(b, "orphan").equals("200 v2"));
        assertThat(a.client.version("orphan", 3).state().name()).as("b is deploying it: nobody else resumes it").isEqualTo("DEPLOYING");
        try (var db = java.sql.DriverManager.getConnection(database);
             var nodeOf = db.createStatement().executeQuery("SELECT deploying_node FROM versions WHERE function_name = 'orphan' AND version = 2")) {
            nodeOf.next();
            assertThat(nodeOf.getString(1)).isIn(a.server.nodeId(), b.server.nodeId());
        }
        assertThat(a.client.logs("orphan", 0, 1000, 0).entries()).extracting(gale.client.LogEntry::message)
                .anyMatch(m -> m.contains("resuming the deploy of version 2, left by node gone-node, which is gone"));
    }

    /** The versions that answered {@code calls} calls to the function at the node (X-Gale-Version), each checked against its body. */
    private static Set<String> versionsServed(GaleHarness node, String function, int calls) {
        Set<String> out = new TreeSet<>();
        for (int i = 0; i < calls; i++) {
            HttpResponse<byte[]> r = node.get(function, "");
            if (r.statusCode() != 200) return Set.of("status " + r.statusCode());
            String version = r.headers().firstValue("X-Gale-Version").orElse("none");
            assertThat(text(r)).isEqualTo("v" + version);
            out.add(version);
        }
        return out;
    }

    /** True once the node has the function (neither "not found" nor "starting"), whatever the function answers a GET. */
    private static boolean servesAt(GaleHarness node, String function) {
        int status = node.get(function, "").statusCode();
        return status != 404 && status != 503;
    }

    /** The events the subscription got, delivered or not, as the store has them. */
    private static long eventsOf(String triggerId) throws java.sql.SQLException {
        try (var db = java.sql.DriverManager.getConnection(database);
             var count = db.prepareStatement("SELECT COUNT(*) FROM async_invocations WHERE trigger_id = ?")) {
            count.setString(1, triggerId);
            try (var rs = count.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    /** "STATUS BODY" of a GET to the function at the node. */
    private static String answer(GaleHarness node, String function) {
        HttpResponse<byte[]> r = node.get(function, "");
        return r.statusCode() + " " + text(r);
    }
}
