package gale.state;

import org.jdbi.v3.core.Jdbi;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One writer at a time, and whoever queued while it committed commits with the next one: the
 * state and sampler stores' way to be linearizable without a commit per write.
 *
 * <p>A task waits in a queue, then takes the writer lock (a Java lock, so a waiting writer parks
 * instead of SQLite answering SQLITE_BUSY). The thread that holds the lock runs every queued
 * task, in arrival order, in one database transaction, each seeing the writes of those before
 * it, and commits; only then does each task's caller get its answer. A task that throws a
 * {@link RuntimeException} must have written nothing (check first, then write): its caller gets
 * the exception and the batch goes on. An {@link SQLException} fails the whole batch.
 *
 * <p>Nodes that share a PostgreSQL store each have their own writer, so each batch first takes a
 * transaction-scoped advisory lock ({@code pg_advisory_xact_lock}, released by the commit): one
 * batch at a time across every node, and each reads the rows only after the last holder's commit
 * (READ COMMITTED takes each statement's snapshot when it starts). On SQLite one node is the only
 * writer and its IMMEDIATE transactions serialise the rest.
 *
 * @param <B> what the tasks of one batch share (see {@link Batch}), opened per transaction
 */
final class GroupCommit<B extends GroupCommit.Batch> {

    /** Writes applied in one transaction at most; more wait for the next. */
    private static final int MAX_BATCH = 1024;

    /** The tasks' shared view of one transaction; {@link #flush} runs after the last task, before the commit. */
    interface Batch {
        void flush() throws SQLException;

        /** Runs once the batch's transaction committed (what it wrote is durable and visible). */
        default void committed() {
        }
    }

    interface Opener<B> {
        B open(Connection connection, long nowMillis) throws SQLException;
    }

    interface Task<B, T> {
        T run(B batch) throws SQLException;
    }

    private final Jdbi jdbi;
    private final Clock clock;
    private final Opener<B> opener;
    /** The advisory lock key that serialises this writer's batches across nodes on PostgreSQL. */
    private final long crossNodeLock;
    private final ReentrantLock writer = new ReentrantLock();
    /** Whether the store is PostgreSQL; learnt from the first connection (null until then). */
    private volatile Boolean postgresql;
    private final ConcurrentLinkedQueue<Pending<B, ?>> pending = new ConcurrentLinkedQueue<>();

    GroupCommit(Jdbi jdbi, Clock clock, long crossNodeLock, Opener<B> opener) {
        this.jdbi = jdbi;
        this.clock = clock;
        this.crossNodeLock = crossNodeLock;
        this.opener = opener;
    }

    /** Opens a batch on the transaction's connection, once every other node's writer has let go (PostgreSQL). */
    private B open(Connection connection, long now) throws SQLException {
        Boolean shared = postgresql;
        if (shared == null) postgresql = shared = connection.getMetaData().getDatabaseProductName().equals("PostgreSQL");
        if (shared) {
            try (var lock = connection.prepareStatement("SELECT pg_advisory_xact_lock(?)")) {
                lock.setLong(1, crossNodeLock);
                lock.execute();
            }
        }
        return opener.open(connection, now);
    }

    /** Runs {@code task} in the next batch; returns once that batch has committed. */
    <T> T submit(Task<B, T> task) {
        Pending<B, T> p = new Pending<>(task);
        pending.add(p);
        writer.lock();
        try {
            while (!p.done) applyBatch();
        } finally {
            writer.unlock();
        }
        if (p.refused != null) throw p.refused;
        if (p.failure != null) throw new IllegalStateException("could not write to the store: " + p.failure.getMessage(), p.failure);
        return p.result;
    }

    /** Runs {@code task} alone, in a transaction of its own, between batches. */
    <T> T alone(Task<B, T> task) {
        writer.lock();
        try {
            long now = clock.millis();
            List<B> opened = new ArrayList<>(1);
            T result = jdbi.inTransaction(h -> {
                B batch = open(h.getConnection(), now);
                opened.add(batch);
                T r = task.run(batch);
                batch.flush();
                return r;
            });
            opened.forEach(Batch::committed);
            return result;
        } catch (SQLException e) {
            throw new IllegalStateException("could not write to the store: " + e.getMessage(), e);
        } finally {
            writer.unlock();
        }
    }

    private void applyBatch() {
        List<Pending<B, ?>> batch = new ArrayList<>();
        for (Pending<B, ?> p; batch.size() < MAX_BATCH && (p = pending.poll()) != null; ) batch.add(p);
        long now = clock.millis();
        try {
            List<B> opened = new ArrayList<>(1);
            jdbi.useTransaction(h -> {
                B shared = open(h.getConnection(), now);
                opened.add(shared);
                for (Pending<B, ?> p : batch) p.run(shared);
                shared.flush();
            });
            opened.forEach(Batch::committed);
        } catch (RuntimeException | SQLException e) {
            for (Pending<B, ?> p : batch) p.fail(e);
        }
        for (Pending<B, ?> p : batch) p.done = true;
    }

    /** A task and its outcome; the fields are set under the writer lock and read by its caller after taking that lock. */
    private static final class Pending<B, T> {
        final Task<B, T> task;
        boolean done;
        T result;
        RuntimeException refused;
        Exception failure;

        Pending(Task<B, T> task) {
            this.task = task;
        }

        void run(B batch) throws SQLException {
            try {
                result = task.run(batch);
            } catch (RuntimeException e) {
                refused = e;
            }
        }

        void fail(Exception e) {
            result = null;
            refused = null;
            failure = e;
        }
    }
}
