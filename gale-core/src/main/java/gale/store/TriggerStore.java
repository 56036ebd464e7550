package gale.store;

import gale.config.TriggerSpec;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Trigger subscriptions, and the outbox writes that turn a change into events: one async call per
 * subscription that follows it, inserted in the transaction of the write that caused it. Plain SQL that
 * PostgreSQL runs as it is.
 *
 * <p>An event is inserted only while its subscription exists (an INSERT ... SELECT from the subscription
 * row), so once a subscription's or its function's delete committed, no later write gives it an event. It is
 * QUEUED when no earlier event of its key is pending, else WAITING until that one ends ({@link AsyncStore}
 * queues the next WAITING one in the transaction that ends an event).
 */
public final class TriggerStore {

    private final Jdbi jdbi;

    TriggerStore(Jdbi jdbi) {
        this.jdbi = jdbi;
    }

    public List<TriggerRow> all() {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM trigger_subscriptions ORDER BY function_name, created_ms, id")
                .map((rs, ctx) -> row(rs)).list());
    }

    public List<TriggerRow> ofFunction(String function) {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM trigger_subscriptions WHERE function_name = :f ORDER BY created_ms, id")
                .bind("f", function).map((rs, ctx) -> row(rs)).list());
    }

    /** Stores the subscription unless one with its id exists; true when it is new. */
    public boolean insert(TriggerRow t) {
        return jdbi.inTransaction(h -> {
            boolean created = h.createUpdate("""
                            INSERT INTO trigger_subscriptions (id, function_name, source_kind, source_name, prefix, events, created_ms)
                            VALUES (:id, :f, :kind, :name, :prefix, :events, :at) ON CONFLICT (id) DO NOTHING""")
                    .bind("id", t.id()).bind("f", t.function()).bind("kind", t.spec().source()).bind("name", t.spec().name())
                    .bind("prefix", t.spec().prefix()).bind("events", String.join(",", t.spec().events()))
                    .bind("at", t.createdAt().toEpochMilli()).execute() == 1;
            if (created) StoreChanges.raise(h, StoreChanges.TRIGGERS); // the other nodes of a shared store follow it too
            return created;
        });
    }

    /** Deletes one subscription of the function; its events already stored are still delivered. False if there was none. */
    public boolean delete(String function, String id) {
        return jdbi.inTransaction(h -> {
            boolean deleted = h.createUpdate("DELETE FROM trigger_subscriptions WHERE function_name = :f AND id = :id")
                    .bind("f", function).bind("id", id).execute() == 1;
            if (deleted) StoreChanges.raise(h, StoreChanges.TRIGGERS);
            return deleted;
        });
    }

    /** A function's subscriptions (in the function's own delete transaction). */
    static void deleteOfFunction(Handle h, String function) {
        h.createUpdate("DELETE FROM trigger_subscriptions WHERE function_name = :f").bind("f", function).execute();
    }

    /**
     * One event to store: its id (the async call's), subscription, key group, the request the function gets, and
     * its number from {@link #reserve} (a key's events are delivered in the order of their numbers).
     */
    public record Event(String id, String triggerId, String orderKey, String headersJson, byte[] body, long seq) {
    }

    /**
     * Takes {@code n} event numbers in the caller's transaction; returns the first. The update comes first: it locks
     * the sequence's row until the transaction ends, so on PostgreSQL two nodes never take the same numbers, and the
     * events stored with them are checked against their keys' pending events one transaction at a time, with
     * {@link #lockEventOrder} taken by whatever ends or redrives an event.
     */
    public static long reserve(Connection c, int n) throws SQLException {
        try (PreparedStatement bump = c.prepareStatement("UPDATE trigger_sequence SET seq = seq + ? WHERE id = 1")) {
            bump.setLong(1, n);
            if (bump.executeUpdate() != 1) throw new SQLException("the trigger_sequence row is missing");
        }
        try (PreparedStatement read = c.prepareStatement("SELECT seq FROM trigger_sequence WHERE id = 1");
             ResultSet rs = read.executeQuery()) {
            rs.next();
            return rs.getLong(1) - n + 1;
        }
    }

    /**
     * Locks the event sequence's row until the caller's transaction ends (a no-op update; on SQLite the one writer
     * holds everything anyway). Taken before a key's next WAITING event is queued or a dead event is queued again: an
     * event stored at the same time by another node then either sees this transaction's outcome or is seen by it,
     * never neither (which would leave it WAITING behind an event that already ended).
     */
    static void lockEventOrder(org.jdbi.v3.core.Handle h) {
        h.createUpdate("UPDATE trigger_sequence SET seq = seq WHERE id = 1").execute();
    }

    /** Stores the events in the caller's transaction, in the order given; those whose subscription is gone are left out. */
    public static void insertEvents(Connection c, List<Event> events, long nowMillis) throws SQLException {
        if (events.isEmpty()) return;
        try (PreparedStatement insert = c.prepareStatement("""
                INSERT INTO async_invocations (id, function_name, state, method, path, query, headers, body, remote_addr,
                    scheme, host, attempts, next_attempt_ms, created_ms, updated_ms, trigger_id, order_key, order_seq)
                SELECT ?, s.function_name,
                    CASE WHEN EXISTS (SELECT 1 FROM async_invocations p WHERE p.order_key = ?
                                      AND p.state IN ('QUEUED', 'RUNNING', 'WAITING')) THEN 'WAITING' ELSE 'QUEUED' END,
                    'POST', '/', '', ?, ?, '', 'http', '', 0, ?, ?, ?, s.id, ?, ?
                FROM trigger_subscriptions s WHERE s.id = ?""")) {
            for (Event e : events) {
                insert.setString(1, e.id());
                insert.setString(2, e.orderKey());
                insert.setString(3, e.headersJson());
                insert.setBytes(4, e.body());
                insert.setLong(5, nowMillis);
                insert.setLong(6, nowMillis);
                insert.setLong(7, nowMillis);
                insert.setString(8, e.orderKey());
                insert.setLong(9, e.seq());
                insert.setString(10, e.triggerId());
                insert.addBatch();
            }
            insert.executeBatch();
        }
    }

    /** Events of one subscription by where they stand: waiting or running, delivered, dead letters. */
    public record Counts(long pending, long delivered, long dead) {
        public static final Counts NONE = new Counts(0, 0, 0);
    }

    /** The function's events per subscription id (subscriptions with none are absent). */
    public Map<String, Counts> counts(String function) {
        Map<String, long[]> raw = new HashMap<>();
        jdbi.useHandle(h -> h.createQuery("""
                        SELECT trigger_id, state, COUNT(*) AS n FROM async_invocations
                        WHERE function_name = :f AND trigger_id IS NOT NULL GROUP BY trigger_id, state""")
                .bind("f", function).map((rs, ctx) -> {
                    long[] c = raw.computeIfAbsent(rs.getString("trigger_id"), k -> new long[3]);
                    switch (rs.getString("state")) {
                        case "SUCCEEDED" -> c[1] += rs.getLong("n");
                        case "DEAD" -> c[2] += rs.getLong("n");
                        default -> c[0] += rs.getLong("n");
                    }
                    return 0;
                }).list());
        Map<String, Counts> out = new HashMap<>();
        raw.forEach((id, c) -> out.put(id, new Counts(c[0], c[1], c[2])));
        return out;
    }

    private static TriggerRow row(ResultSet rs) throws SQLException {
        List<String> events = Arrays.stream(rs.getString("events").split(",")).filter(e -> !e.isBlank()).toList();
        return new TriggerRow(rs.getString("id"), rs.getString("function_name"),
                new TriggerSpec(rs.getString("source_kind"), rs.getString("source_name"), rs.getString("prefix"), events),
                Instant.ofEpochMilli(rs.getLong("created_ms")));
    }
}
