package gale.usage;

import gale.runtime.Instance;
import gale.runtime.UsageCounters;
import gale.store.UsageRow;
import gale.store.UsageStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.DoubleConsumer;

/**
 * Measures what functions use (docs/cost.md): calls and their billed durations, CPU time, memory,
 * instance time; per function version per minute, and the share of it each map job used.
 *
 * <p>One platform thread, the sampler, reads every live instance's {@link UsageCounters} once a
 * second (five times a second while a job with a CPU budget runs), drains the calls counted on
 * their path ({@link InstanceUsage}), and adds both to minutes kept in memory, which it writes to
 * the store in one transaction every few seconds (a group commit), when asked ({@link #flush}), and
 * when it stops. No call's path reads a file or the store for this.
 *
 * <p>An instance's CPU time in one sample goes to its function version; when map jobs' tasks ran on
 * it, each job also gets a share in proportion to the time its calls kept the instance busy (calls
 * of other owners, HTTP or other jobs, take the rest). CPU spent while no call ran (loading, idle
 * threads) is the function's alone.
 */
public final class UsageMeter implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(UsageMeter.class);
    static final Duration SAMPLE_INTERVAL = Duration.ofSeconds(1);
    /** While a job with a CPU budget runs: it stops this soon after its budget is spent. */
    static final Duration BUDGET_SAMPLE_INTERVAL = Duration.ofMillis(200);
    static final Duration FLUSH_INTERVAL = Duration.ofSeconds(5);
    /** How long an instance that ended may take to give its last reading before it is let go without it. */
    private static final Duration LAST_READING_WAIT = Duration.ofSeconds(30);
    private static final long MINUTE_MS = 60_000;

    /** A meter that counts nothing and never runs: for pools made without one (tests). */
    public static final UsageMeter DISABLED = new UsageMeter(Optional.empty(), Clock.systemUTC());

    private final Optional<UsageStore> store;
    private final Clock clock;
    private final Set<InstanceUsage> live = ConcurrentHashMap.newKeySet();
    private final LinkedBlockingQueue<Request> requests = new LinkedBlockingQueue<>();
    private final Map<String, Budget> budgets = new ConcurrentHashMap<>();
    // The sampler thread's own.
    private final Map<MinuteKey, MinuteUsage> pending = new HashMap<>();
    private long lastFlushNanos = System.nanoTime();
    private boolean failing;
    private Thread sampler;

    public UsageMeter(UsageStore store, Clock clock) {
        this(Optional.of(store), clock);
    }

    private UsageMeter(Optional<UsageStore> store, Clock clock) {
        this.store = store;
        this.clock = clock;
    }

    private sealed interface Request {
        record Flush(CompletableFuture<Void> done) implements Request {
        }

        record Watch(Budget budget) implements Request {
        }

        record Stop(CompletableFuture<Void> done) implements Request {
        }
    }

    /** A map job's CPU budget: {@code onSpent} runs once, on the sampler thread (it must not block), when it is reached. */
    private static final class Budget {
        final String jobId;
        final long maxNanos;
        final DoubleConsumer onSpent;
        volatile long spentNanos;
        /** Set once what the job used before is read from the store; samples before that are in the store by then. */
        boolean counting;
        boolean fired;

        Budget(String jobId, long maxNanos, DoubleConsumer onSpent) {
            this.jobId = jobId;
            this.maxNanos = maxNanos;
            this.onSpent = onSpent;
        }
    }

    /** Starts counting an instance's calls and sampling its counters; call as soon as it exists. */
    public InstanceUsage track(Instance instance) {
        var usage = new InstanceUsage(instance.spec(), instance.id(), instance.usageCounters(), System.nanoTime());
        if (this != DISABLED) live.add(usage);
        return usage;
    }

    /** Starts the sampler thread. */
    public void start() {
        sampler = Thread.ofPlatform().name("gale-usage-sampler").daemon().start(this::run);
    }

    /**
     * Samples every instance now and writes what is pending; completes once it is in the store (at once
     * when the meter does not run).
     */
    public CompletableFuture<Void> flush() {
        if (sampler == null || !sampler.isAlive()) return CompletableFuture.completedFuture(null);
        var done = new CompletableFuture<Void>();
        requests.add(new Request.Flush(done));
        return done;
    }

    /**
     * Watches a map job's CPU time (what it used before, in the store, counts too, e.g. before a restart or
     * a redrive): {@code onSpent} gets the CPU-seconds used once they reach {@code maxCpuSeconds}. It runs
     * on the sampler thread and must not block. {@link #unwatch} when the job ends.
     */
    public void watchBudget(String jobId, double maxCpuSeconds, DoubleConsumer onSpent) {
        var budget = new Budget(jobId, Math.round(maxCpuSeconds * 1e9), onSpent);
        budgets.put(jobId, budget);
        requests.add(new Request.Watch(budget));
    }

    public void unwatch(String jobId) {
        budgets.remove(jobId);
    }

    /**
     * CPU-seconds a job's tasks used so far: for a watched job as of the last sample, else as stored (the
     * last few seconds may not be written yet); empty for a meter without a store.
     */
    public OptionalDouble cpuSecondsOf(String jobId) {
        Budget budget = budgets.get(jobId);
        if (budget != null && budget.counting) return OptionalDouble.of(budget.spentNanos / 1e9);
        return store.map(s -> OptionalDouble.of(s.jobCpuMicros(jobId) / 1e6)).orElse(OptionalDouble.empty());
    }

    /** Takes a last sample, writes what is pending, and stops the sampler. */
    @Override
    public void close() {
        if (sampler == null || !sampler.isAlive()) return;
        var done = new CompletableFuture<Void>();
        requests.add(new Request.Stop(done));
        try {
            done.get(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            LOG.warn("the usage sampler did not stop in time: {}", e.toString());
        }
    }

    // ---- the sampler thread

    private void run() {
        long nextSample = System.nanoTime() + SAMPLE_INTERVAL.toNanos();
        while (true) {
            Request request;
            try {
                request = requests.poll(Math.max(0, nextSample - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (InterruptedException e) {
                return;
            }
            try {
                if (request == null) {
                    sample();
                    if (System.nanoTime() - lastFlushNanos >= FLUSH_INTERVAL.toNanos()) write();
                } else if (!handle(request)) {
                    return;
                }
            } catch (RuntimeException e) {
                LOG.error("the usage sampler failed; it goes on", e);
            }
            if (request == null || nextSample - System.nanoTime() <= 0) {
                nextSample = System.nanoTime() + (budgets.isEmpty() ? SAMPLE_INTERVAL : BUDGET_SAMPLE_INTERVAL).toNanos();
            }
        }
    }

    /** @return false once the sampler is to stop */
    private boolean handle(Request request) {
        switch (request) {
            case Request.Flush flush -> {
                sample();
                write();
                if (failing) flush.done().completeExceptionally(new IllegalStateException("usage could not be written to the store"));
                else flush.done().complete(null);
            }
            case Request.Watch watch -> {
                Budget budget = watch.budget();
                if (budgets.get(budget.jobId) != budget) return true; // unwatched already
                write(); // so that what the job used until now is all in the store, and counted once
                budget.spentNanos = store.map(s -> s.jobCpuMicros(budget.jobId) * 1_000).orElse(0L);
                budget.counting = true;
                checkBudgets();
            }
            case Request.Stop stop -> {
                sample();
                write();
                stop.done().complete(null);
                return false;
            }
        }
        return true;
    }

    private record MinuteKey(long minuteMs, String function, int version, String jobId) {
    }

    /** One sample of every live instance into the minutes pending. */
    void sample() {
        long now = System.nanoTime();
        long minute = Math.floorDiv(clock.millis(), MINUTE_MS) * MINUTE_MS;
        Map<MinuteKey, Integer> instances = new HashMap<>();
        for (InstanceUsage u : live) {
            boolean lastReading = u.isEnded() && u.counters.isClosed(); // closed before this read: nothing comes after it
            UsageCounters.Reading reading = u.counters.read();
            long cpu = Math.max(0, reading.cpuNanos() - u.sampledCpuNanos);
            u.sampledCpuNanos = Math.max(u.sampledCpuNanos, reading.cpuNanos());
            long until = u.aliveUntil(now);
            long alive = Math.max(0, until - u.sampledAtNanos);
            u.sampledAtNanos = Math.max(u.sampledAtNanos, until);
            InstanceUsage.Drained drained = u.drain(now);
            long peakMemory = Math.max(reading.peakMemoryBytes(), reading.memoryBytes());
            String source = u.counters.source().code();

            MinuteKey whole = new MinuteKey(minute, u.spec.function(), u.spec.version(), InstanceUsage.FUNCTION);
            minute(whole, u, source).add(drained.all(), alive, cpu, peakMemory);
            if (alive > 0 || !drained.all().isZero()) instances.merge(whole, 1, Integer::sum);
            attributeToJobs(u, drained, cpu, peakMemory, minute, source, instances);

            if (lastReading || (u.isEnded() && now - u.aliveUntil(now) > LAST_READING_WAIT.toNanos())) live.remove(u);
        }
        instances.forEach((key, count) -> pending.get(key).peakInstances(count));
        checkBudgets();
    }

    /** Each job whose calls ran on the instance gets its calls, and the CPU time in proportion to its busy time. */
    private void attributeToJobs(InstanceUsage u, InstanceUsage.Drained drained, long cpu, long peakMemory, long minute,
                                 String source, Map<MinuteKey, Integer> instances) {
        long ownersBusy = 0;
        for (CallTally.Delta delta : drained.owners().values()) ownersBusy += delta.busyNanos();
        for (var owner : drained.owners().entrySet()) {
            if (owner.getKey().equals(InstanceUsage.FUNCTION)) continue;
            CallTally.Delta delta = owner.getValue();
            long jobCpu = ownersBusy == 0 ? 0 : Math.round((double) cpu * delta.busyNanos() / ownersBusy);
            MinuteKey key = new MinuteKey(minute, u.spec.function(), u.spec.version(), owner.getKey());
            minute(key, u, source).add(delta, delta.busyNanos(), jobCpu, peakMemory);
            instances.merge(key, 1, Integer::sum);
            Budget budget = budgets.get(owner.getKey());
            if (budget != null && budget.counting) budget.spentNanos += jobCpu;
        }
    }

    private MinuteUsage minute(MinuteKey key, InstanceUsage u, String source) {
        MinuteUsage m = pending.computeIfAbsent(key, k -> new MinuteUsage((int) u.spec.config().memory().megabytes(), u.spec.config().cpu()));
        m.source = source;
        return m;
    }

    private void checkBudgets() {
        for (Budget budget : budgets.values()) {
            if (budget.counting && !budget.fired && budget.spentNanos >= budget.maxNanos) {
                budget.fired = true;
                try {
                    budget.onSpent.accept(budget.spentNanos / 1e9);
                } catch (RuntimeException e) {
                    LOG.error("JobID {}: stopping at its CPU budget failed", budget.jobId, e);
                }
            }
        }
    }

    /** Writes the minutes pending in one transaction; on failure keeps them for the next attempt. */
    void write() {
        lastFlushNanos = System.nanoTime();
        if (pending.isEmpty() || store.isEmpty()) return;
        List<UsageRow> rows = new ArrayList<>(pending.size());
        pending.forEach((key, m) -> rows.add(m.row(key.minuteMs(), key.function(), key.version(), key.jobId())));
        try {
            store.get().add(rows);
            pending.clear();
            if (failing) LOG.info("usage is written to the store again");
            failing = false;
        } catch (RuntimeException e) {
            if (!failing) LOG.warn("could not write usage to the store ({}); it is kept and written later", e.getMessage());
            failing = true;
        }
    }
}
