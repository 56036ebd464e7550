package gale.store;

import org.jdbi.v3.core.Jdbi;

import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Instant;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Durable jobs and their inputs. Outcomes arrive in batches from the job runner. */
public final class JobStore {

    /** Input states; counts are reported per state. */
    public enum ItemState { QUEUED, RUNNING, DONE, FAILED, CANCELLED }

    private final Jdbi jdbi;

    JobStore(Jdbi jdbi) {
        this.jdbi = jdbi;
    }

    /**
     * Stores a job, its context (the value sent with every input, if any; under the job's context
     * key, once for all jobs with that key) and its inputs (QUEUED) in one transaction.
     */
    public void create(JobRow job, Optional<String> contextJson, List<String> inputsJson) {
        create(job, contextJson, inputsJson, Optional.empty());
    }

    /** As {@link #create(JobRow, Optional, List)}, the job leased to the node that runs it (none: any node may claim it). */
    public void create(JobRow job, Optional<String> contextJson, List<String> inputsJson, Optional<Lease> lease) {
        if (job.contextKey().isPresent() != contextJson.isPresent()) {
            throw new IllegalArgumentException("job " + job.id() + ": a context needs a context key, and a key a context");
        }
        try {
            createRows(job, contextJson, inputsJson, lease);
        } catch (SQLException e) {
            throw new IllegalStateException("could not store job " + job.id() + ": " + e.getMessage(), e);
        }
    }

    private void createRows(JobRow job, Optional<String> contextJson, List<String> inputsJson, Optional<Lease> lease)
            throws SQLException {
        jdbi.useTransaction(h -> {
            if (contextJson.isPresent()) {
                String key = job.contextKey().orElseThrow();
                boolean stored = h.createQuery("SELECT COUNT(*) FROM job_contexts WHERE context_key = :key").bind("key", key)
                        .mapTo(Integer.class).one() > 0;
                if (!stored) { // a repeated map sends the same megabytes again: keep them once
                    h.createUpdate("INSERT INTO job_contexts (context_key, context) VALUES (:key, :context)")
                            .bind("key", key).bind("context", contextJson.get()).execute();
                }
            }
            h.createUpdate("""
                            INSERT INTO jobs (id, function_name, state, options, context_key, inputs, created_at, started_at,
                                              owner, lease_until_ms)
                            VALUES (:id, :f, :state, :options, :key, :inputs, :created, :started, :owner, :until)""")
                    .bind("id", job.id()).bind("f", job.function()).bind("state", job.state())
                    .bind("options", job.optionsJson()).bind("key", job.contextKey().orElse(null))
                    .bind("inputs", job.inputs()).bind("created", job.createdAt().toString())
                    .bind("started", job.startedAt().map(Instant::toString).orElse(null))
                    .bind("owner", lease.map(Lease::owner).orElse(null))
                    .bind("until", lease.map(l -> l.until().toEpochMilli()).orElse(null)).execute();
            try (PreparedStatement ps = h.getConnection().prepareStatement(
                    "INSERT INTO job_items (job_id, idx, input, state) VALUES (?, ?, ?, 'QUEUED')")) {
                for (int i = 0; i < inputsJson.size(); i++) {
                    ps.setString(1, job.id());
                    ps.setInt(2, i);
                    ps.setString(3, inputsJson.get(i));
                    ps.addBatch();
                }
                ps.executeBatch();
            }
        });
    }

    public Optional<JobRow> find(String id) {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM jobs WHERE id = :id").bind("id", id)
                .map((rs, ctx) -> job(rs)).findOne());
    }

    /** A context stored for an earlier job, by its key (a job's contextId). */
    public Optional<String> contextByKey(String key) {
        return jdbi.withHandle(h -> h.createQuery("SELECT context FROM job_contexts WHERE context_key = :key")
                .bind("key", key).mapTo(String.class).findOne());
    }

    /** The job's context, which only its execution reads. */
    public Optional<String> context(String id) {
        return jdbi.withHandle(h -> h.createQuery("""
                        SELECT c.context FROM jobs j JOIN job_contexts c ON c.context_key = j.context_key WHERE j.id = :id""")
                .bind("id", id).mapTo(String.class).findOne());
    }

    /** Newest first; all functions when {@code function} is empty. */
    public List<JobRow> list(Optional<String> function, int limit) {
        return jdbi.withHandle(h -> h.createQuery("""
                        SELECT * FROM jobs WHERE (:f IS NULL OR function_name = :f) ORDER BY created_at DESC LIMIT :limit""")
                .bind("f", function.orElse(null)).bind("limit", limit).map((rs, ctx) -> job(rs)).list());
    }

    /** Jobs a restart must resume. */
    public List<JobRow> unfinished() {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM jobs WHERE state IN ('QUEUED', 'RUNNING') ORDER BY created_at")
                .map((rs, ctx) -> job(rs)).list());
    }

    public void markStarted(String id, Instant when) {
        jdbi.useHandle(h -> h.createUpdate("UPDATE jobs SET state = 'RUNNING', started_at = COALESCE(started_at, :t) WHERE id = :id")
                .bind("t", when.toString()).bind("id", id).execute());
    }

    public void markFinished(String id, String state, Optional<String> error, Instant when) {
        markFinished(id, state, error, when, Optional.empty());
    }

    /**
     * Records how a job ended. With {@code owner}, only while that node holds the job: a node that lost its lease (it
     * was thought dead, and another node took the job over) leaves the ending to the new owner. False when it did not.
     */
    public boolean markFinished(String id, String state, Optional<String> error, Instant when, Optional<String> owner) {
        return jdbi.withHandle(h -> finish(h, id, state, error, when, owner));
    }

    private static boolean finish(org.jdbi.v3.core.Handle h, String id, String state, Optional<String> error, Instant when,
                                  Optional<String> owner) {
        var update = h.createUpdate("UPDATE jobs SET state = :s, error = :e, finished_at = :t, lease_until_ms = NULL WHERE id = :id"
                        + (owner.isPresent() ? " AND (owner IS NULL OR owner = :owner)" : ""))
                .bind("s", state).bind("e", error.orElse(null)).bind("t", when.toString()).bind("id", id);
        owner.ifPresent(o -> update.bind("owner", o));
        return update.execute() == 1;
    }

    /** Inputs that were running when the server stopped go back to the queue; finished ones stay. */
    public void requeueRunning(String id) {
        jdbi.useHandle(h -> h.createUpdate("UPDATE job_items SET state = 'QUEUED' WHERE job_id = :id AND state = 'RUNNING'")
                .bind("id", id).execute());
    }

    /** Indexes still to run, ascending. */
    public List<Integer> queuedIndexes(String id) {
        return jdbi.withHandle(h -> h.createQuery("SELECT idx FROM job_items WHERE job_id = :id AND state = 'QUEUED' ORDER BY idx")
                .bind("id", id).mapTo(Integer.class).list());
    }

    /** Inputs by index range [from, to). */
    public List<JobItem> items(String id, int from, int to) {
        return jdbi.withHandle(h -> h.createQuery("""
                        SELECT * FROM job_items WHERE job_id = :id AND idx >= :from AND idx < :to ORDER BY idx""")
                .bind("id", id).bind("from", from).bind("to", to).map((rs, ctx) -> item(rs)).list());
    }

    /**
     * The finished inputs from {@code from} on, in order, up to the first one not finished or
     * {@code to}: what a results stream can send next. Rows past a gap are not read (a result
     * can be megabytes).
     */
    public List<JobItem> finishedRun(String id, int from, int to) {
        return jdbi.withHandle(h -> h.createQuery("""
                        SELECT * FROM job_items WHERE job_id = :id AND idx >= :from AND idx < COALESCE((
                            SELECT MIN(idx) FROM job_items WHERE job_id = :id AND idx >= :from AND idx < :to
                                AND state IN ('QUEUED', 'RUNNING')), :to)
                        ORDER BY idx""")
                .bind("id", id).bind("from", from).bind("to", to).map((rs, ctx) -> item(rs)).list());
    }

    /** The first {@code limit} inputs that failed for good, by index (with error and traceback). */
    public List<JobItem> failedItems(String id, int limit) {
        return jdbi.withHandle(h -> h.createQuery("""
                        SELECT * FROM job_items WHERE job_id = :id AND state = 'FAILED' ORDER BY idx LIMIT :limit""")
                .bind("id", id).bind("limit", limit).map((rs, ctx) -> item(rs)).list());
    }

    public Map<ItemState, Integer> counts(String id) {
        Map<ItemState, Integer> counts = new EnumMap<>(ItemState.class);
        for (ItemState s : ItemState.values()) counts.put(s, 0);
        jdbi.useHandle(h -> h.createQuery("SELECT state, COUNT(*) AS n FROM job_items WHERE job_id = :id GROUP BY state")
                .bind("id", id).map((rs, ctx) -> Map.entry(ItemState.valueOf(rs.getString("state")), rs.getInt("n")))
                .forEach(e -> counts.put(e.getKey(), e.getValue())));
        return counts;
    }

    /**
     * Records outcomes. An input already DONE or FAILED is never changed again, so a
     * result is reported once even if a retried call also finished.
     */
    public void record(List<JobItem> outcomes) {
        if (outcomes.isEmpty()) return;
        try {
            jdbi.useTransaction(h -> record(h, outcomes));
        } catch (SQLException e) {
            throw new IllegalStateException("could not record job results: " + e.getMessage(), e);
        }
    }

    /**
     * Records a job's last outcomes and how it ended in one transaction (one commit, not two:
     * a single call submitted with ?wait=true pays for each), as {@link #record} then
     * {@link #markFinished} would.
     */
    public void recordAndFinish(List<JobItem> outcomes, String id, String state, Optional<String> error, Instant when) {
        recordAndFinish(outcomes, id, state, error, when, Optional.empty());
    }

    /** As {@link #recordAndFinish(List, String, String, Optional, Instant)}, the ending guarded as {@link #markFinished} guards it. */
    public void recordAndFinish(List<JobItem> outcomes, String id, String state, Optional<String> error, Instant when,
                                Optional<String> owner) {
        try {
            jdbi.useTransaction(h -> {
                record(h, outcomes);
                finish(h, id, state, error, when, owner);
            });
        } catch (SQLException e) {
            throw new IllegalStateException("could not record job results: " + e.getMessage(), e);
        }
    }

    private static void record(org.jdbi.v3.core.Handle h, List<JobItem> outcomes) throws SQLException {
        if (outcomes.isEmpty()) return;
        try (PreparedStatement ps = h.getConnection().prepareStatement("""
                UPDATE job_items SET state = ?, result = ?, error = ?, traceback = ?, status = ?, attempts = ?,
                                     duration_ms = ?
                WHERE job_id = ? AND idx = ? AND state NOT IN ('DONE', 'FAILED')""")) {
            for (JobItem o : outcomes) {
                ps.setString(1, o.state());
                ps.setBytes(2, o.resultJson().orElse(null)); // as bytes: SQLite keeps them as they are, no UTF-16 string on the way
                ps.setString(3, o.error().orElse(null));
                ps.setString(4, o.traceback().orElse(null));
                if (o.status().isPresent()) ps.setInt(5, o.status().get()); else ps.setNull(5, Types.INTEGER);
                ps.setInt(6, o.attempts());
                if (o.durationMs().isPresent()) ps.setDouble(7, o.durationMs().get()); else ps.setNull(7, Types.DOUBLE);
                ps.setString(8, o.jobId());
                ps.setInt(9, o.index());
                ps.addBatch();
            }
            ps.executeBatch();
        }
    }

    /**
     * Queues a finished job's inputs that failed for good again, and moves the job back to RUNNING, in one
     * transaction; the compare-and-set on the job's state makes a second redrive of the same job find nothing.
     * Returns how many inputs were queued (0: the job was not FAILED or CANCELLED, or had no failed input).
     */
    public int redriveFailed(String id) {
        return redriveFailed(id, Optional.empty());
    }

    /** As {@link #redriveFailed(String)}, the job leased to the node that runs it again. */
    public int redriveFailed(String id, Optional<Lease> lease) {
        return jdbi.inTransaction(h -> {
            int moved = h.createUpdate("""
                            UPDATE jobs SET state = 'RUNNING', error = NULL, finished_at = NULL, owner = :owner,
                                lease_until_ms = :until, cancel_requested = 0
                            WHERE id = :id AND state IN ('FAILED', 'CANCELLED')
                                AND EXISTS (SELECT 1 FROM job_items WHERE job_id = :id AND state = 'FAILED')""")
                    .bind("id", id).bind("owner", lease.map(Lease::owner).orElse(null))
                    .bind("until", lease.map(l -> l.until().toEpochMilli()).orElse(null)).execute();
            if (moved == 0) return 0;
            return h.createUpdate("""
                            UPDATE job_items SET state = 'QUEUED', result = NULL, error = NULL, traceback = NULL, status = NULL,
                                attempts = 0, duration_ms = NULL
                            WHERE job_id = :id AND state = 'FAILED'""")
                    .bind("id", id).execute();
        });
    }

    /** Marks every input not yet finished as CANCELLED, with {@code error} saying why when given. */
    public void cancelRemaining(String id, Optional<String> error) {
        cancelRemaining(id, error, Optional.empty());
    }

    /** As {@link #cancelRemaining(String, Optional)}; with {@code owner}, only while that node holds the job. */
    public void cancelRemaining(String id, Optional<String> error, Optional<String> owner) {
        jdbi.useHandle(h -> {
            var update = h.createUpdate("""
                            UPDATE job_items SET state = 'CANCELLED', error = :error WHERE job_id = :id AND state IN ('QUEUED', 'RUNNING')"""
                            + (owner.isPresent() ? " AND EXISTS (SELECT 1 FROM jobs WHERE id = :id AND (owner IS NULL OR owner = :owner))" : ""))
                    .bind("id", id).bind("error", error.orElse(null));
            owner.ifPresent(o -> update.bind("owner", o));
            update.execute();
        });
    }

    // ---- leases: which node runs a job (docs/postgresql.md)

    /** A job's lease: the node that runs it, until when (the owner renews it with its heartbeat). */
    public record Lease(String owner, Instant until) {
    }

    /** A job a node holds after {@link #renew}, and whether a cancel of it reached another node. */
    public record Held(String id, boolean cancelRequested) {
    }

    /**
     * Renews every lease {@code owner} holds on an unfinished job until {@code until}; returns the jobs it holds. A job
     * it runs that is not among them was taken from it (it was thought dead): it must stop running it.
     */
    public List<Held> renew(String owner, Instant until) {
        return jdbi.inTransaction(h -> {
            h.createUpdate("UPDATE jobs SET lease_until_ms = :until WHERE owner = :owner AND state IN ('QUEUED', 'RUNNING')")
                    .bind("until", until.toEpochMilli()).bind("owner", owner).execute();
            return h.createQuery("SELECT id, cancel_requested FROM jobs WHERE owner = :owner AND state IN ('QUEUED', 'RUNNING')")
                    .bind("owner", owner).map((rs, ctx) -> new Held(rs.getString("id"), rs.getInt("cancel_requested") != 0)).list();
        });
    }

    /** Unfinished jobs no node holds (never leased, handed back, or their owner's lease ran out), oldest first. */
    public List<String> claimable(Instant now, int limit) {
        return jdbi.withHandle(h -> h.createQuery("""
                        SELECT id FROM jobs WHERE state IN ('QUEUED', 'RUNNING') AND (owner IS NULL OR lease_until_ms IS NULL
                            OR lease_until_ms < :now) ORDER BY created_at LIMIT :limit""")
                .bind("now", now.toEpochMilli()).bind("limit", limit).mapTo(String.class).list());
    }

    /**
     * Leases the job to {@code lease}'s owner if no node holds it: one compare-and-set UPDATE (on PostgreSQL a second
     * claimer waits for the first's row lock, then matches nothing, as with FOR UPDATE SKIP LOCKED). Inputs left RUNNING
     * go back to the queue with it. Empty when another node has it, or it ended.
     */
    public Optional<JobRow> claim(String id, Lease lease, Instant now) {
        return jdbi.inTransaction(h -> {
            int won = h.createUpdate("""
                            UPDATE jobs SET owner = :owner, lease_until_ms = :until
                            WHERE id = :id AND state IN ('QUEUED', 'RUNNING') AND (owner IS NULL OR lease_until_ms IS NULL
                                OR lease_until_ms < :now)""")
                    .bind("owner", lease.owner()).bind("until", lease.until().toEpochMilli()).bind("id", id)
                    .bind("now", now.toEpochMilli()).execute();
            if (won == 0) return Optional.<JobRow>empty();
            h.createUpdate("UPDATE job_items SET state = 'QUEUED' WHERE job_id = :id AND state = 'RUNNING'").bind("id", id).execute();
            return h.createQuery("SELECT * FROM jobs WHERE id = :id").bind("id", id).map((rs, ctx) -> job(rs)).findOne();
        });
    }

    /** True when a cancel of the job was asked for at a node that does not run it. */
    public boolean cancelRequested(String id) {
        return jdbi.withHandle(h -> h.createQuery("SELECT cancel_requested FROM jobs WHERE id = :id").bind("id", id)
                .mapTo(Integer.class).findOne().orElse(0) != 0);
    }

    /**
     * Asks the node that runs the job to cancel it (it sees this when it next renews its lease; a node that claims the
     * job later, at once). False when the job is unknown or has ended.
     */
    public boolean requestCancel(String id) {
        return jdbi.withHandle(h -> h.createUpdate("UPDATE jobs SET cancel_requested = 1 WHERE id = :id AND state IN ('QUEUED', 'RUNNING')")
                .bind("id", id).execute() == 1);
    }

    /** Hands back the leases {@code owner} holds (it is stopping, or died): another node may claim those jobs at once. */
    public int releaseLeasesOf(String owner) {
        return jdbi.withHandle(h -> releaseLeasesOf(h, owner));
    }

    static int releaseLeasesOf(org.jdbi.v3.core.Handle h, String owner) {
        return h.createUpdate("""
                        UPDATE jobs SET owner = NULL, lease_until_ms = NULL WHERE owner = :owner AND state IN ('QUEUED', 'RUNNING')""")
                .bind("owner", owner).execute();
    }

    /** The node holding the job's lease, while it is unfinished and held. */
    public Optional<String> owner(String id) {
        return jdbi.withHandle(h -> h.createQuery("SELECT owner FROM jobs WHERE id = :id AND state IN ('QUEUED', 'RUNNING')")
                .bind("id", id).mapTo(String.class).findOne().filter(java.util.Objects::nonNull));
    }

    private static JobRow job(ResultSet rs) throws SQLException {
        return new JobRow(rs.getString("id"), rs.getString("function_name"), rs.getString("state"), rs.getString("options"),
                Optional.ofNullable(rs.getString("context_key")), rs.getInt("inputs"), Optional.ofNullable(rs.getString("error")),
                Instant.parse(rs.getString("created_at")), instant(rs, "started_at"), instant(rs, "finished_at"));
    }

    private static JobItem item(ResultSet rs) throws SQLException {
        int status = rs.getInt("status");
        Optional<Integer> statusOpt = rs.wasNull() ? Optional.empty() : Optional.of(status);
        double duration = rs.getDouble("duration_ms");
        Optional<Double> durationOpt = rs.wasNull() ? Optional.empty() : Optional.of(duration);
        return new JobItem(rs.getString("job_id"), rs.getInt("idx"), rs.getString("input"), rs.getString("state"),
                Optional.ofNullable(rs.getBytes("result")), Optional.ofNullable(rs.getString("error")),
                Optional.ofNullable(rs.getString("traceback")), statusOpt, rs.getInt("attempts"), durationOpt);
    }

    private static Optional<Instant> instant(ResultSet rs, String column) throws SQLException {
        String s = rs.getString(column);
        return s == null ? Optional.empty() : Optional.of(Instant.parse(s));
    }
}
