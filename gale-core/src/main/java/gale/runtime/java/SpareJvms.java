package gale.runtime.java;

import gale.runtime.InstanceFailure;
import gale.runtime.InstanceSpec;
import gale.runtime.SocketInstance;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;

/**
 * One started JVM per Java version, kept ready off the request path, so that a cold start
 * takes it instead of waiting for a JVM to start, load its classes and say READY (most of a
 * Java cold start). A spare belongs to no pool until a cold start takes it: it is never
 * counted as a running or warm instance, billed, or scaled on; once taken it is an instance
 * like any other, reaped by its pool.
 *
 * <p>Invariants: at most one spare per version and {@link Budget#max} in all (the least
 * recently wanted goes first); spares are started off the request path, one at a time, by one
 * platform thread (starting a process is a long native call); a spare that died while waiting
 * is never handed out; a spare unused for {@link Budget#idleTimeout}, or whose version retired,
 * is killed. A version deployed with {@code prewarm = false} gets none.
 */
final class SpareJvms implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(SpareJvms.class);
    /** The longest one spare on its way to READY holds up the start of the next. */
    static final Duration START_GAP = Duration.ofSeconds(60);
    /**
     * How long after being asked a spare starts: a JVM starting next to the first calls of the
     * instance that was just taken slowed them from 2.8 to 5.3 ms (p50, bench/java_coldstart.sh).
     */
    static final Duration START_DELAY = Duration.ofSeconds(1);
    /** An idle spare asked to exit does so at once; one that does not is killed after this. */
    private static final Duration STOP_GRACE = Duration.ofSeconds(2);

    /**
     * How many spares a server keeps, and for how long.
     *
     * @param max         spares kept at most, over all versions; 0 keeps none
     * @param idleTimeout a spare no cold start took for this long is killed
     */
    record Budget(int max, Duration idleTimeout) {

        Budget {
            if (max < 0) throw new IllegalArgumentException("the number of spare JVMs cannot be negative, got " + max);
            if (idleTimeout.isNegative() || idleTimeout.isZero()) {
                throw new IllegalArgumentException("the idle timeout of spare JVMs must be positive, got " + idleTimeout);
            }
        }

        /** Eight spares (some 40 MB each), each kept for 10 minutes, as long as a Python zygote by default. */
        static Budget defaults() {
            return new Budget(8, Duration.ofMinutes(10));
        }
    }

    private record Spare(SocketInstance instance, long sinceNanos) {
    }

    private final Budget budget;
    private final Duration startGap;
    private final java.util.concurrent.Executor delayedStarter;
    private final Function<InstanceSpec, SocketInstance> launcher;
    private final ReentrantLock lock = new ReentrantLock();
    // Guarded by lock. Access order: the least recently wanted version first, the first to go over the budget.
    private final LinkedHashMap<InstanceSpec, Spare> spares = new LinkedHashMap<>(16, 0.75f, true);
    /** Versions whose spare is being started. */
    private final Set<InstanceSpec> starting = new HashSet<>();
    /** Bumped when a version retires: a spare asked for before is not kept. */
    private final Map<InstanceSpec, Long> generations = new HashMap<>();
    private boolean closed;
    private final ExecutorService starter = Executors.newSingleThreadExecutor(
            Thread.ofPlatform().name("gale-java-spares").daemon().factory());

    /** @param launcher starts an instance of a version (the same JVM, flags and sandbox as any of its instances) */
    SpareJvms(Budget budget, Function<InstanceSpec, SocketInstance> launcher) {
        this(budget, START_GAP, START_DELAY, launcher);
    }

    SpareJvms(Budget budget, Duration startGap, Duration startDelay, Function<InstanceSpec, SocketInstance> launcher) {
        this.budget = budget;
        this.startGap = startGap;
        this.delayedStarter = java.util.concurrent.CompletableFuture.delayedExecutor(startDelay.toMillis(), TimeUnit.MILLISECONDS,
                task -> {
                    try {
                        starter.execute(task);
                    } catch (java.util.concurrent.RejectedExecutionException closed) {
                        // Gale is stopping: no more spares
                    }
                });
        this.launcher = launcher;
    }

    /** The version's spare, if one is alive (it may still be on its way to READY); the caller owns it from now on. */
    Optional<SocketInstance> take(InstanceSpec spec) {
        Spare spare;
        lock.lock();
        try {
            spare = spares.remove(spec);
        } finally {
            lock.unlock();
        }
        if (spare == null || spare.instance().failure().isPresent()) return Optional.empty();
        return Optional.of(spare.instance());
    }

    /**
     * Starts a spare of the version in the background, {@link #START_DELAY} from now, unless it has one, one is on
     * its way, or it does not want one.
     */
    void refill(InstanceSpec spec) {
        if (budget.max() == 0 || !spec.config().prewarm()) return;
        long generation;
        lock.lock();
        try {
            if (closed || spares.containsKey(spec) || !starting.add(spec)) return;
            generation = generations.getOrDefault(spec, 0L);
        } finally {
            lock.unlock();
        }
        delayedStarter.execute(() -> start(spec, generation));
    }

    private void start(InstanceSpec spec, long generation) {
        SocketInstance instance;
        try {
            if (!current(spec, generation)) return;
            instance = launcher.apply(spec);
        } catch (RuntimeException e) {
            LOG.warn("no spare JVM for {}: {}", spec.label(), e.getMessage());
            done(spec);
            return;
        }
        List<SocketInstance> unwanted = new ArrayList<>();
        lock.lock();
        try {
            starting.remove(spec);
            if (closed || generations.getOrDefault(spec, 0L) != generation) {
                unwanted.add(instance);
            } else {
                spares.put(spec, new Spare(instance, System.nanoTime()));
                var eldest = spares.entrySet().iterator();
                while (spares.size() > budget.max()) {
                    unwanted.add(eldest.next().getValue().instance());
                    eldest.remove();
                }
            }
        } finally {
            lock.unlock();
        }
        unwanted.forEach(spare -> spare.kill(new InstanceFailure(InstanceFailure.Kind.STOPPED, "spare JVM not needed any more")));
        if (unwanted.contains(instance)) return;
        // One spare on its way at a time: starting JVMs side by side would slow the cold starts going on.
        instance.ready().handle((signature, failed) -> null).completeOnTimeout(null, startGap.toMillis(), TimeUnit.MILLISECONDS).join();
        instance.failure().ifPresent(why -> {
            drop(spec, instance);
            LOG.warn("the spare JVM of {} failed before it was needed: {}", spec.label(), why.message());
        });
    }

    private boolean current(InstanceSpec spec, long generation) {
        lock.lock();
        try {
            if (!closed && generations.getOrDefault(spec, 0L) == generation) return true;
            starting.remove(spec);
            return false;
        } finally {
            lock.unlock();
        }
    }

    private void done(InstanceSpec spec) {
        lock.lock();
        try {
            starting.remove(spec);
        } finally {
            lock.unlock();
        }
    }

    private void drop(InstanceSpec spec, SocketInstance instance) {
        lock.lock();
        try {
            spares.computeIfPresent(spec, (version, spare) -> spare.instance() == instance ? null : spare);
        } finally {
            lock.unlock();
        }
    }

    /** The version starts no more instances: its spare is killed, and one on its way is not kept. */
    void retire(InstanceSpec spec) {
        Spare spare;
        lock.lock();
        try {
            generations.merge(spec, 1L, Long::sum);
            spare = spares.remove(spec);
        } finally {
            lock.unlock();
        }
        if (spare != null) spare.instance().kill(new InstanceFailure(InstanceFailure.Kind.STOPPED, "the version retired"));
    }

    /** Kills the spares no cold start took within the idle timeout, and drops those that died. */
    void expire() {
        List<Spare> gone = new ArrayList<>();
        long now = System.nanoTime();
        lock.lock();
        try {
            spares.values().removeIf(spare -> {
                boolean old = now - spare.sinceNanos() > budget.idleTimeout().toNanos();
                if (old || spare.instance().failure().isPresent()) gone.add(spare);
                return old || spare.instance().failure().isPresent();
            });
        } finally {
            lock.unlock();
        }
        gone.forEach(spare -> spare.instance().kill(new InstanceFailure(InstanceFailure.Kind.STOPPED, "spare JVM unused for "
                + budget.idleTimeout().toSeconds() + " s")));
    }

    /** The spares kept now, by version (for tests and stats). */
    List<SocketInstance> kept() {
        lock.lock();
        try {
            return spares.values().stream().map(Spare::instance).toList();
        } finally {
            lock.unlock();
        }
    }

    /** Stops every spare, waiting for each to exit (at most {@link #STOP_GRACE}), and starts no more. */
    @Override
    public void close() {
        List<Spare> all;
        lock.lock();
        try {
            closed = true;
            all = new ArrayList<>(spares.values());
            spares.clear();
        } finally {
            lock.unlock();
        }
        starter.shutdownNow();
        // Asked to exit and awaited, not just killed: Gale removes its cgroups next, which only empty ones allow.
        all.forEach(spare -> spare.instance().stop(STOP_GRACE));
    }
}
