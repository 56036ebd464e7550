package gale.jobs;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import gale.pool.InstancePool;
import gale.pool.PoolRejection;
import gale.registry.ActiveFunction;
import gale.registry.Registry;
import gale.runtime.Instance;
import gale.runtime.InstanceFailure;
import gale.runtime.InvokeRequest;
import gale.runtime.InvokeResult;
import gale.store.JobItem;
import gale.store.JobRow;
import gale.store.JobStore;
import gale.store.JobStore.ItemState;
import gale.usage.UsageMeter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * Runs one job: forms tasks (chunks of queued inputs, in input order), keeps at most
 * {@code parallelism} inputs in flight, runs each task's inputs one after another on
 * one borrowed instance, retries what the platform failed (crash, timeout, 429) with
 * backoff, and hands each final outcome to the writer. Logs carry the job id. A job with a CPU budget
 * ({@code maxCpuSeconds}) takes no new task once the {@link UsageMeter} says its tasks used that much.
 */
final class JobExecution {

    private static final Logger LOG = LoggerFactory.getLogger(JobExecution.class);
    /** Reading queued inputs a page at a time keeps a huge job's memory flat. */
    private static final int PAGE = 2_000;
    /** Results are stored in the database; big outputs belong in a blob. */
    static final int MAX_RESULT_BYTES = 16 << 20;
    private static final ObjectMapper JSON = new ObjectMapper();

    final JobRow row;
    final JobOptions options;
    private final Registry registry;
    private final JobStore store;
    private final UsageMeter usage;
    private final Consumer<JobItem> writer;
    private final Optional<List<String>> submitted;
    private final CallBodies bodies;
    private final AtomicInteger running = new AtomicInteger();
    private final AtomicInteger done = new AtomicInteger();
    private final AtomicInteger failed = new AtomicInteger();
    private final AtomicLong calls = new AtomicLong();
    private final AtomicReference<String> firstError = new AtomicReference<>();
    private final Set<Instance> busyInstances = ConcurrentHashMap.newKeySet();
    private final CompletableFuture<String> finished = new CompletableFuture<>();
    private final long startNanos = System.nanoTime();
    private volatile boolean cancelRequested;
    private volatile boolean stopRequested;
    /** The server is stopping: no new calls, nothing recorded as failed; a restart resumes the job. */
    private volatile boolean suspended;
    /** CPU-seconds used when the budget was found spent; NaN until then. */
    private volatile double budgetSpentAt = Double.NaN;

    /**
     * @param submitted a new job's inputs as submitted, so its first page is not read back from the
     *                  store; empty for a job resumed after a restart (its queued inputs are in the store)
     */
    JobExecution(JobRow row, Optional<JobContext> context, JobOptions options, Registry registry, JobStore store,
                 UsageMeter usage, Consumer<JobItem> writer, Optional<List<String>> submitted) {
        this.row = row;
        this.submitted = submitted.map(inputs -> List.copyOf(inputs.subList(0, Math.min(inputs.size(), PAGE))));
        this.options = options;
        this.registry = registry;
        this.store = store;
        this.usage = usage;
        this.writer = writer;
        this.bodies = CallBodies.of(context, options.contextOnce());
    }

    CompletableFuture<String> finished() {
        return finished;
    }

    int running() {
        return running.get();
    }

    int done() {
        return done.get();
    }

    int failed() {
        return failed.get();
    }

    long elapsedNanos() {
        return System.nanoTime() - startNanos;
    }

    /** Queued inputs never start; running calls on single-call instances are stopped. */
    void cancel() {
        cancelRequested = true;
        for (Instance instance : busyInstances) {
            if (instance.spec().config().concurrency() == 1) {
                instance.kill(new InstanceFailure(InstanceFailure.Kind.STOPPED, "job " + row.id() + " was cancelled"));
            }
        }
    }

    void suspend() {
        suspended = true;
    }

    boolean suspended() {
        return suspended;
    }

    private boolean halted() {
        return cancelRequested || stopRequested || suspended || budgetSpent();
    }

    /** The job's tasks used its CPU budget: no task starts any more; those running finish and are kept. */
    private void budgetReached(double cpuSeconds) {
        budgetSpentAt = cpuSeconds;
        LOG.info("JobID {}: CPU budget of {} CPU-seconds spent ({} used); no new tasks", row.id(),
                options.maxCpuSeconds().getAsDouble(), String.format(java.util.Locale.ROOT, "%.2f", cpuSeconds));
    }

    boolean budgetSpent() {
        return !Double.isNaN(budgetSpentAt);
    }

    /** What an input that did not run because of the budget says. */
    String notRunForBudget() {
        return "not run: job " + row.id() + " stopped when its CPU budget of " + cpuSeconds(options.maxCpuSeconds().getAsDouble())
                + " CPU-seconds was spent; its results so far are kept";
    }

    /**
     * Runs the job to its end; returns the final state. {@code parallelism} workers (fewer for a
     * small job) each take the next task, in input order, until none is left: a task costs no
     * thread of its own and no hand-off through a semaphore. A job of one task runs in this thread.
     */
    String run(Map<ItemState, Integer> countsAtStart) {
        done.set(countsAtStart.get(ItemState.DONE));
        failed.set(countsAtStart.get(ItemState.FAILED));
        options.maxCpuSeconds().ifPresent(max -> usage.watchBudget(row.id(), max, this::budgetReached));
        try {
            Tasks tasks = new Tasks();
            int workers = Math.min(options.parallelism(), Math.ceilDiv(row.inputs(), options.chunkSize()));
            if (workers <= 1) {
                work(tasks);
            } else {
                try (var threads = Executors.newVirtualThreadPerTaskExecutor()) {
                    for (int i = 0; i < workers; i++) threads.submit(() -> work(tasks));
                }
            }
        } finally {
            if (options.maxCpuSeconds().isPresent()) {
                usage.unwatch(row.id());
                // What it used is in the store before the job is seen to end, so its cpuSeconds are whole from then on.
                usage.flush().completeOnTimeout(null, 5, java.util.concurrent.TimeUnit.SECONDS).exceptionally(error -> null).join();
            }
        }
        String state = cancelRequested ? "CANCELLED" : budgetSpent() && !suspended ? STOPPED_BUDGET
                : failed.get() > 0 ? "FAILED" : stopRequested ? "CANCELLED" : "SUCCEEDED";
        finished.complete(state);
        return state;
    }

    private List<JobItem> queued(List<String> inputs) {
        List<JobItem> items = new java.util.ArrayList<>(inputs.size());
        for (int i = 0; i < inputs.size(); i++) {
            items.add(new JobItem(row.id(), i, inputs.get(i), ItemState.QUEUED.name(), Optional.empty(), Optional.empty(),
                    Optional.empty(), Optional.empty(), 0, Optional.empty()));
        }
        return items;
    }

    private void work(Tasks tasks) {
        for (List<JobItem> task = tasks.next(); task != null && !halted(); task = tasks.next()) runTask(task);
    }

    /** The job's queued inputs as tasks of {@code chunkSize}, in input order, read from the store a page at a time. */
    private final class Tasks {
        private final ReentrantLock lock = new ReentrantLock();
        private int nextPage;
        private List<JobItem> page = List.of();
        private int at;

        /** The next task, or null when there is none (or the job stopped). */
        List<JobItem> next() {
            lock.lock();
            try {
                while (at >= page.size()) {
                    if (nextPage >= row.inputs() || halted()) return null;
                    int to = Math.min(row.inputs(), nextPage + PAGE);
                    page = nextPage == 0 && submitted.isPresent() ? queued(submitted.get())
                            : store.items(row.id(), nextPage, to).stream().filter(i -> i.state().equals(ItemState.QUEUED.name())).toList();
                    nextPage = to;
                    at = 0;
                }
                List<JobItem> task = page.subList(at, Math.min(page.size(), at + options.chunkSize()));
                at += task.size();
                return task;
            } finally {
                lock.unlock();
            }
        }
    }

    /** The state of a job that stopped at its CPU budget: its results so far are kept, the rest did not run. */
    static final String STOPPED_BUDGET = "STOPPED_BUDGET";

    Optional<String> error() {
        int f = failed.get();
        if (cancelRequested) return Optional.of("cancelled");
        if (budgetSpent() && !suspended) {
            int notRun = row.inputs() - done.get() - f;
            return Optional.of("stopped: the CPU budget of " + cpuSeconds(options.maxCpuSeconds().getAsDouble())
                    + " CPU-seconds was spent (" + cpuSeconds(budgetSpentAt) + " used); " + notRun + " of " + row.inputs()
                    + " inputs did not run" + (f > 0 ? "; " + f + " failed, first: " + firstError.get() : ""));
        }
        if (f == 0) return Optional.empty();
        return Optional.of(f + " of " + row.inputs() + " inputs failed; first: " + firstError.get()
                + (stopRequested ? " (stopOnError: the rest were cancelled)" : ""));
    }

    /** One task: its inputs in order on one instance, re-borrowing after a platform failure. */
    private void runTask(List<JobItem> chunk) {
        ArrayDeque<JobItem> remaining = new ArrayDeque<>(chunk);
        Map<Integer, Integer> attempts = new ConcurrentHashMap<>();
        Duration backoff = options.retryBackoff();
        while (!remaining.isEmpty() && !halted()) {
            Optional<ActiveFunction> fn = registry.active(row.function());
            if (fn.isEmpty()) {
                remaining.forEach(item -> fail(item, attempts, 404, "function '" + row.function() + "' has no ACTIVE version any more", ""));
                return;
            }
            boolean retry = runOnOneInstance(fn.get().pool(), remaining, attempts);
            if (retry && !remaining.isEmpty()) {
                sleep(backoff);
                backoff = backoff.multipliedBy(2);
            }
        }
    }

    /** @return true when the head input should be tried again after a backoff */
    private boolean runOnOneInstance(InstancePool pool, ArrayDeque<JobItem> remaining, Map<Integer, Integer> attempts) {
        Instant deadline = Instant.now().plus(options.taskTimeout());
        InstancePool.Lease lease;
        try {
            lease = pool.acquireForJob(deadline, row.id());
        } catch (PoolRejection e) {
            JobItem head = remaining.peek();
            attempts.merge(head.index(), 1, Integer::sum);
            int status = e instanceof PoolRejection.DeadlinePassed ? 504 : e instanceof PoolRejection.StartFailed ? 502 : 503;
            if (retryOrFail(head, attempts, status, e.getMessage(), "")) return true;
            remaining.poll();
            return false;
        }
        try (lease) {
            Instance instance = lease.instance();
            busyInstances.add(instance);
            try {
                while (!remaining.isEmpty() && !halted()) {
                    JobItem item = remaining.peek();
                    attempts.merge(item.index(), 1, Integer::sum);
                    running.incrementAndGet();
                    long started = System.nanoTime();
                    InvokeResult result;
                    try {
                        result = call(lease, item);
                    } finally {
                        running.decrementAndGet();
                    }
                    double ms = (System.nanoTime() - started) / 1e6;
                    if (!settle(item, result, attempts, ms)) return true; // platform failure: retry on a fresh lease
                    remaining.poll();
                }
                return false;
            } finally {
                busyInstances.remove(instance);
            }
        }
    }

    /**
     * One call of an input. An instance that lacks the job's context (contextOnce) gets it at once,
     * on the same lease: that is the protocol, not a failure, so it is no attempt, waits no backoff,
     * and counts as one call in the job's usage.
     */
    private InvokeResult call(InstancePool.Lease lease, JobItem item) {
        return lease.invoke(request(item, bodies.body(item.inputJson())), first -> {
            if (!(first instanceof InvokeResult.Response r)) return Optional.empty();
            Optional<byte[]> again = bodies.bodyWithContext(item.inputJson(), r.status(), r.headers());
            if (again.isPresent()) {
                LOG.debug("JobID {} input {}: instance {} lacks the context; sending it", row.id(), item.index(), lease.instance().id());
            }
            return again.map(body -> request(item, body));
        });
    }

    /**
     * Records a final outcome, or says the call should be retried.
     *
     * @return false when the input is to be retried
     */
    private boolean settle(JobItem item, InvokeResult result, Map<Integer, Integer> attempts, double ms) {
        return switch (result) {
            case InvokeResult.Response r when r.status() >= 200 && r.status() < 300 -> succeed(item, r, attempts, ms);
            case InvokeResult.Response r when r.status() == 429 || r.status() == 503 ->
                    !retryOrFail(item, attempts, r.status(), "HTTP " + r.status() + ": " + snippet(r.body()), "");
            case InvokeResult.Response r -> {
                if (options.retryFunctionErrors() && r.status() >= 500) {
                    yield !retryOrFail(item, attempts, r.status(), "HTTP " + r.status() + ": " + snippet(r.body()), "");
                }
                fail(item, attempts, r.status(), "HTTP " + r.status() + ": " + snippet(r.body()), "");
                yield true;
            }
            case InvokeResult.FunctionError e -> {
                if (options.retryFunctionErrors()) yield !retryOrFail(item, attempts, 500, e.error(), e.traceback());
                fail(item, attempts, 500, e.error(), e.traceback());
                yield true;
            }
            case InvokeResult.TimedOut t -> !retryOrFail(item, attempts, 504,
                    "call exceeded the task timeout of " + gale.config.Durations.format(options.taskTimeout()), "");
            case InvokeResult.InstanceDied d -> cancelRequested || suspended || !retryOrFail(item, attempts, 502, d.failure().message(), "");
        };
    }

    private boolean succeed(JobItem item, InvokeResult.Response r, Map<Integer, Integer> attempts, double ms) {
        if (r.body().length > MAX_RESULT_BYTES) {
            fail(item, attempts, 413, "result of " + r.body().length + " bytes is over the " + (MAX_RESULT_BYTES >> 20)
                    + " MB limit for job results; store big outputs in a blob and return its key", "");
            return true;
        }
        done.incrementAndGet();
        writer.accept(new JobItem(row.id(), item.index(), item.inputJson(), ItemState.DONE.name(),
                Optional.of(resultJson(r.body())), Optional.empty(), Optional.empty(), Optional.of(r.status()),
                attempts.getOrDefault(item.index(), 1), Optional.of(ms)));
        return true;
    }

    /** @return true when the input will be tried again, false when it failed for good */
    private boolean retryOrFail(JobItem item, Map<Integer, Integer> attempts, int status, String error, String traceback) {
        int tried = attempts.getOrDefault(item.index(), 1);
        if (suspended) return true; // left queued for the restart
        if (tried <= options.retries() && !halted()) {
            LOG.debug("JobID {} input {}: attempt {} failed ({}); retrying", row.id(), item.index(), tried, error);
            return true;
        }
        fail(item, attempts, status, error + (tried > 1 ? " (after " + tried + " attempts)" : ""), traceback);
        return false;
    }

    private void fail(JobItem item, Map<Integer, Integer> attempts, int status, String error, String traceback) {
        failed.incrementAndGet();
        firstError.compareAndSet(null, "input " + item.index() + ": " + error);
        writer.accept(new JobItem(row.id(), item.index(), item.inputJson(), ItemState.FAILED.name(), Optional.empty(),
                Optional.of(error), Optional.of(traceback).filter(t -> !t.isEmpty()), Optional.of(status),
                attempts.getOrDefault(item.index(), 1), Optional.empty()));
        if (options.stopOnError()) stopRequested = true;
    }

    private InvokeRequest request(JobItem item, byte[] body) {
        String requestId = row.id() + "-" + item.index() + "-" + calls.incrementAndGet(); // unique, without a SecureRandom per call
        return new InvokeRequest(requestId, "POST", "/", "", List.of(Map.entry("Content-Type", "application/json"),
                Map.entry("X-Gale-Job-Id", row.id()), Map.entry("X-Gale-Job-Index", Integer.toString(item.index()))),
                body, "127.0.0.1", "http", "gale-job",
                Instant.now().plus(options.taskTimeout()));
    }

    /**
     * The function's JSON answer as stored: one line of JSON, as results are streamed as NDJSON.
     * A body that is not JSON is kept as a JSON string. One line of JSON already (what the runner
     * sends) is the body itself: a megabyte result is checked by a streaming parser, not copied.
     */
    static byte[] resultJson(byte[] body) {
        if (body.length == 0) return NULL_JSON.clone();
        if (isOneLineOfJson(body)) return body;
        try {
            return JSON.writeValueAsBytes(JSON.readTree(body));
        } catch (IOException e) {
            try {
                return JSON.writeValueAsBytes(new String(body, StandardCharsets.UTF_8));
            } catch (JsonProcessingException impossible) {
                throw new IllegalStateException(impossible);
            }
        }
    }

    private static final byte[] NULL_JSON = "null".getBytes(StandardCharsets.US_ASCII);

    /** True when the bytes are exactly one JSON value (whitespace around it allowed) without a line break. */
    static boolean isOneLineOfJson(byte[] body) {
        for (byte b : body) {
            if (b == '\n' || b == '\r') return false;
        }
        try (JsonParser parser = JSON.getFactory().createParser(body)) {
            if (parser.nextToken() == null) return false;
            parser.skipChildren(); // still reads (and so checks) every token inside
            return parser.nextToken() == null;
        } catch (IOException e) {
            return false;
        }
    }

    private static String snippet(byte[] body) {
        String s = new String(body, 0, Math.min(body.length, 500), StandardCharsets.UTF_8).strip();
        return s.isEmpty() ? "(empty body)" : s;
    }

    /** CPU-seconds as messages write them: 5, 2.5, 0.25 (at most three decimals). */
    static String cpuSeconds(double seconds) {
        return java.math.BigDecimal.valueOf(seconds).setScale(3, java.math.RoundingMode.HALF_UP).stripTrailingZeros().toPlainString();
    }

    private static void sleep(Duration d) {
        try {
            Thread.sleep(d.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
