package gale.pool;

import gale.config.ConfigResolver;
import gale.config.FunctionConfig;
import gale.runtime.InstanceSpec;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/** Invariants of {@link InstancePool} under concurrent callers, for many pool shapes. */
class InstancePoolPropertiesTest {

    private static InstanceSpec spec(int concurrency, int maxInstances, int maxQueue) {
        FunctionConfig config = ConfigResolver.fromMap("fn", Map.of("concurrency", concurrency,
                "maxInstances", maxInstances, "maxQueue", maxQueue, "timeout", "10s"));
        return new InstanceSpec("fn", 1, config, Path.of("."), Optional.empty());
    }

    /** Outcome of one simulated call. */
    private enum Outcome { SERVED, QUEUE_FULL, DEADLINE, START_FAILED, OTHER }

    @Property(tries = 60)
    void slotsAndInstancesStayWithinLimitsAndEveryCallEnds(
            @ForAll @IntRange(min = 1, max = 3) int concurrency,
            @ForAll @IntRange(min = 1, max = 4) int maxInstances,
            @ForAll @IntRange(min = 0, max = 6) int maxQueue,
            @ForAll @IntRange(min = 1, max = 24) int callers,
            @ForAll @IntRange(min = 0, max = 4) int holdMillis,
            @ForAll @IntRange(min = 0, max = 8) int startMillis) throws InterruptedException {
        var all = new ConcurrentLinkedQueue<FakeInstance>();
        AtomicInteger liveAtMost = new AtomicInteger();
        var pool = new InstancePool(spec(concurrency, maxInstances, maxQueue), s -> {
            long live = all.stream().filter(i -> !i.isDead()).count() + 1;
            liveAtMost.accumulateAndGet((int) live, Math::max);
            var instance = new FakeInstance(s, Duration.ofMillis(startMillis), true);
            all.add(instance);
            return instance;
        });
        var outcomes = new ConcurrentLinkedQueue<Outcome>();
        var done = new CountDownLatch(callers);
        try (var threads = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int i = 0; i < callers; i++) {
                threads.submit(() -> {
                    try {
                        outcomes.add(call(pool, holdMillis));
                    } finally {
                        done.countDown();
                    }
                });
            }
            assertThat(done.await(20, TimeUnit.SECONDS)).as("every call ends").isTrue();
        }

        assertThat(all).allSatisfy(i -> assertThat(i.maxInFlight.get()).isLessThanOrEqualTo(concurrency));
        assertThat(liveAtMost.get()).isLessThanOrEqualTo(maxInstances);
        assertThat(outcomes).hasSize(callers).doesNotContain(Outcome.OTHER, Outcome.START_FAILED, Outcome.DEADLINE);
        long served = outcomes.stream().filter(o -> o == Outcome.SERVED).count();
        assertThat(served).as("calls that fit in instances plus queue are served")
                .isGreaterThanOrEqualTo(Math.min(callers, maxQueue + (long) concurrency));
        assertThat(pool.stats().busy()).isZero();
        assertThat(pool.stats().waiting()).isZero();
        pool.close();
    }

    @Property(tries = 30)
    void whenNoInstanceCanLoadEveryWaitingCallFailsFastInsteadOfHanging(
            @ForAll @IntRange(min = 1, max = 3) int maxInstances,
            @ForAll @IntRange(min = 1, max = 12) int callers) throws InterruptedException {
        var pool = new InstancePool(spec(1, maxInstances, 20), s -> new FakeInstance(s, Duration.ofMillis(2), false));
        var outcomes = new ConcurrentLinkedQueue<Outcome>();
        var done = new CountDownLatch(callers);
        try (var threads = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int i = 0; i < callers; i++) {
                threads.submit(() -> {
                    try {
                        outcomes.add(call(pool, 0));
                    } finally {
                        done.countDown();
                    }
                });
            }
            assertThat(done.await(5, TimeUnit.SECONDS)).as("no call waits for its deadline").isTrue();
        }
        assertThat(outcomes).hasSize(callers).containsOnly(Outcome.START_FAILED);
        pool.close();
    }

    private static Outcome call(InstancePool pool, int holdMillis) {
        try (var lease = pool.acquire(Instant.now().plusSeconds(10))) {
            var instance = (FakeInstance) lease.instance();
            instance.enter();
            try {
                Thread.sleep(holdMillis);
            } finally {
                instance.exit();
            }
            return Outcome.SERVED;
        } catch (PoolRejection.QueueFull e) {
            return Outcome.QUEUE_FULL;
        } catch (PoolRejection.DeadlinePassed e) {
            return Outcome.DEADLINE;
        } catch (PoolRejection.StartFailed e) {
            return Outcome.START_FAILED;
        } catch (InterruptedException | RuntimeException e) {
            return Outcome.OTHER;
        }
    }
}
