package gale.triggers;

import gale.store.FiringRow;
import gale.store.ScheduleRow;
import gale.store.ScheduleStore;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * Creating, changing, pausing, resuming and removing schedules (what the admin API calls). Each
 * change tells the {@link Scheduler} to look again, so a new schedule's first slot is not missed.
 */
public final class Schedules {

    /** A schedule with what `gale schedules` shows beside it. */
    public record View(ScheduleRow row, ScheduleTiming timing, Optional<FiringRow> lastFiring) {
    }

    private final ScheduleStore store;
    private final Clock clock;
    private final Predicate<String> functionExists;
    private final Runnable changed;
    private final Duration minInterval;

    /**
     * @param functionExists whether a function of that name is deployed
     * @param changed        called after every change (the scheduler's {@link Scheduler#poke})
     * @param minInterval    the shortest {@code every} allowed
     */
    public Schedules(ScheduleStore store, Clock clock, Predicate<String> functionExists, Runnable changed, Duration minInterval) {
        this.store = store;
        this.clock = clock;
        this.functionExists = functionExists;
        this.changed = changed;
        this.minInterval = minInterval;
    }

    public Duration minInterval() {
        return minInterval;
    }

    /**
     * Creates the schedule or replaces the one with its name. A replaced schedule keeps its paused
     * state, and its next slot when the timing is the same (so a redeploy repeating --schedule
     * neither skips nor repeats a slot).
     *
     * @throws FunctionNotFound when the function is not deployed
     */
    public View put(ScheduleSpec spec) {
        if (!functionExists.test(spec.function())) throw new FunctionNotFound(spec.function());
        Instant now = clock.instant();
        Optional<ScheduleRow> old = store.find(spec.name());
        boolean paused = old.map(ScheduleRow::paused).orElse(false);
        Optional<String> cron = spec.timing() instanceof ScheduleTiming.Cron c ? Optional.of(c.expression().toString()) : Optional.empty();
        Optional<Long> everyMs = spec.timing() instanceof ScheduleTiming.Every e ? Optional.of(e.interval().toMillis()) : Optional.empty();
        String zone = spec.timing() instanceof ScheduleTiming.Cron c ? c.zone().getId() : "UTC";
        boolean sameTiming = old.isPresent() && old.get().cron().equals(cron) && old.get().everyMs().equals(everyMs)
                && old.get().timeZone().equals(zone);
        Optional<Instant> next = paused ? Optional.empty()
                : sameTiming && old.get().nextFire().isPresent() ? old.get().nextFire() : Optional.of(spec.timing().next(now));
        store.upsert(new ScheduleRow(spec.name(), spec.function(), cron, everyMs, zone, spec.catchUp().wire(), spec.payload(),
                paused, next, old.map(ScheduleRow::createdAt).orElse(now), now));
        changed.run();
        return find(spec.name()).orElseThrow();
    }

    public Optional<View> find(String name) {
        return store.find(name).map(this::view);
    }

    /** By name; all functions when {@code function} is empty. */
    public List<View> list(Optional<String> function) {
        return store.list(function).stream().map(this::view).toList();
    }

    /** Stops firing until resumed; empty when there is no such schedule. */
    public Optional<View> pause(String name) {
        if (!store.setPaused(name, true, Optional.empty(), clock.instant())) return Optional.empty();
        changed.run();
        return find(name);
    }

    /** Fires again from the next slot after now: slots that passed while paused are not run. */
    public Optional<View> resume(String name) {
        Optional<ScheduleRow> row = store.find(name);
        if (row.isEmpty()) return Optional.empty();
        if (row.get().paused()) {
            Instant now = clock.instant();
            store.setPaused(name, false, Optional.of(ScheduleSpec.timingOf(row.get()).next(now)), now);
            changed.run();
        }
        return find(name);
    }

    public boolean delete(String name) {
        boolean deleted = store.delete(name);
        if (deleted) changed.run();
        return deleted;
    }

    /** Newest slot first. */
    public List<FiringRow> firings(String name, int limit) {
        return store.firings(name, limit);
    }

    private View view(ScheduleRow row) {
        return new View(row, ScheduleSpec.timingOf(row), store.firings(row.name(), 1).stream().findFirst());
    }

    /** A schedule for a function that is not deployed. */
    public static final class FunctionNotFound extends RuntimeException {
        public FunctionNotFound(String function) {
            super("function '" + function + "' not found; deploy it first (gale deploy " + function
                    + " --source DIR), then add its schedule");
        }
    }
}
