package gale.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;

import static gale.e2e.GaleHarness.text;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * gale.state inside a function: it uses the GALE_STATE_TOKEN Gale hands the instance, which
 * reaches the function's own namespace and the ones it was granted, nothing else.
 */
class StateFromFunctionsTest extends GaleE2E {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String CODE = """
            import json, os
            from gale import state
            from gale.errors import ApiError

            def handler(request):
                op, ns = request.args.get("op"), request.args.get("ns")
                try:
                    if op == "incr":
                        return json.dumps({"value": state.increment("hits", namespace=ns)})
                    if op == "get":
                        return json.dumps({"value": state.get("secret", namespace=ns)})
                    if op == "cas":
                        e = state.entry("doc")
                        first = state.cas("doc", {"n": 1}, 0 if e is None else e.version)
                        second = state.cas("doc", {"n": 2}, 0 if e is None else e.version)
                        return json.dumps({"first": first is not None, "second": second})
                    if op == "admin":
                        from gale.client import Client
                        Client(url=os.environ["GALE_STATE_URL"], token=os.environ["GALE_STATE_TOKEN"]).request("GET", "/v1/functions")
                        return json.dumps({"admin": True})
                except ApiError as e:
                    return json.dumps({"status": e.status, "error": str(e)})
            """;

    @BeforeAll
    static void deploy() {
        gale.deployActive("tally", gale.bundle("tally", "main.py", CODE), "entryPoint", "handler");
        gale.deployActive("granted", gale.bundle("granted", "main.py", CODE), "entryPoint", "handler",
                "stateNamespaces", "tally,shared");
        assertThat(StateApiTest.send("PUT", "/v1/state/tally/secret", "\"tally's own\"").statusCode()).isEqualTo(201);
    }

    @Test
    void aFunctionUsesItsOwnNamespaceWithoutBeingToldWhere() {
        assertThat(call("tally", "?op=incr").get("value").asLong()).isEqualTo(1);
        assertThat(call("tally", "?op=incr").get("value").asLong()).isEqualTo(2);
        assertThat(call("tally", "?op=get").get("value").asText()).isEqualTo("tally's own");

        assertThat(StateApiTest.json(StateApiTest.send("GET", "/v1/state/tally/hits", null)).get("value").asLong()).isEqualTo(2);
    }

    @Test
    void aFunctionCannotReadAnotherFunctionsNamespaceUnlessGranted() {
        JsonNode refused = call("granted", "?op=get&ns=granted-not"); // neither its own nor granted
        assertThat(refused.get("status").asInt()).isEqualTo(403);
        assertThat(refused.get("error").asText()).contains("function 'granted' may not use state namespace 'granted-not'")
                .contains("gale deploy granted --state-namespace granted-not");

        JsonNode other = call("tally", "?op=get&ns=granted");
        assertThat(other.get("status").asInt()).isEqualTo(403);
        assertThat(other.get("error").asText()).contains("it may use tally.");

        assertThat(call("granted", "?op=get&ns=tally").get("value").asText()).isEqualTo("tally's own"); // granted at deploy
        assertThat(call("granted", "?op=incr&ns=shared").get("value").asLong()).isEqualTo(1);
    }

    @Test
    void aCompareAndSetInsideAFunctionWritesOnceFromTheVersionItRead() {
        JsonNode result = call("tally", "?op=cas");

        assertThat(result.get("first").asBoolean()).isTrue();
        assertThat(result.get("second").isNull()).isTrue(); // the key moved on: cas answers None
    }

    @Test
    void theStateTokenIsNoAdminToken() {
        JsonNode result = call("tally", "?op=admin");

        assertThat(result.get("status").asInt()).isEqualTo(401);
    }

    private static JsonNode call(String function, String query) {
        var response = gale.get(function, query);
        assertThat(response.statusCode()).as(text(response)).isEqualTo(200);
        try {
            return JSON.readTree(response.body());
        } catch (IOException e) {
            throw new AssertionError("not JSON: " + text(response), e);
        }
    }
}
