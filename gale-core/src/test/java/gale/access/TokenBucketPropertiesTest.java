package gale.access;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;
import net.jqwik.api.constraints.Size;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A key's rate limit never admits more than {@code burst + t / interval} requests in any span of time
 * {@code t}, under any pattern of arrivals and from many threads at once; and a refused request that
 * waits what the bucket said (Retry-After) gets through.
 */
class TokenBucketPropertiesTest {

    private static final long START = -5_000_000_000L; // nanoTime may be negative: nothing may assume otherwise

    @Property(tries = 300)
    void neverMoreThanBurstPlusRateTimesTheSpanAreAdmittedInAnyWindow(
            @ForAll @LongRange(min = 1, max = 1_000_000) long interval,
            @ForAll @IntRange(min = 1, max = 20) int burst,
            @ForAll @Size(min = 1, max = 300) List<@LongRange(min = 0, max = 3_000_000) Long> gaps) {
        var bucket = new TokenBucket(interval, burst, START);
        List<Long> admitted = new ArrayList<>();
        long now = START;
        for (long gap : gaps) {
            now += gap;
            if (bucket.take(now) == 0) admitted.add(now);
        }
        for (int i = 0; i < admitted.size(); i++) {
            for (int j = i; j < admitted.size(); j++) {
                long span = admitted.get(j) - admitted.get(i);
                long count = j - i + 1;
                assertThat((count - burst) * interval)
                        .as("%d admitted within %d ns (interval %d, burst %d)", count, span, interval, burst)
                        .isLessThanOrEqualTo(span);
            }
        }
    }

    @Property(tries = 300)
    void aRefusedRequestThatWaitsWhatTheBucketSaidIsAdmittedAndNotOneNanosecondEarlier(
            @ForAll @LongRange(min = 1, max = 1_000_000) long interval,
            @ForAll @IntRange(min = 1, max = 20) int burst,
            @ForAll @IntRange(min = 0, max = 60) int extraAtOnce) {
        var bucket = new TokenBucket(interval, burst, START);
        int admitted = 0;
        for (int i = 0; i < burst + extraAtOnce; i++) if (bucket.take(START) == 0) admitted++;
        assertThat(admitted).isEqualTo(burst); // a full bucket holds burst requests, no more
        long wait = bucket.take(START);
        assertThat(wait).isPositive();
        assertThat(bucket.take(START + wait - 1)).as("one nanosecond early").isPositive();
        assertThat(bucket.take(START + wait)).isZero();
    }

    @Property(tries = 50)
    void requestsRacingFromManyThreadsAtOneInstantGetExactlyTheBurst(
            @ForAll @IntRange(min = 1, max = 64) int burst,
            @ForAll @IntRange(min = 2, max = 8) int threads,
            @ForAll @IntRange(min = 1, max = 200) int requestsEach) throws InterruptedException {
        var bucket = new TokenBucket(1_000_000_000L, burst, START);
        var admitted = new AtomicInteger();
        var go = new CountDownLatch(1);
        List<Thread> racers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            racers.add(Thread.ofPlatform().start(() -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (int i = 0; i < requestsEach; i++) if (bucket.take(START) == 0) admitted.incrementAndGet();
            }));
        }
        go.countDown();
        for (Thread racer : racers) racer.join();
        assertThat(admitted.get()).isEqualTo(Math.min(burst, threads * requestsEach));
    }

    @Property(tries = 200)
    void anIdleBucketRefillsToItsBurstAndNoFurther(
            @ForAll @LongRange(min = 1, max = 1_000_000) long interval,
            @ForAll @IntRange(min = 1, max = 20) int burst,
            @ForAll @IntRange(min = 1, max = 1000) int idleIntervals) {
        var bucket = new TokenBucket(interval, burst, START);
        while (bucket.take(START) == 0) {
            // empty it
        }
        long later = START + idleIntervals * interval;
        int admitted = 0;
        while (bucket.take(later) == 0) admitted++;
        assertThat(admitted).isEqualTo(Math.min(burst, idleIntervals));
    }
}
