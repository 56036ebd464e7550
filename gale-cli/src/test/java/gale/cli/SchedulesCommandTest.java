package gale.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class SchedulesCommandTest {

    private static final String FIRING = """
            {"slot": "2026-03-01T10:05:00Z", "firedAt": "2026-03-01T10:05:00.004Z", "lateMs": 4,
             "finishedAt": "2026-03-01T10:05:00.090Z", "status": 200, "outcome": "ok", "requestId": "r-1", "error": null,
             "node": "n-7f3a"}""";
    private static final String SCHEDULE = """
            {"name": "report", "function": "report", "cron": "*/5 * * * *", "every": null, "timeZone": "Europe/Berlin",
             "description": "*/5 * * * * (Europe/Berlin)", "catchUp": "last", "payload": null, "paused": false,
             "nextFireAt": "2026-03-01T10:10:00Z", "lastFiring": %s,
             "createdAt": "2026-03-01T09:00:00Z", "updatedAt": "2026-03-01T09:00:00Z"}""";

    @RegisterExtension
    final FakeApi api = FakeApi.started();

    @Test
    void listsSchedulesWithTheirNextAndLastFiring() {
        api.on("GET /v1/schedules", 200, "[" + SCHEDULE.formatted(FIRING) + "]");

        GaleCli.Result result = GaleCli.run(api.env(), "schedules");

        assertThat(result.exitCode()).isEqualTo(ExitCode.OK);
        assertThat(result.out()).isEqualTo("""
                NAME    FUNCTION  SCHEDULE                     STATE   NEXT                  LAST                  OUTCOME
                report  report    */5 * * * * (Europe/Berlin)  ACTIVE  2026-03-01T10:10:00Z  2026-03-01T10:05:00Z  ok 200
                """);
    }

    @Test
    void saysHowToAddOneWhenThereAreNone() {
        api.on("GET /v1/schedules", 200, "[]");

        GaleCli.Result result = GaleCli.run(api.env(), "schedules", "--function", "report");

        assertThat(api.requests().getFirst().uri()).isEqualTo("/v1/schedules?function=report");
        assertThat(result.out()).startsWith("No schedules of report yet: add one with `gale deploy NAME --source DIR --schedule");
    }

    @Test
    void pausesResumesAndRemovesOne() {
        api.on("POST /v1/schedules/report/pause", 200, SCHEDULE.formatted("null").replace("\"paused\": false", "\"paused\": true"));
        api.on("POST /v1/schedules/report/resume", 200, SCHEDULE.formatted("null"));
        api.on("DELETE /v1/schedules/report", 204, "");

        assertThat(GaleCli.run(api.env(), "schedules", "pause", "report").out()).startsWith("Paused report");
        assertThat(GaleCli.run(api.env(), "schedules", "resume", "report").out())
                .isEqualTo("Resumed report: next at 2026-03-01T10:10:00Z.\n");
        assertThat(GaleCli.run(api.env(), "schedules", "rm", "report").out()).isEqualTo("Removed schedule report.\n");
    }

    @Test
    void showsTheFiringsOfOne() {
        api.on("GET /v1/schedules/report/firings", 200, "[" + FIRING + "]");

        GaleCli.Result result = GaleCli.run(api.env(), "schedules", "firings", "report");

        assertThat(result.out()).isEqualTo("""
                SLOT                  LATE  OUTCOME  NODE    REQUEST  ERROR
                2026-03-01T10:05:00Z  4 ms  ok 200   n-7f3a  r-1
                """);
    }

    @Test
    void aMissingScheduleIsAFailureWithTheServersMessage() {
        api.on("POST /v1/schedules/nope/pause", 404, "{\"error\": \"schedule 'nope' not found; gale schedules lists them\", \"status\": 404}");

        GaleCli.Result result = GaleCli.run(api.env(), "schedules", "pause", "nope");

        assertThat(result.exitCode()).isEqualTo(ExitCode.FAILED);
        assertThat(result.err()).contains("schedule 'nope' not found; gale schedules lists them");
    }
}
