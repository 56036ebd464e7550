package gale.store;

import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;

/**
 * The async call queue and its dead letters. Every statement is plain SQL that PostgreSQL runs as it is.
 *
 * <p>A worker leases a call with {@link #claim}: one UPDATE that moves the row to RUNNING only if it is
 * still due (QUEUED and its next attempt has come, or RUNNING with a lease that expired). On PostgreSQL
 * a second claimer's UPDATE waits for the first's row lock and then matches nothing, which is what
 * {@code SELECT ... FOR UPDATE SKIP LOCKED} followed by an UPDATE gives. Finishing a call checks the
 * lease owner, so a worker whose lease expired and was taken over cannot overwrite the new attempt.
 */
public final class AsyncStore {

    private static final String DUE = """
            ((state = 'QUEUED' AND next_attempt_ms <= :now) OR (state = 'RUNNING' AND lease_until_ms < :now))""";

    private final Jdbi jdbi;

    AsyncStore(Jdbi jdbi) {
        this.jdbi = jdbi;
    }

    /** Stores accepted calls in one transaction; they are durable when this returns. */
    public void insertAll(List<AsyncInvocationRow> rows) {
        jdbi.useTransaction(h -> {
            var batch = h.prepareBatch("""
                    INSERT INTO async_invocations (id, function_name, state, method, path, query, headers, body, remote_addr,
                        scheme, host, attempts, next_attempt_ms, created_ms, updated_ms)
                    VALUES (:id, :f, :state, :method, :path, :query, :headers, :body, :remote, :scheme, :host, :attempts,
                        :next, :created, :updated)""");
            for (AsyncInvocationRow r : rows) {
                batch.bind("id", r.id()).bind("f", r.function()).bind("state", r.state()).bind("method", r.method())
                        .bind("path", r.path()).bind("query", r.query()).bind("headers", r.headersJson()).bind("body", r.body())
                        .bind("remote", r.remoteAddr()).bind("scheme", r.scheme()).bind("host", r.host())
                        .bind("attempts", r.attempts()).bind("next", r.nextAttempt().toEpochMilli())
                        .bind("created", r.createdAt().toEpochMilli()).bind("updated", r.updatedAt().toEpochMilli()).add();
            }
            batch.execute();
        });
    }

    /** Stores one accepted call; it is durable when this returns. */
    public void insert(AsyncInvocationRow r) {
        insertAll(List.of(r));
    }

    private static void insert(Handle h, AsyncInvocationRow r) {
        h.createUpdate("""
                        INSERT INTO async_invocations (id, function_name, state, method, path, query, headers, body, remote_addr,
                            scheme, host, attempts, next_attempt_ms, created_ms, updated_ms)
                        VALUES (:id, :f, :state, :method, :path, :query, :headers, :body, :remote, :scheme, :host, :attempts,
                            :next, :created, :updated)""")
                .bind("id", r.id()).bind("f", r.function()).bind("state", r.state()).bind("method", r.method())
                .bind("path", r.path()).bind("query", r.query()).bind("headers", r.headersJson()).bind("body", r.body())
                .bind("remote", r.remoteAddr()).bind("scheme", r.scheme()).bind("host", r.host()).bind("attempts", r.attempts())
                .bind("next", r.nextAttempt().toEpochMilli()).bind("created", r.createdAt().toEpochMilli())
                .bind("updated", r.updatedAt().toEpochMilli()).execute();
    }

    public Optional<AsyncInvocationRow> find(String id) {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM async_invocations WHERE id = :id").bind("id", id)
                .map((rs, ctx) -> row(rs)).findOne());
    }

    /** A call that may be claimed, and its function. */
    public record Candidate(String id, String function) {
    }

    /**
     * Calls due at {@code now}, the longest waiting first. Two queries, each served by the (state, next attempt)
     * index: queued calls whose time has come, and running ones whose lease expired (an OR of both would scan
     * every call ever made).
     */
    public List<Candidate> due(Instant now, int limit) {
        return jdbi.withHandle(h -> h.createQuery("""
                        SELECT id, function_name, t FROM (
                            SELECT id, function_name, next_attempt_ms AS t FROM async_invocations
                                WHERE state = 'QUEUED' AND next_attempt_ms <= :now
                            UNION ALL
                            SELECT id, function_name, lease_until_ms AS t FROM async_invocations
                                WHERE state = 'RUNNING' AND lease_until_ms < :now) due
                        ORDER BY t LIMIT :limit""")
                .bind("now", now.toEpochMilli()).bind("limit", limit)
                .map((rs, ctx) -> new Candidate(rs.getString("id"), rs.getString("function_name"))).list());
    }

    /** A lease asked for: the call, and until when. */
    public record Claim(String id, Instant leaseUntil) {
    }

    /**
     * Leases the calls to {@code owner}, each until its own time, in one transaction; returns those that were
     * still due (the others went to another worker).
     */
    public List<AsyncInvocationRow> claimAll(List<Claim> claims, String owner, Instant now) {
        if (claims.isEmpty()) return List.of();
        return jdbi.inTransaction(h -> {
            List<AsyncInvocationRow> won = new ArrayList<>(claims.size());
            for (Claim c : claims) {
                int claimed = h.createUpdate("UPDATE async_invocations SET state = 'RUNNING', lease_owner = :owner, "
                                + "lease_until_ms = :until, updated_ms = :now WHERE id = :id AND " + DUE)
                        .bind("owner", owner).bind("until", c.leaseUntil().toEpochMilli()).bind("now", now.toEpochMilli())
                        .bind("id", c.id()).execute();
                if (claimed == 1) {
                    h.createQuery("SELECT * FROM async_invocations WHERE id = :id").bind("id", c.id())
                            .map((rs, ctx) -> row(rs)).findOne().ifPresent(won::add);
                }
            }
            return won;
        });
    }

    /** Leases the call to {@code owner} until {@code leaseUntil} if it is still due; empty when another worker got it. */
    public Optional<AsyncInvocationRow> claim(String id, String owner, Instant now, Instant leaseUntil) {
        return claimAll(List.of(new Claim(id, leaseUntil)), owner, now).stream().findFirst();
    }

    /** The earliest time a call becomes due (a queued call's next attempt, or a running one's lease end). */
    public Optional<Instant> earliestDue() {
        return jdbi.withHandle(h -> h.createQuery("""
                        SELECT MIN(t) FROM (SELECT MIN(next_attempt_ms) AS t FROM async_invocations WHERE state = 'QUEUED'
                                            UNION ALL
                                            SELECT MIN(lease_until_ms) AS t FROM async_invocations WHERE state = 'RUNNING') due""")
                .mapTo(Long.class).findOne().map(Instant::ofEpochMilli));
    }

    /**
     * Puts a leased call back in the queue until {@code next}: after a failed attempt (with its error), or
     * without counting one (the pool was full, Gale is stopping). False when the lease was lost.
     */
    public boolean requeue(String id, String owner, int attempts, Instant next, Optional<Integer> version,
                           Optional<String> error, Optional<String> traceback, Instant now) {
        return jdbi.withHandle(h -> requeue(h, id, owner, attempts, next, version, error, traceback, now));
    }

    private static boolean requeue(Handle h, String id, String owner, int attempts, Instant next, Optional<Integer> version,
                                   Optional<String> error, Optional<String> traceback, Instant now) {
        return h.createUpdate("""
                        UPDATE async_invocations SET state = 'QUEUED', attempts = :attempts, next_attempt_ms = :next,
                            lease_owner = NULL, lease_until_ms = NULL, version = COALESCE(:version, version),
                            error = COALESCE(:error, error), traceback = COALESCE(:traceback, traceback), updated_ms = :now
                        WHERE id = :id AND state = 'RUNNING' AND lease_owner = :owner""")
                .bind("attempts", attempts).bind("next", next.toEpochMilli()).bind("version", version.orElse(null))
                .bind("error", error.orElse(null)).bind("traceback", traceback.orElse(null)).bind("now", now.toEpochMilli())
                .bind("id", id).bind("owner", owner).execute() == 1;
    }

    /**
     * How a leased call ended for good: SUCCEEDED or DEAD; with {@code followUp} (a destination's record) stored
     * in the same transaction, so it is sent exactly when the call's end is kept. False when the lease was lost.
     */
    public boolean finish(String id, String owner, AsyncInvocationRow.State state, int attempts, Optional<Integer> version,
                          Optional<Integer> status, Optional<String> headersJson, Optional<byte[]> body,
                          Optional<String> error, Optional<String> traceback, Instant now, Optional<AsyncInvocationRow> followUp) {
        return jdbi.inTransaction(h -> finish(h, id, owner, state, attempts, version, status, headersJson, body, error,
                traceback, now, followUp));
    }

    private static boolean finish(Handle h, String id, String owner, AsyncInvocationRow.State state, int attempts,
                                  Optional<Integer> version, Optional<Integer> status, Optional<String> headersJson,
                                  Optional<byte[]> body, Optional<String> error, Optional<String> traceback, Instant now,
                                  Optional<AsyncInvocationRow> followUp) {
        {
            boolean ended = h.createUpdate("""
                            UPDATE async_invocations SET state = :state, attempts = :attempts, lease_owner = NULL,
                                lease_until_ms = NULL, version = COALESCE(:version, version), result_status = :status,
                                result_headers = :headers, result_body = :body, error = :error, traceback = :traceback,
                                finished_ms = :now, updated_ms = :now
                            WHERE id = :id AND state = 'RUNNING' AND lease_owner = :owner""")
                    .bind("state", state.name()).bind("attempts", attempts).bind("version", version.orElse(null))
                    .bind("status", status.orElse(null)).bind("headers", headersJson.orElse(null)).bind("body", body.orElse(null))
                    .bind("error", error.orElse(null)).bind("traceback", traceback.orElse(null)).bind("now", now.toEpochMilli())
                    .bind("id", id).bind("owner", owner).execute() == 1;
            if (ended) promoteNext(h, id, now);
            if (ended && followUp.isPresent()) insert(h, followUp.get());
            return ended;
        }
    }

    /**
     * A trigger event ended (delivered or dead): the next WAITING event of its key, if any, is QUEUED, so a key's
     * events are delivered one at a time, in order. Nothing for a call that is no trigger event (no order key).
     */
    private static void promoteNext(Handle h, String endedId, Instant now) {
        boolean ordered = h.createQuery("SELECT order_key FROM async_invocations WHERE id = :id").bind("id", endedId)
                .mapTo(String.class).findOne().isPresent(); // null order_key: a plain async call, nothing waits on it
        if (!ordered) return;
        TriggerStore.lockEventOrder(h);
        h.createUpdate("""
                        UPDATE async_invocations SET state = 'QUEUED', next_attempt_ms = :now, updated_ms = :now
                        WHERE id = (SELECT w.id FROM async_invocations w
                                    WHERE w.order_key = (SELECT e.order_key FROM async_invocations e WHERE e.id = :id)
                                      AND w.state = 'WAITING' ORDER BY w.order_seq LIMIT 1)""")
                .bind("now", now.toEpochMilli()).bind("id", endedId).execute();
    }

    /** The writes one transaction of {@link #writeAll} offers; each as the method of the same name. */
    public static final class Writes {
        private final Handle h;

        private Writes(Handle h) {
            this.h = h;
        }

        public void insert(AsyncInvocationRow row) {
            AsyncStore.insert(h, row);
        }

        public boolean requeue(String id, String owner, int attempts, Instant next, Optional<Integer> version,
                               Optional<String> error, Optional<String> traceback, Instant now) {
            return AsyncStore.requeue(h, id, owner, attempts, next, version, error, traceback, now);
        }

        public boolean finish(String id, String owner, AsyncInvocationRow.State state, int attempts, Optional<Integer> version,
                              Optional<Integer> status, Optional<String> headersJson, Optional<byte[]> body,
                              Optional<String> error, Optional<String> traceback, Instant now,
                              Optional<AsyncInvocationRow> followUp) {
            return AsyncStore.finish(h, id, owner, state, attempts, version, status, headersJson, body, error, traceback,
                    now, followUp);
        }
    }

    /** Runs {@code writes} in one transaction (one commit for all: a group commit); returns each one's result, in order. */
    public List<Boolean> writeAll(List<Function<Writes, Boolean>> writes) {
        return jdbi.inTransaction(h -> {
            Writes w = new Writes(h);
            List<Boolean> results = new ArrayList<>(writes.size());
            for (Function<Writes, Boolean> write : writes) results.add(write.apply(w));
            return results;
        });
    }

    public boolean finish(String id, String owner, AsyncInvocationRow.State state, int attempts, Optional<Integer> version,
                          Optional<Integer> status, Optional<String> headersJson, Optional<byte[]> body,
                          Optional<String> error, Optional<String> traceback, Instant now) {
        return finish(id, owner, state, attempts, version, status, headersJson, body, error, traceback, now, Optional.empty());
    }

    /**
     * Queues every RUNNING call again, for a worker that knows no other one shares the store (the embedded
     * store, held by one server through the data dir's lock): the calls a killed server was running run
     * again at once instead of when their leases expire. Returns how many.
     */
    public int releaseAllLeases(Instant now) {
        return jdbi.inTransaction(h -> {
            int released = h.createUpdate("""
                            UPDATE async_invocations SET state = 'QUEUED', lease_owner = NULL, lease_until_ms = NULL,
                                next_attempt_ms = :now, updated_ms = :now
                            WHERE state = 'RUNNING'""").bind("now", now.toEpochMilli()).execute();
            // A key's first WAITING event with nothing ahead of it (none should be) is queued, so no key stalls.
            h.createUpdate("""
                            UPDATE async_invocations SET state = 'QUEUED', next_attempt_ms = :now, updated_ms = :now
                            WHERE state = 'WAITING'
                              AND order_seq = (SELECT MIN(w.order_seq) FROM async_invocations w
                                               WHERE w.order_key = async_invocations.order_key AND w.state = 'WAITING')
                              AND NOT EXISTS (SELECT 1 FROM async_invocations p WHERE p.order_key = async_invocations.order_key
                                              AND p.state IN ('QUEUED', 'RUNNING'))""").bind("now", now.toEpochMilli()).execute();
            return released;
        });
    }

    /** The function's dead letters, newest first. */
    public List<AsyncInvocationRow> deadLetters(String function, int limit) {
        return jdbi.withHandle(h -> h.createQuery("""
                        SELECT * FROM async_invocations WHERE function_name = :f AND state = 'DEAD'
                        ORDER BY finished_ms DESC, id DESC LIMIT :limit""")
                .bind("f", function).bind("limit", limit).map((rs, ctx) -> row(rs)).list());
    }

    /** What {@link #redrive} did: the calls queued again, and the ids asked for that are no dead letter of the function. */
    public record Redriven(List<String> queued, List<String> unknown) {
    }

    /**
     * Queues dead letters again with their attempts reset: all of the function's ({@code ids} empty), or
     * those named. If any named id is not a dead letter of this function, nothing is queued.
     */
    public Redriven redrive(String function, Optional<Collection<String>> ids, Instant now) {
        return jdbi.inTransaction(h -> {
            List<String> dead = h.createQuery("SELECT id FROM async_invocations WHERE function_name = :f AND state = 'DEAD'")
                    .bind("f", function).mapTo(String.class).list();
            List<String> wanted = ids.<List<String>>map(ArrayList::new).orElse(dead);
            List<String> unknown = wanted.stream().filter(id -> !dead.contains(id)).distinct().toList();
            if (!unknown.isEmpty()) return new Redriven(List.of(), unknown);
            List<String> queued = wanted.stream().distinct().toList();
            TriggerStore.lockEventOrder(h); // the check below and an event ending at another node: one, then the other
            // A trigger event waits behind its key's pending event (one of its key at a time); oldest first, so the
            // earliest of several redriven events of a key goes first.
            List<String> inOrder = h.createQuery("""
                            SELECT id FROM async_invocations WHERE function_name = :f AND state = 'DEAD'
                            ORDER BY COALESCE(order_seq, 0), created_ms""")
                    .bind("f", function).mapTo(String.class).list().stream().filter(queued::contains).toList();
            for (String id : inOrder) {
                h.createUpdate("""
                                UPDATE async_invocations SET attempts = 0, next_attempt_ms = :now, created_ms = :now,
                                    finished_ms = NULL, updated_ms = :now,
                                    state = CASE WHEN order_key IS NOT NULL AND EXISTS (SELECT 1 FROM async_invocations p
                                        WHERE p.order_key = async_invocations.order_key AND p.state IN ('QUEUED', 'RUNNING', 'WAITING'))
                                        THEN 'WAITING' ELSE 'QUEUED' END
                                WHERE id = :id AND state = 'DEAD'""")
                        .bind("now", now.toEpochMilli()).bind("id", id).execute();
            }
            return new Redriven(queued, List.of());
        });
    }

    /** Deletes the function's dead letters; returns how many. */
    public int purge(String function) {
        return jdbi.withHandle(h -> h.createUpdate("DELETE FROM async_invocations WHERE function_name = :f AND state = 'DEAD'")
                .bind("f", function).execute());
    }

    /** A function's queued calls and dead letters (in the function's own delete transaction). */
    /**
     * The calls a node leased, queued again at once: the node restarted (they were cut off with it), or it died and
     * another node noticed. Returns how many.
     */
    public int releaseLeasesOf(String owner, Instant now) {
        return jdbi.withHandle(h -> releaseLeasesOf(h, owner, now));
    }

    static int releaseLeasesOf(Handle h, String owner, Instant now) {
        return h.createUpdate("""
                        UPDATE async_invocations SET state = 'QUEUED', lease_owner = NULL, lease_until_ms = NULL,
                            next_attempt_ms = :now, updated_ms = :now
                        WHERE state = 'RUNNING' AND lease_owner = :owner""")
                .bind("now", now.toEpochMilli()).bind("owner", owner).execute();
    }

    static void deleteOfFunction(Handle h, String function) {
        h.createUpdate("DELETE FROM async_invocations WHERE function_name = :f").bind("f", function).execute();
    }

    private static AsyncInvocationRow row(ResultSet rs) throws SQLException {
        return new AsyncInvocationRow(rs.getString("id"), rs.getString("function_name"), rs.getString("state"),
                rs.getString("method"), rs.getString("path"), rs.getString("query"), rs.getString("headers"),
                rs.getBytes("body"), rs.getString("remote_addr"), rs.getString("scheme"), rs.getString("host"),
                rs.getInt("attempts"), Instant.ofEpochMilli(rs.getLong("next_attempt_ms")),
                Instant.ofEpochMilli(rs.getLong("created_ms")), Instant.ofEpochMilli(rs.getLong("updated_ms")),
                optionalLong(rs, "finished_ms").map(Instant::ofEpochMilli), optionalInt(rs, "version"),
                optionalInt(rs, "result_status"), Optional.ofNullable(rs.getString("result_headers")),
                Optional.ofNullable(rs.getBytes("result_body")), Optional.ofNullable(rs.getString("error")),
                Optional.ofNullable(rs.getString("traceback")), Optional.ofNullable(rs.getString("trigger_id")));
    }

    private static Optional<Long> optionalLong(ResultSet rs, String column) throws SQLException {
        long v = rs.getLong(column);
        return rs.wasNull() ? Optional.empty() : Optional.of(v);
    }

    private static Optional<Integer> optionalInt(ResultSet rs, String column) throws SQLException {
        int v = rs.getInt(column);
        return rs.wasNull() ? Optional.empty() : Optional.of(v);
    }
}
