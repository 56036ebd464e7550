package gale.store;

import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Each function's traffic (docs/traffic.md): its pinned split, version to percent, and its tags, tag to
 * version. The registry is the one writer and keeps what serving needs in memory; this is what a
 * restart reads back, and what other nodes of a shared store reload when {@link StoreChanges#TRAFFIC} moved.
 */
public final class TrafficStore {

    /**
     * @param split version to percent, ascending by version; empty when not pinned (all to the ACTIVE version)
     * @param tags  tag to version, by tag
     */
    public record TrafficRow(Map<Integer, Integer> split, Map<String, Integer> tags) {
        public static final TrafficRow NONE = new TrafficRow(Map.of(), Map.of());

        public TrafficRow {
            split = java.util.Collections.unmodifiableMap(new TreeMap<>(split));
            tags = java.util.Collections.unmodifiableMap(new TreeMap<>(tags));
        }
    }

    /** Calls of one version in a period, by how they ended. */
    public record VersionCalls(int version, long calls, long errors) {
    }

    private final Jdbi jdbi;

    TrafficStore(Jdbi jdbi) {
        this.jdbi = jdbi;
    }

    public TrafficRow find(String function) {
        return jdbi.withHandle(h -> find(h, function));
    }

    private static TrafficRow find(Handle h, String function) {
        Map<Integer, Integer> split = new TreeMap<>();
        h.createQuery("SELECT version, percent FROM traffic_splits WHERE function_name = :f").bind("f", function)
                .map((rs, ctx) -> Map.entry(rs.getInt("version"), rs.getInt("percent"))).forEach(e -> split.put(e.getKey(), e.getValue()));
        Map<String, Integer> tags = new TreeMap<>();
        h.createQuery("SELECT tag, version FROM traffic_tags WHERE function_name = :f").bind("f", function)
                .map((rs, ctx) -> Map.entry(rs.getString("tag"), rs.getInt("version"))).forEach(e -> tags.put(e.getKey(), e.getValue()));
        return new TrafficRow(split, tags);
    }

    /** Every function's traffic that has a pinned split or a tag (what a restart serves again). */
    public Map<String, TrafficRow> all() {
        return jdbi.withHandle(h -> {
            List<String> names = h.createQuery("""
                            SELECT function_name FROM traffic_splits UNION SELECT function_name FROM traffic_tags""")
                    .mapTo(String.class).list();
            Map<String, TrafficRow> out = new LinkedHashMap<>();
            for (String name : names) out.put(name, find(h, name));
            return out;
        });
    }

    /** Replaces the function's split and tags, in one transaction. */
    public void put(String function, TrafficRow traffic) {
        jdbi.useTransaction(h -> {
            deleteOfFunction(h, function);
            for (var e : traffic.split().entrySet()) {
                h.createUpdate("INSERT INTO traffic_splits (function_name, version, percent) VALUES (:f, :v, :p)")
                        .bind("f", function).bind("v", e.getKey()).bind("p", e.getValue()).execute();
            }
            for (var e : traffic.tags().entrySet()) {
                h.createUpdate("INSERT INTO traffic_tags (function_name, tag, version) VALUES (:f, :t, :v)")
                        .bind("f", function).bind("t", e.getKey()).bind("v", e.getValue()).execute();
            }
            StoreChanges.raise(h, StoreChanges.TRAFFIC);
        });
    }

    /**
     * The calls of each version of {@code function} recorded since {@code since}, ascending by version (what a canary
     * is judged by). Errors are calls that did not end ok: the function's errors and Gale's refusals alike.
     */
    public List<VersionCalls> callsSince(String function, Instant since) {
        return jdbi.withHandle(h -> h.createQuery("""
                        SELECT version, COUNT(*) AS calls, SUM(CASE WHEN outcome = 'ok' THEN 0 ELSE 1 END) AS errors
                        FROM invocations WHERE function_name = :f AND time >= :since GROUP BY version ORDER BY version""")
                .bind("f", function).bind("since", since.toString())
                .map((rs, ctx) -> new VersionCalls(rs.getInt("version"), rs.getLong("calls"), rs.getLong("errors"))).list());
    }

    static void deleteOfFunction(Handle h, String function) {
        h.createUpdate("DELETE FROM traffic_splits WHERE function_name = :f").bind("f", function).execute();
        h.createUpdate("DELETE FROM traffic_tags WHERE function_name = :f").bind("f", function).execute();
    }

    /** Within a transaction of the store: the function's split is no longer pinned (its tags stay). */
    static void unpin(Handle h, String function) {
        h.createUpdate("DELETE FROM traffic_splits WHERE function_name = :f").bind("f", function).execute();
        StoreChanges.raise(h, StoreChanges.TRAFFIC);
    }
}
