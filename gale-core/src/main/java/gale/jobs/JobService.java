package gale.jobs;

import gale.util.Signal;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import gale.registry.ActiveFunction;
import gale.registry.Registry;
import gale.store.JobItem;
import gale.store.JobRow;
import gale.store.JobStore;
import gale.store.JobStore.ItemState;
import gale.usage.UsageMeter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * Map jobs (docs/jobs.md): submission with validation, durable execution, progress,
 * ordered results, cancellation, and resumption after a restart.
 *
 * <p>Several nodes may share the store (docs/postgresql.md). A node runs only the jobs it holds the lease of: those
 * submitted to it, and those it {@link #beat claims} when no node holds them (their node died, or handed them back as
 * it stopped). It renews its leases with every heartbeat; a job taken from it (it was thought dead) stops here without
 * recording anything, and results are stored once whoever computes them, so every input keeps exactly one.
 */
public final class JobService implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(JobService.class);
    public static final int MAX_INPUTS = 1_000_000;
    private static final int RESULT_PAGE = 1_000;
    private static final Duration FLUSH_INTERVAL = Duration.ofMillis(20);
    /** A lone outcome is written at once; one that follows a write this closely waits {@link #GATHER} for others. */
    private static final Duration GATHER_WHEN_BUSY = Duration.ofMillis(5);
    private static final Duration GATHER = Duration.ofMillis(2);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Registry registry;
    private final JobStore store;
    private final UsageMeter usage;
    private final Map<String, JobExecution> running = new ConcurrentHashMap<>();
    private final BlockingQueue<JobItem> outcomes = new ArrayBlockingQueue<>(100_000);
    private final Signal written = new Signal();
    private final ReentrantLock writing = new ReentrantLock();
    private final ExecutorService jobs = Executors.newVirtualThreadPerTaskExecutor();
    private Thread writer;
    private final java.util.concurrent.atomic.LongAdder tasksDone = new java.util.concurrent.atomic.LongAdder();
    private final java.util.concurrent.atomic.LongAdder tasksFailed = new java.util.concurrent.atomic.LongAdder();
    private long lastWrite; // the writer thread's own
    /** Outcomes handed to the writer, and how many of them it has written (or given up on): see {@link #flushOutcomes}. */
    private final AtomicLong enqueued = new AtomicLong();
    private final AtomicLong settled = new AtomicLong();
    private final SecureRandom random = new SecureRandom();
    private volatile boolean closed;
    /** This node's id: the owner of the leases it takes. */
    private final String node;
    /** How long a lease lasts unless renewed: a node that stops beating for this long loses its jobs. */
    private final Duration lease;
    /** Set once the jobs of an earlier run are restored: from then on each beat claims jobs no node holds. */
    private volatile boolean claiming;
    /** Stopping: no job is started or claimed here any more; new jobs are stored for another node to claim. */
    private volatile boolean draining;
    /** How many free jobs one beat claims at most, so that nodes beating at once share them. */
    private static final int CLAIMS_PER_BEAT = 4;

    /**
     * @param usage measures what jobs' tasks use, and stops a job at its CPU budget
     * @param node  this node's id, the owner of its leases
     * @param lease how long a job's lease lasts without renewal (the node's dead-after)
     */
    public JobService(Registry registry, JobStore store, UsageMeter usage, String node, Duration lease) {
        this.registry = registry;
        this.store = store;
        this.usage = usage;
        this.node = node;
        this.lease = lease;
    }

    private JobStore.Lease leaseFrom(Instant now) {
        return new JobStore.Lease(node, now.plus(lease));
    }

    /** Starts the thread that writes task outcomes to the store in batches. */
    public void start() {
        writer = Thread.ofPlatform().name("gale-job-writer").daemon().start(this::writeLoop);
    }

    // ---- submit

    /**
     * A job from a JSON request body: {"function", "inputs", "context", options...}. When the
     * caller is {@code waiting} for the results (POST ?wait=true) and the job is one task, the task
     * runs here, in the calling thread, and its outcome is stored before this returns: a single call
     * pays no hand-off to a job thread, a task thread and the batch writer.
     */
    public Submitted submit(JsonNode request, boolean waiting) {
        if (request == null || !request.isObject()) throw new InvalidJobException("the job must be a JSON object");
        String function = request.path("function").asText("");
        JsonNode inputs = request.get("inputs");
        if (inputs == null || !inputs.isArray()) {
            throw new InvalidJobException("'inputs' must be a JSON array of inputs (or send NDJSON with ?function=NAME)");
        }
        List<String> inputJson = new ArrayList<>(inputs.size());
        for (JsonNode input : inputs) inputJson.add(write(input));
        Map<String, Object> options = new LinkedHashMap<>();
        request.fields().forEachRemaining(e -> {
            if (!List.of("function", "inputs", "context", "contextRef").contains(e.getKey())) options.put(e.getKey(), JSON.convertValue(e.getValue(), Object.class));
        });
        JsonNode context = request.get("context");
        JsonNode ref = request.get("contextRef");
        if ((context == null || context.isNull()) && ref != null && !ref.isNull()) {
            // The context of an earlier job, by the id that job reported: megabytes not sent again.
            String id = ref.asText();
            String stored = store.contextByKey(id).orElseThrow(() -> InvalidJobException.unknownContext(id));
            return create(function, inputJson, Optional.of(new JobContext(stored, stored.getBytes(StandardCharsets.UTF_8), id)), options, waiting);
        }
        return create(function, inputJson, context == null || context.isNull() ? Optional.empty()
                : Optional.of(JobContext.of(write(context))), options, waiting);
    }

    /** A job whose inputs arrive as newline-delimited JSON; options come as query parameters; {@code waiting} as in {@link #submit}. */
    public Submitted submitNdjson(String function, InputStream body, Map<String, ?> options, boolean waiting) throws IOException {
        List<String> inputJson = new ArrayList<>();
        try (var reader = new BufferedReader(new InputStreamReader(body, StandardCharsets.UTF_8))) {
            String line;
            int number = 0;
            while ((line = reader.readLine()) != null) {
                number++;
                if (line.isBlank()) continue;
                try {
                    inputJson.add(write(JSON.readTree(line)));
                } catch (JsonProcessingException e) {
                    throw new InvalidJobException("input line " + number + " is not JSON: " + e.getOriginalMessage());
                }
                if (inputJson.size() > MAX_INPUTS) throw new InvalidJobException("a job takes at most " + MAX_INPUTS + " inputs");
            }
        }
        Object context = options.get("context");
        Map<String, Object> rest = new LinkedHashMap<>(options);
        rest.remove("context");
        rest.remove("function");
        return create(function, inputJson, Optional.ofNullable(context).map(Object::toString).map(JobContext::of), rest, waiting);
    }

    /**
     * A job just submitted.
     *
     * @param results every input's outcome, already stored, when the job ran in the submitting thread
     *                and finished there; empty otherwise (read them with {@link #results})
     */
    public record Submitted(JobView job, Optional<List<JobItem>> results) {
    }

    private Submitted create(String function, List<String> inputs, Optional<JobContext> encoded, Map<String, Object> given,
                             boolean waiting) {
        if (function.isBlank()) throw new InvalidJobException("'function' is required: the name of a deployed function");
        ActiveFunction fn = registry.active(function).orElseThrow(() -> new InvalidJobException(
                registry.function(function).isPresent()
                        ? "function '" + function + "' has no ACTIVE version; see gale versions " + function
                        : "function '" + function + "' not found; deploy it first (gale deploy " + function + " --source DIR)"));
        if (inputs.isEmpty()) throw new InvalidJobException("the job has no inputs; send at least one");
        if (inputs.size() > MAX_INPUTS) throw new InvalidJobException("a job takes at most " + MAX_INPUTS + " inputs");
        JobOptions options = JobOptions.from(given, fn.config());
        String id = "job-" + HexFormat.of().formatHex(randomBytes(6));
        Instant now = Instant.now();
        // Stored as RUNNING at once: it starts below, and one write less is a faster submit.
        JobRow row = new JobRow(id, function, "RUNNING", write(JSON.valueToTree(options.toMap())), encoded.map(JobContext::id),
                inputs.size(), Optional.empty(), now, Optional.of(now), Optional.empty());
        Map<ItemState, Integer> allQueued = countsOf(Map.of(ItemState.QUEUED, inputs.size()));
        if (draining) { // this node is stopping: another node claims the job
            store.create(row, encoded.map(JobContext::json), inputs, Optional.empty());
            LOG.info("JobID {}: {} inputs on {}, stored for another node (this one is stopping)", id, inputs.size(), function);
            return new Submitted(view(row, allQueued), Optional.empty());
        }
        store.create(row, encoded.map(JobContext::json), inputs, Optional.of(leaseFrom(now)));
        if (waiting && inputs.size() <= options.chunkSize()) {
            LOG.debug("JobID {}: {} inputs on {}, run while the submit waits", id, inputs.size(), function);
            return runHere(row, encoded, options, inputs, allQueued);
        }
        LOG.info("JobID {}: {} inputs on {} (parallelism {}, chunk {})", id, inputs.size(), function,
                options.parallelism(), options.chunkSize());
        start(execution(row, encoded, options, this::enqueue, Optional.of(inputs)), allQueued);
        return new Submitted(view(row, allQueued), Optional.empty());
    }

    /**
     * A job of one task whose submitter waits: it runs in this thread, and its outcomes are
     * stored with the job's end in one transaction, before the answer (never overwritten, as
     * ever); they do not go through the batch writer. The outcomes are answered from memory, as
     * stored, so the answer reads nothing back.
     */
    private Submitted runHere(JobRow row, Optional<JobContext> context, JobOptions options, List<String> inputs,
                             Map<ItemState, Integer> allQueued) {
        List<JobItem> outcomes = java.util.Collections.synchronizedList(new ArrayList<>());
        JobExecution execution = execution(row, context, options, outcomes::add, Optional.of(inputs));
        Optional<JobRow> ended = run(execution, allQueued, Optional.of(outcomes));
        List<JobItem> stored = new ArrayList<>(outcomes);
        if (ended.isEmpty() || stored.size() != row.inputs()) {
            return new Submitted(view(row.id()).orElseThrow(), Optional.empty()); // cancelled or suspended: ask the store
        }
        stored.sort(java.util.Comparator.comparingInt(JobItem::index));
        Map<ItemState, Integer> counts = countsOf(Map.of());
        stored.forEach(o -> counts.merge(ItemState.valueOf(o.state()), 1, Integer::sum));
        return new Submitted(view(ended.get(), counts), Optional.of(List.copyOf(stored)));
    }

    private void start(JobExecution execution, Map<ItemState, Integer> countsAtStart) {
        jobs.submit(() -> run(execution, countsAtStart, Optional.empty()));
    }

    /** A job's execution, registered as running (so it can be seen and cancelled) before it starts. */
    private JobExecution execution(JobRow row, Optional<JobContext> context, JobOptions options, Consumer<JobItem> writer,
                                   Optional<List<String>> submitted) {
        Consumer<JobItem> counted = outcome -> {
            (outcome.state().equals("DONE") ? tasksDone : tasksFailed).increment();
            writer.accept(outcome);
        };
        var execution = new JobExecution(row, context, options, registry, store, usage, counted, submitted);
        running.put(row.id(), execution);
        return execution;
    }

    /**
     * Runs the job to its end in this thread, then records how it ended; returns the row as it ended, if it did.
     *
     * @param held the outcomes, when the job's writer keeps them for this method to store with the
     *             job's end; empty when they go through the batch writer (then they are flushed first)
     */
    private Optional<JobRow> run(JobExecution execution, Map<ItemState, Integer> countsAtStart, Optional<List<JobItem>> held) {
        String id = execution.row.id();
        String state = "FAILED";
        Optional<String> error = Optional.empty();
        Optional<JobRow> ended = Optional.empty();
        try {
            state = execution.run(countsAtStart);
            error = execution.error();
        } catch (RuntimeException e) {
            LOG.error("JobID {} failed unexpectedly", id, e);
            error = Optional.of("internal error: " + e);
        } finally {
            List<JobItem> unwritten = held.map(List::copyOf).orElse(List.of());
            if (held.isEmpty()) flushOutcomes();
            if (!execution.suspended()) {
                ended = Optional.of(finish(execution, state, error, unwritten, held.isPresent()));
            } else {
                recordAtOnce(unwritten); // it stays RUNNING for restore(), which runs only what is not stored
            }
            running.remove(id);
            written.fire();
        }
        return ended;
    }

    /** Records how the job ended, with {@code unwritten}, its outcomes not stored yet, in the same transaction when it can. */
    private JobRow finish(JobExecution execution, String state, Optional<String> error, List<JobItem> unwritten, boolean ranHere) {
        JobRow row = execution.row;
        Instant now = Instant.now();
        boolean budget = state.equals(JobExecution.STOPPED_BUDGET);
        Optional<String> owner = Optional.of(node); // a node that lost the job leaves its ending to the new owner
        if (!state.equals("SUCCEEDED") && (execution.options.stopOnError() || state.equals("CANCELLED") || budget)) {
            recordAtOnce(unwritten);
            store.cancelRemaining(row.id(), budget ? Optional.of(execution.notRunForBudget()) : Optional.empty(), owner);
            store.markFinished(row.id(), state, error, now, owner);
        } else {
            store.recordAndFinish(unwritten, row.id(), state, error, now, owner);
        }
        if (ranHere) {
            LOG.debug("JobID {}: {}", row.id(), state); // a single call, like a function call: no log line of its own
        } else {
            LOG.info("JobID {}: {}", row.id(), state);
        }
        return new JobRow(row.id(), row.function(), state, row.optionsJson(), row.contextKey(), row.inputs(), error,
                row.createdAt(), row.startedAt(), Optional.of(now));
    }

    // ---- read

    public Optional<JobView> view(String id) {
        return store.find(id).map(row -> view(row, store.counts(id)));
    }

    private JobView view(JobRow row, Map<ItemState, Integer> stored) {
        JobExecution execution = running.get(row.id());
        Map<String, Integer> counts = new LinkedHashMap<>();
        int done, failed, inFlight;
        if (execution != null) {
            done = Math.max(execution.done(), stored.get(ItemState.DONE));
            failed = Math.max(execution.failed(), stored.get(ItemState.FAILED));
            inFlight = execution.running();
        } else {
            done = stored.get(ItemState.DONE);
            failed = stored.get(ItemState.FAILED);
            inFlight = 0;
        }
        int cancelled = stored.get(ItemState.CANCELLED);
        counts.put("queued", Math.max(0, row.inputs() - done - failed - cancelled - inFlight));
        counts.put("running", inFlight);
        counts.put("done", done);
        counts.put("failed", failed);
        counts.put("cancelled", cancelled);
        String state = execution != null ? "RUNNING" : row.state();
        Instant end = row.finishedAt().orElse(Instant.now());
        long elapsedMs = row.startedAt().map(s -> Duration.between(s, end).toMillis()).orElse(0L);
        double throughput = elapsedMs > 0 ? (done + failed) * 1000.0 / elapsedMs : 0;
        int left = row.inputs() - done - failed - cancelled;
        Optional<Long> eta = execution != null && throughput > 0 ? Optional.of((long) (left / throughput * 1000)) : Optional.empty();
        Map<String, Object> options = readOptions(row);
        return new JobView(row.id(), row.function(), state, row.inputs(), counts, options,
                row.createdAt(), row.startedAt(), row.finishedAt(), elapsedMs, throughput, eta, row.error(), row.contextKey(),
                options.get("maxCpuSeconds") == null ? java.util.OptionalDouble.empty() : usage.cpuSecondsOf(row.id()));
    }

    private static Map<ItemState, Integer> countsOf(Map<ItemState, Integer> some) {
        Map<ItemState, Integer> counts = new java.util.EnumMap<>(ItemState.class);
        for (ItemState s : ItemState.values()) counts.put(s, some.getOrDefault(s, 0));
        return counts;
    }

    public List<JobView> list(Optional<String> function, int limit) {
        return store.list(function, limit).stream().map(r -> view(r.id()).orElseThrow()).toList();
    }

    /**
     * Streams finished inputs in input order, starting after {@code after}, a run of them at a
     * time (so they can go out in one write). With {@code follow}, waits for each next input and
     * returns when the job has ended; a batch written while it looked is not waited for.
     */
    public void results(String id, int after, boolean follow, Consumer<List<JobItem>> out) throws InterruptedException {
        JobRow row = store.find(id).orElseThrow(() -> new InvalidJobException("no job " + id));
        int next = after + 1;
        while (next < row.inputs()) {
            // Taken before looking: a batch written while this looks wakes it, instead of the 500 ms timeout.
            Signal.Next nextBatch = written.next();
            boolean ended = !running.containsKey(id) && !unfinished(id); // another node may run it
            int to = Math.min(row.inputs(), next + RESULT_PAGE);
            List<JobItem> ready = store.finishedRun(id, next, to);
            if (!ready.isEmpty()) out.accept(ready);
            next += ready.size();
            if (next == to) continue;
            if (!follow || ended) return;
            nextBatch.await(Duration.ofMillis(500));
        }
    }

    private boolean unfinished(String id) {
        return store.find(id).map(r -> r.state().equals("RUNNING") || r.state().equals("QUEUED")).orElse(false);
    }

    /** The first {@code limit} inputs of a job that failed for good, by index, with their errors and tracebacks. */
    public List<JobItem> failures(String id, int limit) {
        return store.failedItems(id, limit);
    }

    /**
     * Cancels a running job; waits briefly for it to wind down. A job another node runs is cancelled by that node,
     * which sees the request with its next heartbeat.
     */
    public Optional<JobView> cancel(String id) {
        JobExecution execution = running.get(id);
        if (execution == null && store.requestCancel(id)) {
            awaitEndedInStore(id, Duration.ofSeconds(15));
        } else if (execution != null) {
            execution.cancel();
            try {
                execution.finished().get(10, TimeUnit.SECONDS);
            } catch (Exception e) {
                LOG.warn("JobID {} still winding down after cancel", id);
            }
            awaitFinished(id);
        }
        return view(id);
    }

    private void awaitEndedInStore(String id, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (unfinished(id) && System.nanoTime() < deadline) {
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
        if (unfinished(id)) LOG.warn("JobID {} still winding down on its node after cancel", id);
    }

    private void awaitFinished(String id) {
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (running.containsKey(id) && System.nanoTime() < deadline) {
            try {
                written.await(Duration.ofMillis(50));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /**
     * Runs a finished job's inputs that failed for good again, into the same job: their new outcomes replace the
     * failures in its results, the inputs that succeeded keep theirs and are not called again. Runs on the
     * version active now, with the job's own options. Empty for an unknown job.
     *
     * @throws InvalidJobException (conflict) while the job runs, when it has no failed input, or when its function has no ACTIVE version
     */
    public Optional<JobView> redrive(String id) {
        Optional<JobRow> found = store.find(id);
        if (found.isEmpty()) return Optional.empty();
        JobRow row = found.get();
        if (running.containsKey(id) || row.state().equals("RUNNING") || row.state().equals("QUEUED")) {
            throw InvalidJobException.conflict("job " + id + " is still running; redrive it once it has ended (gale jobs show " + id + ")");
        }
        ActiveFunction fn = registry.active(row.function()).orElseThrow(() -> InvalidJobException.conflict("function '"
                + row.function() + "' of job " + id + " has no ACTIVE version; deploy it, then redrive the job"));
        JobOptions options;
        try {
            @SuppressWarnings("unchecked")
            Map<String, Object> given = JSON.readValue(row.optionsJson(), Map.class);
            options = JobOptions.from(given, fn.config());
        } catch (IOException e) {
            throw new IllegalStateException("job " + id + " has stored options that are not JSON", e);
        }
        if (draining) throw InvalidJobException.conflict("this node is stopping; redrive job " + id + " at another node");
        int queued = store.redriveFailed(id, Optional.of(leaseFrom(Instant.now())));
        if (queued == 0) {
            throw InvalidJobException.conflict("job " + id + " has no failed inputs to redrive (it ended " + row.state() + ")");
        }
        LOG.info("JobID {}: redriving {} inputs that failed", id, queued);
        JobRow again = new JobRow(row.id(), row.function(), "RUNNING", row.optionsJson(), row.contextKey(), row.inputs(),
                Optional.empty(), row.createdAt(), row.startedAt(), Optional.empty());
        start(execution(again, store.context(id).map(JobContext::of), options, this::enqueue, Optional.empty()), store.counts(id));
        return view(id);
    }

    /**
     * At start, once functions serve again: the jobs this node held when it stopped are handed back, then it claims
     * what no node holds (its own among them, unless another node took them meanwhile) and goes on with each: inputs
     * that were running are queued again, finished ones stay. From now on every {@link #beat} claims too.
     */
    public void restore() {
        int released = store.releaseLeasesOf(node);
        if (released > 0) LOG.info("{} jobs this node ran before it stopped may be resumed", released);
        while (!draining && claimFree(Instant.now(), 100) > 0) {
            // a page at a time, until no job is left that no node holds
        }
        claiming = true;
    }

    /**
     * With each heartbeat of this node: renews the leases of its jobs, cancels those whose cancel reached another node,
     * stops the ones taken from it (it was thought dead: their new owner goes on with them), and claims jobs no node
     * holds (their node died, or handed them back).
     */
    public void beat(Instant now) {
        Set<String> runningBefore = Set.copyOf(running.keySet()); // before renewing: a job submitted meanwhile is not "lost"
        Map<String, Boolean> held = new java.util.HashMap<>();
        for (JobStore.Held h : store.renew(node, now.plus(lease))) held.put(h.id(), h.cancelRequested());
        for (String id : runningBefore) {
            JobExecution execution = running.get(id);
            if (execution == null || execution.finished().isDone()) continue;
            Boolean cancel = held.get(id);
            if (cancel == null) {
                LOG.warn("JobID {}: another node has taken the job over (this node's lease ran out); stopping it here", id);
                execution.suspend();
            } else if (cancel) {
                LOG.info("JobID {}: cancelled at another node", id);
                execution.cancel();
            }
        }
        if (claiming && !draining) claimFree(now, CLAIMS_PER_BEAT);
    }

    /** Claims up to {@code limit} jobs no node holds and starts each; returns how many it looked at. */
    private int claimFree(Instant now, int limit) {
        List<String> free = store.claimable(now, limit);
        for (String id : free) {
            if (draining) break;
            if (running.containsKey(id)) continue; // still winding down here after its lease was lost
            store.claim(id, leaseFrom(now), now).ifPresent(this::resume);
        }
        return free.size();
    }

    /** Goes on with a job this node just claimed. */
    private void resume(JobRow row) {
        Optional<ActiveFunction> fn = registry.active(row.function());
        try {
            @SuppressWarnings("unchecked")
            Map<String, Object> options = JSON.readValue(row.optionsJson(), Map.class);
            JobOptions parsed = JobOptions.from(options, fn.map(ActiveFunction::config)
                    .orElseThrow(() -> new InvalidJobException("function '" + row.function() + "' is gone")));
            LOG.info("JobID {}: resuming on node {}", row.id(), node);
            store.markStarted(row.id(), Instant.now());
            JobExecution execution = execution(row, store.context(row.id()).map(JobContext::of), parsed, this::enqueue, Optional.empty());
            if (store.cancelRequested(row.id())) execution.cancel(); // asked while no node held it
            start(execution, store.counts(row.id()));
        } catch (IOException | InvalidJobException e) {
            store.markFinished(row.id(), "FAILED", Optional.of("could not resume: " + e.getMessage()), Instant.now(), Optional.of(node));
        }
    }

    /** Map jobs this node runs now. */
    public int runningCount() {
        return running.size();
    }

    /** Tasks of map jobs that ended since the server started, done or failed for good (for /metrics). */
    public long tasksEnded(boolean done) {
        return (done ? tasksDone : tasksFailed).sum();
    }

    // ---- outcome writer

    private void enqueue(JobItem outcome) {
        try {
            outcomes.put(outcome);
            enqueued.incrementAndGet();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void writeLoop() {
        while (!closed) {
            JobItem first;
            try {
                first = outcomes.poll(FLUSH_INTERVAL.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                return;
            }
            if (first == null) continue;
            boolean interrupted = false;
            if (outcomes.isEmpty() && System.nanoTime() - lastWrite < GATHER_WHEN_BUSY.toNanos()) {
                try {
                    Thread.sleep(GATHER.toMillis()); // outcomes keep coming: one write (and one wake of each stream) for many
                } catch (InterruptedException e) {
                    interrupted = true; // write what this holds first: nothing taken from the queue is dropped
                }
            }
            List<JobItem> batch = new ArrayList<>();
            batch.add(first);
            outcomes.drainTo(batch, 5_000);
            writeBatch(batch);
            lastWrite = System.nanoTime();
            if (interrupted) return;
        }
    }

    /** Writes a batch taken from the writer's queue, and counts it as settled for {@link #flushOutcomes}. */
    private void writeBatch(List<JobItem> batch) {
        try {
            record(batch);
        } finally {
            settled.addAndGet(batch.size());
        }
        written.fire();
    }

    /** Writes outcomes that never went through the writer's queue (a job run for a waiting submit). */
    private void recordAtOnce(List<JobItem> outcomes) {
        record(outcomes);
        written.fire();
    }

    private void record(List<JobItem> batch) {
        writing.lock();
        try {
            store.record(batch);
        } catch (RuntimeException e) {
            LOG.error("could not store {} job results; they will be recomputed after a restart", batch.size(), e);
        } finally {
            writing.unlock();
        }
    }

    /**
     * Writes every outcome handed over before this call. Draining the queue is not enough: the
     * writer thread may hold a batch it took and has not written yet (it gathers for 2 ms when
     * busy), and a job that ended before that batch was stored would let a results stream see
     * the job over with its last results missing. So this also waits for the writer's batch.
     */
    private void flushOutcomes() {
        long target = enqueued.get();
        List<JobItem> batch = new ArrayList<>();
        outcomes.drainTo(batch);
        if (!batch.isEmpty()) writeBatch(batch);
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (settled.get() < target) {
            Signal.Next next = written.next();
            if (settled.get() >= target) break;
            if (System.nanoTime() > deadline) {
                LOG.warn("job outcome writer is {} outcomes behind after 10 s", target - settled.get());
                break;
            }
            try {
                next.await(Duration.ofMillis(100));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /**
     * Stops the jobs this node runs and hands their leases back, so another node takes them over at once (inputs
     * finished here are stored first and are not run again). Jobs submitted from now on are stored for another node.
     */
    @Override
    public void close() {
        draining = true;
        running.values().forEach(JobExecution::suspend);
        jobs.shutdown();
        try {
            jobs.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        closed = true;
        jobs.shutdownNow();
        if (writer != null) writer.interrupt();
        try {
            if (writer != null) writer.join(2_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        flushOutcomes();
        try {
            int handedBack = store.releaseLeasesOf(node);
            if (handedBack > 0) LOG.info("handed back {} map jobs for another node to go on with", handedBack);
        } catch (RuntimeException e) {
            LOG.warn("could not hand back this node's map jobs; another node takes them when their leases run out: {}", e.getMessage());
        }
    }

    // ---- helpers

    private static Map<String, Object> readOptions(JobRow row) {
        try {
            @SuppressWarnings("unchecked")
            Map<String, Object> options = JSON.readValue(row.optionsJson(), Map.class);
            return options;
        } catch (IOException e) {
            return Map.of();
        }
    }

    private static String write(JsonNode node) {
        try {
            return JSON.writeValueAsString(node);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private byte[] randomBytes(int n) {
        byte[] b = new byte[n];
        random.nextBytes(b);
        return b;
    }
}
