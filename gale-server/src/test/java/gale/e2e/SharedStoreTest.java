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
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import static gale.e2e.GaleHarness.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * Two Gale nodes, each with its own data dir, on one PostgreSQL database (docs/postgresql.md): a function deployed,
 * redeployed, rolled back or deleted at node A serves (or stops) at node B within a second or two, fetching its bundle
 * from the store; a blob put at A reads at B, through the API and through gale.blobs inside a function on B. Always on
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

    /** "STATUS BODY" of a GET to the function at the node. */
    private static String answer(GaleHarness node, String function) {
        HttpResponse<byte[]> r = node.get(function, "");
        return r.statusCode() + " " + text(r);
    }
}
