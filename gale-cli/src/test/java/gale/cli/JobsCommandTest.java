package gale.cli;

import static gale.cli.Jobs.ID;
import static gale.cli.Jobs.job;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class JobsCommandTest {

    @RegisterExtension
    final FakeApi api = FakeApi.started();

    @Test
    void listsJobsAsATable() {
        api.on("GET /v1/jobs", 200, "[" + job("RUNNING", 3000, 398, 2, 0) + "]");

        GaleCli.Result result = GaleCli.run(api.env(), "jobs");

        assertThat(result.exitCode()).isEqualTo(ExitCode.OK);
        assertThat(result.out()).isEqualTo("""
                ID          FUNCTION  STATE    DONE/TOTAL  FAILED  ELAPSED
                job-7f3a9c  square    RUNNING  398/3000    2       4.2 s
                """);
        assertThat(api.requests().getFirst().uri()).isEqualTo("/v1/jobs?limit=50");
    }

    @Test
    void listsOnlyTheJobsOfOneFunction() {
        api.on("GET /v1/jobs", 200, "[]");

        GaleCli.Result result = GaleCli.run(api.env(), "jobs", "--function", "square", "--limit", "5");

        assertThat(api.requests().getFirst().uri()).isEqualTo("/v1/jobs?limit=5&function=square");
        assertThat(result.out()).isEqualTo("No jobs of square yet: start one with `gale map FUNCTION --input FILE`.\n");
    }

    @Test
    void showsOneJob() {
        api.on("GET /v1/jobs/" + ID, 200, job("FAILED", 40, 39, 1, 0)
                .replace("\"error\": null", "\"error\": \"1 of 40 inputs failed; first: input 13: ValueError\""));

        GaleCli.Result result = GaleCli.run(api.env(), "jobs", "show", ID);

        assertThat(result.exitCode()).isEqualTo(ExitCode.OK);
        assertThat(result.out()).contains("id:          job-7f3a9c\n", "state:       FAILED\n", "done:        39\n",
                "failed:      1\n", "started:     2026-11-25T11:40:00Z\n", "finished:    -\n", "rate:        95/s\n",
                "error:       1 of 40 inputs failed; first: input 13: ValueError\n");
    }

    @Test
    void cancelsAJobAndSaysHowFarItGot() {
        api.on("DELETE /v1/jobs/" + ID, 200, job("CANCELLED", 40, 2, 0, 38));

        GaleCli.Result result = GaleCli.run(api.env(), "jobs", "cancel", ID);

        assertThat(result.exitCode()).isEqualTo(ExitCode.OK);
        assertThat(result.out()).isEqualTo("Cancelled job-7f3a9c: 2 of 40 inputs done, 38 cancelled.\n");
        assertThat(api.requests()).extracting(FakeApi.Request::method).containsExactly("DELETE");
    }

    @Test
    void leavesAJobThatHadAlreadyEndedAsItWas() {
        api.on("DELETE /v1/jobs/" + ID, 200, job("SUCCEEDED", 40, 40, 0, 0));

        GaleCli.Result result = GaleCli.run(api.env(), "jobs", "cancel", ID);

        assertThat(result.out()).isEqualTo("job-7f3a9c had already ended SUCCEEDED; nothing to cancel.\n");
    }

    @Test
    void reportsAnUnknownJobWithExitOne() {
        api.on("GET /v1/jobs/job-000000000000", 404, "{\"error\": \"no job job-000000000000\", \"status\": 404}");

        GaleCli.Result result = GaleCli.run(api.env(), "jobs", "show", "job-000000000000");

        assertThat(result.exitCode()).isEqualTo(ExitCode.FAILED);
        assertThat(result.err()).isEqualTo("ERROR: no job job-000000000000 (HTTP 404)\n");
    }

    @Test
    void takesTheServerGivenToJobsForItsSubcommands() {
        api.on("GET /v1/jobs/" + ID, 200, job("RUNNING", 3, 1, 0, 0));

        GaleCli.Result result = GaleCli.run(Map.of(), "jobs", "--url", api.url(), "--token", "t0ken", "show", ID);

        assertThat(result.exitCode()).isEqualTo(ExitCode.OK);
        assertThat(api.requests().getFirst().header("Authorization")).isEqualTo("Bearer t0ken");
    }
}
