package gale.nodes;

import gale.store.StoreChanges;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * What other nodes of a shared store change reaches this node within a period (docs/postgresql.md): one platform
 * thread runs each poll ({@link #every}) and reads the store's change counters ({@link StoreChanges}), running the
 * reload of each kind whose counter moved since it last ran ({@link #on}). The first round runs every reload once, so
 * a change made between this node's start-up reads and that round is not missed; a reload that fails runs again at
 * the next round.
 */
public final class StoreFollower implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(StoreFollower.class);

    private final StoreChanges changes;
    private final Duration period;
    private final List<Runnable> polls = new ArrayList<>();
    private final Map<String, Runnable> reloads = new LinkedHashMap<>();
    /** Per kind, the counter its reload last ran for (touched by the one thread only). */
    private final Map<String, Long> seen = new HashMap<>();
    private ScheduledExecutorService thread;

    public StoreFollower(StoreChanges changes, Duration period) {
        this.changes = changes;
        this.period = period;
    }

    /** Runs {@code poll} every period (a cheap read of a table of its own). Call before {@link #start}. */
    public StoreFollower every(Runnable poll) {
        polls.add(poll);
        return this;
    }

    /** Runs {@code reload} when {@code topic}'s counter moved (a {@link StoreChanges} kind). Call before {@link #start}. */
    public StoreFollower on(String topic, Runnable reload) {
        reloads.put(topic, reload);
        return this;
    }

    public synchronized void start() {
        if (thread != null) return;
        thread = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("gale-store-follower").daemon().factory());
        thread.scheduleWithFixedDelay(this::round, period.toMillis(), period.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** One round: the polls, then the reloads of what changed. Never throws: the next round tries again. */
    void round() {
        for (Runnable poll : polls) {
            try {
                poll.run();
            } catch (RuntimeException e) {
                LOG.warn("following the other nodes of the store failed (tried again in {} ms): {}", period.toMillis(), e.toString());
            }
        }
        Map<String, Long> counters;
        try {
            counters = changes.counters();
        } catch (RuntimeException e) {
            LOG.warn("reading what other nodes changed failed (tried again in {} ms): {}", period.toMillis(), e.toString());
            return;
        }
        reloads.forEach((topic, reload) -> {
            Long now = counters.get(topic);
            if (now != null && now.equals(seen.get(topic))) return;
            try {
                reload.run();
                if (now != null) seen.put(topic, now);
            } catch (RuntimeException e) {
                LOG.warn("reloading the {} another node changed failed (tried again in {} ms): {}", topic, period.toMillis(), e.toString());
            }
        });
    }

    @Override
    public synchronized void close() {
        if (thread != null) thread.shutdownNow();
    }
}
