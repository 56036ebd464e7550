package gale.cli;

import static gale.cli.Jobs.ID;
import static gale.cli.Jobs.job;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import gale.client.GaleClient;
import gale.client.Job;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class JobProgressTest {

    static final String RUNNING = job("RUNNING", 3000, 398, 2, 0).replace("\"etaMs\": null", "\"etaMs\": 26315");

    FakeApi api;
    GaleClient client;
    ByteArrayOutputStream err = new ByteArrayOutputStream();

    @BeforeEach
    void start() throws IOException {
        api = new FakeApi().on("GET /v1/jobs/" + ID, 200, RUNNING);
        client = new GaleClient(URI.create(api.url()), "t0ken");
    }

    @AfterEach
    void stop() {
        client.close();
        api.close();
    }

    @Test
    void drawsABarWithDoneOfTotalFailuresRateAndEta() {
        Job job = client.job(ID);

        assertThat(JobProgress.bar(job)).isEqualTo("[###.....................] 398/3000  2 failed  95/s  ETA 26.3 s");
    }

    @Test
    void writesAPlainLineForLogs() {
        Job job = client.job(ID);

        assertThat(JobProgress.line(job)).isEqualTo("job-7f3a9c RUNNING: 398/3000 done, 2 failed, 95/s, ETA 26.3 s");
    }

    @Test
    void printsAPlainLineEveryIntervalWhenNoOneWatches() throws InterruptedException {
        try (JobProgress progress = new JobProgress(client, ID, stream(err), false, Duration.ofMillis(20))) {
            await().atMost(Duration.ofSeconds(10)).until(() -> err.toString(UTF_8).lines().count() >= 2);
        }

        assertThat(err.toString(UTF_8)).startsWith("job-7f3a9c RUNNING: 398/3000 done, 2 failed, 95/s, ETA 26.3 s\n");
    }

    @Test
    void redrawsTheBarInPlaceAndTakesItDownWhenClosed() throws InterruptedException {
        try (JobProgress progress = new JobProgress(client, ID, stream(err), true, Duration.ofMillis(20))) {
            await().atMost(Duration.ofSeconds(10)).until(() -> err.toString(UTF_8).contains("ETA"));
        }

        String written = err.toString(UTF_8);
        assertThat(written).startsWith("\r[###.....").doesNotContain("\n");
        assertThat(written).endsWith("\r" + " ".repeat(JobProgress.bar(client.job(ID)).length()) + "\r");
    }

    private static PrintStream stream(ByteArrayOutputStream bytes) {
        return new PrintStream(bytes, true, UTF_8);
    }
}
