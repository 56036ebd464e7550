package gale.store;

import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

import java.util.HashMap;
import java.util.Map;

/**
 * One counter per kind of setting a node holds in memory (traffic, triggers, access keys), raised in the
 * transaction of each change of it (V17 store_changes). The nodes of a shared store read the counters every
 * second and reload a kind only when its counter moved: a change made at one node reaches the others without
 * any of them reading whole tables each second.
 */
public final class StoreChanges {

    /** A function's pinned split or tags (traffic_splits, traffic_tags). */
    public static final String TRAFFIC = "traffic";
    /** Trigger subscriptions. */
    public static final String TRIGGERS = "triggers";
    /** Access keys created or revoked. */
    public static final String ACCESS_KEYS = "access_keys";

    private final Jdbi jdbi;

    StoreChanges(Jdbi jdbi) {
        this.jdbi = jdbi;
    }

    /** Each kind's counter: a kind whose counter differs from the last one read changed since. */
    public Map<String, Long> counters() {
        return jdbi.withHandle(h -> {
            Map<String, Long> out = new HashMap<>();
            h.createQuery("SELECT topic, counter FROM store_changes")
                    .map((rs, ctx) -> Map.entry(rs.getString("topic"), rs.getLong("counter")))
                    .forEach(e -> out.put(e.getKey(), e.getValue()));
            return out;
        });
    }

    /** Within the transaction of a change of {@code topic}: the other nodes see it at their next read. */
    static void raise(Handle h, String topic) {
        h.createUpdate("UPDATE store_changes SET counter = counter + 1 WHERE topic = :t").bind("t", topic).execute();
    }
}
