package gale.e2e;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

import static gale.e2e.GaleHarness.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Each way a call can go wrong gets its own status, says who failed, and never harms the next call. */
class FailuresTest extends GaleE2E {

    @Test
    void aHandlerThatRaisesGets500WithTheErrorAndTheInstanceKeepsServing() {
        gale.deployActive("divide", gale.bundle("divide", "main.py", """
                served = 0
                def divide(request):
                    global served
                    served += 1
                    return str(1 / int(request.args["by"])) + " after " + str(served)
                """));

        var failed = gale.get("divide", "?by=0");
        var next = gale.get("divide", "?by=2");

        assertThat(failed.statusCode()).isEqualTo(500);
        assertThat(failed.headers().firstValue("X-Gale-Error")).hasValue("function");
        assertThat(text(failed)).contains("ZeroDivisionError").contains("gale logs divide");
        assertThat(text(next)).isEqualTo("0.5 after 2");
        String requestId = failed.headers().firstValue("X-Gale-Request-Id").orElseThrow();
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(gale.client.logs("divide", 0, 1000, 0).entries())
                .anySatisfy(e -> {
                    assertThat(e.requestId()).hasValue(requestId);
                    assertThat(e.message()).contains("Traceback");
                }));
    }

    @Test
    void anInstanceThatExitsGets502AndANewInstanceServesTheNextCall() {
        gale.deployActive("crashy", gale.bundle("crashy", "main.py", """
                import os
                def crashy(request):
                    if request.args.get("crash"):
                        os._exit(3)
                    return "pid %d" % os.getpid()
                """));
        String before = text(gale.get("crashy", ""));

        var crashed = gale.get("crashy", "?crash=1");
        var after = gale.get("crashy", "");

        assertThat(crashed.statusCode()).isEqualTo(502);
        assertThat(crashed.headers().firstValue("X-Gale-Error")).hasValue("function");
        assertThat(text(crashed)).contains("exited with code 3");
        assertThat(after.statusCode()).isEqualTo(200);
        assertThat(text(after)).isNotEqualTo(before);
        assertThat(after.headers().firstValue("X-Gale-Cold-Start")).hasValue("true");
    }

    @Test
    void aCallPastItsTimeoutGets504AndTheInstanceIsReplaced() {
        gale.deployActive("sleepy", gale.bundle("sleepy", "main.py", """
                import os, time
                def sleepy(request):
                    time.sleep(float(request.args.get("s", "0")))
                    return str(os.getpid())
                """), "timeout", "1s");
        String pid = text(gale.get("sleepy", ""));

        var slow = gale.get("sleepy", "?s=5");
        var next = gale.get("sleepy", "");

        assertThat(slow.statusCode()).isEqualTo(504);
        assertThat(text(slow)).contains("timeout of 1s");
        assertThat(next.statusCode()).isEqualTo(200);
        assertThat(text(next)).isNotEqualTo(pid);
    }

    @Test
    void anInstanceOverItsMemoryLimitIsKilledWith502AndTheLimitInTheMessage() {
        gale.deployActive("hungry", gale.bundle("hungry", "main.py", """
                import time
                hoard = []
                def hungry(request):
                    hoard.append(bytearray(200 * 1024 * 1024))
                    for i in range(0, len(hoard[-1]), 4096):
                        hoard[-1][i] = 1
                    time.sleep(3)
                    return "survived"
                """), "memory", "128MB");

        var response = gale.get("hungry", "");

        assertThat(response.statusCode()).isEqualTo(502);
        assertThat(text(response)).contains("memory limit exceeded (128 MB)");
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(gale.client.invocations("hungry", 10))
                .anySatisfy(i -> assertThat(i.outcome()).isEqualTo("memory")));
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(gale.client.logs("hungry", 0, 100, 0).entries())
                .anySatisfy(e -> assertThat(e.message()).contains("memory limit exceeded (128 MB)")));
    }

    @Test
    void aBodyOverTheLimitGets413() {
        gale.deployActive("sink", gale.bundle("sink", "main.py", """
                def sink(request):
                    return str(len(request.get_data()))
                """));

        var response = gale.client.call("sink", "POST", "", new byte[11 * 1024 * 1024], Map.of());

        assertThat(response.statusCode()).isEqualTo(413);
        assertThat(response.headers().firstValue("X-Gale-Error")).hasValue("platform");
    }

    @Test
    void anUnknownFunctionGets404() {
        var response = gale.get("no-such-function", "");

        assertThat(response.statusCode()).isEqualTo(404);
        assertThat(response.headers().firstValue("X-Gale-Error")).hasValue("platform");
        assertThat(text(response)).contains("not found");
    }

    @Test
    void aPrivateFunctionNeedsTheToken() throws Exception {
        var v = gale.deploy("secret", gale.bundle("secret", "main.py", """
                def secret(request):
                    return "classified"
                """));
        assertThat(v.state().name()).isEqualTo("ACTIVE");

        var anonymous = java.net.http.HttpClient.newHttpClient().send(
                java.net.http.HttpRequest.newBuilder(java.net.URI.create(gale.server.url() + "/fn/secret")).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
        var withToken = gale.get("secret", "");

        assertThat(anonymous.statusCode()).isEqualTo(401);
        assertThat(anonymous.body()).contains("--allow-unauthenticated");
        assertThat(withToken.statusCode()).isEqualTo(200);
    }

    @Test
    void aSlowFunctionNeverDelaysAnother() {
        gale.deployActive("slow", gale.bundle("slow", "main.py", """
                import time
                def slow(request):
                    time.sleep(3)
                    return "slow"
                """), "maxInstances", 1);
        gale.deployActive("fast", gale.bundle("fast", "main.py", """
                def fast(request):
                    return "fast"
                """));
        var slowCalls = new CompletableFuture<?>[3];
        for (int i = 0; i < slowCalls.length; i++) {
            slowCalls[i] = gale.client.callAsync("slow", "GET", "", new byte[0], Map.of());
        }

        var fast = gale.get("fast", "");

        assertThat(text(fast)).isEqualTo("fast");
        assertThat(slowCalls).noneMatch(CompletableFuture::isDone);
        CompletableFuture.allOf(slowCalls).join();
    }

    @Test
    void userCodeNeverSeesTheAdminToken() {
        gale.deployActive("snoop", gale.bundle("snoop", "main.py", """
                import os
                def snoop(request):
                    seen = [k + "=" + v for k, v in os.environ.items()] + [k + ": " + v for k, v in request.headers.items()]
                    return "\\n".join(seen)
                """));

        String seen = text(gale.get("snoop", "")); // the client sends the admin token in Authorization

        assertThat(seen).contains("Host: ").doesNotContain(gale.server.adminToken()).doesNotContain("GALE_INSTANCE_NONCE");
    }
}
