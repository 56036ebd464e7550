package gale.runtime;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * One running instance of a function version.
 *
 * <p>Life: starting → ready → dead, and never back. The first failure recorded is the
 * one every later call sees, so calls fail fast with the cause. {@link #kill} and
 * {@link #stop} are safe to call any number of times from any thread. A runtime
 * creates instances; the pool owns them and is the only one that stops them.
 */
public interface Instance {

    String id();

    InstanceSpec spec();

    /** Completes with the detected calling convention once user code has loaded; fails with {@link InstanceFailedException}. */
    CompletableFuture<String> ready();

    /** Why the instance stopped serving, once it has. */
    Optional<InstanceFailure> failure();

    /** Completes once, with the reason, when the instance can serve no more. */
    CompletableFuture<InstanceFailure> terminated();

    /**
     * Runs one call and waits for its result until the request's deadline. On timeout the
     * instance is killed, because user code may still be running and holding it.
     */
    InvokeResult invoke(InvokeRequest request);

    /**
     * Runs one call without blocking the caller for longer than it takes to send the request;
     * the result is as {@link #invoke} returns it. Dependent steps may run on the instance's
     * reader thread, so they must not block. This default runs {@link #invoke} on a virtual thread.
     */
    default CompletableFuture<InvokeResult> invokeAsync(InvokeRequest request) {
        return CompletableFuture.supplyAsync(() -> invoke(request), Thread::startVirtualThread);
    }

    /** Stops the instance at once with a reason every pending and later call will see. */
    void kill(InstanceFailure reason);

    /** Asks the instance to exit and waits up to {@code grace}, then kills it. */
    void stop(Duration grace);

    /** Measures resident memory in bytes (0 once gone). */
    long rssBytes();

    /** The last {@link #rssBytes()} measurement, without measuring again. */
    long lastRssBytes();

    /**
     * True when the kernel enforces the memory limit (a cgroup), so nothing else has to: the
     * pool's RSS watchdog, which cannot tell pages shared with a zygote from the instance's
     * own, leaves such instances alone.
     */
    default boolean memoryLimitEnforced() {
        return false;
    }

    /** The kernel's count of this instance's CPU time and memory (docs/cost.md); read on a platform thread only. */
    default UsageCounters usageCounters() {
        return UsageCounters.NONE;
    }
}
