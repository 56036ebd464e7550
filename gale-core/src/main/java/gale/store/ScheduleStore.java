package gale.store;

import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * Schedules and the slots they fired. Every statement is plain SQL that PostgreSQL runs as it is.
 *
 * <p>A slot is claimed by {@link #claim}: a compare-and-set of {@code next_fire_ms} and the
 * insert of the slot's firing row, in one transaction, before the call is made. On PostgreSQL a
 * second claimer's UPDATE waits for the first's row lock and then matches no row, which is what
 * {@code SELECT ... FOR UPDATE SKIP LOCKED} followed by an UPDATE would give, without holding
 * a lock across the read.
 */
public final class ScheduleStore {

    /** Firings kept per schedule; older ones are deleted as new ones end. */
    public static final int FIRINGS_KEPT = 100;

    private final Jdbi jdbi;

    ScheduleStore(Jdbi jdbi) {
        this.jdbi = jdbi;
    }

    /** Creates the schedule, or replaces every setting of the one with its name (keeping its creation time and firings). */
    public void upsert(ScheduleRow s) {
        jdbi.useHandle(h -> h.createUpdate("""
                        INSERT INTO schedules (name, function_name, cron, every_ms, time_zone, catch_up, payload, paused,
                                               next_fire_ms, created_at, updated_at)
                        VALUES (:name, :f, :cron, :every, :zone, :catchUp, :payload, :paused, :next, :created, :updated)
                        ON CONFLICT (name) DO UPDATE SET function_name = excluded.function_name, cron = excluded.cron,
                            every_ms = excluded.every_ms, time_zone = excluded.time_zone, catch_up = excluded.catch_up,
                            payload = excluded.payload, paused = excluded.paused, next_fire_ms = excluded.next_fire_ms,
                            updated_at = excluded.updated_at""")
                .bind("name", s.name()).bind("f", s.function()).bind("cron", s.cron().orElse(null))
                .bind("every", s.everyMs().orElse(null)).bind("zone", s.timeZone()).bind("catchUp", s.catchUp())
                .bind("payload", s.payload().orElse(null)).bind("paused", s.paused())
                .bind("next", s.nextFire().map(Instant::toEpochMilli).orElse(null))
                .bind("created", s.createdAt().toString()).bind("updated", s.updatedAt().toString()).execute());
    }

    public Optional<ScheduleRow> find(String name) {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM schedules WHERE name = :name").bind("name", name)
                .map((rs, ctx) -> schedule(rs)).findOne());
    }

    /** By name; all functions when {@code function} is empty. */
    public List<ScheduleRow> list(Optional<String> function) {
        return jdbi.withHandle(h -> h.createQuery("""
                        SELECT * FROM schedules WHERE (:f IS NULL OR function_name = :f) ORDER BY name""")
                .bind("f", function.orElse(null)).map((rs, ctx) -> schedule(rs)).list());
    }

    /** Removes the schedule and its firings; false when there was none. */
    public boolean delete(String name) {
        return jdbi.inTransaction(h -> {
            h.createUpdate("DELETE FROM schedule_firings WHERE schedule_name = :name").bind("name", name).execute();
            return h.createUpdate("DELETE FROM schedules WHERE name = :name").bind("name", name).execute() > 0;
        });
    }

    /** The schedules of a function and their firings (in the function's own delete transaction). */
    static void deleteOfFunction(Handle h, String function) {
        h.createUpdate("""
                        DELETE FROM schedule_firings WHERE schedule_name IN (SELECT name FROM schedules WHERE function_name = :f)""")
                .bind("f", function).execute();
        h.createUpdate("DELETE FROM schedules WHERE function_name = :f").bind("f", function).execute();
    }

    /** Pauses (next fire cleared) or resumes (from {@code next}); false when there is no such schedule. */
    public boolean setPaused(String name, boolean paused, Optional<Instant> next, Instant now) {
        return jdbi.withHandle(h -> h.createUpdate("""
                        UPDATE schedules SET paused = :paused, next_fire_ms = :next, updated_at = :now WHERE name = :name""")
                .bind("paused", paused).bind("next", next.map(Instant::toEpochMilli).orElse(null))
                .bind("now", now.toString()).bind("name", name).execute() > 0);
    }

    /** Schedules not paused whose next slot is at or before {@code now}, earliest first. */
    public List<ScheduleRow> due(Instant now, int limit) {
        return jdbi.withHandle(h -> h.createQuery("""
                        SELECT * FROM schedules WHERE paused = :paused AND next_fire_ms <= :now
                        ORDER BY next_fire_ms LIMIT :limit""")
                .bind("paused", false).bind("now", now.toEpochMilli()).bind("limit", limit)
                .map((rs, ctx) -> schedule(rs)).list());
    }

    /** The earliest next slot of any schedule not paused. */
    public Optional<Instant> earliestNext() {
        return jdbi.withHandle(h -> h.createQuery("SELECT MIN(next_fire_ms) FROM schedules WHERE paused = :paused")
                .bind("paused", false).mapTo(Long.class).findOne().map(Instant::ofEpochMilli));
    }

    /**
     * Claims {@code slot} of schedule {@code name}: moves its next slot from {@code expectedNext} to
     * {@code newNext} and stores the firing, in one transaction. True when this caller won and
     * must make the call; false when another claimer moved the schedule on first, it was paused
     * or changed meanwhile, or the slot was fired before. The firing records {@code node}, the claimer.
     */
    public boolean claim(String name, Instant expectedNext, Instant slot, Instant newNext, Instant firedAt, String node) {
        return jdbi.inTransaction(h -> {
            if (!advance(h, name, expectedNext, newNext)) return false;
            // The slot's key: if this slot was ever fired, the insert finds it and nothing is called again.
            return h.createUpdate("""
                            INSERT INTO schedule_firings (schedule_name, slot_ms, fired_ms, node) VALUES (:name, :slot, :fired, :node)
                            ON CONFLICT (schedule_name, slot_ms) DO NOTHING""")
                    .bind("name", name).bind("slot", slot.toEpochMilli()).bind("fired", firedAt.toEpochMilli())
                    .bind("node", node).execute() > 0;
        });
    }

    /** Moves the next slot on without firing (slots missed while down, with catch-up none); false when another claimer moved it first. */
    public boolean skip(String name, Instant expectedNext, Instant newNext) {
        return jdbi.withHandle(h -> advance(h, name, expectedNext, newNext));
    }

    private static boolean advance(Handle h, String name, Instant expectedNext, Instant newNext) {
        return h.createUpdate("""
                        UPDATE schedules SET next_fire_ms = :next
                        WHERE name = :name AND next_fire_ms = :expected AND paused = :paused""")
                .bind("next", newNext.toEpochMilli()).bind("name", name).bind("expected", expectedNext.toEpochMilli())
                .bind("paused", false).execute() == 1;
    }

    /** Records how a fired slot's call ended, and keeps the newest {@link #FIRINGS_KEPT} firings of the schedule. */
    public void finish(String name, Instant slot, Instant finishedAt, Optional<Integer> status, String outcome,
                       Optional<String> requestId, Optional<String> error) {
        jdbi.useTransaction(h -> {
            h.createUpdate("""
                            UPDATE schedule_firings SET finished_at = :t, status = :status, outcome = :outcome,
                                                        request_id = :rid, error = :error
                            WHERE schedule_name = :name AND slot_ms = :slot""")
                    .bind("t", finishedAt.toString()).bind("status", status.orElse(null)).bind("outcome", outcome)
                    .bind("rid", requestId.orElse(null)).bind("error", error.orElse(null))
                    .bind("name", name).bind("slot", slot.toEpochMilli()).execute();
            h.createUpdate("""
                            DELETE FROM schedule_firings WHERE schedule_name = :name AND slot_ms < (
                                SELECT MIN(slot_ms) FROM (SELECT slot_ms FROM schedule_firings WHERE schedule_name = :name
                                                          ORDER BY slot_ms DESC LIMIT :keep) newest)""")
                    .bind("name", name).bind("keep", FIRINGS_KEPT).execute();
        });
    }

    /**
     * Firings of {@code node} whose call was under way when it stopped: never fired again, marked interrupted. Other
     * nodes' firings under way are theirs to finish.
     */
    public int interruptUnfinished(Instant now, String node) {
        return jdbi.withHandle(h -> interruptFiringsOf(h, node, now, "Gale stopped before the call ended"));
    }

    /** Marks the firings {@code node} left under way interrupted, in the caller's transaction (a node found dead). */
    static int interruptFiringsOf(Handle h, String node, Instant now, String why) {
        return h.createUpdate("""
                        UPDATE schedule_firings SET finished_at = :t, outcome = 'interrupted', error = :error
                        WHERE finished_at IS NULL AND (node = :node OR node IS NULL)""")
                .bind("t", now.toString()).bind("error", why + "; the slot is not fired again").bind("node", node).execute();
    }

    /** Newest slot first. */
    public List<FiringRow> firings(String name, int limit) {
        return jdbi.withHandle(h -> h.createQuery("""
                        SELECT * FROM schedule_firings WHERE schedule_name = :name ORDER BY slot_ms DESC LIMIT :limit""")
                .bind("name", name).bind("limit", limit).map((rs, ctx) -> firing(rs)).list());
    }

    private static ScheduleRow schedule(ResultSet rs) throws SQLException {
        long every = rs.getLong("every_ms");
        Optional<Long> everyMs = rs.wasNull() ? Optional.empty() : Optional.of(every);
        long next = rs.getLong("next_fire_ms");
        Optional<Instant> nextFire = rs.wasNull() ? Optional.empty() : Optional.of(Instant.ofEpochMilli(next));
        return new ScheduleRow(rs.getString("name"), rs.getString("function_name"), Optional.ofNullable(rs.getString("cron")),
                everyMs, rs.getString("time_zone"), rs.getString("catch_up"), Optional.ofNullable(rs.getString("payload")),
                rs.getBoolean("paused"), nextFire, Instant.parse(rs.getString("created_at")), Instant.parse(rs.getString("updated_at")));
    }

    private static FiringRow firing(ResultSet rs) throws SQLException {
        int status = rs.getInt("status");
        Optional<Integer> statusOpt = rs.wasNull() ? Optional.empty() : Optional.of(status);
        String finished = rs.getString("finished_at");
        return new FiringRow(rs.getString("schedule_name"), Instant.ofEpochMilli(rs.getLong("slot_ms")),
                Instant.ofEpochMilli(rs.getLong("fired_ms")), Optional.ofNullable(finished).map(Instant::parse), statusOpt,
                Optional.ofNullable(rs.getString("outcome")), Optional.ofNullable(rs.getString("request_id")),
                Optional.ofNullable(rs.getString("error")), Optional.ofNullable(rs.getString("node")));
    }
}
