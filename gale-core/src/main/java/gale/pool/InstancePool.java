package gale.pool;

import gale.config.FunctionConfig;
import gale.runtime.Instance;
import gale.runtime.InstanceFailure;
import gale.runtime.InstanceSpec;
import gale.runtime.InvokeRequest;
import gale.runtime.InvokeResult;
import gale.usage.InstanceUsage;
import gale.usage.UsageMeter;
import gale.util.Deadlines;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;

/**
 * The instances of one function version, scaled between min and max by demand.
 *
 * <p>A call {@linkplain #acquire borrows} a slot on an instance (each instance has
 * {@code concurrency} slots) and gives it back by closing its {@link Lease}. When no
 * slot is free the call waits in a FIFO queue, bounded by {@code maxQueue} beyond the
 * capacity that is starting or may still start, and more instances are started up to {@code maxInstances}.
 * A freed or newly ready slot is handed straight to the oldest waiter, so late arrivals
 * never overtake. Waiting is bounded by the call's deadline (one deadline for the whole
 * call, computed once), never by a hidden timeout of its own.
 *
 * <p>All state changes happen under one lock per pool; no lock is shared between pools,
 * so a slow function never delays another. Starting an instance happens outside the lock,
 * HikariCP's way: a slot is reserved under the lock, the runtime starts the instance on a
 * starter thread, and the slot takes the instance once it exists, so a slow start never
 * holds up releases, hand-offs or upkeep of the pool.
 *
 * <p>Each instance is tracked by the {@link UsageMeter} from the moment it exists, and calls made
 * through a lease ({@link Lease#invoke}) are counted for it, and for the map job that borrowed it.
 */
public final class InstancePool implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(InstancePool.class);
    /** How long an instance asked to stop may take to exit before it is killed. */
    private static final Duration STOP_GRACE = Duration.ofSeconds(5);
    /** Where instances are started and stopped: both park (spawning a process, waiting for an exit), so virtual threads will do. */
    private static final Executor VIRTUAL_TASKS = Thread::startVirtualThread;

    private final InstanceSpec spec;
    private final FunctionConfig config;
    private final Function<InstanceSpec, Instance> starter;
    private final UsageMeter usage;
    private final ReentrantLock lock = new ReentrantLock();
    private final List<Slot> slots = new ArrayList<>();
    private final ArrayDeque<Waiter> waiters = new ArrayDeque<>();
    /** Map-job calls: served only when no HTTP call waits, and never rejected (jobs bound themselves). */
    private final ArrayDeque<Waiter> background = new ArrayDeque<>();
    private final CompletableFuture<Void> drained = new CompletableFuture<>();
    private boolean draining;
    private Optional<InstanceFailure> lastStartFailure = Optional.empty();

    public InstancePool(InstanceSpec spec, Function<InstanceSpec, Instance> starter, UsageMeter usage) {
        this.spec = spec;
        this.config = spec.config();
        this.starter = starter;
        this.usage = usage;
    }

    /** A pool whose instances' usage is not measured. */
    public InstancePool(InstanceSpec spec, Function<InstanceSpec, Instance> starter) {
        this(spec, starter, UsageMeter.DISABLED);
    }

    public InstanceSpec spec() {
        return spec;
    }

    /**
     * One instance's bookkeeping; guarded by the pool lock. A slot is reserved before its
     * instance exists: {@code instance} is null until the starter hands it over.
     */
    private static final class Slot {
        Instance instance;
        /** Set with {@code instance}. */
        InstanceUsage usage;
        /** Completes with the instance once started; fails when it could not be started. */
        final CompletableFuture<Instance> started = new CompletableFuture<>();
        boolean ready;
        long readyNanos;
        int inFlight;
        long served;
        long idleSinceNanos = System.nanoTime();
    }

    /** @param owner whose calls the lease makes: {@link InstanceUsage#FUNCTION} or a map job's id */
    private record Waiter(CompletableFuture<Lease> future, long arrivalNanos, String owner) {

        Waiter(String owner) {
            this(new CompletableFuture<>(), System.nanoTime(), owner);
        }
    }

    /** A borrowed slot on an instance. Close it exactly once when the call is over. */
    public final class Lease implements AutoCloseable {
        private final Slot slot;
        private final boolean coldStart;
        private final String owner;
        private boolean closed;

        private Lease(Slot slot, boolean coldStart, String owner) {
            this.slot = slot;
            this.coldStart = coldStart;
            this.owner = owner;
        }

        public Instance instance() {
            return slot.instance;
        }

        /** Runs one call on the instance ({@link Instance#invoke}), counted in its usage. */
        public InvokeResult invoke(InvokeRequest request) {
            return invoke(request, answer -> Optional.empty());
        }

        /**
         * Runs one call that may take a second request on the same instance: {@code followUp} looks at the first
         * answer and gives the request to send next, if any (a map job's input whose context the instance lacked).
         * Counted in the instance's usage as one call.
         */
        public InvokeResult invoke(InvokeRequest request, Function<InvokeResult, Optional<InvokeRequest>> followUp) {
            long started = slot.usage.callStarted(owner);
            try {
                InvokeResult answer = slot.instance.invoke(request);
                Optional<InvokeRequest> again = followUp.apply(answer);
                return again.isPresent() ? slot.instance.invoke(again.get()) : answer;
            } finally {
                slot.usage.callEnded(owner, started);
            }
        }

        /** Runs one call on the instance without blocking ({@link Instance#invokeAsync}), counted in its usage. */
        public CompletableFuture<InvokeResult> invokeAsync(InvokeRequest request) {
            long started = slot.usage.callStarted(owner);
            CompletableFuture<InvokeResult> result;
            try {
                result = slot.instance.invokeAsync(request);
            } catch (RuntimeException e) {
                slot.usage.callEnded(owner, started);
                throw e;
            }
            return result.whenComplete((outcome, error) -> slot.usage.callEnded(owner, started));
        }

        /** True when this call waited for its instance to start (it paid for a cold start). */
        public boolean coldStart() {
            return coldStart;
        }

        @Override
        public void close() {
            if (closed) return;
            closed = true;
            release(slot);
        }
    }

    /** Who is asking: interactive calls go before map-job tasks, so a big map never starves an endpoint. */
    public enum Priority { INTERACTIVE, BACKGROUND }

    /**
     * Borrows a slot for an interactive call, waiting until {@code deadline} at most.
     *
     * @throws PoolRejection when the queue is full, the deadline passes, no instance can start, or the pool drains
     */
    public Lease acquire(Instant deadline) {
        return acquire(deadline, Priority.INTERACTIVE);
    }

    /** Borrows a slot; background callers wait behind every interactive one. */
    public Lease acquire(Instant deadline, Priority priority) {
        return acquire(deadline, priority, InstanceUsage.FUNCTION);
    }

    /** Borrows a slot for a map job's task: a background call whose usage counts for the job too. */
    public Lease acquireForJob(Instant deadline, String jobId) {
        return acquire(deadline, Priority.BACKGROUND, jobId);
    }

    private Lease acquire(Instant deadline, Priority priority, String owner) {
        Waiter waiter = new Waiter(owner);
        Lease now = lendOrEnqueue(waiter, priority);
        return now != null ? now : await(waiter, deadline);
    }

    /**
     * Borrows a slot for an interactive call without blocking the caller: completes at once when
     * a slot is free, else when one is handed over, on the thread that freed it or started its
     * instance (the caller's next step must not block), or fails with a {@link PoolRejection}
     * as {@link #acquire} throws one, e.g. on the deadline thread.
     */
    public CompletableFuture<Lease> acquireAsync(Instant deadline) {
        Waiter waiter = new Waiter(InstanceUsage.FUNCTION);
        try {
            Lease now = lendOrEnqueue(waiter, Priority.INTERACTIVE);
            if (now != null) return CompletableFuture.completedFuture(now);
        } catch (PoolRejection rejection) {
            return CompletableFuture.failedFuture(rejection);
        }
        var timer = Deadlines.shared().at(deadline, () -> expire(waiter));
        return waiter.future().whenComplete((lease, error) -> timer.cancel());
    }

    /** A free slot's lease, or null once {@code waiter} is queued (and more instances are starting). */
    private Lease lendOrEnqueue(Waiter waiter, Priority priority) {
        lock.lock();
        try {
            if (draining) throw new PoolRejection.Closed(spec.label() + " is being replaced");
            boolean interactive = priority == Priority.INTERACTIVE;
            if (waiters.isEmpty() && (interactive || background.isEmpty())) {
                Slot free = freeSlot();
                if (free != null) return lend(free, false, waiter.owner());
            }
            if (interactive) {
                // Waiting for an instance that is starting, or that may still be started, is not queueing.
                int comingCapacity = (countStarting() + config.maxInstances() - slots.size()) * config.concurrency();
                if (waiters.size() >= config.maxQueue() + comingCapacity) {
                    throw new PoolRejection.QueueFull(spec.label() + ": all " + slots.size() + " instances are busy and "
                            + waiters.size() + " calls are waiting (max-queue " + config.maxQueue() + "); retry later");
                }
                waiters.add(waiter);
            } else {
                background.add(waiter);
            }
            scaleUp();
            return null;
        } finally {
            lock.unlock();
        }
    }

    /** The deadline of a waiting call passed: it leaves the queue, unless a slot was handed to it just before. */
    private void expire(Waiter waiter) {
        lock.lock();
        try {
            if (waiters.remove(waiter) || background.remove(waiter)) waiter.future().completeExceptionally(deadlinePassed());
        } finally {
            lock.unlock();
        }
    }

    private PoolRejection.DeadlinePassed deadlinePassed() {
        return new PoolRejection.DeadlinePassed(spec.label() + ": no instance became free within the timeout ("
                + gale.config.Durations.format(config.timeout()) + ")");
    }

    private Lease await(Waiter waiter, Instant deadline) {
        try {
            long remaining = Duration.between(Instant.now(), deadline).toMillis();
            return waiter.future().get(Math.max(0, remaining), TimeUnit.MILLISECONDS);
        } catch (TimeoutException | InterruptedException e) {
            if (e instanceof InterruptedException) Thread.currentThread().interrupt();
            lock.lock();
            try {
                if (waiters.remove(waiter) || background.remove(waiter)) throw deadlinePassed();
            } finally {
                lock.unlock();
            }
            return waiter.future().join(); // handed a lease just as the deadline passed
        } catch (ExecutionException e) {
            if (e.getCause() instanceof PoolRejection rejection) throw rejection;
            throw new IllegalStateException(e.getCause());
        }
    }

    /** Starts instances until there is one per {@code concurrency} calls running or waiting, up to max. */
    private void scaleUp() {
        int busy = 0;
        for (Slot s : slots) busy += s.inFlight;
        int demand = busy + waiters.size() + background.size();
        int wanted = Math.min(config.maxInstances(), Math.max(config.minInstances(), ceilDiv(demand, config.concurrency())));
        while (slots.size() < wanted) startInstance();
    }

    /** Reserves a slot and starts its instance outside the lock (called under the lock). */
    private Slot startInstance() {
        Slot slot = new Slot();
        slots.add(slot);
        VIRTUAL_TASKS.execute(() -> create(slot));
        return slot;
    }

    /** On a starter thread: the runtime starts the instance, and the slot takes it. */
    private void create(Slot slot) {
        Instance instance;
        try {
            instance = starter.apply(spec);
        } catch (RuntimeException e) {
            onStartFailed(slot, new InstanceFailure(InstanceFailure.Kind.CRASHED, e.getMessage()));
            return;
        }
        InstanceUsage counted = usage.track(instance);
        lock.lock();
        try {
            slot.instance = instance;
            slot.usage = counted;
        } finally {
            lock.unlock();
        }
        instance.ready().whenComplete((signature, error) -> {
            if (error == null) onReady(slot);
        });
        instance.terminated().thenAccept(failure -> {
            counted.ended();
            onTerminated(slot, failure);
        });
        slot.started.complete(instance); // a drain or close waiting for it acts now
    }

    private void onStartFailed(Slot slot, InstanceFailure failure) {
        LOG.warn("{}: {}", spec.label(), failure.message());
        lock.lock();
        try {
            slots.remove(slot);
            lastStartFailure = Optional.of(failure);
            if (slots.isEmpty()) failWaiters(failure); // else the instances there are serve them
            if (draining) finishDrainIfIdle();
        } finally {
            lock.unlock();
        }
        slot.started.completeExceptionally(new gale.runtime.InstanceFailedException(failure));
    }

    private void onReady(Slot slot) {
        List<Handed> handed;
        lock.lock();
        try {
            slot.ready = true;
            slot.readyNanos = System.nanoTime();
            slot.idleSinceNanos = slot.readyNanos;
            lastStartFailure = Optional.empty();
            handed = dispatch();
        } finally {
            lock.unlock();
        }
        handOver(handed);
    }

    private void onTerminated(Slot slot, InstanceFailure failure) {
        lock.lock();
        try {
            slots.remove(slot);
            // A lost instance (its zygote died) says nothing about the function: the next one may well start.
            boolean lost = failure.kind() == InstanceFailure.Kind.LOST;
            if (!lost && (failure.kind() == InstanceFailure.Kind.LOAD_FAILED || !slot.ready)) {
                lastStartFailure = Optional.of(failure);
                if (slots.isEmpty()) failWaiters(failure);
            }
            if (draining) {
                finishDrainIfIdle();
            } else if ((!waiters.isEmpty() || !background.isEmpty()) && (slot.ready || lost)) {
                scaleUp(); // replace a crashed or lost instance for the calls still waiting
            }
        } finally {
            lock.unlock();
        }
    }

    private void release(Slot slot) {
        List<Handed> handed;
        lock.lock();
        try {
            slot.inFlight--;
            slot.served++;
            slot.idleSinceNanos = System.nanoTime();
            handed = dispatch();
            if (draining) {
                if (slot.inFlight == 0) stopAsync(slot);
                finishDrainIfIdle();
            }
        } finally {
            lock.unlock();
        }
        handOver(handed);
    }

    /** A slot lent to a waiting call under the lock, to be handed over once the lock is released. */
    private record Handed(Waiter waiter, Lease lease) {
    }

    /**
     * Lends free slots to waiters, oldest interactive call first, then background calls. The
     * caller hands them over with {@link #handOver} after unlocking: a waiter's next step (sending
     * its request) then runs on the releasing thread, without a hand-off, and never under the lock.
     */
    private List<Handed> dispatch() {
        List<Handed> handed = List.of();
        while (!waiters.isEmpty() || !background.isEmpty()) {
            Slot free = freeSlot();
            if (free == null) break;
            Waiter w = waiters.isEmpty() ? background.poll() : waiters.poll();
            boolean cold = free.served == 0 && free.inFlight == 0 && free.readyNanos > w.arrivalNanos();
            if (handed.isEmpty()) handed = new ArrayList<>(2);
            handed.add(new Handed(w, lend(free, cold, w.owner())));
        }
        return handed;
    }

    private static void handOver(List<Handed> handed) {
        for (Handed h : handed) {
            if (!h.waiter().future().complete(h.lease())) h.lease().close(); // the waiter gave up at the same moment
        }
    }

    private Lease lend(Slot slot, boolean coldStart, String owner) {
        slot.inFlight++;
        return new Lease(slot, coldStart, owner);
    }

    /** The most recently used ready slot with room, so surplus instances stay idle and can be reaped. */
    private Slot freeSlot() {
        Slot best = null;
        for (Slot s : slots) {
            if (s.ready && s.inFlight < config.concurrency() && s.instance.failure().isEmpty()
                    && (best == null || s.idleSinceNanos > best.idleSinceNanos)) {
                best = s;
            }
        }
        return best;
    }

    private int countStarting() {
        int n = 0;
        for (Slot s : slots) if (!s.ready) n++;
        return n;
    }

    private void failWaiters(InstanceFailure failure) {
        var rejection = new PoolRejection.StartFailed(spec.label() + " could not start an instance: " + failure.message(), failure);
        Waiter w;
        while ((w = waiters.poll()) != null) w.future().completeExceptionally(rejection);
        while ((w = background.poll()) != null) w.future().completeExceptionally(rejection);
    }

    /**
     * Starts one instance and waits until it has loaded user code: the deploy check. The
     * instance stays as the pool's first warm instance.
     *
     * @return empty when it loaded, else why it failed
     */
    public Optional<InstanceFailure> startFirstInstance(Duration timeout) {
        Slot slot;
        lock.lock();
        try {
            slot = startInstance();
        } finally {
            lock.unlock();
        }
        try {
            slot.started.thenCompose(Instance::ready).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            return Optional.empty();
        } catch (ExecutionException e) {
            Throwable cause = e.getCause() instanceof java.util.concurrent.CompletionException c && c.getCause() != null ? c.getCause() : e.getCause();
            if (cause instanceof gale.runtime.InstanceFailedException f) return Optional.of(f.failure());
            return Optional.of(new InstanceFailure(InstanceFailure.Kind.CRASHED, String.valueOf(e.getCause())));
        } catch (TimeoutException e) {
            return Optional.of(new InstanceFailure(InstanceFailure.Kind.TIMEOUT,
                    "user code did not finish loading within " + gale.config.Durations.format(timeout)));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.of(new InstanceFailure(InstanceFailure.Kind.STOPPED, "interrupted"));
        }
    }

    /**
     * Periodic upkeep: stops instances idle longer than idle-timeout (down to
     * min-instances), keeps min-instances running, and kills instances over the memory limit.
     */
    public void maintain() {
        List<Slot> toStop = new ArrayList<>();
        List<Slot> toCheck;
        lock.lock();
        try {
            if (draining) return;
            long now = System.nanoTime();
            long idleNanos = config.idleTimeout().toNanos();
            int surplus = slots.size() - config.minInstances();
            for (Slot s : List.copyOf(slots)) {
                if (surplus <= 0) break;
                if (s.ready && s.inFlight == 0 && now - s.idleSinceNanos > idleNanos) {
                    slots.remove(s);
                    toStop.add(s);
                    surplus--;
                }
            }
            if (slots.size() < config.minInstances() && lastStartFailure.isEmpty()) scaleUp();
            toCheck = List.copyOf(slots);
        } finally {
            lock.unlock();
        }
        toStop.forEach(this::stopAsync);
        enforceMemory(toCheck);
    }

    private void enforceMemory(List<Slot> toCheck) {
        long limit = config.memory().bytes();
        for (Slot s : toCheck) {
            if (s.instance == null || s.instance.memoryLimitEnforced()) continue; // null: still starting
            long rss = s.instance.rssBytes();
            if (rss > limit) {
                LOG.warn("{}: instance {} uses {} MB, over its limit of {} MB; killing it", spec.label(),
                        s.instance.id(), rss >> 20, config.memory().megabytes());
                s.instance.kill(new InstanceFailure(InstanceFailure.Kind.MEMORY,
                        "memory limit exceeded (" + config.memory().megabytes() + " MB)"));
            }
        }
    }

    /**
     * Stops taking calls: idle instances stop now, busy ones when their calls end, and
     * waiting calls are still served. Completes when every instance is gone.
     */
    public CompletableFuture<Void> drain() {
        lock.lock();
        try {
            if (!draining) {
                draining = true;
                for (Slot s : slots) {
                    if (s.inFlight == 0) stopAsync(s);
                }
                finishDrainIfIdle();
            }
        } finally {
            lock.unlock();
        }
        return drained;
    }

    private void finishDrainIfIdle() {
        if (!waiters.isEmpty() || !background.isEmpty()) return;
        for (Slot s : slots) {
            if (s.inFlight > 0) return;
        }
        slots.forEach(this::stopAsync);
        drained.complete(null);
    }

    /** Kills every instance now and fails waiting calls. */
    @Override
    public void close() {
        List<Slot> all;
        lock.lock();
        try {
            draining = true;
            failWaiters(new InstanceFailure(InstanceFailure.Kind.STOPPED, spec.label() + " was stopped"));
            all = List.copyOf(slots);
        } finally {
            lock.unlock();
        }
        // A slot still starting is killed as soon as its instance exists.
        all.forEach(s -> s.started.thenAccept(i -> i.kill(new InstanceFailure(InstanceFailure.Kind.STOPPED, "stopped"))));
        drained.complete(null);
    }

    public PoolStats stats() {
        lock.lock();
        try {
            int ready = 0, busy = 0;
            for (Slot s : slots) {
                if (s.ready) ready++;
                busy += s.inFlight;
            }
            return new PoolStats(ready, slots.size() - ready, busy, waiters.size() + background.size());
        } finally {
            lock.unlock();
        }
    }

    /**
     * Calls that ready instances could take at once without waiting: 0 while any call waits. What a node tells its
     * peers, so they send it calls it can serve warm instead of starting an instance of their own.
     */
    public int freeSlots() {
        lock.lock();
        try {
            if (!waiters.isEmpty() || draining) return 0;
            int free = 0;
            for (Slot s : slots) {
                if (s.ready && s.instance.failure().isEmpty()) free += Math.max(0, config.concurrency() - s.inFlight);
            }
            return free;
        } finally {
            lock.unlock();
        }
    }

    /** Stops the slot's instance on a thread of its own (a stop waits out the grace period), once it has started. */
    private void stopAsync(Slot slot) {
        slot.started.thenAcceptAsync(instance -> instance.stop(STOP_GRACE), VIRTUAL_TASKS);
    }

    private static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }
}
