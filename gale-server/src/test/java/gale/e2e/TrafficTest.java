package gale.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import gale.client.GaleApiException;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static gale.e2e.GaleHarness.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.awaitility.Awaitility.await;

/**
 * Traffic splitting (docs/traffic.md): a pinned split shares the calls between versions, tags reach one version,
 * the split survives a restart and a deploy, and a rollback takes all calls at once. Real Python versions that
 * answer their own version.
 */
class TrafficTest extends GaleE2E {

    /** Answers "vN METHOD PATH": which version served, and what reached it. */
    private static String version(String name, int v) {
        return "def " + name + "(request):\n    return 'v" + v + " ' + request.method + ' ' + request.path\n";
    }

    private static void deployVersions(String name, int count) {
        for (int v = 1; v <= count; v++) {
            gale.deployActive(name, gale.bundle(name, "main.py", version(name, v)));
        }
    }

    /** Calls the function {@code calls} times; counts the versions that answered, checking X-Gale-Version says the same. */
    private static Map<Integer, Integer> served(String target, int calls) {
        Map<Integer, Integer> counts = new TreeMap<>();
        for (int i = 0; i < calls; i++) {
            HttpResponse<byte[]> r = gale.get(target, "");
            assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
            int v = Integer.parseInt(text(r).split(" ")[0].substring(1));
            assertThat(r.headers().firstValue("X-Gale-Version")).hasValue(Integer.toString(v));
            counts.merge(v, 1, Integer::sum);
        }
        return counts;
    }

    @Test
    void aNinetyTenSplitServesBothVersionsInProportionAndEachIsCountedApart() {
        deployVersions("split", 2);

        JsonNode traffic = gale.client.setTraffic("split", Map.of("to", Map.of("1", 90, "2", 10)));
        assertThat(traffic.path("pinned").asBoolean()).isTrue();
        assertThat(traffic.path("to").toString()).isEqualTo("{\"1\":90,\"2\":10}");

        Map<Integer, Integer> counts = served("split", 400);

        // v2 expects 40 of 400 (sd 6): 15..80 fails a correct split about once in 10^5 runs, and a 50/50 or 100/0 one always.
        assertThat(counts.keySet()).containsExactly(1, 2);
        assertThat(counts.get(2)).as("calls served by v2 of %s", counts).isBetween(15, 80);
        assertThat(counts.get(1) + counts.get(2)).isEqualTo(400);

        // Per version, as a canary is judged: the traffic view's last hour and /metrics both count each version apart.
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            JsonNode versions = gale.client.traffic("split").path("versions");
            assertThat(calls(versions, 1)).isEqualTo(counts.get(1).longValue());
            assertThat(calls(versions, 2)).isEqualTo(counts.get(2).longValue());
        });
        String metrics = new JobsHttp(gale).send("GET", "/metrics", "text/plain", "").text();
        assertThat(metric(metrics, "split", 2)).isEqualTo(counts.get(2).doubleValue());
        assertThat(metric(metrics, "split", 1)).isEqualTo(counts.get(1).doubleValue());
    }

    @Test
    void aStickyKeyMeetsTheSameVersionEveryTime() {
        deployVersions("sticky", 2);
        gale.client.setTraffic("sticky", Map.of("to", Map.of("1", 50, "2", 50)));

        for (String key : List.of("respondent-1", "respondent-2", "respondent-3", "respondent-4")) {
            var first = gale.client.call("sticky", "GET", "", new byte[0], Map.of("X-Gale-Sticky-Key", key));
            for (int i = 0; i < 10; i++) {
                var again = gale.client.call("sticky", "GET", "", new byte[0], Map.of("X-Gale-Sticky-Key", key));
                assertThat(again.headers().firstValue("X-Gale-Version")).as(key).isEqualTo(first.headers().firstValue("X-Gale-Version"));
            }
        }
    }

    @Test
    void tagsAndVersionUrlsReachTheirVersionWithAnyMethodAndSubPath() {
        deployVersions("tagged", 2);
        gale.client.rollback("tagged", OptionalInt.of(1)); // v1 takes all calls; v2 only through its tag
        JsonNode traffic = gale.client.setTraffic("tagged", Map.of("tags", Map.of("canary", 2)));

        assertThat(traffic.path("tagUrls").path("canary").asText()).endsWith("/fn/tagged@canary");
        assertThat(traffic.path("to").toString()).isEqualTo("{\"1\":100}");
        var post = gale.client.call("tagged@canary", "POST", "/score/7?x=1", "{}".getBytes(StandardCharsets.UTF_8),
                Map.of("Content-Type", "application/json"));
        assertThat(text(post)).isEqualTo("v2 POST /score/7");
        assertThat(post.headers().firstValue("X-Gale-Version")).hasValue("2");
        assertThat(text(gale.get("tagged@v2", "/a"))).isEqualTo("v2 GET /a");
        assertThat(text(gale.get("tagged@v1", ""))).isEqualTo("v1 GET /");
        assertThat(served("tagged", 20)).containsOnlyKeys(1);

        var unknownTag = gale.get("tagged@beta", "");
        assertThat(unknownTag.statusCode()).isEqualTo(404);
        assertThat(text(unknownTag)).contains("has no tag 'beta'", "gale traffic tagged");
        var unknownVersion = gale.get("tagged@v9", "");
        assertThat(unknownVersion.statusCode()).isEqualTo(404);
        assertThat(text(unknownVersion)).contains("version 9 of 'tagged' takes no calls");

        // Removing the tag stops its URL; the version it named retires (it has no share).
        gale.client.setTraffic("tagged", Map.of("tags", Map.of()));
        assertThat(gale.get("tagged@canary", "").statusCode()).isEqualTo(404);
        assertThat(gale.get("tagged@v2", "").statusCode()).isEqualTo(404);
    }

    @Test
    void aPinnedSplitHoldsAcrossADeployAndARollbackTakesAllCallsAtOnce() {
        deployVersions("pinned", 2);
        gale.client.setTraffic("pinned", Map.of("to", Map.of("v1", 50, "v2", 50)));

        // Cloud Run's rule: a new version takes no calls while the split is pinned; its own URL reaches it.
        gale.deployActive("pinned", gale.bundle("pinned", "main.py", version("pinned", 3)));
        assertThat(gale.client.function("pinned").activeVersion()).hasValue(3);
        assertThat(served("pinned", 60)).containsOnlyKeys(1, 2);
        assertThat(text(gale.get("pinned@v3", ""))).startsWith("v3 ");

        gale.client.rollback("pinned", OptionalInt.of(2));
        assertThat(served("pinned", 30)).containsOnlyKeys(2);
        JsonNode after = gale.client.traffic("pinned");
        assertThat(after.path("pinned").asBoolean()).isFalse();
        assertThat(after.path("to").toString()).isEqualTo("{\"2\":100}");

        // Not pinned: a deploy sends all calls to the new version, as before traffic splitting.
        gale.deployActive("pinned", gale.bundle("pinned", "main.py", version("pinned", 4)));
        assertThat(served("pinned", 20)).containsOnlyKeys(4);

        // --to-latest unpins a split again.
        gale.client.setTraffic("pinned", Map.of("to", Map.of("1", 100)));
        assertThat(served("pinned", 10)).containsOnlyKeys(1);
        gale.client.setTraffic("pinned", Map.of("toLatest", true));
        assertThat(served("pinned", 10)).containsOnlyKeys(4);
    }

    @Test
    void aDeployWithNoTrafficLeavesTheCallsOnTheVersionThatServed() {
        deployVersions("quiet", 1);

        gale.deployActive("quiet", gale.bundle("quiet", "main.py", version("quiet", 2)), "noTraffic", true);

        assertThat(gale.client.function("quiet").activeVersion()).hasValue(2);
        assertThat(gale.client.traffic("quiet").path("to").toString()).isEqualTo("{\"1\":100}");
        assertThat(served("quiet", 20)).containsOnlyKeys(1);
        assertThat(text(gale.get("quiet@v2", ""))).startsWith("v2 ");

        GaleApiException first = catchThrowableOfType(GaleApiException.class, () -> gale.client.deploy("fresh",
                gale.bundle("fresh", "main.py", version("fresh", 1)), Map.of("noTraffic", true)));
        assertThat(first.status()).isEqualTo(400);
        assertThat(first.error()).contains("function 'fresh' has none yet; deploy without --no-traffic");
    }

    @Test
    void theSplitAndTheTagsHoldAcrossARestart() {
        deployVersions("durable", 3);
        gale.client.setTraffic("durable", Map.of("to", Map.of("1", 50, "2", 50), "tags", Map.of("next", "v3")));

        gale.restart();

        JsonNode traffic = gale.client.traffic("durable");
        assertThat(traffic.path("to").toString()).isEqualTo("{\"1\":50,\"2\":50}");
        assertThat(traffic.path("tags").toString()).isEqualTo("{\"next\":3}");
        assertThat(served("durable", 60)).containsOnlyKeys(1, 2);
        assertThat(text(gale.get("durable@next", ""))).startsWith("v3 ");
    }

    @Test
    void aSplitNamingAFailedVersionIsRefusedAndNothingChanges() {
        deployVersions("guarded", 1);
        var failed = gale.deploy("guarded", gale.bundle("guarded", "main.py", "def guarded(request)\n    return 'broken'\n"));
        assertThat(failed.state().name()).isEqualTo("FAILED");

        GaleApiException e = catchThrowableOfType(GaleApiException.class,
                () -> gale.client.setTraffic("guarded", Map.of("to", Map.of("1", 90, "2", 10))));

        assertThat(e.status()).isEqualTo(409);
        assertThat(e.error()).contains("version 2 of 'guarded' is FAILED", "syntax error", "pick an ACTIVE or INACTIVE version");
        assertThat(gale.client.traffic("guarded").path("pinned").asBoolean()).isFalse();
        assertThat(served("guarded", 5)).containsOnlyKeys(1);
    }

    private static long calls(JsonNode versions, int version) {
        for (JsonNode v : versions) {
            if (v.path("version").asInt() == version) return v.path("lastHour").path("calls").asLong();
        }
        return 0;
    }

    private static double metric(String metrics, String function, int version) {
        Matcher m = Pattern.compile("(?m)^gale_function_calls_total\\{function=\"" + function + "\",outcome=\"ok\",version=\""
                + version + "\"} (\\S+)$").matcher(metrics);
        assertThat(m.find()).as("calls of %s v%d in\n%s", function, version, metrics).isTrue();
        return Double.parseDouble(m.group(1));
    }
}
