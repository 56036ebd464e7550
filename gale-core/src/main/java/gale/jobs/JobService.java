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
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * Map jobs (docs/jobs.md): submission with validation, durable execution, progress,
 * ordered results, cancellation, and resumption after a restart.
 */
public final class JobService implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(JobService.class);
    public static final int MAX_INPUTS = 1_000_000;
    private static final int RESULT_PAGE = 1_000;
    private static final Duration FLUSH_INTERVAL = Duration.ofMillis(20);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Registry registry;
    private final JobStore store;
    private final Map<String, JobExecution> running = new ConcurrentHashMap<>();
    private final BlockingQueue<JobItem> outcomes = new ArrayBlockingQueue<>(100_000);
    private final Signal written = new Signal();
    private final ReentrantLock writing = new ReentrantLock();
    private final ExecutorService jobs = Executors.newVirtualThreadPerTaskExecutor();
    private Thread writer;
    private final SecureRandom random = new SecureRandom();
    private volatile boolean closed;

    public JobService(Registry registry, JobStore store) {
        this.registry = registry;
        this.store = store;
    }

    /** Starts the thread that writes task outcomes to the store in batches. */
    public void start() {
        writer = Thread.ofPlatform().name("gale-job-writer").daemon().start(this::writeLoop);
    }

    // ---- submit

    /** A job from a JSON request body: {"function", "inputs", "context", options...}. */
    public JobView submit(JsonNode request) {
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
            return create(function, inputJson, Optional.of(new JobContext(stored, stored.getBytes(StandardCharsets.UTF_8), id)), options);
        }
        return create(function, inputJson, context == null || context.isNull() ? Optional.empty()
                : Optional.of(JobContext.of(write(context))), options);
    }

    /** A job whose inputs arrive as newline-delimited JSON; options come as query parameters. */
    public JobView submitNdjson(String function, InputStream body, Map<String, ?> options) throws IOException {
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
        return create(function, inputJson, Optional.ofNullable(context).map(Object::toString).map(JobContext::of), rest);
    }

    private JobView create(String function, List<String> inputs, Optional<JobContext> encoded, Map<String, Object> given) {
        if (function.isBlank()) throw new InvalidJobException("'function' is required: the name of a deployed function");
        ActiveFunction fn = registry.active(function).orElseThrow(() -> new InvalidJobException(
                registry.function(function).isPresent()
                        ? "function '" + function + "' has no ACTIVE version; see gale versions " + function
                        : "function '" + function + "' not found; deploy it first (gale deploy " + function + " --source DIR)"));
        if (inputs.isEmpty()) throw new InvalidJobException("the job has no inputs; send at least one");
        if (inputs.size() > MAX_INPUTS) throw new InvalidJobException("a job takes at most " + MAX_INPUTS + " inputs");
        JobOptions options = JobOptions.from(given, fn.config());
        String id = "job-" + HexFormat.of().formatHex(randomBytes(6));
        JobRow row = new JobRow(id, function, "QUEUED", write(JSON.valueToTree(options.toMap())), encoded.map(JobContext::id),
                inputs.size(), Optional.empty(), Instant.now(), Optional.empty(), Optional.empty());
        store.create(row, encoded.map(JobContext::json), inputs);
        LOG.info("JobID {}: {} inputs on {} (parallelism {}, chunk {})", id, inputs.size(), function,
                options.parallelism(), options.chunkSize());
        start(row, encoded, options);
        return view(id).orElseThrow();
    }

    private void start(JobRow row, Optional<JobContext> context, JobOptions options) {
        var execution = new JobExecution(row, context, options, registry, store, this::enqueue);
        running.put(row.id(), execution);
        store.markStarted(row.id(), Instant.now());
        jobs.submit(() -> {
            String state = "FAILED";
            Optional<String> error = Optional.empty();
            try {
                state = execution.run(store.counts(row.id()));
                error = execution.error();
            } catch (RuntimeException e) {
                LOG.error("JobID {} failed unexpectedly", row.id(), e);
                error = Optional.of("internal error: " + e);
            } finally {
                flushOutcomes();
                if (!execution.suspended()) finish(execution, state, error); // a suspended job stays RUNNING for restore()
                running.remove(row.id());
                written.fire();
            }
        });
    }

    private void finish(JobExecution execution, String state, Optional<String> error) {
        String id = execution.row.id();
        if (!state.equals("SUCCEEDED") && (execution.options.stopOnError() || state.equals("CANCELLED"))) {
            store.cancelRemaining(id);
        }
        store.markFinished(id, state, error, Instant.now());
        LOG.info("JobID {}: {}", id, state);
    }

    // ---- read

    public Optional<JobView> view(String id) {
        Optional<JobRow> found = store.find(id);
        if (found.isEmpty()) return Optional.empty();
        JobRow row = found.get();
        JobExecution execution = running.get(id);
        Map<ItemState, Integer> stored = store.counts(id);
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
        return Optional.of(new JobView(row.id(), row.function(), state, row.inputs(), counts, readOptions(row),
                row.createdAt(), row.startedAt(), row.finishedAt(), elapsedMs, throughput, eta, row.error(), row.contextKey()));
    }

    public List<JobView> list(Optional<String> function, int limit) {
        return store.list(function, limit).stream().map(r -> view(r.id()).orElseThrow()).toList();
    }

    /**
     * Streams finished inputs in input order, starting after {@code after}. With
     * {@code follow}, waits for each next input and returns when the job has ended.
     */
    public void results(String id, int after, boolean follow, Consumer<JobItem> out) throws InterruptedException {
        JobRow row = store.find(id).orElseThrow(() -> new InvalidJobException("no job " + id));
        int next = after + 1;
        while (next < row.inputs()) {
            // Taken before looking: a batch written while this looks wakes it, instead of the 500 ms timeout.
            Signal.Next nextBatch = written.next();
            boolean ended = !running.containsKey(id);
            int to = Math.min(row.inputs(), next + RESULT_PAGE);
            List<JobItem> ready = store.finishedRun(id, next, to);
            ready.forEach(out);
            next += ready.size();
            if (next == to) continue;
            if (!follow || ended) return;
            nextBatch.await(Duration.ofMillis(500));
        }
    }

    /** Cancels a running job; waits briefly for it to wind down. */
    public Optional<JobView> cancel(String id) {
        JobExecution execution = running.get(id);
        if (execution != null) {
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

    /** After a restart: inputs that were running are queued again, finished ones stay, and the jobs go on. */
    public void restore() {
        for (JobRow row : store.unfinished()) {
            store.requeueRunning(row.id());
            Optional<ActiveFunction> fn = registry.active(row.function());
            try {
                @SuppressWarnings("unchecked")
                Map<String, Object> options = JSON.readValue(row.optionsJson(), Map.class);
                JobOptions parsed = JobOptions.from(options, fn.map(ActiveFunction::config)
                        .orElseThrow(() -> new InvalidJobException("function '" + row.function() + "' is gone")));
                LOG.info("JobID {}: resuming after a restart", row.id());
                start(row, store.context(row.id()).map(JobContext::of), parsed);
            } catch (IOException | InvalidJobException e) {
                store.markFinished(row.id(), "FAILED", Optional.of("could not resume after a restart: " + e.getMessage()), Instant.now());
            }
        }
    }

    // ---- outcome writer

    private void enqueue(JobItem outcome) {
        try {
            outcomes.put(outcome);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void writeLoop() {
        while (!closed) {
            try {
                JobItem first = outcomes.poll(FLUSH_INTERVAL.toMillis(), TimeUnit.MILLISECONDS);
                if (first == null) continue;
                List<JobItem> batch = new ArrayList<>();
                batch.add(first);
                outcomes.drainTo(batch, 5_000);
                writeBatch(batch);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private void writeBatch(List<JobItem> batch) {
        writing.lock();
        try {
            store.record(batch);
        } catch (RuntimeException e) {
            LOG.error("could not store {} job results; they will be recomputed after a restart", batch.size(), e);
        } finally {
            writing.unlock();
        }
        written.fire();
    }

    private void flushOutcomes() {
        List<JobItem> batch = new ArrayList<>();
        outcomes.drainTo(batch);
        writeBatch(batch);
    }


    @Override
    public void close() {
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
