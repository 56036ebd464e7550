package gale.gateway;

import gale.gateway.CallHistory.Result;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class CallHistoryTest {

    private static final Duration[] BOUNDS = {Duration.ofMillis(1), Duration.ofMillis(2), Duration.ofMillis(5), Duration.ofMillis(10)};
    private static final long T0 = 1_800_000_000_000L; // a bucket's start
    private static final long SECOND = 1000;

    private final AtomicLong now = new AtomicLong(T0);
    private final CallHistory history = new CallHistory(BOUNDS, now::get);

    @Test
    void callsLandInTenSecondBucketsWithTheCurrentOneLast() {
        history.record("f", Result.OK, 1.5, true);
        history.record("f", Result.FUNCTION_ERROR, 3, false);
        now.set(T0 + 10 * SECOND + 1);
        history.record("f", Result.PLATFORM_ERROR, 0.5, false);

        CallHistory.Window w = history.window("f");
        int last = w.calls().length - 1;
        assertThat(w.calls().length).isEqualTo(360);
        assertThat(w.startMillis()[last]).isEqualTo(T0 + 10 * SECOND);
        assertThat(w.startMillis()[last - 1]).isEqualTo(T0);
        assertThat(w.calls()[last - 1]).isEqualTo(2);
        assertThat(w.functionErrors()[last - 1]).isEqualTo(1);
        assertThat(w.coldStarts()[last - 1]).isEqualTo(1);
        assertThat(w.calls()[last]).isEqualTo(1);
        assertThat(w.platformErrors()[last]).isEqualTo(1);
        assertThat(w.p50Ms()[last - 2]).isNaN(); // no calls: no percentile
        assertThat(history.lastHour("f")).isEqualTo(new CallHistory.Totals(3, 1, 1));
        assertThat(history.lastCall("f")).contains(Instant.ofEpochMilli(T0 + 10 * SECOND + 1));
    }

    @Test
    void anHourLaterABucketsSlotHoldsTheNewBucketAndTheOldCallsAreGone() {
        history.record("f", Result.OK, 1, false);
        history.record("f", Result.OK, 1, false);
        now.set(T0 + Duration.ofHours(1).toMillis());
        assertThat(history.lastHour("f")).isEqualTo(new CallHistory.Totals(0, 0, 0));
        history.record("f", Result.OK, 1, false); // the same slot as the first two

        assertThat(history.lastHour("f").calls()).isEqualTo(1);
        CallHistory.Window w = history.window("f");
        assertThat(w.calls()[w.calls().length - 1]).isEqualTo(1);
        assertThat(java.util.Arrays.stream(w.calls()).sum()).isEqualTo(1);
    }

    @Test
    void percentilesInterpolateWithinABinAsPrometheusHistogramQuantileDoes() {
        double[] bounds = {1, 2, 5, 10};
        assertThat(CallHistory.quantile(0.5, new int[] {0, 10, 0, 0, 0}, bounds)).isCloseTo(1.5, within(1e-9));
        assertThat(CallHistory.quantile(0.99, new int[] {0, 10, 0, 0, 0}, bounds)).isCloseTo(1.99, within(1e-9));
        assertThat(CallHistory.quantile(0.5, new int[] {4, 4, 2, 0, 0}, bounds)).isCloseTo(1.25, within(1e-9));
        assertThat(CallHistory.quantile(0.99, new int[] {4, 4, 2, 0, 0}, bounds)).isCloseTo(4.85, within(1e-9));
        assertThat(CallHistory.quantile(0.5, new int[] {10, 0, 0, 0, 0}, bounds)).as("the first bin starts at 0").isCloseTo(0.5, within(1e-9));
        assertThat(CallHistory.quantile(0.5, new int[] {0, 0, 0, 0, 3}, bounds)).as("beyond the bounds: the highest").isEqualTo(10);
        assertThat(CallHistory.quantile(0.5, new int[] {0, 0, 0, 0, 0}, bounds)).isNaN();
    }

    @Test
    void aCallOnABoundIsCountedInTheBinItBoundsAsPrometheusLeDoes() {
        history.record("f", Result.OK, 2.0, false); // le="0.002"
        CallHistory.Window w = history.window("f");
        assertThat(w.p99Ms()[w.p99Ms().length - 1]).isBetween(1.0, 2.0);
    }

    @Test
    void aBucketKeepsTheMostInstancesSeen() {
        history.noteInstances("f", 2);
        history.noteInstances("f", 5);
        history.noteInstances("f", 3);
        history.noteInstances("idle", 0);
        CallHistory.Window w = history.window("f");
        assertThat(w.instances()[w.instances().length - 1]).isEqualTo(5);
        assertThat(history.functions()).containsExactly("f"); // none is kept without a bucket
    }

    @Test
    void theLastCallBeforeARestartComesFromTheStoreUntilANewCall() {
        Instant before = Instant.ofEpochMilli(T0 - Duration.ofDays(2).toMillis());
        history.seedLastCalls(Map.of("old", before));
        assertThat(history.lastCall("old")).contains(before);
        assertThat(history.lastCall("never")).isEmpty();
        history.record("old", Result.OK, 1, false);
        assertThat(history.lastCall("old")).contains(Instant.ofEpochMilli(T0));
    }

    @Test
    void aDeletedFunctionsHistoryIsForgottenOnceItHasNothingInTheLastHour() {
        history.record("gone", Result.OK, 1, false);
        history.record("kept", Result.OK, 1, false);
        history.forgetIdle(Set.of("kept"));
        assertThat(history.functions()).containsExactlyInAnyOrder("gone", "kept"); // its calls still show for an hour
        now.set(T0 + Duration.ofHours(1).toMillis());
        history.forgetIdle(Set.of("kept"));
        assertThat(history.functions()).containsExactly("kept");
    }

    @Test
    void recordingACallAllocatesNothingOnceItsBucketExists() {
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long id = Thread.currentThread().threadId();
        history.record("hot", Result.OK, 3, false); // the series and its bucket
        long before = threads.getThreadAllocatedBytes(id);
        for (int i = 0; i < 100_000; i++) history.record("hot", i % 7 == 0 ? Result.FUNCTION_ERROR : Result.OK, i % 13, i % 5 == 0);
        long allocated = threads.getThreadAllocatedBytes(id) - before;
        assertThat(allocated).as("bytes allocated by 100,000 calls").isLessThan(4096); // what the measuring itself takes
        assertThat(history.lastHour("hot").calls()).isEqualTo(100_001);
    }

    /** However threads interleave, and across bucket boundaries, no call is lost or counted twice. */
    @Property(tries = 25)
    void concurrentCallsAreAllCounted(@ForAll @IntRange(min = 2, max = 8) int threadCount,
                                      @ForAll @IntRange(min = 1, max = 3000) int callsEach) throws InterruptedException {
        var clock = new AtomicLong(T0);
        var shared = new CallHistory(BOUNDS, () -> clock.addAndGet(7)); // 7 ms per read: many buckets, all within the hour
        var start = new CountDownLatch(1);
        var threads = new ArrayList<Thread>();
        for (int t = 0; t < threadCount; t++) {
            int errorsEvery = t + 2;
            threads.add(Thread.ofPlatform().start(() -> {
                try {
                    start.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (int i = 0; i < callsEach; i++) {
                    shared.record("f", i % errorsEvery == 0 ? Result.FUNCTION_ERROR : Result.OK, i % 20, false);
                }
            }));
        }
        start.countDown();
        for (Thread t : threads) t.join();
        long expectedErrors = 0;
        for (int t = 0; t < threadCount; t++) expectedErrors += (callsEach + t + 1) / (t + 2);
        CallHistory.Totals totals = shared.lastHour("f");
        assertThat(totals.calls()).isEqualTo((long) threadCount * callsEach);
        assertThat(totals.functionErrors()).isEqualTo(expectedErrors);
    }
}
