package gale.store;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/** Usage per version per minute (V12), on SQLite and, in the store-on-postgresql run, on PostgreSQL. */
class UsageStoreTest {

    @TempDir
    Path dir;

    private static UsageRow minute(long minuteMs, String function, int version, String job, long calls, long cpuMicros, long peakMemory,
                                   int peakInstances) {
        return new UsageRow(minuteMs, minuteMs, function, version, job, 256, 1.0, calls, calls * 5_000, calls * 5, calls * 100, calls * 100,
                60_000, cpuMicros, cpuMicros, peakMemory, peakInstances, "cgroup-v1");
    }

    @Test
    void aMinuteWrittenAgainAddsItsCountsAndKeepsTheLargerPeaks() {
        try (Store store = TestStores.open(dir)) {
            UsageStore usage = store.usage();
            usage.add(List.of(minute(60_000, "scorer", 1, "", 10, 2_000, 50 << 20, 2)));
            usage.add(List.of(minute(60_000, "scorer", 1, "", 5, 1_000, 40 << 20, 3)));

            UsageRow sum = usage.functions(0, Optional.of("scorer")).getFirst();

            assertThat(sum.calls()).isEqualTo(15);
            assertThat(sum.cpuMicros()).isEqualTo(3_000);
            assertThat(sum.billedMs100()).isEqualTo(1_500);
            assertThat(sum.instanceMs()).isEqualTo(120_000);
            assertThat(sum.peakMemoryBytes()).isEqualTo(50 << 20);
            assertThat(sum.peakInstances()).isEqualTo(3);
        }
    }

    @Test
    void sumsArePerVersionFromAMinuteOnAndJobRowsStayApart() {
        try (Store store = TestStores.open(dir)) {
            UsageStore usage = store.usage();
            usage.add(List.of(
                    minute(60_000, "scorer", 1, "", 10, 2_000, -1, 1),
                    minute(120_000, "scorer", 1, "", 4, 9_000, -1, 1),
                    minute(120_000, "scorer", 2, "", 7, 1_000, -1, 1),
                    minute(120_000, "scorer", 2, "job-1", 3, 600, -1, 1),
                    minute(180_000, "other", 1, "", 1, 100, -1, 1)));

            List<UsageRow> scorer = usage.functions(120_000, Optional.of("scorer"));
            assertThat(scorer).extracting(UsageRow::version).containsExactly(1, 2);
            assertThat(scorer).extracting(UsageRow::calls).containsExactly(4L, 7L); // job rows are a share, not added
            assertThat(scorer.getFirst().minuteMs()).isEqualTo(120_000);
            assertThat(usage.functions(0, Optional.empty())).extracting(UsageRow::function).containsExactly("other", "scorer", "scorer");
            assertThat(usage.functions(0, Optional.of("scorer")).getFirst().peakCpuMicros()).isEqualTo(9_000); // the busiest minute

            assertThat(usage.job("job-1")).singleElement().satisfies(row -> {
                assertThat(row.calls()).isEqualTo(3);
                assertThat(row.version()).isEqualTo(2);
            });
            assertThat(usage.jobCpuMicros("job-1")).isEqualTo(600);
            assertThat(usage.jobCpuMicros("job-none")).isZero();
        }
    }
}
