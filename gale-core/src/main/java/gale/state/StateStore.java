package gale.state;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import gale.triggers.Change;
import gale.triggers.Outbox;
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

/**
 * Namespaced keys with JSON values (docs/state.md), in the store's database. Every write is a
 * transaction: checks on versions, then puts, deletes and increments, applied all or nothing.
 *
 * <p>Linearizable on one node: writes go through one writer at a time and return only once
 * committed, and writes that queue meanwhile commit together ({@link GroupCommit}): 64 clients
 * incrementing one key cost a commit per batch, not one per increment, and a batch writes each
 * key it changed once. Reads go to the database and see every write that has returned.
 *
 * <p>On PostgreSQL the same statements run, and every node's batches take one advisory lock in
 * turn ({@link GroupCommit}): linearizable across nodes too, still a commit per batch.
 */
public final class StateStore {

    private static final ObjectMapper JSON = new ObjectMapper();
    /** The advisory lock the state writers of every node take in turn on PostgreSQL ("galestat"). */
    private static final long CROSS_NODE_LOCK = 0x67616c6573746174L;

    private final Jdbi jdbi;
    private final Clock clock;
    private final GroupCommit<Batch> writer;
    private volatile Outbox outbox = Outbox.NONE;

    public StateStore(Jdbi jdbi, Clock clock) {
        this.jdbi = jdbi;
        this.clock = clock;
        this.writer = new GroupCommit<>(jdbi, clock, CROSS_NODE_LOCK,
                (connection, now) -> new Batch(connection, now, readRevision(connection), outbox));
    }

    /** From now on every write reports its changes to {@code outbox} in its own transaction (triggers). */
    public void reportTo(Outbox outbox) {
        this.outbox = outbox;
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
        List<StateCheck> checksCopy = List.copyOf(checks);
        List<StateOp> opsCopy = List.copyOf(ops);
        return writer.submit(batch -> batch.apply(namespace, checksCopy, opsCopy, values));
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

    /** Deletes the keys whose TTL has passed (reads already skip them); returns how many. Triggers see each as a delete. */
    public int sweepExpired() {
        return writer.alone(batch -> {
            batch.expiredChanges();
            try (PreparedStatement ps = batch.connection.prepareStatement(
                    "DELETE FROM state_entries WHERE expires_at IS NOT NULL AND expires_at <= ?")) {
                ps.setLong(1, batch.now);
                return ps.executeUpdate();
            }
        });
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

    // ---- the writer (runs under GroupCommit's lock)

    private static long readRevision(Connection c) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT revision FROM state_revision WHERE id = 1");
             ResultSet rs = ps.executeQuery()) {
            if (!rs.next()) throw new SQLException("the state_revision row is missing");
            return rs.getLong(1);
        }
    }

    /** What the writes of one batch see: the database, plus what earlier writes of the batch changed. */
    private static final class Batch implements GroupCommit.Batch {
        private final Connection connection;
        private final long now;
        private long revision;
        /** Keys read or written in this batch; empty = absent. */
        private final Map<NsKey, Optional<Row>> seen = new HashMap<>();
        private final Map<NsKey, Optional<Row>> dirty = new LinkedHashMap<>();
        private final Outbox outbox;
        /** Every write of the batch that a trigger follows, in order: each op is an event, not only each key's last. */
        private final List<Change.State> changes = new ArrayList<>();

        Batch(Connection connection, long now, long revision, Outbox outbox) {
            this.connection = connection;
            this.now = now;
            this.revision = revision;
            this.outbox = outbox;
        }

        /** The keys the TTL sweep is about to delete, as deletes, when a trigger follows their namespace. */
        void expiredChanges() throws SQLException {
            try (PreparedStatement ps = connection.prepareStatement(
                    "SELECT namespace, state_key, value, version FROM state_entries "
                            + "WHERE expires_at IS NOT NULL AND expires_at <= ? ORDER BY namespace, state_key")) {
                ps.setLong(1, now);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        String namespace = rs.getString("namespace");
                        if (!outbox.follows("state", namespace)) continue;
                        changes.add(new Change.State(namespace, rs.getString("state_key"), Optional.of(rs.getString("value")),
                                Optional.of(rs.getLong("version")), Optional.empty(), Optional.empty(), Optional.empty(), true));
                    }
                }
            }
            if (!changes.isEmpty()) outbox.record(connection, changes, now);
        }

        /** Checks, then ops, against what the batch sees; merged into the batch only when all of them hold. */
        List<OpResult> apply(String namespace, List<StateCheck> checks, List<StateOp> ops, List<String> values) throws SQLException {
            Map<String, Optional<Row>> local = new HashMap<>();
            long next = revision;
            for (int i = 0; i < checks.size(); i++) {
                StateCheck check = checks.get(i);
                long actual = read(namespace, check.key(), local).map(Row::version).orElse(0L);
                if (actual != check.version()) throw StateRefused.checkFailed(i, check, actual);
            }
            List<OpResult> results = new ArrayList<>(ops.size());
            List<Optional<Row>> befores = new ArrayList<>(ops.size());
            for (int i = 0; i < ops.size(); i++) {
                StateOp op = ops.get(i);
                Optional<Row> before = read(namespace, op.key(), local);
                befores.add(before);
                Optional<Row> after = switch (op) {
                    case StateOp.Put p -> Optional.of(new Row(values.get(i), ++next, expiry(p.ttl(), null)));
                    case StateOp.Delete d -> Optional.empty();
                    case StateOp.Increment inc -> Optional.of(new Row(Long.toString(incremented(inc, before)), ++next,
                            expiry(inc.ttl(), before.map(Row::expiresAt).orElse(null))));
                };
                local.put(op.key(), after);
                results.add(new OpResult(op.key(), after.map(r -> r.entry(namespace, op.key())), before.isPresent()));
            }
            revision = next;
            if (outbox.follows("state", namespace)) {
                for (int i = 0; i < ops.size(); i++) {
                    if (ops.get(i) instanceof StateOp.Delete && befores.get(i).isEmpty()) continue; // nothing was deleted
                    changes.add(change(namespace, results.get(i), befores.get(i)));
                }
            }
            local.forEach((key, row) -> {
                NsKey k = new NsKey(namespace, key);
                seen.put(k, row);
                dirty.put(k, row);
            });
            return List.copyOf(results);
        }

        /** What one op did, for triggers. */
        private static Change.State change(String namespace, OpResult result, Optional<Row> before) {
            return new Change.State(namespace, result.key(), before.map(Row::valueJson), before.map(Row::version),
                    result.entry().map(StateEntry::valueJson), result.entry().map(StateEntry::version),
                    result.entry().flatMap(StateEntry::expiresAt).map(Instant::toEpochMilli), false);
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
        @Override
        public void flush() throws SQLException {
            if (!changes.isEmpty() && !dirty.isEmpty()) outbox.record(connection, changes, now);
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

        @Override
        public void committed() {
            if (!changes.isEmpty()) outbox.committed();
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
}
