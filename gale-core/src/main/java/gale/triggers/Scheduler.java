package gale.triggers;

import gale.store.ScheduleRow;
import gale.store.ScheduleStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Fires schedules: one platform thread sleeps until the earliest next slot, claims each due slot
 * in the store ({@link ScheduleStore#claim}, before calling, so no slot fires twice across threads,
 * nodes or restarts) and hands the call to a {@link Caller}, which does not block it.
 *
 * <p>Which slot fires: the latest one at or before now. On time that is the due slot itself;
 * after a downtime it is the most recent missed one, fired once ({@link CatchUp#LAST}), or, with
 * {@link CatchUp#NONE}, nothing unless it passed less than {@code lateLimit} ago. A slot claimed
 * whose call was cut off by a stop is recorded as interrupted and not fired again (at most once).
 *
 * <p>Time comes from the injected {@link Clock}; tests drive {@link #runDue} directly. The thread
 * never sleeps longer than a second, so a clock that jumps (or a test clock) is noticed.
 */
public final class Scheduler implements AutoCloseable {

    /** Makes a scheduled call; the future completes when it ends, never exceptionally for a function's failure. */
    public interface Caller {
        CompletableFuture<CallOutcome> call(ScheduledCall call);
    }

    /** One firing: schedule {@code schedule} calls {@code function} for {@code slot}. */
    public record ScheduledCall(String schedule, String function, Instant slot, Optional<String> payload) {
    }

    /**
     * How a firing's call ended.
     *
     * @param outcome {@code ok}, {@code error} or {@code unreachable} (see {@link gale.store.FiringRow})
     */
    public record CallOutcome(Optional<Integer> status, String outcome, Optional<String> requestId, Optional<String> error) {
        public static CallOutcome unreachable(String why) {
            return new CallOutcome(Optional.empty(), "unreachable", Optional.empty(), Optional.of(why));
        }
    }

    /** A slot that passed longer ago than this counts as missed (for {@link CatchUp#NONE}). */
    public static final Duration DEFAULT_LATE_LIMIT = Duration.ofSeconds(15);
    private static final Logger LOG = LoggerFactory.getLogger(Scheduler.class);
    private static final long MAX_SLEEP_NANOS = TimeUnit.SECONDS.toNanos(1);
    private static final int BATCH = 100;

    private final ScheduleStore store;
    private final Caller caller;
    private final Clock clock;
    private final Duration lateLimit;
    private final String node;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private boolean poked;
    private boolean closed;
    private Thread thread;

    /** @param node this node's id: its firings carry it, and at start it marks only its own unfinished ones interrupted */
    public Scheduler(ScheduleStore store, Caller caller, Clock clock, Duration lateLimit, String node) {
        this.store = store;
        this.node = node;
        this.caller = caller;
        this.clock = clock;
        this.lateLimit = lateLimit;
    }

    /** Marks firings a stop cut off, then starts the timer thread. Does nothing once closed. */
    public void start() {
        lock.lock();
        try {
            if (closed || thread != null) return;
            int interrupted = store.interruptUnfinished(clock.instant(), node);
            if (interrupted > 0) LOG.info("{} scheduled call(s) were under way when Gale stopped; recorded as interrupted", interrupted);
            thread = Thread.ofPlatform().name("gale-scheduler").daemon().start(this::loop);
        } finally {
            lock.unlock();
        }
    }

    /** A schedule was created, changed or resumed: look again now rather than at the next wake-up. */
    public void poke() {
        lock.lock();
        try {
            poked = true;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    private void loop() {
        while (true) {
            long waitNanos = MAX_SLEEP_NANOS;
            try {
                runDue();
                Optional<Instant> next = store.earliestNext();
                if (next.isPresent()) waitNanos = Math.min(waitNanos, Duration.between(clock.instant(), next.get()).toNanos());
            } catch (RuntimeException e) { // the store is busy or gone: try again in a second, not in a tight loop
                LOG.warn("scheduler: could not fire due schedules: {}", e.toString());
            }
            lock.lock();
            try {
                while (!closed && !poked && waitNanos > 0) waitNanos = changed.awaitNanos(waitNanos);
                if (closed) return;
                poked = false;
            } catch (InterruptedException e) {
                return;
            } finally {
                lock.unlock();
            }
        }
    }

    /** Claims and fires every slot due now; returns how many calls it started. */
    public int runDue() {
        int fired = 0;
        while (true) {
            Instant now = clock.instant();
            List<ScheduleRow> due = store.due(now, BATCH);
            for (ScheduleRow row : due) {
                if (fire(row, now)) fired++;
            }
            if (due.size() < BATCH) return fired;
        }
    }

    private boolean fire(ScheduleRow row, Instant now) {
        ScheduleTiming timing;
        try {
            timing = ScheduleSpec.timingOf(row);
        } catch (RuntimeException e) { // stored valid; a time zone the JDK later dropped, say
            LOG.warn("schedule {}: cannot read its timing ({}); pausing it", row.name(), e.getMessage());
            store.setPaused(row.name(), true, Optional.empty(), now);
            return false;
        }
        Instant due = row.nextFire().orElseThrow();
        Instant slot = timing.latestAtOrBefore(now, due);
        Instant next = timing.next(slot);
        boolean late = Duration.between(slot, now).compareTo(lateLimit) > 0;
        if (late && CatchUp.parse(row.catchUp()) == CatchUp.NONE) {
            if (store.skip(row.name(), due, next)) {
                LOG.info("schedule {}: skipped the slots from {} to {} (catch-up none); next {}", row.name(), due, slot, next);
            }
            return false;
        }
        if (!store.claim(row.name(), due, slot, next, now, node)) return false; // another claimer won, or it changed
        if (!slot.equals(due)) LOG.info("schedule {}: firing missed slot {} once (slots from {} skipped)", row.name(), slot, due);
        var call = new ScheduledCall(row.name(), row.function(), slot, row.payload());
        CompletableFuture<CallOutcome> outcome;
        try {
            outcome = caller.call(call);
        } catch (RuntimeException e) {
            outcome = CompletableFuture.completedFuture(CallOutcome.unreachable(e.toString()));
        }
        outcome.exceptionally(e -> CallOutcome.unreachable(e.toString())).thenAccept(o -> record(call, o));
        return true;
    }

    private void record(ScheduledCall call, CallOutcome o) {
        try {
            store.finish(call.schedule(), call.slot(), clock.instant(), o.status(), o.outcome(), o.requestId(), o.error());
        } catch (RuntimeException e) { // the store closed as Gale stopped: the next start marks it interrupted
            LOG.warn("schedule {}: could not record the outcome of slot {}: {}", call.schedule(), call.slot(), e.toString());
        }
        if (!"ok".equals(o.outcome())) {
            LOG.info("schedule {}: slot {} of {} ended {}{}", call.schedule(), call.slot(), call.function(), o.outcome(),
                    o.error().map(e -> ": " + e).orElse(""));
        }
    }

    /** Stops the timer; calls under way finish on their own. Safe to call more than once, and before start. */
    @Override
    public void close() {
        Thread t;
        lock.lock();
        try {
            closed = true;
            changed.signalAll();
            t = thread;
        } finally {
            lock.unlock();
        }
        if (t != null) {
            try {
                t.join(TimeUnit.SECONDS.toMillis(10));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
