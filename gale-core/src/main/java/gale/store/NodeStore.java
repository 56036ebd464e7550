package gale.store;

import org.jdbi.v3.core.Jdbi;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;

/**
 * The nodes sharing the store (docs/postgresql.md): each writes its row with a heartbeat, and the first node to see a
 * row whose heartbeat is too old {@link #removeDead removes} it and hands that node's leases back in the same
 * transaction, so its jobs and async calls are taken over at once, not when each lease runs out.
 */
public final class NodeStore {

    private final Jdbi jdbi;

    NodeStore(Jdbi jdbi) {
        this.jdbi = jdbi;
    }

    /**
     * Writes the node's heartbeat and load, creating its row when it has none (its first beat, or a node that was
     * thought dead and is not); a DRAINING node stays DRAINING.
     */
    public void beat(NodeRow node) {
        jdbi.useHandle(h -> h.createUpdate("""
                        INSERT INTO nodes (id, url, state, started_ms, heartbeat_ms, instances, in_flight, jobs, free_slots)
                        VALUES (:id, :url, :state, :started, :beat, :instances, :inFlight, :jobs, :free)
                        ON CONFLICT (id) DO UPDATE SET url = :url, heartbeat_ms = :beat, instances = :instances,
                            in_flight = :inFlight, jobs = :jobs, free_slots = :free,
                            state = CASE WHEN nodes.state = 'DRAINING' THEN nodes.state ELSE :state END""")
                .bind("id", node.id()).bind("url", node.url()).bind("state", node.state())
                .bind("started", node.startedAt().toEpochMilli()).bind("beat", node.heartbeatAt().toEpochMilli())
                .bind("instances", node.instances()).bind("inFlight", node.inFlight()).bind("jobs", node.jobs())
                .bind("free", node.freeSlotsJson()).execute());
    }

    /** The node stopped taking leases: it is DRAINING until it leaves. */
    public void markDraining(String id) {
        jdbi.useHandle(h -> h.createUpdate("UPDATE nodes SET state = 'DRAINING' WHERE id = :id").bind("id", id).execute());
    }

    /** The node stopped: its row goes. */
    public void leave(String id) {
        jdbi.useHandle(h -> h.createUpdate("DELETE FROM nodes WHERE id = :id").bind("id", id).execute());
    }

    /** Every node with a row, oldest first. */
    public List<NodeRow> list() {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM nodes ORDER BY started_ms, id").map((rs, ctx) -> row(rs)).list());
    }

    /**
     * Removes the nodes whose last heartbeat is older than {@code cutoff} and, in the same transaction, hands back
     * their leases: their map jobs may be claimed at once, their async calls are queued again. Compare-and-set on the
     * heartbeat: a node that beat in between keeps its row and its leases. Returns the ids removed.
     */
    public List<String> removeDead(Instant cutoff, Instant now) {
        return jdbi.inTransaction(h -> {
            List<String> stale = h.createQuery("SELECT id FROM nodes WHERE heartbeat_ms < :cutoff ORDER BY id")
                    .bind("cutoff", cutoff.toEpochMilli()).mapTo(String.class).list();
            List<String> removed = new java.util.ArrayList<>();
            for (String id : stale) {
                int gone = h.createUpdate("DELETE FROM nodes WHERE id = :id AND heartbeat_ms < :cutoff")
                        .bind("id", id).bind("cutoff", cutoff.toEpochMilli()).execute();
                if (gone == 0) continue; // it beat, or another node removed it first
                JobStore.releaseLeasesOf(h, id);
                AsyncStore.releaseLeasesOf(h, id, now);
                ScheduleStore.interruptFiringsOf(h, id, now, "node " + id + " died before the call ended");
                removed.add(id);
            }
            return removed;
        });
    }

    private static NodeRow row(ResultSet rs) throws SQLException {
        return new NodeRow(rs.getString("id"), rs.getString("url"), rs.getString("state"),
                Instant.ofEpochMilli(rs.getLong("started_ms")), Instant.ofEpochMilli(rs.getLong("heartbeat_ms")),
                rs.getInt("instances"), rs.getInt("in_flight"), rs.getInt("jobs"), rs.getString("free_slots"));
    }
}
