package gale.state;

import org.jdbi.v3.core.Jdbi;

import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Samplers (docs/state.md#samplers): {@link #draw} hands a respondent k items they have not
 * seen, least-shown first, never pushing an item past its target; the draw is leased, and a
 * lease neither confirmed nor released in time returns its items to the pool (the respondent
 * dropped out). "Shown" counts confirmed draws plus live leases.
 *
 * <p>Every operation runs through one {@link GroupCommit} writer, so each is atomic and they
 * happen in one order for every instance that calls; leases that ran out are returned at the
 * start of each operation on that sampler, before it looks at any count. The rule "never twice"
 * is also the primary key of {@code sampler_draws} (sampler, respondent, item): a respondent's
 * item stays recorded whatever becomes of the lease.
 */
public final class SamplerStore {

    public static final int MAX_ITEMS = 100_000;
    public static final int MAX_ITEM_BYTES = 64 * 1024;
    public static final int MAX_TARGET = 1_000_000;
    public static final int MAX_DRAW = 100;
    public static final int MAX_RESPONDENT_CHARS = 256;
    public static final Duration DEFAULT_LEASE = Duration.ofMinutes(10);
    public static final Duration MAX_LEASE = Duration.ofDays(1);

    /** The advisory lock the sampler writers of every node take in turn on PostgreSQL ("galesamp"). */
    private static final long CROSS_NODE_LOCK = 0x67616c6573616d70L;

    private final GroupCommit<Tx> writer;

    public SamplerStore(Jdbi jdbi, Clock clock) {
        this.writer = new GroupCommit<>(jdbi, clock, CROSS_NODE_LOCK, Tx::new);
    }

    /** The connection and time one batch of sampler operations runs with, and the samplers whose leases it returned. */
    private record Tx(Connection connection, long now, Set<String> expired) implements GroupCommit.Batch {
        Tx(Connection connection, long now) {
            this(connection, now, new HashSet<>());
        }

        @Override
        public void flush() {
        }
    }

    // ---- create and delete

    public Sampler.Spec create(String name, List<Sampler.Item> items, int target, Duration lease) {
        StateLimits.checkNamespace(name);
        checkItems(items);
        if (target < 1 || target > MAX_TARGET) throw StateRefused.invalid("target must be between 1 and " + MAX_TARGET + ", got " + target);
        checkLease(lease);
        return writer.submit(tx -> {
            if (spec(tx, name).isPresent()) {
                throw StateRefused.conflict("a sampler named '" + name + "' exists; delete it first (its counts go with it) or pick another name");
            }
            try (PreparedStatement ps = tx.connection().prepareStatement(
                    "INSERT INTO samplers (name, target, lease_ms, items, created_at) VALUES (?, ?, ?, ?, ?)")) {
                ps.setString(1, name);
                ps.setInt(2, target);
                ps.setLong(3, lease.toMillis());
                ps.setInt(4, items.size());
                ps.setLong(5, tx.now());
                ps.executeUpdate();
            }
            try (PreparedStatement ps = tx.connection().prepareStatement("""
                    INSERT INTO sampler_items (sampler, item_id, position, item, confirmed, shown) VALUES (?, ?, ?, ?, 0, 0)""")) {
                for (int i = 0; i < items.size(); i++) {
                    ps.setString(1, name);
                    ps.setString(2, items.get(i).id());
                    ps.setInt(3, i);
                    ps.setString(4, items.get(i).json());
                    ps.addBatch();
                }
                ps.executeBatch();
            }
            return spec(tx, name).orElseThrow();
        });
    }

    /** True when it existed. */
    public boolean delete(String name) {
        StateLimits.checkNamespace(name);
        return writer.submit(tx -> {
            int deleted = 0;
            for (String sql : List.of("DELETE FROM sampler_draws WHERE sampler = ?", "DELETE FROM sampler_items WHERE sampler = ?",
                    "DELETE FROM samplers WHERE name = ?")) {
                try (PreparedStatement ps = tx.connection().prepareStatement(sql)) {
                    ps.setString(1, name);
                    deleted = ps.executeUpdate();
                }
            }
            return deleted > 0;
        });
    }

    // ---- draw, confirm, release

    /**
     * Up to {@code k} items {@code respondent} was never shown and that are below the target, least
     * shown first (ties in random order), leased for {@code lease} (the sampler's when empty). Fewer,
     * or none, when fewer are left for this respondent.
     */
    public Sampler.Draw draw(String name, String respondent, int k, Optional<Duration> lease) {
        StateLimits.checkNamespace(name);
        checkRespondent(respondent);
        if (k < 1 || k > MAX_DRAW) throw StateRefused.invalid("k must be between 1 and " + MAX_DRAW + ", got " + k);
        lease.ifPresent(SamplerStore::checkLease);
        return writer.submit(tx -> {
            Sampler.Spec spec = existing(tx, name);
            expireLeases(tx, name);
            List<Candidate> candidates = new ArrayList<>();
            try (PreparedStatement ps = tx.connection().prepareStatement("""
                    SELECT item_id, item, shown FROM sampler_items i
                    WHERE sampler = ? AND shown < ?
                      AND NOT EXISTS (SELECT 1 FROM sampler_draws d
                                      WHERE d.sampler = i.sampler AND d.respondent = ? AND d.item_id = i.item_id)
                    ORDER BY shown, position LIMIT ?""")) {
                ps.setString(1, name);
                ps.setInt(2, spec.target());
                ps.setString(3, respondent);
                ps.setInt(4, Math.max(64, k * 8)); // a window to shuffle ties in
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) candidates.add(new Candidate(new Sampler.Item(rs.getString(1), rs.getString(2)), rs.getInt(3)));
                }
            }
            List<Sampler.Item> chosen = leastShownFirst(candidates, k);
            if (chosen.isEmpty()) return new Sampler.Draw(respondent, List.of(), Optional.empty());
            long expires = tx.now() + lease.orElse(spec.lease()).toMillis();
            try (PreparedStatement draw = tx.connection().prepareStatement("""
                         INSERT INTO sampler_draws (sampler, respondent, item_id, state, lease_expires_at, drawn_at)
                         VALUES (?, ?, ?, 'LEASED', ?, ?)""");
                 PreparedStatement count = tx.connection().prepareStatement(
                         "UPDATE sampler_items SET shown = shown + 1 WHERE sampler = ? AND item_id = ?")) {
                for (Sampler.Item item : chosen) {
                    draw.setString(1, name);
                    draw.setString(2, respondent);
                    draw.setString(3, item.id());
                    draw.setLong(4, expires);
                    draw.setLong(5, tx.now());
                    draw.addBatch();
                    count.setString(1, name);
                    count.setString(2, item.id());
                    count.addBatch();
                }
                draw.executeBatch();
                count.executeBatch();
            }
            return new Sampler.Draw(respondent, chosen, Optional.of(Instant.ofEpochMilli(expires)));
        });
    }

    /**
     * Confirms the respondent's leased items ({@code itemIds}, or every item it holds a lease on
     * when empty): they count towards the target for good. An item whose lease ran out is confirmed
     * only if it is still below its target; otherwise, or for an item the respondent released or
     * never drew, nothing is confirmed and the answer is a refusal naming it. Answers the ids confirmed
     * now (an item confirmed before is not confirmed again).
     */
    public List<String> confirm(String name, String respondent, List<String> itemIds) {
        StateLimits.checkNamespace(name);
        checkRespondent(respondent);
        return writer.submit(tx -> {
            Sampler.Spec spec = existing(tx, name);
            expireLeases(tx, name);
            Map<String, String> states = draws(tx, name, respondent);
            List<String> wanted = itemIds.isEmpty()
                    ? states.entrySet().stream().filter(e -> e.getValue().equals("LEASED")).map(Map.Entry::getKey).toList()
                    : List.copyOf(new java.util.LinkedHashSet<>(itemIds));
            List<String> leased = new ArrayList<>();
            List<String> late = new ArrayList<>();
            for (String id : wanted) {
                String state = states.get(id);
                if (state == null) throw StateRefused.conflict("respondent '" + respondent + "' never drew item '" + id + "' from sampler '" + name + "'");
                switch (state) {
                    case "LEASED" -> leased.add(id);
                    case "CONFIRMED" -> { } // confirmed before: nothing to do
                    case "RELEASED" -> throw StateRefused.conflict("respondent '" + respondent + "' released item '" + id
                            + "'; it cannot be confirmed now (the respondent will not be shown it again)");
                    case "EXPIRED" -> {
                        if (shown(tx, name, id) >= spec.target()) {
                            throw StateRefused.conflict("the lease of item '" + id + "' for respondent '" + respondent
                                    + "' ran out and the item has reached its target meanwhile; draw again for other items");
                        }
                        late.add(id);
                    }
                    default -> throw new IllegalStateException("unknown draw state " + state);
                }
            }
            setState(tx, name, respondent, leased, "CONFIRMED", "confirmed = confirmed + 1");
            setState(tx, name, respondent, late, "CONFIRMED", "confirmed = confirmed + 1, shown = shown + 1");
            List<String> confirmed = new ArrayList<>(leased);
            confirmed.addAll(late);
            return confirmed;
        });
    }

    /**
     * Gives back the respondent's leased items ({@code itemIds}, or all of them when empty) to the
     * pool at once; the respondent is not shown them again. Answers the ids released now.
     */
    public List<String> release(String name, String respondent, List<String> itemIds) {
        StateLimits.checkNamespace(name);
        checkRespondent(respondent);
        return writer.submit(tx -> {
            existing(tx, name);
            expireLeases(tx, name);
            Map<String, String> states = draws(tx, name, respondent);
            Set<String> asked = new HashSet<>(itemIds);
            List<String> release = states.entrySet().stream()
                    .filter(e -> e.getValue().equals("LEASED") && (asked.isEmpty() || asked.contains(e.getKey())))
                    .map(Map.Entry::getKey).toList();
            setState(tx, name, respondent, release, "RELEASED", "shown = shown - 1");
            return release;
        });
    }

    public Sampler.Stats stats(String name) {
        StateLimits.checkNamespace(name);
        return writer.submit(tx -> {
            Sampler.Spec spec = existing(tx, name);
            expireLeases(tx, name);
            List<Sampler.ItemCount> items = new ArrayList<>();
            try (PreparedStatement ps = tx.connection().prepareStatement(
                    "SELECT item_id, confirmed, shown - confirmed FROM sampler_items WHERE sampler = ? ORDER BY position")) {
                ps.setString(1, name);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) items.add(new Sampler.ItemCount(rs.getString(1), rs.getInt(2), rs.getInt(3)));
                }
            }
            long respondents;
            try (PreparedStatement ps = tx.connection().prepareStatement(
                    "SELECT COUNT(DISTINCT respondent) FROM sampler_draws WHERE sampler = ?")) {
                ps.setString(1, name);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    respondents = rs.getLong(1);
                }
            }
            long confirmed = items.stream().mapToLong(Sampler.ItemCount::confirmed).sum();
            long leased = items.stream().mapToLong(Sampler.ItemCount::leased).sum();
            int full = (int) items.stream().filter(i -> i.confirmed() >= spec.target()).count();
            return new Sampler.Stats(spec, confirmed, leased, full, respondents, List.copyOf(items));
        });
    }

    // ---- inside a transaction

    private record Candidate(Sampler.Item item, int shown) {
    }

    /** The first k in order of times shown, each run of equal counts shuffled (the window holds whole runs but the last). */
    private static List<Sampler.Item> leastShownFirst(List<Candidate> candidates, int k) {
        List<Sampler.Item> out = new ArrayList<>(k);
        int i = 0;
        while (i < candidates.size() && out.size() < k) {
            int j = i;
            while (j < candidates.size() && candidates.get(j).shown() == candidates.get(i).shown()) j++;
            List<Candidate> tie = new ArrayList<>(candidates.subList(i, j));
            Collections.shuffle(tie, ThreadLocalRandom.current());
            for (Candidate c : tie) {
                if (out.size() == k) break;
                out.add(c.item());
            }
            i = j;
        }
        return out;
    }

    /** Returns the items of every lease of the sampler that ran out to the pool (once a batch: its time stands still). */
    private static void expireLeases(Tx tx, String name) throws SQLException {
        if (!tx.expired().add(name)) return;
        try (PreparedStatement ps = tx.connection().prepareStatement("""
                UPDATE sampler_items SET shown = shown - (
                    SELECT COUNT(*) FROM sampler_draws d WHERE d.sampler = sampler_items.sampler AND d.item_id = sampler_items.item_id
                        AND d.state = 'LEASED' AND d.lease_expires_at <= ?)
                WHERE sampler = ? AND item_id IN (
                    SELECT item_id FROM sampler_draws WHERE sampler = ? AND state = 'LEASED' AND lease_expires_at <= ?)""")) {
            ps.setLong(1, tx.now());
            ps.setString(2, name);
            ps.setString(3, name);
            ps.setLong(4, tx.now());
            if (ps.executeUpdate() == 0) return;
        }
        try (PreparedStatement ps = tx.connection().prepareStatement(
                "UPDATE sampler_draws SET state = 'EXPIRED' WHERE sampler = ? AND state = 'LEASED' AND lease_expires_at <= ?")) {
            ps.setString(1, name);
            ps.setLong(2, tx.now());
            ps.executeUpdate();
        }
    }

    /** item id -> state of every draw of the respondent. */
    private static Map<String, String> draws(Tx tx, String name, String respondent) throws SQLException {
        Map<String, String> states = new LinkedHashMap<>();
        try (PreparedStatement ps = tx.connection().prepareStatement(
                "SELECT item_id, state FROM sampler_draws WHERE sampler = ? AND respondent = ? ORDER BY drawn_at, item_id")) {
            ps.setString(1, name);
            ps.setString(2, respondent);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) states.put(rs.getString(1), rs.getString(2));
            }
        }
        return states;
    }

    private static int shown(Tx tx, String name, String itemId) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement(
                "SELECT shown FROM sampler_items WHERE sampler = ? AND item_id = ?")) {
            ps.setString(1, name);
            ps.setString(2, itemId);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getInt(1) : Integer.MAX_VALUE;
            }
        }
    }

    /** Moves the respondent's draws of {@code ids} to {@code state}, and each item's counts by {@code counts} (an SQL SET list). */
    private static void setState(Tx tx, String name, String respondent, List<String> ids, String state, String counts) throws SQLException {
        if (ids.isEmpty()) return;
        try (PreparedStatement draw = tx.connection().prepareStatement("""
                     UPDATE sampler_draws SET state = ?, lease_expires_at = NULL WHERE sampler = ? AND respondent = ? AND item_id = ?""");
             PreparedStatement count = tx.connection().prepareStatement(
                     "UPDATE sampler_items SET " + counts + " WHERE sampler = ? AND item_id = ?")) {
            for (String id : ids) {
                draw.setString(1, state);
                draw.setString(2, name);
                draw.setString(3, respondent);
                draw.setString(4, id);
                draw.addBatch();
                count.setString(1, name);
                count.setString(2, id);
                count.addBatch();
            }
            draw.executeBatch();
            count.executeBatch();
        }
    }

    private static Sampler.Spec existing(Tx tx, String name) throws SQLException {
        return spec(tx, name).orElseThrow(() -> StateRefused.notFound("no sampler named '" + name
                + "'; create it with `gale sampler create " + name + " --items items.json --target N`"));
    }

    private static Optional<Sampler.Spec> spec(Tx tx, String name) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement(
                "SELECT target, lease_ms, created_at, items FROM samplers WHERE name = ?")) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) return Optional.empty();
                return Optional.of(new Sampler.Spec(name, rs.getInt(1), Duration.ofMillis(rs.getLong(2)), rs.getInt(4),
                        Instant.ofEpochMilli(rs.getLong(3))));
            }
        }
    }

    // ---- validation

    private static void checkItems(List<Sampler.Item> items) {
        if (items.isEmpty()) throw StateRefused.invalid("a sampler needs at least one item");
        if (items.size() > MAX_ITEMS) throw StateRefused.invalid("a sampler holds at most " + MAX_ITEMS + " items, got " + items.size());
        Set<String> ids = new HashSet<>();
        for (Sampler.Item item : items) {
            if (item.id().isEmpty() || item.id().getBytes(StandardCharsets.UTF_8).length > StateLimits.MAX_KEY_BYTES) {
                throw StateRefused.invalid("item ids are 1-" + StateLimits.MAX_KEY_BYTES + " bytes, got '" + StateLimits.preview(item.id()) + "'");
            }
            if (!ids.add(item.id())) throw StateRefused.invalid("item id '" + StateLimits.preview(item.id()) + "' appears twice; ids must be unique");
            int bytes = item.json().getBytes(StandardCharsets.UTF_8).length;
            if (bytes > MAX_ITEM_BYTES) {
                throw StateRefused.tooLarge("item '" + StateLimits.preview(item.id()) + "' is " + bytes + " bytes of JSON; an item is at most "
                        + MAX_ITEM_BYTES + " bytes: keep large content elsewhere and put its URL in the item");
            }
        }
    }

    private static void checkRespondent(String respondent) {
        if (respondent == null || respondent.isEmpty() || respondent.length() > MAX_RESPONDENT_CHARS
                || respondent.chars().anyMatch(c -> c < 0x20 || c == 0x7f)) {
            throw StateRefused.invalid("a respondent is 1-" + MAX_RESPONDENT_CHARS + " characters of printable text (a response id), got '"
                    + StateLimits.preview(String.valueOf(respondent)) + "'");
        }
    }

    private static void checkLease(Duration lease) {
        if (lease.toMillis() < 1 || lease.compareTo(MAX_LEASE) > 0) {
            throw StateRefused.invalid("lease must be between 1ms and 24h, got " + gale.config.Durations.format(lease));
        }
    }
}
