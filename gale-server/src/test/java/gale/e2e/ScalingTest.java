package gale.e2e;

import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

import static gale.e2e.GaleHarness.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Instances scale from zero to max with load, queue the excess, and go back to min when idle. */
class ScalingTest extends GaleE2E {

    private static final String SLOW_PID = """
            import os, time
            def work(request):
                time.sleep(float(request.args.get("s", "0")))
                return str(os.getpid())
            """;

    @Test
    void concurrentCallsStartMoreInstancesUpToMax() {
        gale.deployActive("work", gale.bundle("work", "main.py", SLOW_PID), "maxInstances", 3);

        List<CompletableFuture<HttpResponse<byte[]>>> calls = new ArrayList<>();
        for (int i = 0; i < 6; i++) calls.add(gale.client.callAsync("work", "GET", "?s=1", new byte[0], Map.of()));
        Set<String> pids = new HashSet<>();
        for (var call : calls) pids.add(text(call.join()));

        assertThat(pids).hasSize(3);
        assertThat(gale.client.function("work").instances()).isLessThanOrEqualTo(3);
    }

    @Test
    void aFullQueueGets429WithRetryAfter() {
        gale.deployActive("narrow", gale.bundle("narrow", "main.py", SLOW_PID.replace("work", "narrow")),
                "maxInstances", 1, "maxQueue", 1);

        List<CompletableFuture<HttpResponse<byte[]>>> calls = new ArrayList<>();
        for (int i = 0; i < 5; i++) calls.add(gale.client.callAsync("narrow", "GET", "?s=1.5", new byte[0], Map.of()));
        List<HttpResponse<byte[]>> responses = calls.stream().map(CompletableFuture::join).toList();

        var rejected = responses.stream().filter(r -> r.statusCode() == 429).toList();
        assertThat(rejected).hasSizeBetween(1, 3);
        assertThat(rejected.getFirst().headers().firstValue("Retry-After")).isPresent();
        assertThat(rejected.getFirst().headers().firstValue("X-Gale-Error")).hasValue("platform");
        assertThat(responses.stream().filter(r -> r.statusCode() == 200)).hasSizeGreaterThanOrEqualTo(2);
    }

    @Test
    void oneInstanceServesSeveralCallsAtOnceWithConcurrency() {
        gale.deployActive("shared", gale.bundle("shared", "main.py", SLOW_PID.replace("work", "shared")),
                "maxInstances", 1, "concurrency", 4);

        List<CompletableFuture<HttpResponse<byte[]>>> calls = new ArrayList<>();
        for (int i = 0; i < 4; i++) calls.add(gale.client.callAsync("shared", "GET", "?s=1", new byte[0], Map.of()));
        Set<String> pids = new HashSet<>();
        for (var call : calls) {
            var response = call.join();
            assertThat(response.statusCode()).isEqualTo(200);
            pids.add(text(response));
        }

        assertThat(pids).hasSize(1);
        assertThat(gale.client.function("shared").instances()).isEqualTo(1);
    }

    @Test
    void idleInstancesStopAfterIdleTimeoutAndTheNextCallIsACold() {
        gale.deployActive("idle", gale.bundle("idle", "main.py", SLOW_PID.replace("work", "idle")), "idleTimeout", "1s");
        assertThat(gale.get("idle", "").headers().firstValue("X-Gale-Cold-Start")).hasValue("false");

        await().atMost(Duration.ofSeconds(10)).until(() -> gale.client.function("idle").instances() == 0);
        var afterIdle = gale.get("idle", "");

        assertThat(afterIdle.statusCode()).isEqualTo(200);
        assertThat(afterIdle.headers().firstValue("X-Gale-Cold-Start")).hasValue("true");
    }

    @Test
    void minInstancesAreKeptWarm() {
        gale.deployActive("warm", gale.bundle("warm", "main.py", SLOW_PID.replace("work", "warm")),
                "minInstances", 2, "idleTimeout", "500ms");

        await().atMost(Duration.ofSeconds(10)).until(() -> gale.client.function("warm").instances() == 2);
        sleep(Duration.ofSeconds(2));

        assertThat(gale.client.function("warm").instances()).isEqualTo(2);
        assertThat(gale.get("warm", "").headers().firstValue("X-Gale-Cold-Start")).hasValue("false");
    }

    @Test
    void aCallArrivingWhileItsInstanceStartsWaitsAndIsServed() {
        gale.deployActive("slowload", gale.bundle("slowload", "main.py", """
                import time
                time.sleep(2)  # a big model loading at import
                def slowload(request):
                    return "loaded"
                """), "idleTimeout", "500ms");
        await().atMost(Duration.ofSeconds(10)).until(() -> gale.client.function("slowload").instances() == 0);

        var response = gale.get("slowload", "");

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(text(response)).isEqualTo("loaded");
        assertThat(response.headers().firstValue("X-Gale-Cold-Start")).hasValue("true");
    }

    private static void sleep(Duration d) {
        try {
            Thread.sleep(d.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
