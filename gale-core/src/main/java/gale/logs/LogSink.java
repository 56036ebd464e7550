package gale.logs;

import gale.util.Signal;
import gale.store.InvocationRecord;
import gale.store.LogEntry;
import gale.store.Store;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Takes log lines and invocation records off the request path and writes them to the
 * store in batches from one thread. Followers ({@code gale logs -f}) wait on
 * {@link #awaitWrite} instead of polling the database in a loop.
 *
 * <p>The queues are bounded so a function printing in a tight loop cannot exhaust the
 * heap; what does not fit is counted in {@link #dropped()} and reported once per batch.
 */
public final class LogSink implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(LogSink.class);
    private static final int CAPACITY = 200_000;
    private static final int BATCH = 5_000;
    /** Longest a line waits before it is written: short enough for a live `gale logs -f`. */
    private static final Duration FLUSH_INTERVAL = Duration.ofMillis(50);

    private final Store store;
    private final BlockingQueue<LogEntry> logs = new ArrayBlockingQueue<>(CAPACITY);
    private final BlockingQueue<InvocationRecord> invocations = new ArrayBlockingQueue<>(CAPACITY);
    private final AtomicLong dropped = new AtomicLong();
    private final Signal written = new Signal();
    private final ReentrantLock writing = new ReentrantLock();
    private Thread writer;
    private volatile boolean closed;

    public LogSink(Store store) {
        this.store = store;
    }

    /** Starts the writer thread; lines logged before are written by its first batch. */
    public void start() {
        writer = Thread.ofPlatform().name("gale-log-writer").daemon().start(this::run);
    }

    public void log(LogEntry entry) {
        if (!logs.offer(entry)) dropped.incrementAndGet();
    }

    public void record(InvocationRecord record) {
        if (!invocations.offer(record)) dropped.incrementAndGet();
    }

    public long dropped() {
        return dropped.get();
    }

    /** Blocks until the next batch is written or {@code timeout} passes. */
    public void awaitWrite(Duration timeout) throws InterruptedException {
        written.await(timeout);
    }

    /** Writes everything queued so far; used at shutdown and by tests that read right after a call. */
    public void flush() {
        writing.lock();
        try {
            drainOnce(null);
        } finally {
            writing.unlock();
        }
    }

    private void run() {
        while (!closed) {
            try {
                LogEntry first = logs.poll(FLUSH_INTERVAL.toMillis(), TimeUnit.MILLISECONDS);
                writing.lock();
                try {
                    drainOnce(first);
                } finally {
                    writing.unlock();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (RuntimeException e) {
                LOG.warn("could not write logs to the store; will retry: {}", e.toString());
                sleepQuietly();
            }
        }
    }

    private void drainOnce(LogEntry first) {
        boolean wroteAny = false;
        List<LogEntry> logBatch = new ArrayList<>();
        if (first != null) logBatch.add(first);
        while (!logBatch.isEmpty() || logs.drainTo(logBatch, BATCH) > 0) {
            store.appendLogs(logBatch);
            logBatch.clear();
            wroteAny = true;
        }
        List<InvocationRecord> invocationBatch = new ArrayList<>();
        while (invocations.drainTo(invocationBatch, BATCH) > 0) {
            store.appendInvocations(invocationBatch);
            invocationBatch.clear();
            wroteAny = true;
        }
        if (wroteAny) written.fire();
    }

    private static void sleepQuietly() {
        try {
            Thread.sleep(500);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
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
