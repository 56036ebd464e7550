package gale.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import gale.client.GaleApiException;
import gale.client.GaleClient;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.awaitility.Awaitility.await;

/**
 * Access keys over real HTTP (docs/access.md): each scope opens its routes and no others (403 naming the
 * scope), a revoked or expired key is refused at its next request (401), keys are stored hashed, a key's
 * rate limit answers 429 with Retry-After and recovers, functions never see a key, --require-key
 * functions take keys only, and deploys, rollbacks and deletes are in the audit log with the key's name.
 */
class AccessKeysTest extends GaleE2E {

    private static final String ECHO = """
            def %s(request):
                return {"headers": {k.lower(): v for k, v in request.headers.items()}}
            """;
    private static final AtomicInteger NAMES = new AtomicInteger();
    private static JobsHttp http;

    @BeforeAll
    static void deployFunctions() {
        http = new JobsHttp(gale);
        gale.deploy("echo", gale.bundle("echo", "main.py", ECHO.formatted("echo")));
        gale.deploy("other", gale.bundle("other", "main.py", ECHO.formatted("other")));
        gale.deployActive("open", gale.bundle("open", "main.py", ECHO.formatted("open")));
        gale.deploy("keyed", gale.bundle("keyed", "main.py", ECHO.formatted("keyed")), "requireKey", true, "cors", "*");
        for (String name : List.of("echo", "other", "keyed")) {
            assertThat(gale.client.function(name).state()).as(name).isEqualTo("ACTIVE");
        }
    }

    /** Creates a key with these scopes and settings (as the admin); returns the key itself. */
    private static String key(Map<String, Object> settings, String... scopes) {
        Map<String, Object> body = new LinkedHashMap<>(settings);
        body.put("name", "key-" + NAMES.incrementAndGet());
        body.put("scopes", List.of(scopes));
        String secret = gale.client.keyCreate(body).path("secret").asText();
        assertThat(secret).startsWith("gk_");
        return secret;
    }

    private static String key(String... scopes) {
        return key(Map.of(), scopes);
    }

    private static void expect(String key, String method, String path, int status, String message) {
        String body = method.equals("PUT") || method.equals("POST") ? "1" : null;
        var answer = http.as(key).send(method, path, body == null ? null : "application/json", body);
        assertThat(answer.status()).as("%s %s: %s", method, path, answer.text()).isEqualTo(status);
        if (message != null) assertThat(answer.text()).as("%s %s", method, path).contains(message);
    }

    @Test
    void eachScopeOpensItsOwnRoutesAndEveryOtherAnswers403NamingTheScopeItNeeds() {
        String deploy = key("deploy");
        expect(deploy, "GET", "/v1/functions", 200, "\"name\":\"echo\"");
        expect(deploy, "GET", "/v1/functions/echo/versions", 200, null);
        expect(deploy, "GET", "/v1/schedules", 200, null);
        expect(deploy, "PUT", "/v1/blobs/models/m.bin", 201, "\"version\":1");
        expect(deploy, "GET", "/fn/echo", 403, "needs scope invoke:echo");
        expect(deploy, "GET", "/v1/functions/echo/logs", 403, "needs scope logs (the key has deploy)");
        expect(deploy, "GET", "/v1/secrets", 403, "needs scope admin");
        expect(deploy, "GET", "/v1/keys", 403, "needs scope admin");
        expect(deploy, "GET", "/v1/nodes", 403, "needs scope admin");
        expect(deploy, "GET", "/v1/audit", 403, "needs scope admin");
        expect(deploy, "PUT", "/v1/state/echo/k", 403, "needs scope admin");

        String logs = key("logs");
        expect(logs, "GET", "/v1/functions/echo/logs", 200, "\"entries\"");
        expect(logs, "GET", "/v1/functions/echo/invocations", 200, null);
        expect(logs, "GET", "/v1/functions/echo/dead-letters", 200, null);
        expect(logs, "GET", "/v1/functions", 403, "needs scope deploy");
        expect(logs, "POST", "/v1/functions/echo/rollback", 403, "needs scope deploy");
        expect(logs, "GET", "/fn/echo", 403, "needs scope invoke:echo");

        String invoke = key("invoke:echo");
        expect(invoke, "GET", "/fn/echo", 200, "\"headers\"");
        expect(invoke, "POST", "/fn/echo/sub/path", 200, null);
        expect(invoke, "GET", "/fn/other", 403, "may not call function 'other': that needs scope invoke:other (the key has invoke:echo)");
        expect(invoke, "GET", "/v1/functions", 403, "needs scope deploy");
        expect(invoke, "DELETE", "/v1/functions/echo", 403, "needs scope deploy");
        expect(key("invoke:*"), "GET", "/fn/other", 200, null);

        String admin = key("admin");
        expect(admin, "GET", "/v1/keys", 200, null);
        expect(admin, "GET", "/v1/audit", 200, null);
        expect(admin, "GET", "/v1/secrets", 200, null);
        expect(admin, "PUT", "/v1/state/echo/admin-key", 201, null);
        expect(admin, "GET", "/fn/other", 200, null);
        expect(admin, "GET", "/v1/functions/echo/logs", 200, null);
    }

    @Test
    void functionCodeNeverSeesAKeyOrTheAdminTokenButAPublicFunctionGetsItsOwnAuthorization() {
        String invoke = key("invoke:echo", "invoke:keyed");
        var privateCall = http.as(invoke).send("GET", "/fn/echo", null, null);
        assertThat(privateCall.json().path("headers").has("authorization")).as(privateCall.text()).isFalse();
        assertThat(privateCall.text()).doesNotContain(invoke);

        var publicCall = http.as("").send("GET", "/fn/open", null, null, Map.of("Authorization", "Bearer " + invoke,
                "X-Gale-Key", invoke));
        assertThat(publicCall.status()).isEqualTo(200);
        assertThat(publicCall.text()).doesNotContain(invoke).doesNotContain("x-gale-key").doesNotContain("authorization");
        assertThat(http.send("GET", "/fn/open", null, null).text()).doesNotContain(gale.server.adminToken());

        var ownAuthorization = http.as("").send("GET", "/fn/open", null, null, Map.of("Authorization", "Bearer users-own"));
        assertThat(ownAuthorization.json().path("headers").path("authorization").asText()).isEqualTo("Bearer users-own");

        var keyedWithOwn = http.as("").send("GET", "/fn/keyed", null, null, Map.of("Authorization", "Bearer users-own",
                "X-Gale-Key", invoke));
        assertThat(keyedWithOwn.status()).as(keyedWithOwn.text()).isEqualTo(200);
        assertThat(keyedWithOwn.json().path("headers").path("authorization").asText()).isEqualTo("Bearer users-own");
        assertThat(keyedWithOwn.text()).doesNotContain(invoke);
    }

    @Test
    void aFunctionDeployedWithRequireKeyTakesAnInvokeKeyOrTheAdminTokenAndAnswersPreflightWithoutOne() {
        String keyed = key("invoke:keyed");
        var none = http.as("").send("GET", "/fn/keyed", null, null);
        assertThat(none.status()).isEqualTo(401);
        assertThat(none.text()).contains("function 'keyed' requires an access key").contains("X-Gale-Key: gk_...")
                .contains("--scope invoke:keyed");
        assertThat(none.headers().firstValue("WWW-Authenticate")).hasValue("Bearer");
        assertThat(http.as(keyed).send("GET", "/fn/keyed", null, null).status()).isEqualTo(200);
        assertThat(http.as("").send("GET", "/fn/keyed", null, null, Map.of("X-Gale-Key", keyed)).status()).isEqualTo(200);
        assertThat(http.send("GET", "/fn/keyed", null, null).status()).as("the admin token").isEqualTo(200);
        expect(key("invoke:echo"), "GET", "/fn/keyed", 403, "needs scope invoke:keyed");

        var preflight = http.as("").send("OPTIONS", "/fn/keyed", null, null, Map.of("Origin", "https://survey.example",
                "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "x-gale-key, content-type"));
        assertThat(preflight.status()).isEqualTo(204);
        assertThat(preflight.headers().firstValue("Access-Control-Allow-Headers")).hasValue("x-gale-key, content-type");
        assertThat(gale.client.function("keyed").config()).containsEntry("requireKey", true);
    }

    @Test
    void aRevokedKeyIsRefusedAtItsNextRequestAndAnExpiredOneOnceItsTimeHasCome() {
        String invoke = key("invoke:echo");
        String name = "key-" + NAMES.get();
        assertThat(http.as(invoke).send("GET", "/fn/echo", null, null).status()).isEqualTo(200);
        var revoked = http.send("DELETE", "/v1/keys/" + name, null, null);
        assertThat(revoked.status()).isEqualTo(200);
        assertThat(revoked.json().path("state").asText()).isEqualTo("revoked");
        var refused = http.as(invoke).send("GET", "/fn/echo", null, null);
        assertThat(refused.status()).isEqualTo(401);
        assertThat(refused.text()).contains("access key '" + name + "'").contains("was revoked at");
        expect(invoke, "GET", "/v1/functions", 401, "was revoked at");
        assertThat(http.send("DELETE", "/v1/keys/" + name, null, null).status()).as("revoked twice").isEqualTo(404);

        assertThat(http.as(key(Map.of("expiresIn", "1h"), "invoke:echo")).send("GET", "/fn/echo", null, null).status()).isEqualTo(200);
        String shortLived = key(Map.of("expiresIn", "1s"), "invoke:echo");
        await().atMost(Duration.ofSeconds(30)).until(() -> http.as(shortLived).send("GET", "/fn/echo", null, null).status() == 401);
        assertThat(http.as(shortLived).send("GET", "/fn/echo", null, null).text()).contains("expired at");
        var listed = http.send("GET", "/v1/keys?all=true", null, null).json();
        assertThat(listed.findValuesAsText("state")).contains("revoked", "expired", "active");
    }

    @Test
    void aKeyIsStoredHashedNothingInTheDataDirHoldsItEvenAfterItWasUsed() throws Exception {
        String invoke = key("invoke:echo", "logs");
        assertThat(http.as(invoke).send("POST", "/fn/echo", "application/json", "{}").status()).isEqualTo(200);
        var queued = http.as(invoke).send("POST", "/fn/echo", "application/json", "{}", Map.of("Prefer", "respond-async"));
        assertThat(queued.status()).isEqualTo(202);
        String id = queued.json().path("invocationId").asText();
        await().atMost(Duration.ofSeconds(60)).until(() -> "SUCCEEDED".equals(
                http.as(invoke).send("GET", "/v1/invocations/" + id, null, null).json().path("status").asText()));
        String stored = http.as(invoke).send("GET", "/v1/invocations/" + id, null, null).text();
        assertThat(stored).doesNotContain(invoke);
        assertThat(SecretsTest.filesHolding(gale.dataDir, invoke.substring(11))).as("files holding the key's secret part").isEmpty();
        assertThat(http.send("GET", "/v1/keys", null, null).text()).doesNotContain(invoke.substring(11));
    }

    @Test
    void aKeyOverItsRateLimitGets429WithRetryAfterAndGetsThroughOnceItHasWaited() throws InterruptedException {
        String limited = key(Map.of("rate", "1/s", "burst", 2), "invoke:echo");
        JobsHttp.Answer answer = null;
        for (int i = 0; i < 50 && (answer == null || answer.status() == 200); i++) answer = http.as(limited).send("GET", "/fn/echo", null, null);
        assertThat(answer.status()).as(answer.text()).isEqualTo(429);
        assertThat(answer.text()).contains("over its rate limit of 1/s burst 2");
        long retryAfter = Long.parseLong(answer.headers().firstValue("Retry-After").orElseThrow());
        assertThat(retryAfter).isBetween(1L, 2L);
        assertThat(http.as(key("invoke:echo")).send("GET", "/fn/echo", null, null).status()).as("another key").isEqualTo(200);
        Thread.sleep(Duration.ofSeconds(retryAfter));
        assertThat(http.as(limited).send("GET", "/fn/echo", null, null).status()).isEqualTo(200);

        String slowAdmin = key(Map.of("rate", "1/h"), "logs");
        expect(slowAdmin, "GET", "/v1/functions/echo/logs", 200, null);
        var limitedApi = http.as(slowAdmin).send("GET", "/v1/functions/echo/logs", null, null);
        assertThat(limitedApi.status()).isEqualTo(429);
        assertThat(Long.parseLong(limitedApi.headers().firstValue("Retry-After").orElseThrow())).isGreaterThan(3000);
    }

    @Test
    void deploysRollbacksAndDeletesAreInTheAuditLogWithTheKeysNameAndRefusalsToo() {
        String deployKey = key("deploy");
        String deployName = "key-" + NAMES.get();
        String logsKey = key("logs");
        String logsName = "key-" + NAMES.get();
        GaleApiException noEarlier;
        try (var ci = new GaleClient(URI.create(gale.server.url()), deployKey)) {
            var v1 = ci.deploy("audited", gale.bundle("audited", "main.py", ECHO.formatted("audited")), Map.of());
            ci.awaitVersion("audited", v1.version(), GaleHarness.DEPLOY_WAIT);
            noEarlier = catchThrowableOfType(GaleApiException.class, () -> ci.rollback("audited", OptionalInt.empty()));
            assertThat(noEarlier.status()).isEqualTo(409);
            var v2 = ci.deploy("audited", gale.bundle("audited", "main.py", ECHO.formatted("audited")), Map.of());
            ci.awaitVersion("audited", v2.version(), GaleHarness.DEPLOY_WAIT);
            expect(logsKey, "POST", "/v1/functions/audited/rollback", 403, "needs scope deploy");
            ci.rollback("audited", OptionalInt.empty());
            ci.delete("audited");
        }
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            JsonNode entries = http.send("GET", "/v1/audit?function=audited", null, null).json();
            List<String> lines = new ArrayList<>();
            for (JsonNode e : entries) {
                lines.add(String.join(" | ", e.path("action").asText(), e.path("actor").asText(), e.path("outcome").asText(),
                        e.path("status").asText(), e.path("detail").asText("-")));
                assertThat(e.path("client").asText()).isEqualTo("127.0.0.1");
                assertThat(e.path("at").asText()).isNotEmpty();
            }
            assertThat(lines).as("newest first").containsExactly(
                    "function.delete | " + deployName + " | ok | 204 | -",
                    "function.rollback | " + deployName + " | ok | 200 | active version 1",
                    "function.rollback | " + logsName + " | refused | 403 | access key '" + logsName + "' ("
                            + logsKey.substring(0, 11) + ") may not POST /v1/functions/audited/rollback: that needs scope deploy "
                            + "(the key has logs); use a key with deploy (gale keys create NAME --scope deploy) or the admin token",
                    "function.deploy | " + deployName + " | ok | 202 | version 2",
                    "function.rollback | " + deployName + " | failed | 409 | " + noEarlier.error(),
                    "function.deploy | " + deployName + " | ok | 202 | version 1");
            assertThat(entries.get(0).path("keyId").asText()).isEqualTo(deployKey.substring(0, 11));
        });
        assertThat(http.send("GET", "/v1/audit?since=2099-01-01", null, null).json()).isEmpty();
        assertThat(http.send("GET", "/v1/audit?since=1h&limit=1", null, null).json()).hasSize(1);
    }

    @Test
    void mapJobsAndAsyncResultsNeedInvokeScopeForTheirFunction() {
        String invoke = key("invoke:echo");
        var job = http.as(invoke).send("POST", "/v1/jobs", "application/json", "{\"function\": \"echo\", \"inputs\": [{}, {}]}");
        assertThat(job.status()).as(job.text()).isEqualTo(201);
        String id = job.json().path("id").asText();
        assertThat(http.as(invoke).send("GET", "/v1/jobs/" + id, null, null).status()).isEqualTo(200);
        expect(key("invoke:other"), "GET", "/v1/jobs/" + id, 403, "needs scope invoke:echo");
        assertThat(http.as(key("invoke:other")).send("GET", "/v1/jobs", null, null).text()).doesNotContain(id);
        expect(key("deploy"), "POST", "/v1/jobs", 403, "needs scope invoke:");

        var queued = http.as(invoke).send("POST", "/fn/echo", "application/json", "{}", Map.of("Prefer", "respond-async"));
        String call = queued.json().path("invocationId").asText();
        assertThat(http.as(invoke).send("GET", "/v1/invocations/" + call, null, null).status()).isEqualTo(200);
        assertThat(http.as(key("logs")).send("GET", "/v1/invocations/" + call, null, null).status()).isEqualTo(200);
        expect(key("deploy"), "GET", "/v1/invocations/" + call, 403, "needs scope invoke:echo");
    }

    @Test
    void hostileCredentialsGet401SayingWhatAKeyIs() {
        Map<String, String> credentials = new LinkedHashMap<>();
        credentials.put("Bearer gk_short", "that is not an access key: a key is gk_ and 40 letters and digits (8 characters arrived)");
        credentials.put("Bearer gk_" + "!".repeat(40), "that is not an access key");
        credentials.put("Bearer gk_" + "a".repeat(7000), "(7003 characters arrived)");
        credentials.put("Bearer gk_" + "Z".repeat(40), "unknown access key gk_ZZZZZZZZ");
        credentials.put("Bearer", "the admin API needs 'Authorization: Bearer <token>'");
        credentials.put("Basic Z2FsZTpnYWxl", "the admin API needs");
        credentials.put("Bearer not-the-token", "or an access key (gale keys create)");
        credentials.forEach((value, message) -> {
            var answer = http.as("").send("GET", "/v1/functions", null, null, Map.of("Authorization", value));
            assertThat(answer.status()).as(value.length() > 40 ? value.substring(0, 40) : value).isEqualTo(401);
            assertThat(answer.text()).contains(message);
        });
        var huge = http.as("").send("GET", "/v1/functions", null, null, Map.of("Authorization", "Bearer gk_" + "a".repeat(9000)));
        assertThat(huge.status()).as("headers over 8 KB").isEqualTo(431);
        var notAKey = http.as("").send("GET", "/fn/keyed", null, null, Map.of("X-Gale-Key", "hello"));
        assertThat(notAKey.status()).isEqualTo(401);
        assertThat(notAKey.text()).contains("X-Gale-Key holds no access key");
        var keyOnApi = http.as("").send("GET", "/v1/functions", null, null, Map.of("X-Gale-Key", key("deploy")));
        assertThat(keyOnApi.status()).as("the admin API takes Authorization only").isEqualTo(401);
    }

    @Test
    void aKeyRequestThatDoesNotParseGets400NamingWhatToFix() {
        Map<String, String> bodies = new LinkedHashMap<>();
        bodies.put("", "the body is empty: a key is {\"name\": \"ci-deploy\"");
        bodies.put("not json", "the body is not JSON");
        bodies.put("[]", "a key is {\"name\"");
        bodies.put("{\"scopes\": [\"deploy\"]}", "\"name\" is missing");
        bodies.put("{\"name\": \"a\"}", "\"scopes\" must be a list of scopes");
        bodies.put("{\"name\": \"a\", \"scopes\": []}", "a key needs at least one scope");
        bodies.put("{\"name\": \"a\", \"scopes\": [\"read\"]}", "'read' is not a scope; scopes are deploy, logs, admin");
        bodies.put("{\"name\": \"a\", \"scopes\": [\"invoke:Bad_Name\"]}", "names 'Bad_Name', which is not a function name");
        bodies.put("{\"name\": \"a\", \"scopes\": [7]}", "\"scopes\" holds 7, not a scope");
        bodies.put("{\"name\": \"Bad Name\", \"scopes\": [\"deploy\"]}", "'Bad Name' is not a key name");
        bodies.put("{\"name\": \"a\", \"scopes\": [\"deploy\"], \"rate\": \"fast\"}", "rate 'fast' is not a rate: write it as COUNT/UNIT");
        bodies.put("{\"name\": \"a\", \"scopes\": [\"deploy\"], \"burst\": 5}", "\"burst\" goes with a \"rate\"");
        bodies.put("{\"name\": \"a\", \"scopes\": [\"deploy\"], \"rate\": \"1/s\", \"burst\": \"x\"}", "\"burst\" must be a whole number");
        bodies.put("{\"name\": \"a\", \"scopes\": [\"deploy\"], \"expiresIn\": \"soon\"}", "expiresIn: 'soon' is not a duration");
        bodies.put("{\"name\": \"a\", \"scopes\": [\"deploy\"], \"expiresAt\": \"tomorrow\"}", "expiresAt 'tomorrow' is neither a duration");
        bodies.put("{\"name\": \"a\", \"scopes\": [\"deploy\"], \"expiresAt\": \"2001-01-01\"}", "which is not in the future");
        bodies.put("{\"name\": \"a\", \"scopes\": [\"deploy\"], \"expiresIn\": \"1d\", \"expiresAt\": \"2099-01-01\"}", "not both");
        bodies.put("{\"name\": \"a\", \"scopes\": [\"deploy\"], \"owner\": \"me\"}", "unknown field 'owner'");
        bodies.forEach((body, message) -> {
            var answer = http.send("POST", "/v1/keys", "application/json", body);
            assertThat(answer.status()).as(body).isEqualTo(400);
            assertThat(answer.json().path("error").asText()).as(body).contains(message);
        });
        assertThat(http.send("POST", "/v1/keys", "application/json", "{\"name\": \"twice\", \"scopes\": [\"logs\"]}").status()).isEqualTo(201);
        var twice = http.send("POST", "/v1/keys", "application/json", "{\"name\": \"twice\", \"scopes\": [\"logs\"]}");
        assertThat(twice.status()).isEqualTo(409);
        assertThat(twice.text()).contains("a key named 'twice' exists");
        assertThat(http.send("DELETE", "/v1/keys/nobody", null, null).status()).isEqualTo(404);
        assertThat(http.send("GET", "/v1/audit?limit=0", null, null).text()).contains("limit must be between 1 and 10000");
        assertThat(http.send("GET", "/v1/audit?since=whenever", null, null).text()).contains("since 'whenever' is neither a duration");
    }
}
