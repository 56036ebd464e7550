package gale.store;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sqlite.SQLiteDataSource;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class JobStoreTest {

    @TempDir
    Path dir;

    @Test
    void aResultsStreamGetsTheFinishedInputsUpToTheFirstThatIsNot() {
        try (Store store = TestStores.open(dir)) {
            JobStore jobs = store.jobs();
            jobs.create(job("job-1", Optional.empty(), 4), Optional.empty(), List.of("0", "1", "2", "3"));
            jobs.record(List.of(done("job-1", 0), done("job-1", 2), done("job-1", 3)));

            assertThat(jobs.finishedRun("job-1", 0, 4)).extracting(JobItem::index).containsExactly(0);
            assertThat(jobs.finishedRun("job-1", 1, 4)).isEmpty();
            assertThat(jobs.finishedRun("job-1", 2, 3)).extracting(JobItem::index).containsExactly(2);

            jobs.record(List.of(done("job-1", 1)));
            assertThat(jobs.finishedRun("job-1", 0, 4)).extracting(JobItem::index).containsExactly(0, 1, 2, 3);
            assertThat(jobs.finishedRun("job-1", 0, 4).get(1).resultJson().map(b -> new String(b, UTF_8))).contains("{\"y\":1}");
        }
    }

    @Test
    void recordAndFinishStoresTheOutcomesAndTheEndTogetherAndNeverOverwritesAFinishedInput() {
        try (Store store = TestStores.open(dir)) {
            JobStore jobs = store.jobs();
            jobs.create(job("job-1", Optional.empty(), 2), Optional.empty(), List.of("0", "1"));
            jobs.record(List.of(done("job-1", 0)));
            Instant end = Instant.parse("2026-12-05T12:00:00Z");

            jobs.recordAndFinish(List.of(done("job-1", 1), new JobItem("job-1", 0, "0", "FAILED", Optional.empty(),
                    Optional.of("late"), Optional.empty(), Optional.of(500), 2, Optional.empty())), "job-1", "SUCCEEDED",
                    Optional.empty(), end);

            assertThat(jobs.finishedRun("job-1", 0, 2)).extracting(JobItem::state).containsExactly("DONE", "DONE");
            assertThat(jobs.find("job-1")).hasValueSatisfying(j -> {
                assertThat(j.state()).isEqualTo("SUCCEEDED");
                assertThat(j.finishedAt()).contains(end);
            });
        }
    }

    @Test
    void jobsWithTheSameContextStoreItOnceAndEachReadsIt() {
        try (Store store = TestStores.open(dir)) {
            JobStore jobs = store.jobs();
            jobs.create(job("job-a", Optional.of("key-1"), 1), Optional.of("{\"scale\":2}"), List.of("1"));
            jobs.create(job("job-b", Optional.of("key-1"), 1), Optional.of("{\"scale\":2}"), List.of("1"));
            jobs.create(job("job-c", Optional.of("key-2"), 1), Optional.of("{\"scale\":3}"), List.of("1"));
            jobs.create(job("job-none", Optional.empty(), 1), Optional.empty(), List.of("1"));
            jobs.markStarted("job-a", Instant.now());

            assertThat(jobs.context("job-a")).contains("{\"scale\":2}");
            assertThat(jobs.context("job-b")).contains("{\"scale\":2}");
            assertThat(jobs.context("job-c")).contains("{\"scale\":3}");
            assertThat(jobs.context("job-none")).isEmpty();
            assertThat(jobs.find("job-a")).hasValueSatisfying(j -> {
                assertThat(j.state()).isEqualTo("RUNNING");
                assertThat(j.contextKey()).contains("key-1");
            });
            int contexts = store.jdbi().withHandle(h -> h.createQuery("SELECT COUNT(*) FROM job_contexts").mapTo(Integer.class).one());
            assertThat(contexts).isEqualTo(2);
        }
    }

    @Test
    void aContextWithoutAKeyIsRefused() {
        try (Store store = TestStores.open(dir)) {
            assertThatThrownBy(() -> store.jobs().create(job("job-x", Optional.empty(), 1), Optional.of("{}"), List.of("1")))
                    .hasMessageContaining("context key");
        }
    }

    private static JobRow job(String id, Optional<String> contextKey, int inputs) {
        return new JobRow(id, "f", "QUEUED", "{}", contextKey, inputs, Optional.empty(), Instant.now(), Optional.empty(),
                Optional.empty());
    }

    private static JobItem done(String jobId, int index) {
        return new JobItem(jobId, index, Integer.toString(index), "DONE", Optional.of(("{\"y\":" + index + "}").getBytes(UTF_8)), Optional.empty(),
                Optional.empty(), Optional.of(200), 1, Optional.of(1.0));
    }
}
