package gale.e2e;

import org.junit.jupiter.api.Test;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/** /metrics speaks Prometheus with the names people know from peers, per function and version. */
class MetricsTest extends GaleE2E {

    @Test
    void callsLatencyColdStartsInstancesQueuesAndJobTasksAreExported() {
        gale.deployActive("metered", gale.bundle("metered", "main.py", """
                import time
                def metered(request):
                    time.sleep(float(request.args.get("sleep", 0)))
                    if request.args.get("fail"):
                        raise ValueError("asked to fail")
                    return {"y": (request.get_json(silent=True) or {}).get("x", 0) * 2}
                """), "maxInstances", 2);
        // two slow calls at once: the deploy's instance takes one, the other waits for a second instance to start
        var first = java.util.concurrent.CompletableFuture.supplyAsync(() -> gale.get("metered", "/?sleep=0.5"));
        var second = java.util.concurrent.CompletableFuture.supplyAsync(() -> gale.get("metered", "/?sleep=0.5"));
        assertThat(first.join().statusCode()).isEqualTo(200);
        assertThat(second.join().statusCode()).isEqualTo(200);
        assertThat(gale.get("metered", "/").statusCode()).isEqualTo(200);
        assertThat(gale.get("metered", "/?fail=1").statusCode()).isEqualTo(500);
        var jobs = new JobsHttp(gale);
        jobs.awaitEnd(jobs.submit("{\"function\": \"metered\", \"inputs\": [{\"x\": 1}, {\"x\": 2}, {\"x\": 3}]}").path("id").asText());

        String metrics = jobs.send("GET", "/metrics", "text/plain", "").text();

        String fn = "function=\"metered\"";
        assertThat(value(metrics, "gale_function_calls_total", fn, "outcome=\"ok\"", "version=\"1\"")).isEqualTo(3.0);
        assertThat(value(metrics, "gale_function_calls_total", fn, "outcome=\"function_error\"", "version=\"1\"")).isEqualTo(1.0);
        assertThat(value(metrics, "gale_function_duration_seconds_count", fn, "version=\"1\"")).isEqualTo(4.0);
        assertThat(metrics).containsPattern("gale_function_duration_seconds_bucket\\{function=\"metered\",version=\"1\",le=\"0\\.1\"}");
        assertThat(value(metrics, "gale_function_cold_starts_total", fn, "version=\"1\"")).isGreaterThanOrEqualTo(1.0);
        assertThat(value(metrics, "gale_function_cold_start_seconds_count", fn, "version=\"1\""))
                .isEqualTo(value(metrics, "gale_function_cold_starts_total", fn, "version=\"1\""));
        assertThat(value(metrics, "gale_function_instances", fn, "version=\"1\"")).isBetween(1.0, 2.0);
        assertThat(value(metrics, "gale_function_queue_depth", fn, "version=\"1\"")).isZero();
        assertThat(value(metrics, "gale_job_tasks_total", "state=\"done\"")).isGreaterThanOrEqualTo(3.0);
        assertThat(metrics).contains("gale_job_tasks_total{state=\"failed\"}");
        // the Grafana dashboard in docs/ reads only what is exported
        String dashboard = read(java.nio.file.Path.of("..", "docs", "grafana-dashboard.json"));
        Matcher used = Pattern.compile("gale_[a-z_]+").matcher(dashboard);
        int names = 0;
        while (used.find()) {
            names++;
            assertThat(metrics).as("the dashboard's " + used.group()).contains("\n" + used.group());
        }
        assertThat(names).isGreaterThanOrEqualTo(7);
    }

    private static String read(java.nio.file.Path file) {
        try {
            return java.nio.file.Files.readString(file);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** The value of the sample of {@code name} whose labels are exactly {@code labels}, in Prometheus' sorted order. */
    private static double value(String metrics, String name, String... labels) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name + "{" + String.join(",", labels) + "}") + " (\\S+)$").matcher(metrics);
        assertThat(m.find()).as(name + " with " + String.join(",", labels) + " in\n" + metrics).isTrue();
        return Double.parseDouble(m.group(1));
    }
}
