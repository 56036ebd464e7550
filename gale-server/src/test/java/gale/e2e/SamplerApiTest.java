package gale.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static gale.e2e.GaleHarness.text;
import static gale.e2e.StateApiTest.json;
import static gale.e2e.StateApiTest.send;
import static org.assertj.core.api.Assertions.assertThat;

/** Samplers over HTTP (docs/state.md#samplers), and examples/survey-sampler called the way a browser calls it. */
class SamplerApiTest extends GaleE2E {

    @Test
    void respondentsDrawUnseenItemsUpToTheTargetAndConfirmOrReleaseThem() {
        var created = send("POST", "/v1/samplers/slogans", """
                {"items": ["a", "b", {"id": "c", "text": "see"}], "target": 2, "lease": "10m"}""");
        assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
        assertThat(json(created).get("items").asInt()).isEqualTo(3);

        JsonNode first = json(send("POST", "/v1/samplers/slogans/draw", "{\"respondent\": \"R_1\", \"k\": 2}"));
        assertThat(first.get("items")).hasSize(2);
        assertThat(first.get("leaseExpiresAt").isTextual()).isTrue();
        JsonNode again = json(send("POST", "/v1/samplers/slogans/draw", "{\"respondent\": \"R_1\", \"k\": 2}"));
        assertThat(again.get("items")).hasSize(1); // the one R_1 has not seen
        assertThat(ids(first)).doesNotContainAnyElementsOf(ids(again));

        JsonNode confirmed = json(send("POST", "/v1/samplers/slogans/confirm", "{\"respondent\": \"R_1\", \"items\": " + jsonList(ids(first)) + "}"));
        assertThat(confirmed.get("confirmed")).hasSize(2);
        JsonNode released = json(send("POST", "/v1/samplers/slogans/release", "{\"respondent\": \"R_1\"}"));
        assertThat(released.get("released")).hasSize(1);

        JsonNode stats = json(send("GET", "/v1/samplers/slogans", null));
        assertThat(stats.get("confirmed").asLong()).isEqualTo(2);
        assertThat(stats.get("leased").asLong()).isZero();
        assertThat(stats.get("respondents").asLong()).isEqualTo(1);
        assertThat(stats.get("remaining").asLong()).isEqualTo(4);

        for (int r = 2; r < 10; r++) send("POST", "/v1/samplers/slogans/draw", "{\"respondent\": \"R_" + r + "\", \"k\": 3}");
        JsonNode full = json(send("GET", "/v1/samplers/slogans", null));
        assertThat(full.get("remaining").asLong()).isZero();
        assertThat(json(send("POST", "/v1/samplers/slogans/draw", "{\"respondent\": \"R_99\", \"k\": 3}")).get("items")).isEmpty();

        assertThat(send("DELETE", "/v1/samplers/slogans", null).statusCode()).isEqualTo(204);
        assertThat(send("GET", "/v1/samplers/slogans", null).statusCode()).isEqualTo(404);
    }

    /** method | path | body | status | what the message says */
    @ParameterizedTest(name = "{0} {1} -> {3}")
    @CsvSource(delimiter = '|', textBlock = """
            POST | /v1/samplers/bad             | {"items": "a,b", "target": 1}            | 400 | "items" must be a list
            POST | /v1/samplers/bad             | {"items": [], "target": 1}               | 400 | at least one item
            POST | /v1/samplers/bad             | {"items": ["a", "a"], "target": 1}       | 400 | appears twice
            POST | /v1/samplers/bad             | {"items": [{"text": "x"}], "target": 1}  | 400 | an object with an "id"
            POST | /v1/samplers/bad             | {"items": ["a"]}                         | 400 | "target" must be a whole number
            POST | /v1/samplers/bad             | {"items": ["a"], "target": 0}            | 400 | target must be between
            POST | /v1/samplers/bad             | {"items": ["a"], "target": 1, "lease": "ever"} | 400 | lease: 'ever' is not a duration
            POST | /v1/samplers/Bad_Name        | {"items": ["a"], "target": 1}            | 400 | is not a namespace
            POST | /v1/samplers/bad             | not json                                 | 400 | the body is not JSON
            POST | /v1/samplers/taken          | {"items": ["a"], "target": 1}            | 409 | a sampler named 'taken' exists
            POST | /v1/samplers/nope/draw       | {"respondent": "r"}                      | 404 | no sampler named 'nope'
            POST | /v1/samplers/taken/draw      | {"k": 1}                                 | 400 | "respondent" must be the respondent's id
            POST | /v1/samplers/taken/draw      | {"respondent": "r", "k": "two"}          | 400 | "k" must be a whole number
            POST | /v1/samplers/taken/draw      | {"respondent": "r", "k": 1000}           | 400 | k must be between 1 and 100
            POST | /v1/samplers/taken/draw      | {"respondent": "", "k": 1}               | 400 | a respondent is 1-256 characters
            POST | /v1/samplers/taken/confirm   | {"respondent": "r", "items": ["zz"]}     | 409 | never drew item 'zz'
            POST | /v1/samplers/taken/confirm   | {"respondent": "r", "items": "a"}        | 400 | "items" must be a list
            """)
    void everyHostileInputGetsAClearError(String method, String path, String body, int status, String message) {
        send("POST", "/v1/samplers/taken", "{\"items\": [\"a\"], \"target\": 1}");

        var response = send(method, path, body);

        assertThat(response.statusCode()).as(response.body()).isEqualTo(status);
        assertThat(json(response).get("error").asText()).contains(message);
        assertThat(send("GET", "/v1/samplers/bad", null).statusCode()).isEqualTo(404); // nothing was created
    }

    @Test
    void theSurveyExampleServesABrowserWithCorsAndNeverShowsARespondentAnItemTwice() {
        Path example = Path.of("..", "examples", "survey-sampler").toAbsolutePath().normalize();
        gale.deployActive("survey-sampler", example);
        Map<String, String> browser = Map.of("Origin", "https://example.qualtrics.com");

        var preflight = gale.client.call("survey-sampler", "OPTIONS", "", new byte[0], Map.of("Origin", "https://example.qualtrics.com",
                "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type"));
        assertThat(preflight.statusCode()).isEqualTo(204);
        assertThat(preflight.headers().firstValue("Access-Control-Allow-Methods").orElse("")).contains("POST");

        Set<String> seen = new HashSet<>();
        for (int round = 0; round < 4; round++) {
            var drawn = gale.client.call("survey-sampler", "GET", "?respondent=R_7", new byte[0], browser);
            assertThat(drawn.statusCode()).as(text(drawn)).isEqualTo(200);
            assertThat(drawn.headers().firstValue("Access-Control-Allow-Origin")).contains("*");
            List<String> ids = new ArrayList<>();
            answer(drawn).get("items").forEach(item -> ids.add(item.get("id").asText()));
            assertThat(ids).hasSize(3);
            for (String id : ids) assertThat(seen.add(id)).as("R_7 shown " + id + " twice").isTrue();
            String ratings = ids.stream().map(id -> "\"" + id + "\": 5").reduce((a, b) -> a + ", " + b).orElseThrow();
            var saved = gale.client.call("survey-sampler", "POST", "", ("{\"respondent\": \"R_7\", \"ratings\": {" + ratings + "}}")
                    .getBytes(StandardCharsets.UTF_8), Map.of("Origin", "https://example.qualtrics.com", "Content-Type", "application/json"));
            assertThat(saved.statusCode()).as(text(saved)).isEqualTo(200);
            assertThat(answer(saved).get("saved")).hasSize(3);
        }
        // 12 items, 3 a round: after 4 rounds R_7 has rated every slogan once
        assertThat(answer(gale.client.call("survey-sampler", "GET", "?respondent=R_7", new byte[0], browser)).get("items")).isEmpty();
        JsonNode stats = json(send("GET", "/v1/samplers/survey-sampler", null));
        assertThat(stats.get("confirmed").asLong()).isEqualTo(12);
        assertThat(json(send("GET", "/v1/state/survey-sampler/totals/slogan-01/n", null)).get("value").asLong()).isEqualTo(1);
        var unrated = gale.client.call("survey-sampler", "POST", "", "{\"respondent\": \"R_8\", \"ratings\": {\"slogan-01\": 5}}"
                .getBytes(StandardCharsets.UTF_8), Map.of("Content-Type", "application/json"));
        assertThat(unrated.statusCode()).isEqualTo(409); // R_8 never drew it
    }

    private static JsonNode answer(java.net.http.HttpResponse<byte[]> response) {
        return StateApiTest.json(text(response));
    }

    private static List<String> ids(JsonNode draw) {
        List<String> ids = new ArrayList<>();
        draw.get("items").forEach(item -> ids.add(item.get("id").asText()));
        return ids;
    }

    private static String jsonList(List<String> ids) {
        return ids.stream().map(id -> "\"" + id + "\"").reduce((a, b) -> a + ", " + b).map(s -> "[" + s + "]").orElse("[]");
    }
}
