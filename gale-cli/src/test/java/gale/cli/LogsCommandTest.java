package gale.cli;

import static org.assertj.core.api.Assertions.assertThat;

import gale.client.LogEntry;
import java.io.IOException;
import java.time.Instant;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class LogsCommandTest {

    @Test
    void formatsALineWithTimeFunctionVersionInstanceRequestAndStream() {
        LogEntry entry = new LogEntry(42, Instant.parse("2026-11-25T11:40:00.120Z"), "scorer", 3,
                Optional.of("scorer-3-ab12"), Optional.of("req-1234"), "stdout", "loaded model");

        assertThat(LogsCommand.format(entry))
                .isEqualTo("2026-11-25T11:40:00.120Z scorer v3 scorer-3-ab12 req-1234 stdout| loaded model");
    }

    @Test
    void showsDashesForLinesOutsideAnInstanceOrACall() {
        LogEntry entry = new LogEntry(1, Instant.parse("2026-11-25T11:40:00Z"), "scorer", 3,
                Optional.empty(), Optional.empty(), "gale", "deploying version 3");

        assertThat(LogsCommand.format(entry)).isEqualTo("2026-11-25T11:40:00.000Z scorer v3 - - gale| deploying version 3");
    }

    @Test
    void printsTheLatestLinesTheServerReturns() throws IOException {
        try (FakeApi api = new FakeApi().on("GET /v1/functions/scorer/logs", 200, """
                {"entries": [{"seq": 7, "time": "2026-11-25T11:40:00.123Z", "function": "scorer", "version": 3,
                  "instance": "scorer-3-ab12", "requestId": null, "stream": "stderr", "message": "warming up"}],
                 "next": 7}""")) {
            GaleCli.Result result = GaleCli.run(api.env(), "logs", "scorer", "--limit", "5");

            assertThat(result.out()).isEqualTo("2026-11-25T11:40:00.123Z scorer v3 scorer-3-ab12 - stderr| warming up\n");
            assertThat(api.requests().getFirst().uri()).isEqualTo("/v1/functions/scorer/logs?limit=5");
        }
    }
}
