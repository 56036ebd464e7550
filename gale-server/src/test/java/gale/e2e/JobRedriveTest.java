package gale.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import gale.client.LogEntry;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** gale jobs redrive: a finished job's inputs that failed for good run again, into the same job's results. */
class JobRedriveTest extends GaleE2E {

    @Test
    void aRedriveRerunsOnlyTheFailedInputsIntoTheSameJobsResults() throws Exception {
        JobsHttp jobs = new JobsHttp(gale);
        Path fixed = gale.work.resolve("negatives-fixed");
        Files.createDirectories(gale.work);
        gale.deployActive("picky", gale.bundle("picky", "main.py", """
                import os
                def picky(request):
                    x = request.get_json()
                    print("called", x)
                    if x < 0 and not os.path.exists(%s):
                        raise ValueError("negative %%d" %% x)
                    return {"y": abs(x)}
                """.formatted("'" + fixed + "'")), "sandbox", "off");

        JsonNode job = jobs.submit("{\"function\": \"picky\", \"inputs\": [1, -2, 3, -4, 5], \"retries\": 0}");
        String id = job.path("id").asText();
        JsonNode end = jobs.awaitEnd(id);
        assertThat(end.path("state").asText()).isEqualTo("FAILED");
        assertThat(end.path("counts").path("failed").asInt()).isEqualTo(2);

        // A redrive of an unknown job: 404.
        assertThat(jobs.send("POST", "/v1/jobs/job-nope/redrive", null, null).status()).isEqualTo(404);

        Files.writeString(fixed, "yes");
        var answer = jobs.send("POST", "/v1/jobs/" + id + "/redrive", null, null);
        assertThat(answer.status()).as(answer.text()).isEqualTo(200);
        JsonNode redriven = jobs.awaitEnd(id);

        assertThat(redriven.path("state").asText()).isEqualTo("SUCCEEDED");
        assertThat(redriven.path("counts").path("done").asInt()).isEqualTo(5);
        assertThat(redriven.path("counts").path("failed").asInt()).isZero();
        List<JsonNode> results = jobs.results(id, false);
        assertThat(results).extracting(r -> r.path("result").path("y").asInt()).containsExactly(1, 2, 3, 4, 5);
        assertThat(results).allMatch(r -> r.path("ok").asBoolean());
        // The inputs that had succeeded were not called again.
        List<String> calls = gale.client.latestLogs("picky", 1000).entries().stream().map(LogEntry::message)
                .filter(m -> m.startsWith("called ")).toList();
        assertThat(calls).filteredOn(m -> m.equals("called 1")).hasSize(1);
        assertThat(calls).filteredOn(m -> m.equals("called -2")).hasSize(2);

        // A job with nothing failed: 409 saying so.
        var again = jobs.send("POST", "/v1/jobs/" + id + "/redrive", null, null);
        assertThat(again.status()).isEqualTo(409);
        assertThat(again.text()).contains("has no failed inputs to redrive");
    }
}
