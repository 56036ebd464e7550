package gale.nodes;

import gale.store.NodeRow;
import gale.store.NodeStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * This node among the nodes sharing the store (docs/postgresql.md). Every heartbeat, on a platform thread of its own,
 * it writes its row with its load, removes the nodes that missed their heartbeats for {@code deadAfter} (the store
 * hands their leases back in the same transaction), then tells the {@link #onBeat listeners} (the map jobs renew
 * their leases and claim free jobs). A node that dies stops beating and is noticed by the others; one that stops
 * {@link #drain drains} (DRAINING, still beating while it hands work back) and then {@link #close leaves}.
 */
public final class Membership implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(Membership.class);

    /** What a node reports with each heartbeat. */
    public record Load(int instances, int inFlight, int jobs, String freeSlotsJson) {
    }

    private final NodeStore store;
    private final String id;
    private final String url;
    private final NodeSettings settings;
    private final Supplier<Load> load;
    private final Clock clock;
    private final List<Consumer<Instant>> listeners = new CopyOnWriteArrayList<>();
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition stop = lock.newCondition();
    private Instant startedAt;
    private volatile String state = NodeRow.ACTIVE;
    private volatile boolean stopping;
    private Thread beating;

    public Membership(NodeStore store, String id, String url, NodeSettings settings, Supplier<Load> load, Clock clock) {
        this.store = store;
        this.id = id;
        this.url = url;
        this.settings = settings;
        this.load = load;
        this.clock = clock;
    }

    public String id() {
        return id;
    }

    /** Called after each heartbeat that reached the store, with its time. */
    public void onBeat(Consumer<Instant> listener) {
        listeners.add(listener);
    }

    /** Joins: writes this node's row (ACTIVE, a row left by a run of it that was killed replaced), then beats. */
    public void start() {
        startedAt = clock.instant();
        store.leave(id);
        store.beat(row(startedAt));
        LOG.info("node {} joined at {} (heartbeat {}, dead after {})", id, url,
                gale.config.Durations.format(settings.heartbeat()), gale.config.Durations.format(settings.deadAfter()));
        beating = Thread.ofPlatform().daemon().name("gale-node-heartbeat").start(this::loop);
    }

    private void loop() {
        long period = settings.heartbeat().toNanos();
        long next = System.nanoTime() + period;
        while (!stopping) {
            lock.lock();
            try {
                long wait = next - System.nanoTime();
                while (!stopping && wait > 0) wait = stop.awaitNanos(wait);
            } catch (InterruptedException e) {
                return;
            } finally {
                lock.unlock();
            }
            if (stopping) return;
            next = System.nanoTime() + period;
            beat(clock.instant());
        }
    }

    /** One heartbeat; public for tests that drive it. */
    public void beat(Instant now) {
        try {
            store.beat(row(now));
        } catch (RuntimeException e) {
            LOG.warn("node {}: could not write its heartbeat to the store; leases are not renewed: {}", id, e.getMessage());
            return;
        }
        try {
            for (String dead : store.removeDead(now.minus(settings.deadAfter()), now)) {
                LOG.warn("node {} missed its heartbeats for {}: removed; its map jobs and async calls go to the nodes left",
                        dead, gale.config.Durations.format(settings.deadAfter()));
            }
        } catch (RuntimeException e) {
            LOG.warn("node {}: could not look for dead nodes: {}", id, e.getMessage());
        }
        for (Consumer<Instant> listener : listeners) {
            try {
                listener.accept(now);
            } catch (RuntimeException e) {
                LOG.warn("node {}: a heartbeat's work failed: {}", id, e.toString());
            }
        }
    }

    private NodeRow row(Instant now) {
        Load l = load.get();
        return new NodeRow(id, url, state, startedAt, now, l.instances(), l.inFlight(), l.jobs(), l.freeSlotsJson());
    }

    /** Stopping: DRAINING from now on (it keeps beating while it hands its work back). */
    public void drain() {
        state = NodeRow.DRAINING;
        try {
            store.markDraining(id);
        } catch (RuntimeException e) {
            LOG.warn("node {}: could not mark itself DRAINING: {}", id, e.getMessage());
        }
    }

    /** Leaves: the heartbeat stops and the row goes. Safe to call more than once. */
    @Override
    public void close() {
        lock.lock();
        try {
            if (stopping) return;
            stopping = true;
            stop.signalAll();
        } finally {
            lock.unlock();
        }
        try {
            if (beating != null) beating.join(TimeUnit.SECONDS.toMillis(10));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            store.leave(id);
            LOG.info("node {} left", id);
        } catch (RuntimeException e) {
            LOG.warn("node {}: could not leave the nodes; the others remove it after {}", id,
                    gale.config.Durations.format(settings.deadAfter()));
        }
    }
}
