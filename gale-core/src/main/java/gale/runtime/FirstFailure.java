package gale.runtime;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The one-way life of an instance (starting → ready → dead), shared by the runtimes'
 * instances: the first failure recorded is the one every later call sees. A crash while
 * stopping on purpose counts as stopped, and a crash the cgroup's OOM killer caused
 * counts as a memory failure, so callers read the cause rather than a symptom.
 */
public final class FirstFailure {

    private static final Logger LOG = LoggerFactory.getLogger(FirstFailure.class);

    private final String instanceId;
    private final InstanceSpec spec;
    private final Optional<Isolation.Cgroup> cgroup;
    private final AtomicReference<InstanceFailure> failure = new AtomicReference<>();
    private final CompletableFuture<String> ready = new CompletableFuture<>();
    private final CompletableFuture<InstanceFailure> terminated = new CompletableFuture<>();
    private volatile boolean stopping;

    /** @param cgroup the instance's cgroup, if it runs in one (its OOM kills become memory failures) */
    public FirstFailure(String instanceId, InstanceSpec spec, Optional<Isolation.Cgroup> cgroup) {
        this.instanceId = instanceId;
        this.spec = spec;
        this.cgroup = cgroup;
    }

    /** Completes with the calling convention once user code has loaded; fails with {@link InstanceFailedException}. */
    public CompletableFuture<String> ready() {
        return ready;
    }

    /** Completes once, with the reason, when the instance can serve no more. */
    public CompletableFuture<InstanceFailure> terminated() {
        return terminated;
    }

    public Optional<InstanceFailure> get() {
        return Optional.ofNullable(failure.get());
    }

    /** The failure recorded so far, or null: for the checks on every call. */
    public InstanceFailure current() {
        return failure.get();
    }

    /** From now on a crash is the stop Gale asked for. */
    public void stopping() {
        stopping = true;
    }

    public boolean isStopping() {
        return stopping;
    }

    /** True in a cgroup: the kernel enforces the memory limit, so the pool's watchdog need not. */
    public boolean memoryLimitEnforced() {
        return cgroup.isPresent();
    }

    public Optional<Isolation.Cgroup> cgroup() {
        return cgroup;
    }

    /**
     * Records {@code reason} unless a failure was recorded before.
     *
     * @return the failure recorded now (after the adjustments above); empty when an earlier one stands,
     *         in which case the caller has nothing to tear down
     */
    public Optional<InstanceFailure> record(InstanceFailure reason) {
        if (stopping && (reason.kind() == InstanceFailure.Kind.CRASHED || reason.kind() == InstanceFailure.Kind.LOST)) {
            reason = new InstanceFailure(InstanceFailure.Kind.STOPPED, "stopped");
        }
        if (cgroup.isPresent() && failure.get() == null) reason = cgroup.get().explain(reason);
        if (!failure.compareAndSet(null, reason)) return Optional.empty();
        if (reason.kind() != InstanceFailure.Kind.STOPPED) {
            LOG.info("instance {} ({}) down: {}", instanceId, spec.label(), reason.message());
        }
        return Optional.of(reason);
    }

    /** Once the caller has torn the instance down: {@link #ready} fails and {@link #terminated} completes. */
    public void end(InstanceFailure reason) {
        ready.completeExceptionally(new InstanceFailedException(reason));
        terminated.complete(reason);
    }
}
