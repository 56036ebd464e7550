package gale.state;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.jdbi.v3.core.Jdbi;

import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Namespaced keys with JSON values (docs/state.md), in the store's database. Every write is a
 * transaction: checks on versions, then puts, deletes and increments, applied all or nothing.
 *
 * <p>Linearizable on one node: writes go through one writer at a time (a Java lock, so a
 * waiting writer parks instead of SQLite answering SQLITE_BUSY), and a write returns only once
 * it is committed. Writes that arrive while another commits queue up, and the next thread to take
 * the lock applies all of them, in arrival order, in one database transaction (group commit): 64
 * clients incrementing one key cost a commit per batch, not one per increment. Reads go to the
 * database and see every write that has returned.
 *
 * <p>On PostgreSQL the same statements run; the lock then serialises one node's writers, and
 * the rows a batch reads would be taken {@code FOR UPDATE}.
 */
public final class StateStore {

    /** Writes applied in one database transaction at most; more wait for the next. */
    private static final int MAX_BATCH = 1024;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Jdbi jdbi;
    private final Clock clock;
    private final ReentrantLock writer = new ReentrantLock();
    private final ConcurrentLinkedQueue<PendingWrite> pending = new ConcurrentLinkedQueue<>();

    public StateStore(Jdbi jdbi, Clock clock) {
        this.jdbi = jdbi;
        this.clock = clock;
    }

    // ---- reads

    /** The key, unless absent or expired. */
    public Optional<StateEntry> get(String namespace, String key) {
        StateLimits.checkNamespace(namespace);
        StateLimits.checkKey(key);
        long now = clock.millis();
        return read(h -> {
            try (PreparedStatement ps = h.getConnection().prepareStatement("""
                    SELECT value, version, expires_at FROM state_entries
                    WHERE namespace = ? AND state_key = ? AND (expires_at IS NULL OR expires_at > ?)""")) {
                ps.setString(1, namespace);
                ps.setString(2, key);
                ps.setLong(3, now);
                try (ResultSet rs = ps.executeQuery()) {
                    return rs.next() ? Optional.of(row(rs).entry(namespace, key)) : Optional.<StateEntry>empty();
                }
            }
        });
    }

    /** A page of keys that start with {@code prefix}, in key order, after the key {@code after} if given. */
    public record Page(List<StateEntry> entries, Optional<String> next) {
    }

    public Page list(String namespace, String prefix, Optional<String> after, int limit) {
        StateLimits.checkNamespace(namespace);
        if (limit < 1 || limit > StateLimits.MAX_LIST_LIMIT) {
            throw StateRefused.invalid("limit must be between 1 and " + StateLimits.MAX_LIST_LIMIT + ", got " + limit);
        }
        // Keys that start with the prefix are contiguous in key order from the prefix on: no LIKE (and its escapes) needed.
        String from = after.filter(a -> a.compareTo(prefix) >= 0).orElse(prefix);
        String op = after.isPresent() && from.equals(after.get()) ? ">" : ">=";
        long now = clock.millis();
        List<StateEntry> entries = read(h -> {
            List<StateEntry> out = new ArrayList<>();
            try (PreparedStatement ps = h.getConnection().prepareStatement(
                    "SELECT state_key, value, version, expires_at FROM state_entries WHERE namespace = ? AND state_key " + op
                            + " ? AND (expires_at IS NULL OR expires_at > ?) ORDER BY state_key LIMIT ?")) {
                ps.setString(1, namespace);
                ps.setString(2, from);
                ps.setLong(3, now);
                ps.setInt(4, limit + 1);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        String key = rs.getString("state_key");
                        if (!key.startsWith(prefix)) break;
                        out.add(row(rs).entry(namespace, key));
                    }
                }
            }
            return out;
        });
        if (entries.size() <= limit) return new Page(entries, Optional.empty());
        List<StateEntry> page = entries.subList(0, limit);
        return new Page(List.copyOf(page), Optional.of(page.getLast().key()));
    }

    private <T> T read(org.jdbi.v3.core.HandleCallback<T, SQLException> query) {
        try {
            return jdbi.withHandle(query);
        } catch (SQLException e) {
            throw new IllegalStateException("could not read state: " + e.getMessage(), e);
        }
    }

    // ---- writes

    /**
     * Applies {@code ops} in order if every check holds, atomically; returns what each op did.
     *
     * @throws StateRefused when a check fails, or a name, value or op is invalid; nothing is written then
     */
    public List<OpResult> transact(String namespace, List<StateCheck> checks, List<StateOp> ops) {
        List<String> values = validate(namespace, checks, ops);
        PendingWrite write = new PendingWrite(namespace, List.copyOf(checks), List.copyOf(ops), values);
        pending.add(write);
        writer.lock();
        try {
            while (!write.done) applyBatch();
        } finally {
            writer.unlock();
        }
        if (write.refused != null) throw write.refused;
        if (write.failure != null) throw new IllegalStateException("could not write state: " + write.failure.getMessage(), write.failure);
        return write.results;
    }

    public OpResult put(String namespace, String key, JsonNode value, Optional<Duration> ttl) {
        return transact(namespace, List.of(), List.of(new StateOp.Put(key, value, ttl))).getFirst();
    }

    public long increment(String namespace, String key, long by) {
        OpResult r = transact(namespace, List.of(), List.of(new StateOp.Increment(key, by, Optional.empty()))).getFirst();
        return Long.parseLong(r.entry().orElseThrow().valueJson());
    }

    /** True when the key existed. */
    public boolean delete(String namespace, String key) {
        return transact(namespace, List.of(), List.of(new StateOp.Delete(key))).getFirst().existed();
    }

    /** Deletes the keys whose TTL has passed (reads already skip them); returns how many. */
    public int sweepExpired() {
        writer.lock();
        try {
            long now = clock.millis();
            return jdbi.withHandle(h -> h.createUpdate("DELETE FROM state_entries WHERE expires_at IS NOT NULL AND expires_at <= :now")
                    .bind("now", now).execute());
        } finally {
            writer.unlock();
        }
    }

    /** Checks every name and limit before the write queues; returns the puts' values as JSON (null for other ops). */
    private static List<String> validate(String namespace, List<StateCheck> checks, List<StateOp> ops) {
        StateLimits.checkNamespace(namespace);
        if (ops.isEmpty() && checks.isEmpty()) throw StateRefused.invalid("the transaction has no checks and no ops");
        if (checks.size() + ops.size() > StateLimits.MAX_TRANSACTION_ITEMS) {
            throw StateRefused.invalid("a transaction holds at most " + StateLimits.MAX_TRANSACTION_ITEMS + " checks and ops, got "
                    + (checks.size() + ops.size()) + "; split it, or keep the data in fewer keys");
        }
        for (StateCheck c : checks) {
            StateLimits.checkKey(c.key());
            if (c.version() < 0) throw StateRefused.invalid("a check's version is 0 (absent) or more, got " + c.version());
        }
        List<String> values = new ArrayList<>(ops.size());
        for (StateOp op : ops) {
            StateLimits.checkKey(op.key());
            switch (op) {
                case StateOp.Put p -> {
                    if (p.value() == null || p.value().isMissingNode()) throw StateRefused.invalid("put of '" + p.key() + "' has no value");
                    p.ttl().ifPresent(StateLimits::checkTtl);
                    values.add(json(p.key(), p.value()));
                }
                case StateOp.Increment i -> {
                    i.ttl().ifPresent(StateLimits::checkTtl);
                    values.add(null);
                }
                case StateOp.Delete d -> values.add(null);
            }
        }
        return values;
    }

    // ---- the writer (holds the lock)

    /** Applies up to MAX_BATCH queued writes in one database transaction, then tells each its outcome. */
    private void applyBatch() {
        List<PendingWrite> batch = new ArrayList<>();
        for (PendingWrite w; batch.size() < MAX_BATCH && (w = pending.poll()) != null; ) batch.add(w);
        long now = clock.millis();
        try {
            jdbi.useTransaction(h -> {
                Connection c = h.getConnection();
                Batch state = new Batch(c, now, readRevision(c));
                for (PendingWrite w : batch) state.apply(w);
                state.flush();
            });
        } catch (RuntimeException | SQLException e) {
            for (PendingWrite w : batch) {
                w.results = null;
                w.refused = null;
                w.failure = e;
            }
        }
        for (PendingWrite w : batch) w.done = true;
    }

    private static long readRevision(Connection c) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT revision FROM state_revision WHERE id = 1");
             ResultSet rs = ps.executeQuery()) {
            if (!rs.next()) throw new SQLException("the state_revision row is missing");
            return rs.getLong(1);
        }
    }

    /** What the writes of one batch see: the database, plus what earlier writes of the batch changed. */
    private static final class Batch {
        private final Connection connection;
        private final long now;
        private long revision;
        /** Keys read or written in this batch; empty = absent. */
        private final Map<NsKey, Optional<Row>> seen = new HashMap<>();
        private final Map<NsKey, Optional<Row>> dirty = new LinkedHashMap<>();

        Batch(Connection connection, long now, long revision) {
            this.connection = connection;
            this.now = now;
            this.revision = revision;
        }

        void apply(PendingWrite w) throws SQLException {
            Map<String, Optional<Row>> local = new HashMap<>();
            long next = revision;
            try {
                for (int i = 0; i < w.checks.size(); i++) {
                    StateCheck check = w.checks.get(i);
                    long actual = read(w.namespace, check.key(), local).map(Row::version).orElse(0L);
                    if (actual != check.version()) throw StateRefused.checkFailed(i, check, actual);
                }
                List<OpResult> results = new ArrayList<>(w.ops.size());
                for (int i = 0; i < w.ops.size(); i++) {
                    StateOp op = w.ops.get(i);
                    Optional<Row> before = read(w.namespace, op.key(), local);
                    Optional<Row> after = switch (op) {
                        case StateOp.Put p -> Optional.of(new Row(w.values.get(i), ++next, expiry(p.ttl(), null)));
                        case StateOp.Delete d -> Optional.empty();
                        case StateOp.Increment inc -> Optional.of(new Row(Long.toString(incremented(inc, before)), ++next,
                                expiry(inc.ttl(), before.map(Row::expiresAt).orElse(null))));
                    };
                    local.put(op.key(), after);
                    results.add(new OpResult(op.key(), after.map(r -> r.entry(w.namespace, op.key())), before.isPresent()));
                }
                w.results = List.copyOf(results);
            } catch (StateRefused e) {
                w.refused = e;
                return; // nothing of this write reaches the batch
            }
            revision = next;
            local.forEach((key, row) -> {
                NsKey k = new NsKey(w.namespace, key);
                seen.put(k, row);
                dirty.put(k, row);
            });
        }

        private Optional<Row> read(String namespace, String key, Map<String, Optional<Row>> local) throws SQLException {
            Optional<Row> mine = local.get(key);
            if (mine != null) return mine;
            NsKey k = new NsKey(namespace, key);
            Optional<Row> known = seen.get(k);
            if (known != null) return known;
            Optional<Row> stored = Optional.empty();
            try (PreparedStatement ps = connection.prepareStatement(
                    "SELECT value, version, expires_at FROM state_entries WHERE namespace = ? AND state_key = ?")) {
                ps.setString(1, namespace);
                ps.setString(2, key);
                try (ResultSet rs = ps.executeQuery()) {
                    if (rs.next()) {
                        Row row = row(rs);
                        if (row.expiresAt() == null || row.expiresAt() > now) stored = Optional.of(row);
                    }
                }
            }
            seen.put(k, stored);
            return stored;
        }

        private long incremented(StateOp.Increment inc, Optional<Row> before) {
            if (before.isEmpty()) return inc.by();
            long current = wholeNumber(inc.key(), before.get().valueJson());
            try {
                return Math.addExact(current, inc.by());
            } catch (ArithmeticException e) {
                throw StateRefused.invalid("cannot increment '" + inc.key() + "' by " + inc.by() + ": " + current
                        + " + " + inc.by() + " is beyond a 64-bit whole number");
            }
        }

        private Long expiry(Optional<Duration> ttl, Long kept) {
            return ttl.map(t -> now + t.toMillis()).orElse(kept);
        }

        /** Writes every key the batch changed, and the revision. */
        void flush() throws SQLException {
            if (dirty.isEmpty()) return;
            try (PreparedStatement upsert = connection.prepareStatement("""
                         INSERT INTO state_entries (namespace, state_key, value, version, expires_at, updated_at)
                         VALUES (?, ?, ?, ?, ?, ?)
                         ON CONFLICT (namespace, state_key) DO UPDATE SET value = excluded.value, version = excluded.version,
                             expires_at = excluded.expires_at, updated_at = excluded.updated_at""");
                 PreparedStatement delete = connection.prepareStatement(
                         "DELETE FROM state_entries WHERE namespace = ? AND state_key = ?")) {
                boolean upserts = false;
                boolean deletes = false;
                for (Map.Entry<NsKey, Optional<Row>> e : dirty.entrySet()) {
                    NsKey k = e.getKey();
                    if (e.getValue().isPresent()) {
                        Row row = e.getValue().get();
                        upsert.setString(1, k.namespace());
                        upsert.setString(2, k.key());
                        upsert.setString(3, row.valueJson());
                        upsert.setLong(4, row.version());
                        if (row.expiresAt() == null) upsert.setNull(5, Types.BIGINT); else upsert.setLong(5, row.expiresAt());
                        upsert.setLong(6, now);
                        upsert.addBatch();
                        upserts = true;
                    } else {
                        delete.setString(1, k.namespace());
                        delete.setString(2, k.key());
                        delete.addBatch();
                        deletes = true;
                    }
                }
                if (upserts) upsert.executeBatch();
                if (deletes) delete.executeBatch();
            }
            try (PreparedStatement ps = connection.prepareStatement("UPDATE state_revision SET revision = ? WHERE id = 1")) {
                ps.setLong(1, revision);
                ps.executeUpdate();
            }
        }
    }

    /** The stored value as a long: counters are stored as plain digits, so the JSON parser is the slow path. */
    private static long wholeNumber(String key, String valueJson) {
        try {
            return Long.parseLong(valueJson);
        } catch (NumberFormatException notDigits) {
            JsonNode current;
            try {
                current = JSON.readTree(valueJson);
            } catch (JsonProcessingException e) {
                throw new IllegalStateException("the stored value of '" + key + "' is not JSON", e);
            }
            if (!current.isIntegralNumber() || !current.canConvertToLong()) {
                throw StateRefused.invalid("cannot increment '" + key + "': it holds " + StateLimits.preview(valueJson)
                        + ", not a whole number; put a number there first, or delete it to count from 0");
            }
            return current.longValue();
        }
    }

    private static String json(String key, JsonNode value) {
        byte[] bytes;
        try {
            bytes = JSON.writeValueAsBytes(value);
        } catch (JsonProcessingException e) {
            throw StateRefused.invalid("the value of '" + key + "' cannot be written as JSON: " + e.getOriginalMessage());
        }
        StateLimits.checkValueSize(key, bytes.length);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    private static Row row(ResultSet rs) throws SQLException {
        long expires = rs.getLong("expires_at");
        Long expiresAt = rs.wasNull() ? null : expires;
        return new Row(rs.getString("value"), rs.getLong("version"), expiresAt);
    }

    private record NsKey(String namespace, String key) {
    }

    /** A stored key; {@code expiresAt} in epoch millis, null when it never expires. */
    private record Row(String valueJson, long version, Long expiresAt) {
        StateEntry entry(String namespace, String key) {
            return new StateEntry(namespace, key, valueJson, version,
                    expiresAt == null ? Optional.empty() : Optional.of(Instant.ofEpochMilli(expiresAt)));
        }
    }

    /** A write waiting for the writer; its fields are set under the writer lock and read after it by the waiting thread. */
    private static final class PendingWrite {
        final String namespace;
        final List<StateCheck> checks;
        final List<StateOp> ops;
        /** The puts' values as JSON, by op index. */
        final List<String> values;
        boolean done;
        List<OpResult> results;
        StateRefused refused;
        Exception failure;

        PendingWrite(String namespace, List<StateCheck> checks, List<StateOp> ops, List<String> values) {
            this.namespace = namespace;
            this.checks = checks;
            this.ops = ops;
            this.values = values;
        }
    }
}
