package gale.pool;

import gale.config.ConfigResolver;
import gale.config.FunctionConfig;
import gale.runtime.InstanceSpec;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@link InstancePool#acquireAsync}: the gateway's way in, where no thread waits for a slot. */
class InstancePoolAsyncTest {

    private static InstanceSpec spec(int concurrency, int maxInstances, int maxQueue, String timeout) {
        FunctionConfig config = ConfigResolver.fromMap("fn", Map.of("concurrency", concurrency,
                "maxInstances", maxInstances, "maxQueue", maxQueue, "timeout", timeout));
        return new InstanceSpec("fn", 1, config, Path.of("."), Optional.empty());
    }

    private enum Outcome { SERVED, QUEUE_FULL, OTHER }

    @Property(tries = 60)
    void everyAsyncCallEndsServedOrRefusedAndSlotsStayWithinLimits(
            @ForAll @IntRange(min = 1, max = 3) int concurrency,
            @ForAll @IntRange(min = 1, max = 4) int maxInstances,
            @ForAll @IntRange(min = 0, max = 6) int maxQueue,
            @ForAll @IntRange(min = 1, max = 32) int callers,
            @ForAll @IntRange(min = 0, max = 4) int startMillis) {
        var all = new ConcurrentLinkedQueue<FakeInstance>();
        var pool = new InstancePool(spec(concurrency, maxInstances, maxQueue, "10s"), s -> {
            var instance = new FakeInstance(s, Duration.ofMillis(startMillis), true);
            all.add(instance);
            return instance;
        });
        List<CompletableFuture<Outcome>> calls = new ArrayList<>();
        for (int i = 0; i < callers; i++) {
            // Each call holds its slot briefly on a thread of its own, as a call in flight does, then gives it back.
            calls.add(pool.acquireAsync(Instant.now().plusSeconds(10)).thenComposeAsync(lease -> {
                var instance = (FakeInstance) lease.instance();
                instance.enter();
                try {
                    Thread.sleep(1);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                } finally {
                    instance.exit();
                    lease.close();
                }
                return CompletableFuture.completedFuture(Outcome.SERVED);
            }, Thread::startVirtualThread).exceptionally(e -> e instanceof CompletionException c && c.getCause() instanceof PoolRejection.QueueFull
                    || e instanceof PoolRejection.QueueFull ? Outcome.QUEUE_FULL : Outcome.OTHER));
        }
        var outcomes = calls.stream().map(c -> c.orTimeout(20, TimeUnit.SECONDS).join()).toList();

        assertThat(outcomes).doesNotContain(Outcome.OTHER);
        assertThat(outcomes.stream().filter(o -> o == Outcome.SERVED).count()).as("calls that fit in instances plus queue are served")
                .isGreaterThanOrEqualTo(Math.min(callers, maxQueue + (long) concurrency));
        assertThat(all).allSatisfy(i -> assertThat(i.maxInFlight.get()).isLessThanOrEqualTo(concurrency));
        assertThat(pool.stats().busy()).isZero();
        assertThat(pool.stats().waiting()).isZero();
        pool.close();
    }

    @Test
    void aSlotFreedForAWaitingCallIsHandedOverOutsideThePoolLock() {
        var pool = new InstancePool(spec(1, 1, 5, "10s"), s -> new FakeInstance(s, Duration.ZERO, true));
        var first = pool.acquireAsync(Instant.now().plusSeconds(10)).join();
        var handedOver = new CompletableFuture<Boolean>();
        pool.acquireAsync(Instant.now().plusSeconds(10)).thenAccept(lease -> {
            // Another thread must get the pool's lock now; it could not if this ran under it.
            var other = CompletableFuture.supplyAsync(pool::stats, Thread::startVirtualThread);
            handedOver.complete(other.completeOnTimeout(null, 10, TimeUnit.SECONDS).join() != null);
            lease.close();
        });

        first.close();

        assertThat(handedOver.orTimeout(20, TimeUnit.SECONDS).join()).as("the pool's lock was free in the waiter's next step").isTrue();
        pool.close();
    }

    @Test
    void aCallStillWaitingAtItsDeadlineLeavesTheQueueWithDeadlinePassed() {
        var pool = new InstancePool(spec(1, 1, 5, "10s"), s -> new FakeInstance(s, Duration.ZERO, true));
        var held = pool.acquireAsync(Instant.now().plusSeconds(10)).join();

        var late = pool.acquireAsync(Instant.now().plusMillis(50));

        assertThatThrownBy(() -> late.orTimeout(20, TimeUnit.SECONDS).join()).hasCauseInstanceOf(PoolRejection.DeadlinePassed.class)
                .hasMessageContaining("no instance became free within the timeout");
        assertThat(pool.stats().waiting()).isZero();
        held.close();
        assertThat(pool.stats().busy()).isZero();
        pool.close();
    }
}
