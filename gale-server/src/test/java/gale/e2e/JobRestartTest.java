package gale.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** A job survives a server restart: finished results are kept, interrupted inputs run again with its context, none twice. */
class JobRestartTest extends GaleE2E {

    @Test
    void aJobResumesAfterARestartAndKeepsWhatWasDone() {
        gale.deployActive("slowsquare", gale.bundle("slowsquare", "main.py", """
                import time
                def slowsquare(request):
                    body = request.get_json()
                    x = body["input"]
                    time.sleep(0.25)
                    print("computing", x)
                    return {"y": x * x * body["context"]["scale"]}
                """), "maxInstances", 2);
        JobsHttp jobs = new JobsHttp(gale);
        String id = jobs.submit("{\"function\": \"slowsquare\", \"context\": {\"scale\": 3}, \"inputs\": "
                + MapJobsTest.range(0, 24) + "}").path("id").asText();
        await().atMost(Duration.ofSeconds(30)).until(() -> jobs.job(id).path("counts").path("done").asInt() >= 4);

        gale.restart();
        JobsHttp afterRestart = new JobsHttp(gale);
        JsonNode end = afterRestart.awaitEnd(id);
        List<JsonNode> results = afterRestart.results(id, false);

        assertThat(end.path("state").asText()).isEqualTo("SUCCEEDED");
        assertThat(results).hasSize(24);
        for (int i = 0; i < 24; i++) {
            assertThat(results.get(i).path("index").asInt()).isEqualTo(i);
            assertThat(results.get(i).path("result").path("y").asInt()).isEqualTo(3 * i * i);
        }
    }
}
