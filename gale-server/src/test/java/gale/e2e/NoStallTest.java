package gale.e2e;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static gale.e2e.GaleHarness.text;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The server keeps answering whatever its instances do. These ran into a stalled server
 * before: every Python zygote pinned two virtual-thread carriers with blocking pipe reads, so a
 * burst of calls to one function, or some 128 deployed functions, left no carrier for request
 * handlers. The test JVM runs a starved scheduler (one carrier, two at most: see the surefire
 * argLine), so a single pinned carrier is enough to make these fail.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES, threadMode = Timeout.ThreadMode.SEPARATE_THREAD) // a stall fails, not hangs
class NoStallTest {

    /** Long enough that only a stalled server misses it. */
    private static final Duration ANSWER_WITHIN = Duration.ofSeconds(20);

    @TempDir
    Path tmp;
    GaleHarness gale;
    final HttpClient http = HttpClient.newBuilder().connectTimeout(ANSWER_WITHIN).build();

    @BeforeEach
    void start() {
        gale = new GaleHarness(tmp);
    }

    @AfterEach
    void stop() {
        gale.close(); // checks that no virtual thread holds its carrier
    }

    @Test
    void aBurstOfCallsToOneFunctionLeavesTheServerAnswering() throws Exception {
        gale.deployActive("burst", gale.bundle("burst", "main.py", """
                import time
                def burst(request):
                    time.sleep(0.05)
                    return "done"
                """), "maxInstances", 2, "concurrency", 1, "maxQueue", 100);

        List<CompletableFuture<HttpResponse<byte[]>>> calls = new ArrayList<>();
        for (int i = 0; i < 64; i++) calls.add(gale.client.callAsync("burst", "GET", "", new byte[0], Map.of()));
        assertServerAnswers();

        for (var call : calls) {
            var response = call.get(ANSWER_WITHIN.toSeconds() * 4, TimeUnit.SECONDS);
            assertThat(response.statusCode()).as(text(response)).isIn(200, 429);
        }
        assertThat(calls.stream().filter(c -> c.join().statusCode() == 200).count()).isPositive();
        CarrierCheck.assertNoVirtualThreadHoldsItsCarrier();
    }

    @Test
    void functionsDeployedOneAfterAnotherEachAnswerAndSoDoesTheServer() throws Exception {
        int functions = 24; // each keeps a zygote: with two pinned carriers per zygote the first one stalled this JVM
        for (int i = 0; i < functions; i++) {
            String name = "tiny-" + i;
            gale.deployActive(name, gale.bundle(name, "main.py", "def " + name.replace('-', '_') + "(request):\n    return '"
                    + name + "'\n"), "entryPoint", name.replace('-', '_'));
            assertServerAnswers();
        }
        for (int i = 0; i < functions; i++) {
            var response = gale.get("tiny-" + i, "");
            assertThat(response.statusCode()).isEqualTo(200);
            assertThat(text(response)).isEqualTo("tiny-" + i);
        }
        CarrierCheck.assertNoVirtualThreadHoldsItsCarrier();
    }

    @Test
    void callsInFlightHoldNoThreadWhileTheirFunctionRuns() throws Exception {
        gale.deployActive("slow", gale.bundle("slow", "main.py", """
                import time
                def slow(request):
                    time.sleep(3)
                    return "late"
                """), "minInstances", 1, "maxInstances", 1, "concurrency", 40);
        var calls = new ArrayList<CompletableFuture<HttpResponse<byte[]>>>();
        for (int i = 0; i < 40; i++) calls.add(gale.client.callAsync("slow", "GET", "", new byte[0], Map.of()));
        var pool = gale.server.registry().active("slow").orElseThrow().pool();
        org.awaitility.Awaitility.await().atMost(ANSWER_WITHIN).until(() -> pool.stats().busy() == 40);

        // Before, each call parked a virtual thread in SocketInstance.invoke until its function answered.
        assertThat(CarrierCheck.threadsIn("gale.gateway.")).as("threads inside the gateway while 40 calls run").isEmpty();
        assertThat(CarrierCheck.threadsIn("SocketInstance.invoke")).isEmpty();
        assertServerAnswers();
        for (var call : calls) assertThat(text(call.get(ANSWER_WITHIN.toSeconds(), TimeUnit.SECONDS))).isEqualTo("late");
    }

    @Test
    void anInstanceThatStopsReadingItsSocketNeverBlocksTheServer() throws Exception {
        // SIGSTOP: the process, its frame reader too, stops; requests pile up in its socket until the buffer is full.
        gale.deployActive("stopped", gale.bundle("stopped", "main.py", """
                import os, signal, time
                def stopped(request):
                    os.kill(os.getpid(), signal.SIGSTOP)
                    time.sleep(600)  # the stop may take effect a moment after kill() returns
                """), "minInstances", 1, "maxInstances", 1, "concurrency", 100, "timeout", "5m");
        var calls = new ArrayList<CompletableFuture<HttpResponse<byte[]>>>();
        byte[] body = new byte[32 * 1024];
        for (int i = 0; i < 40; i++) calls.add(gale.client.callAsync("stopped", "POST", "", body, Map.of())); // 1.3 MB: more than the socket holds
        var pool = gale.server.registry().active("stopped").orElseThrow().pool();
        org.awaitility.Awaitility.await().atMost(ANSWER_WITHIN.multipliedBy(3)).until(() -> pool.stats().busy() == 40);

        assertServerAnswers(); // served by Jetty's selector: it never waits on the stopped instance's socket
        gale.client.delete("stopped");
        for (var call : calls) assertThat(call.get(ANSWER_WITHIN.toSeconds() * 3, TimeUnit.SECONDS).statusCode()).isIn(502, 503);
    }

    /** /healthz and a 404 answer while the functions are busy. */
    private void assertServerAnswers() throws IOException, InterruptedException {
        assertThat(get("/healthz").statusCode()).isEqualTo(200);
        assertThat(get("/fn/nope").statusCode()).isEqualTo(404);
    }

    private HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create(gale.server.url() + path)).timeout(ANSWER_WITHIN).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }
}
