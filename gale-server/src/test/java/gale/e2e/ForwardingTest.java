package gale.e2e;

import gale.gateway.Peers;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Two real nodes sharing one admin token: a node with no free warm instance sends the call to a peer that advertised
 * one, serves it itself when the peer cannot be reached, and a peer's call needs the node credential, which user code
 * never sees. The peers' heartbeats are stood in for by {@link Peers#update}: what is tested here is the gateway.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ForwardingTest {

    @TempDir
    static Path tmp;
    static GaleHarness a;
    static GaleHarness b;
    static final HttpClient HTTP = HttpClient.newHttpClient();

    static final String ECHO = """
            import json, os, time

            def echo(request):
                time.sleep(float(request.args.get("sleep", "0")))
                return json.dumps({"pid": os.getpid(), "headers": {k.lower(): v for k, v in request.headers.items()}})
            """;

    @BeforeAll
    static void startTwoNodes() throws Exception {
        a = new GaleHarness(tmp.resolve("a"));
        Path bData = tmp.resolve("b").resolve("data");
        Files.createDirectories(bData);
        Files.writeString(bData.resolve("admin-token"), a.server.adminToken() + "\n"); // as nodes of one store share it
        b = new GaleHarness(tmp.resolve("b"));
        for (GaleHarness node : List.of(a, b)) {
            node.deployActive("echo", node.bundle("echo", "main.py", ECHO));
            node.deploy("private", node.bundle("private", "main.py", ECHO.replace("def echo", "def private")));
        }
    }

    @AfterAll
    static void stop() {
        if (b != null) b.close();
        if (a != null) a.close();
    }

    static HttpResponse<String> call(GaleHarness node, String function, Map<String, String> headers) throws Exception {
        var request = HttpRequest.newBuilder(URI.create(node.server.url() + "/fn/" + function + "/x?y=1"));
        headers.forEach(request::header);
        return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    /**
     * Keeps the only instance of a function at a node busy for a few seconds (a Python instance takes one call at a
     * time), so a call there finds no free warm instance of its own.
     */
    static java.util.concurrent.CompletableFuture<HttpResponse<String>> keepBusy(GaleHarness node, String function) {
        var call = HTTP.sendAsync(HttpRequest.newBuilder(URI.create(node.server.url() + "/fn/" + function + "?sleep=3"))
                .header("Authorization", "Bearer " + node.server.adminToken()).build(), HttpResponse.BodyHandlers.ofString());
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(20)).until(() -> HTTP.send(
                HttpRequest.newBuilder(URI.create(node.server.url() + "/v1/functions/" + function))
                        .header("Authorization", "Bearer " + node.server.adminToken()).build(),
                HttpResponse.BodyHandlers.ofString()).body().contains("\"busy\":1"));
        return call;
    }

    /** A warm instance at b, advertised to a as {@code free} slots of echo v1, b carrying {@code load}. */
    static void bAdvertises(int free, int load) throws Exception {
        assertThat(call(b, "echo", Map.of()).statusCode()).isEqualTo(200); // warm at b
        a.server.peers().update(List.of(new Peers.Peer(b.server.nodeId(), URI.create(b.server.url()),
                Map.of(Peers.key("echo", 1), free), load)));
    }

    @Test
    @Order(1)
    void aNodeWithoutAWarmInstanceSendsTheCallToAPeerThatHasOne() throws Exception {
        bAdvertises(1, 0);
        var busy = keepBusy(a, "echo");

        var forwarded = call(a, "echo", Map.of("X-Custom", "kept"));

        assertThat(forwarded.statusCode()).isEqualTo(200);
        assertThat(forwarded.headers().firstValue(Peers.NODE_HEADER)).hasValue(b.server.nodeId());
        assertThat(forwarded.headers().firstValue("X-Gale-Cold-Start")).hasValue("false");
        String requestId = forwarded.headers().firstValue("X-Gale-Request-Id").orElseThrow();
        String body = forwarded.body();
        assertThat(body).contains("\"x-custom\": \"kept\"").doesNotContain("x-gale-node-credential")
                .doesNotContain("x-gale-forwarded-by");
        // The serving node recorded the call under the id the client got.
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10)).until(() -> HTTP.send(
                HttpRequest.newBuilder(URI.create(b.server.url() + "/v1/invocations/" + requestId))
                        .header("Authorization", "Bearer " + b.server.adminToken()).build(),
                HttpResponse.BodyHandlers.ofString()).statusCode() == 200);
        assertThat(busy.join().statusCode()).isEqualTo(200);
    }

    @Test
    @Order(2)
    void aPeerIsSentNoMoreCallsThanItAdvertisedAndTheRestAreServedHere() throws Exception {
        bAdvertises(1, 1_000); // far busier than a: no cold start is placed there either
        var busy = keepBusy(a, "echo");

        assertThat(call(a, "echo", Map.of()).headers().firstValue(Peers.NODE_HEADER)).hasValue(b.server.nodeId());
        var second = call(a, "echo", Map.of());

        assertThat(second.statusCode()).isEqualTo(200);
        assertThat(second.headers().firstValue(Peers.NODE_HEADER)).hasValue(a.server.nodeId());
        assertThat(busy.join().statusCode()).isEqualTo(200);
    }

    @Test
    @Order(3)
    void aPeerThatCannotBeReachedIsForgottenAndTheCallServedHere() throws Exception {
        a.server.peers().update(List.of(new Peers.Peer("gone", URI.create("http://127.0.0.1:9"), Map.of(Peers.key("private", 1), 5), 0)));
        var busy = keepBusy(a, "private");

        var response = call(a, "private", Map.of("Authorization", "Bearer " + a.server.adminToken()));
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue(Peers.NODE_HEADER)).hasValue(a.server.nodeId());
        assertThat(a.server.peers().known()).isEmpty();
        assertThat(busy.join().statusCode()).isEqualTo(200);
    }

    @Test
    @Order(4)
    void aPrivateFunctionTakesTheNodeCredentialButNotAForgedOne() throws Exception {
        assertThat(call(b, "private", Map.of(Peers.CREDENTIAL_HEADER, "forged")).statusCode()).isEqualTo(401);

        var fromPeer = call(b, "private", Map.of(Peers.CREDENTIAL_HEADER, Peers.credential(a.server.adminToken()),
                Peers.FORWARDED_HEADER, "node-a 0123456789abcdef"));

        assertThat(fromPeer.statusCode()).isEqualTo(200);
        assertThat(fromPeer.headers().firstValue("X-Gale-Request-Id")).hasValue("0123456789abcdef");
        assertThat(fromPeer.body()).doesNotContain("x-gale-node-credential").doesNotContain(a.server.adminToken());
    }

    @Test
    @Order(5)
    void aCallerWithoutCredentialsIsRefusedBeforeAnyPeerIsAsked() throws Exception {
        a.server.peers().update(List.of(new Peers.Peer(b.server.nodeId(), URI.create(b.server.url()),
                Map.of(Peers.key("private", 1), 5), 0)));

        assertThat(call(a, "private", Map.of()).statusCode()).isEqualTo(401);
    }

    @Test
    @Order(6)
    void withNoWarmInstanceAnywhereTheNewInstanceStartsAtAPeerThatCarriesClearlyLessLoad() throws Exception {
        for (GaleHarness node : List.of(a, b)) node.deployActive("placed", node.bundle("placed", "main.py", ECHO.replace("def echo", "def placed")));
        String key = Peers.key("placed", 1);
        var held = new ArrayList<java.util.concurrent.CompletableFuture<HttpResponse<String>>>();

        held.add(hold(a, "placed", 1)); // a's instance busy: the next call needs a new one somewhere
        // b serves placed v1 with nothing free (0), and carries more than a: the new instance starts here
        a.server.peers().update(List.of(new Peers.Peer(b.server.nodeId(), URI.create(b.server.url()), Map.of(key, 0), 50)));
        held.add(hold(a, "placed", 2));
        // b carries nothing but does not serve placed (yet): here again
        a.server.peers().update(List.of(new Peers.Peer(b.server.nodeId(), URI.create(b.server.url()), Map.of(Peers.key("echo", 1), 0), 0)));
        held.add(hold(a, "placed", 3));

        // b serves it and carries nothing: the call goes there, though b advertised no free slot
        a.server.peers().update(List.of(new Peers.Peer(b.server.nodeId(), URI.create(b.server.url()), Map.of(key, 0), 0)));
        var there = call(a, "placed", Map.of("Authorization", "Bearer " + a.server.adminToken()));
        assertThat(there.statusCode()).isEqualTo(200);
        assertThat(there.headers().firstValue(Peers.NODE_HEADER)).hasValue(b.server.nodeId());

        for (var call : held) {
            assertThat(call.join().statusCode()).isEqualTo(200);
            assertThat(call.join().headers().firstValue(Peers.NODE_HEADER)).hasValue(a.server.nodeId());
        }
    }

    /** A call that sleeps 6 s at {@code node}, once {@code busy} of the function's instances there are busy with calls. */
    static java.util.concurrent.CompletableFuture<HttpResponse<String>> hold(GaleHarness node, String function, int busy) {
        var call = HTTP.sendAsync(HttpRequest.newBuilder(URI.create(node.server.url() + "/fn/" + function + "?sleep=6"))
                .header("Authorization", "Bearer " + node.server.adminToken()).build(), HttpResponse.BodyHandlers.ofString());
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(20)).until(() -> HTTP.send(
                HttpRequest.newBuilder(URI.create(node.server.url() + "/v1/functions/" + function))
                        .header("Authorization", "Bearer " + node.server.adminToken()).build(),
                HttpResponse.BodyHandlers.ofString()).body().contains("\"busy\":" + busy));
        return call;
    }
}
