package gale.logs;

import gale.util.Signal;
import gale.store.InvocationRecord;
import gale.store.LogEntry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Takes log lines and invocation records off the request path and writes them to the
 * store in batches from one thread. Followers ({@code gale logs -f}) wait on
 * {@link #awaitWrite} instead of polling the database in a loop.
 *
 * <p>What waits to be written is bounded, in lines and in characters, so a function printing
 * in a tight loop cannot exhaust the heap. What does not fit is dropped and counted per
 * function version, and the count goes into that function's own logs once there is room
 * again ("gale: 1200 lines of output were dropped ..."), so a gap in the logs is never silent.
 *
 * <p>When the store cannot be written (its disk is full), a batch is kept and written again,
 * backing off up to {@link #LONGEST_RETRY}; the server log says so once when it starts and
 * once when it ends, not on every attempt.
 */
public final class LogSink implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(LogSink.class);
    private static final int CAPACITY = 200_000;
    /** About 64 MB of text waiting at most (Latin-1 strings take a byte a character). */
    private static final long MAX_WAITING_CHARS = 64L << 20;
    private static final int BATCH = 5_000;
    /** Longest a line waits before it is written: short enough for a live `gale logs -f`. */
    private static final Duration FLUSH_INTERVAL = Duration.ofMillis(50);
    private static final Duration FIRST_RETRY = Duration.ofMillis(250);
    private static final Duration LONGEST_RETRY = Duration.ofSeconds(5);

    private record FunctionVersion(String function, int version) {
    }

    private final LogStore store;
    private final BlockingQueue<LogEntry> logs = new ArrayBlockingQueue<>(CAPACITY);
    private final BlockingQueue<InvocationRecord> invocations = new ArrayBlockingQueue<>(CAPACITY);
    /** Characters of the lines queued or in a batch not yet written. */
    private final AtomicLong waitingChars = new AtomicLong();
    private final Map<FunctionVersion, LongAdder> droppedLines = new ConcurrentHashMap<>();
    private final AtomicLong dropped = new AtomicLong();
    private final Signal written = new Signal();
    private final ReentrantLock writing = new ReentrantLock();
    // Guarded by `writing`: what was taken off the queues and is not written yet (kept when a write fails).
    private final List<LogEntry> logBatch = new ArrayList<>();
    private final List<InvocationRecord> invocationBatch = new ArrayList<>();
    private Instant failingSince;
    private Duration nextRetry = FIRST_RETRY;
    private Thread writer;
    private volatile boolean closed;

    public LogSink(LogStore store) {
        this.store = store;
    }

    /** Starts the writer thread; lines logged before are written by its first batch. */
    public void start() {
        writer = Thread.ofPlatform().name("gale-log-writer").daemon().start(this::run);
    }

    public void log(LogEntry entry) {
        long chars = entry.message().length();
        if (waitingChars.addAndGet(chars) > MAX_WAITING_CHARS || !logs.offer(entry)) {
            waitingChars.addAndGet(-chars);
            droppedLines.computeIfAbsent(new FunctionVersion(entry.function(), entry.version()), k -> new LongAdder()).increment();
            dropped.incrementAndGet();
        }
    }

    public void record(InvocationRecord record) {
        if (!invocations.offer(record)) dropped.incrementAndGet();
    }

    /** Lines and invocation records dropped since the start because too many were waiting. */
    public long dropped() {
        return dropped.get();
    }

    /** The next batch written from now on: taken before reading the store, waited on after it, misses none. */
    public Signal.Next nextWrite() {
        return written.next();
    }

    /** Blocks until the next batch is written or {@code timeout} passes. */
    public void awaitWrite(Duration timeout) throws InterruptedException {
        written.await(timeout);
    }

    /**
     * Writes everything queued so far; used at shutdown and by tests that read right after a call.
     *
     * @throws RuntimeException when the store cannot be written; what was queued stays for the next attempt
     */
    public void flush() {
        writing.lock();
        try {
            writeQueued();
        } finally {
            writing.unlock();
        }
    }

    /**
     * One write of everything queued per {@link #FLUSH_INTERVAL}: records that trickle in while a
     * batch is written wait for the next tick instead of making a transaction of their own (which
     * at thousands of calls a second meant a commit, and its page writes, every few calls).
     */
    private void run() {
        while (!closed) {
            try {
                Thread.sleep(FLUSH_INTERVAL);
                writing.lock();
                try {
                    writeQueued();
                    if (failingSince != null) {
                        LOG.info("writing logs to the store again, after {} s of failing", Duration.between(failingSince, Instant.now()).toSeconds());
                        failingSince = null;
                        nextRetry = FIRST_RETRY;
                    }
                } finally {
                    writing.unlock();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (RuntimeException e) {
                failed(e);
            }
        }
    }

    /** Says once that writing fails, then backs off; the batch that failed is still held. */
    private void failed(RuntimeException e) {
        if (failingSince == null) {
            failingSince = Instant.now();
            LOG.warn("cannot write logs to the store ({}); holding up to {} MB of them and retrying every {} s at most; "
                    + "lines beyond that are counted and reported in each function's logs", rootMessage(e),
                    MAX_WAITING_CHARS >> 20, LONGEST_RETRY.toSeconds());
        }
        try {
            Thread.sleep(nextRetry);
        } catch (InterruptedException interrupted) {
            Thread.currentThread().interrupt();
            closed = true;
        }
        nextRetry = nextRetry.multipliedBy(2).compareTo(LONGEST_RETRY) > 0 ? LONGEST_RETRY : nextRetry.multipliedBy(2);
    }

    /** Writes what is queued now, in batches of at most {@link #BATCH}; what arrives meanwhile waits for the next call. */
    private void writeQueued() {
        boolean wroteAny = false;
        int queued = logs.size();
        do {
            while (!logBatch.isEmpty() || (queued > 0 && logs.drainTo(logBatch, Math.min(BATCH, queued)) > 0)) {
                queued -= logBatch.size();
                store.appendLogs(logBatch); // throws: the batch stays for the next attempt
                waitingChars.addAndGet(-logBatch.stream().mapToLong(e -> e.message().length()).sum());
                logBatch.clear();
                wroteAny = true;
            }
        } while (noteDroppedLines());
        queued = invocations.size();
        while (!invocationBatch.isEmpty() || (queued > 0 && invocations.drainTo(invocationBatch, Math.min(BATCH, queued)) > 0)) {
            queued -= invocationBatch.size();
            store.appendInvocations(invocationBatch);
            invocationBatch.clear();
            wroteAny = true;
        }
        if (wroteAny) written.fire();
    }

    /**
     * Adds a line to each function's logs saying how many of its lines were dropped since the last such line.
     *
     * @return true when it added one
     */
    private boolean noteDroppedLines() {
        int before = logBatch.size();
        droppedLines.forEach((fv, count) -> {
            long n = count.sumThenReset();
            if (n == 0) return;
            var note = new LogEntry(0, Instant.now(), fv.function(), fv.version(), Optional.empty(), Optional.empty(), "gale",
                    (n == 1 ? "1 line of output was dropped" : n + " lines of output were dropped") + ": they came faster than "
                            + "Gale could store them, or the store could not be written (more than " + (MAX_WAITING_CHARS >> 20)
                            + " MB of logs were waiting)");
            waitingChars.addAndGet(note.message().length());
            logBatch.add(note);
        });
        return logBatch.size() > before;
    }

    private static String rootMessage(Throwable e) {
        Throwable cause = e;
        while (cause.getCause() != null && cause.getCause() != cause) cause = cause.getCause();
        return cause.getMessage() == null ? cause.toString() : cause.getMessage();
    }

    @Override
    public void close() {
        closed = true;
        if (writer != null) writer.interrupt();
        try {
            if (writer != null) writer.join(2_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        flush();
    }
}
