package gale.access;

import gale.access.AuditEntry.Action;
import gale.access.AuditEntry.Outcome;
import gale.store.AuditStore;
import gale.util.TimeOrderedIds;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The audit log of administrative actions (docs/access.md#audit-log), written by one thread in group
 * commits: whatever arrived while a transaction was written goes into the next one.
 *
 * <p>No entry of an action that took effect is ever lost: {@link #begin} returns only once the entry
 * (outcome {@code pending}) is committed, and the caller acts after that. How the action ended
 * ({@link #end}) is queued without waiting; should Gale stop before it is written, the next start
 * marks the entry {@code interrupted}. Refusals ({@link #refused}) are queued without waiting too:
 * nothing happened that an entry must vouch for.
 */
public final class AuditLog implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(AuditLog.class);
    private static final int MAX_BATCH = 1_000;
    /** A begin waits this long at most for its commit; then the action is refused, not run unrecorded. */
    private static final Duration COMMIT_WAIT = Duration.ofSeconds(30);
    private static final int MAX_DETAIL_CHARS = 2_000;

    private sealed interface Write {
    }

    private record Insert(AuditEntry entry, CompletableFuture<Void> committed) implements Write {
    }

    private record End(AuditStore.Finish finish) implements Write {
    }

    private record Stop() implements Write {
    }

    private final AuditStore store;
    private final Clock clock;
    private final BlockingQueue<Write> queue = new LinkedBlockingQueue<>();
    private volatile boolean stopping;
    private Thread writer;

    public AuditLog(AuditStore store, Clock clock) {
        this.store = store;
        this.clock = clock;
    }

    /** Marks what an earlier run left pending as interrupted, then starts the writer. */
    public void start() {
        int interrupted = store.interruptPending(clock.instant());
        if (interrupted > 0) LOG.warn("{} audited actions were under way when Gale last stopped; marked interrupted", interrupted);
        writer = Thread.ofPlatform().name("gale-audit-writer").daemon().start(this::writeLoop);
    }

    /**
     * Records that {@code action} is about to run, and returns once that is durable; the entry's id,
     * for {@link #end}.
     *
     * @throws IllegalStateException when the entry could not be written (the action must not run)
     */
    public String begin(Action action) {
        AuditEntry entry = entry(action, Outcome.PENDING, OptionalInt.empty(), Optional.empty(), Optional.empty());
        var insert = new Insert(entry, new CompletableFuture<>());
        enqueue(insert);
        try {
            insert.committed().get(COMMIT_WAIT.toMillis(), TimeUnit.MILLISECONDS);
            return entry.id();
        } catch (ExecutionException e) {
            throw new IllegalStateException("the audit log could not be written (" + e.getCause().getMessage() + ")", e.getCause());
        } catch (TimeoutException e) {
            throw new IllegalStateException("the audit log was not written within " + COMMIT_WAIT.toSeconds() + "s");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while writing the audit log", e);
        }
    }

    /**
     * Records how the action of entry {@code id} ended, and the function it acted on when only the action
     * found out which; queued, not waited for.
     */
    public void end(String id, int status, Optional<String> detail, Optional<String> function) {
        Instant now = clock.instant();
        offer(new End(new AuditStore.Finish(id, Outcome.ofStatus(status), status, detail.map(AuditLog::shorten), function, now)));
    }

    /** Records an action the caller was not allowed to take; queued, not waited for. */
    public void refused(Action action, int status, String reason) {
        offer(new Insert(entry(action, Outcome.REFUSED, OptionalInt.of(status), Optional.of(shorten(reason)),
                Optional.of(clock.instant())), new CompletableFuture<>()));
    }

    /** Entries at or after {@code since}, of one function or all, newest first, at most {@code limit}. */
    public List<AuditEntry> list(Instant since, Optional<String> function, int limit) {
        return store.list(since, function, limit);
    }

    /** Writes what is queued, then stops the writer. */
    @Override
    public void close() {
        if (writer == null || stopping) return;
        stopping = true;
        queue.add(new Stop());
        try {
            writer.join(COMMIT_WAIT.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void enqueue(Write write) {
        if (stopping || writer == null) throw new IllegalStateException("Gale is stopping and records no new actions");
        queue.add(write);
    }

    private void offer(Write write) {
        if (stopping || writer == null) {
            LOG.warn("not audited, Gale is stopping: {}", write);
            return;
        }
        queue.add(write);
    }

    private AuditEntry entry(Action a, Outcome outcome, OptionalInt status, Optional<String> detail, Optional<Instant> finished) {
        Instant now = clock.instant();
        return new AuditEntry(TimeOrderedIds.next(now.toEpochMilli()), now, a.actor(), a.keyId(), a.action(), a.target(), a.function(), a.client(),
                outcome, status, detail, finished);
    }

    private void writeLoop() {
        List<Write> batch = new ArrayList<>();
        boolean stop = false;
        while (!stop) {
            try {
                batch.add(queue.take());
            } catch (InterruptedException e) {
                stop = true; // write what is queued, then end
            }
            queue.drainTo(batch, MAX_BATCH - batch.size());
            stop |= batch.removeIf(w -> w instanceof Stop);
            if (!batch.isEmpty()) write(batch);
            batch.clear();
        }
        List<Write> rest = new ArrayList<>(queue);
        rest.removeIf(w -> w instanceof Stop);
        if (!rest.isEmpty()) write(rest);
    }

    private void write(List<Write> batch) {
        List<AuditEntry> entries = new ArrayList<>();
        List<AuditStore.Finish> finishes = new ArrayList<>();
        for (Write w : batch) {
            if (w instanceof Insert i) entries.add(i.entry());
            if (w instanceof End e) finishes.add(e.finish());
        }
        try {
            store.write(entries, finishes);
            for (Write w : batch) if (w instanceof Insert i) i.committed().complete(null);
        } catch (RuntimeException e) {
            LOG.error("could not write {} audit entries and {} outcomes", entries.size(), finishes.size(), e);
            for (Write w : batch) if (w instanceof Insert i) i.committed().completeExceptionally(e);
        }
    }

    private static String shorten(String text) {
        return text.length() <= MAX_DETAIL_CHARS ? text : text.substring(0, MAX_DETAIL_CHARS) + "...";
    }
}
