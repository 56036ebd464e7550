package gale.e2e;

import gale.client.LogEntry;
import com.sun.management.HotSpotDiagnosticMXBean;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static gale.e2e.GaleHarness.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** What a function prints is kept with its ids; a restart loses no function, version or log. */
class PersistenceAndLogsTest extends GaleE2E {

    @Test
    void printedLinesAreStoredWithFunctionVersionInstanceAndRequestId() {
        gale.deployActive("chatty", gale.bundle("chatty", "main.py", """
                import logging, sys
                print("loading model")
                def chatty(request):
                    print("scoring", request.args.get("x"))
                    print("warning!", file=sys.stderr)
                    logging.getLogger("chatty").warning("via logging")
                    return "ok"
                """));

        var response = gale.get("chatty", "?x=7");
        String requestId = response.headers().firstValue("X-Gale-Request-Id").orElseThrow();

        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            var entries = gale.client.logs("chatty", 0, 1000, 0).entries();
            assertThat(entries).anySatisfy(e -> {
                assertThat(e.message()).isEqualTo("scoring 7");
                assertThat(e.stream()).isEqualTo("stdout");
                assertThat(e.requestId()).hasValue(requestId);
                assertThat(e.instance()).hasValueSatisfying(i -> assertThat(i).startsWith("chatty-1-"));
                assertThat(e.version()).isEqualTo(1);
            });
            assertThat(entries).anySatisfy(e -> assertThat(e.message()).isEqualTo("loading model"));
            assertThat(entries).anySatisfy(e -> {
                assertThat(e.message()).isEqualTo("warning!");
                assertThat(e.stream()).isEqualTo("stderr");
            });
            assertThat(entries).anySatisfy(e -> assertThat(e.message()).contains("via logging"));
        });
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            var invocation = gale.client.invocation(requestId);
            assertThat(invocation.status()).isEqualTo(200);
            assertThat(invocation.outcome()).isEqualTo("ok");
            assertThat(invocation.durationMs()).isPositive();
        });
    }

    @Test
    void followingLogsSeesNewLinesAsTheyArrive() {
        gale.deployActive("follow", gale.bundle("follow", "main.py", """
                def follow(request):
                    print("line", request.args["n"])
                    return "ok"
                """));
        gale.get("follow", "?n=1");
        await().atMost(Duration.ofSeconds(5)).until(() -> !gale.client.logs("follow", 0, 1000, 0).entries().isEmpty());
        long after = gale.client.logs("follow", 0, 1000, 0).next();

        var waiting = java.util.concurrent.CompletableFuture.supplyAsync(() -> gale.client.logs("follow", after, 100, 20));
        gale.get("follow", "?n=2");

        assertThat(waiting.join().entries()).extracting(LogEntry::message).contains("line 2");
    }

    @Test
    void aFollowerWaitingForLogsWaitsOnAVirtualThreadNotAPlatformOne() throws Exception {
        gale.deployActive("patient", gale.bundle("patient", "main.py", """
                def patient(request):
                    print("call", request.args["n"])
                    return "ok"
                """));
        gale.get("patient", "?n=1");
        await().atMost(Duration.ofSeconds(5)).until(() -> !gale.client.logs("patient", 0, 1000, 0).entries().isEmpty());
        long after = gale.client.logs("patient", 0, 1000, 0).next();

        var waiting = CompletableFuture.supplyAsync(() -> gale.client.logs("patient", after, 100, 20));
        List<String> waiters = await().atMost(Duration.ofSeconds(10))
                .until(() -> threadsIn("gale.admin.AdminApi.logs"), threads -> !threads.isEmpty());
        gale.get("patient", "?n=2");

        assertThat(waiters).allSatisfy(thread -> assertThat(thread.lines().findFirst().orElseThrow()).contains("\" virtual "));
        assertThat(waiting.join().entries()).extracting(LogEntry::message).contains("call 2");
    }

    /** Threads whose stack passes through {@code method}, virtual ones included (Thread.getAllStackTraces leaves them out). */
    private static List<String> threadsIn(String method) throws IOException {
        Path file = tmp.resolve("threads-" + System.nanoTime() + ".txt");
        ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class)
                .dumpThreads(file.toString(), HotSpotDiagnosticMXBean.ThreadDumpFormat.TEXT_PLAIN);
        return Arrays.stream(Files.readString(file).split("\n\n")).filter(t -> t.contains(method + "(")).toList();
    }

    @Test
    void aRestartKeepsFunctionsVersionsConfigAndLogsAndServesAgain() {
        gale.deployActive("durable", gale.bundle("durable", "main.py", """
                def durable(request):
                    print("served")
                    return "still here"
                """), "memory", "384MB");
        gale.deploy("durable", gale.bundle("durable", "main.py", "syntax error here"));
        gale.get("durable", "");
        gale.server.logs().flush();

        gale.restart(); // waits until the functions of the last run serve again

        assertThat(readiness().statusCode()).as("/readyz once every function is back").isEqualTo(200);
        assertThat(text(gale.get("durable", ""))).isEqualTo("still here");
        var fn = gale.client.function("durable");
        assertThat(fn.activeVersion()).hasValue(1);
        assertThat(fn.config()).containsEntry("memory", "384MB");
        assertThat(gale.client.versions("durable")).extracting(v -> v.state().name()).containsExactly("FAILED", "ACTIVE");
        assertThat(gale.client.logs("durable", 0, 1000, 0).entries()).anySatisfy(e -> assertThat(e.message()).isEqualTo("served"));
    }

    private static java.net.http.HttpResponse<String> readiness() {
        try (var http = java.net.http.HttpClient.newHttpClient()) {
            return http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(gale.server.url() + "/readyz")).build(),
                    java.net.http.HttpResponse.BodyHandlers.ofString());
        } catch (IOException | InterruptedException e) {
            throw new AssertionError(e);
        }
    }
}
