package gale.runtime;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The zygote of one function version (python/gale/_zygote.py): a Python process that has
 * imported the version's dependencies once and forks instances on request, so a cold
 * start pays neither interpreter start-up nor imports. One zygote per function version,
 * never shared, so no state passes between functions.
 *
 * <p>The zygote is a child of the JVM; the instances it forks are its children, so it
 * reports their exits here. It speaks JSON lines over its stdin and stdout (described in
 * _zygote.py). Life: starting → ready → gone. Once gone it forks nothing more, and
 * instances it forked keep running; their exits are then found by polling their pids.
 */
final class PythonZygote {

    private static final Logger LOG = LoggerFactory.getLogger(PythonZygote.class);
    /** Longest a fork may wait, for the zygote to finish preloading and then to fork; then a fresh process is started. */
    static final Duration FORK_WAIT = Duration.ofSeconds(60);
    /** How long a zygote asked to stop may take to exit before it is killed. */
    private static final Duration STOP_GRACE = Duration.ofSeconds(2);
    /** Lines of the zygote's stderr kept to explain why it exited. */
    private static final int STDERR_LINES_KEPT = 8;
    private static final String UNKNOWN_EXIT = "instance exited (its zygote had gone, so its exit status is unknown)";

    private final InstanceSpec spec;
    private final Process process;
    private final Consumer<PythonZygote> onGone;
    private final ExecutorService writer;
    private final CompletableFuture<Void> ready = new CompletableFuture<>();
    private final boolean ownPidNamespace;
    private final Map<String, Forking> forking = new ConcurrentHashMap<>();
    /** Live children by the pid the zygote knows them by (inside its sandbox's PID namespace, if any). */
    private final Map<Long, Child> children = new ConcurrentHashMap<>();
    private final ArrayDeque<String> lastStderr = new ArrayDeque<>();
    private volatile boolean gone;
    private volatile boolean failed;
    private volatile boolean retiring;

    /** A fork asked for: its result, and the cgroup the child joins before it runs anything of the instance. */
    private record Forking(CompletableFuture<ProcessInstance.OsProcess> result, Optional<Isolation.Cgroup> cgroup) {
    }

    /** A forked child: its pid on the host, and how it exited. */
    private record Child(long hostPid, CompletableFuture<String> exit) {
    }

    private PythonZygote(InstanceSpec spec, Process process, boolean ownPidNamespace, Consumer<PythonZygote> onGone) {
        this.spec = spec;
        this.process = process;
        this.ownPidNamespace = ownPidNamespace;
        this.onGone = onGone;
        this.writer = Executors.newSingleThreadExecutor(Thread.ofVirtual().name("gale-zygote-writer-" + process.pid()).factory());
        Thread.ofVirtual().name("gale-zygote-" + process.pid()).start(this::readEvents);
        Thread.ofVirtual().name("gale-zygote-stderr-" + process.pid()).start(this::readStderr);
    }

    /**
     * Starts a zygote; it preloads in the background ({@link #ready()}).
     *
     * @param command         the interpreter and _zygote.py, after the sandbox's prefix if any
     * @param env             the environment of the version's instances, without per-instance variables
     * @param ownPidNamespace true when the command runs in a PID namespace (the sandbox), so the pids
     *                        the zygote reports are not the host's
     * @param onGone          called once when the zygote has exited
     */
    static PythonZygote start(InstanceSpec spec, List<String> command, Map<String, String> env, boolean ownPidNamespace,
                              Consumer<PythonZygote> onGone) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(command).directory(spec.bundleDir().toFile());
        pb.environment().clear();
        pb.environment().putAll(env);
        return new PythonZygote(spec, pb.start(), ownPidNamespace, onGone);
    }

    InstanceSpec spec() {
        return spec;
    }

    long pid() {
        return process.pid();
    }

    /** Completes when preloading is done; fails if the zygote exits or gives up first. */
    CompletableFuture<Void> ready() {
        return ready;
    }

    /** True until the zygote has exited or failed: it can still fork. */
    boolean isServing() {
        return !gone && !ready.isCompletedExceptionally();
    }

    /** True when the zygote never became ready or gave up: starting another one at once would likely fail the same way. */
    boolean failed() {
        return failed;
    }

    /** Instances it forked that have not exited yet. */
    int liveChildren() {
        return children.size();
    }

    /**
     * Forks an instance with exactly {@code env} as its environment. Completes with the new
     * process, or fails (zygote gone, fork failed, no answer within {@link #FORK_WAIT}); a
     * child forked after its caller gave up is killed. With a cgroup, the child is held
     * until Gale has moved it there, so everything of the instance counts against its limit.
     */
    CompletableFuture<ProcessInstance.OsProcess> fork(String instanceId, Map<String, String> env, Optional<Isolation.Cgroup> cgroup) {
        var forked = new CompletableFuture<ProcessInstance.OsProcess>();
        var entry = new Forking(forked, cgroup);
        forking.put(instanceId, entry);
        forked.whenComplete((child, error) -> forking.remove(instanceId, entry));
        if (gone) forked.completeExceptionally(new IOException("the zygote has exited"));
        ready.whenComplete((ok, error) -> {
            if (error != null) {
                forked.completeExceptionally(error);
            } else if (!forked.isDone()) {
                try {
                    writer.execute(() -> send(forkRequest(instanceId, env, cgroup.isPresent()), forked));
                } catch (java.util.concurrent.RejectedExecutionException stopped) {
                    forked.completeExceptionally(new IOException("the zygote is stopping"));
                }
            }
        });
        return forked.orTimeout(FORK_WAIT.toMillis(), TimeUnit.MILLISECONDS);
    }

    private static ObjectNode forkRequest(String instanceId, Map<String, String> env, boolean hold) {
        ObjectNode request = Frame.JSON.createObjectNode().put("op", "fork").put("id", instanceId);
        if (hold) request.put("hold", true);
        ObjectNode environment = request.putObject("env");
        env.forEach(environment::put);
        return request;
    }

    private void send(ObjectNode message, CompletableFuture<?> onFailure) {
        try {
            OutputStream out = process.getOutputStream();
            out.write(Frame.JSON.writeValueAsBytes(message));
            out.write('\n');
            out.flush();
        } catch (IOException e) {
            onFailure.completeExceptionally(new IOException("the zygote's control channel is closed: " + e.getMessage(), e));
        }
    }

    /**
     * The version starts no more instances: the zygote goes. In a sandbox its instances live
     * in its PID namespace, which ends with it, so it waits until the last of them has
     * exited (the pool drains them); outside, it goes now and they keep running.
     */
    void retire() {
        retiring = true;
        if (!ownPidNamespace || children.isEmpty()) stop();
    }

    /** Asks the zygote to exit and kills it if it does not; in a sandbox, its instances end with it. */
    void stop() {
        writer.shutdown();
        try {
            process.getOutputStream().close(); // EOF: the zygote exits
        } catch (IOException ignored) {
            // already gone
        }
        process.onExit().completeOnTimeout(null, STOP_GRACE.toMillis(), TimeUnit.MILLISECONDS)
                .thenRun(process::destroyForcibly);
    }

    // ---- events from the zygote

    private void readEvents() {
        try (var reader = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = reader.readLine()) != null) {
                try {
                    handle(Frame.JSON.readTree(line));
                } catch (IOException | RuntimeException e) {
                    LOG.warn("zygote of {} (pid {}) sent something unreadable: {}", spec.label(), pid(), e.toString());
                }
            }
        } catch (IOException ignored) {
            // the zygote is gone
        }
        process.onExit().completeOnTimeout(null, 1, TimeUnit.SECONDS).join();
        onExit();
    }

    private void handle(JsonNode event) {
        switch (event.path("event").asText()) {
            case "ready" -> {
                LOG.info("zygote of {} ready in {} ms (pid {}, {} modules){}", spec.label(), event.path("ms").asLong(),
                        pid(), event.path("modules").asInt(), describePreload(event));
                ready.complete(null);
            }
            case "forked" -> onForked(event.path("id").asText(), event.path("pid").asLong());
            case "fork_failed" -> {
                var waiting = forking.get(event.path("id").asText());
                if (waiting != null) waiting.result().completeExceptionally(new IOException("fork failed: " + event.path("error").asText()));
            }
            case "exited" -> {
                var child = children.remove(event.path("pid").asLong());
                if (retiring && children.isEmpty()) stop();
                if (child != null) {
                    child.exit().complete(event.has("signal") ? ProcessInstance.describeSignal(event.path("signal").asInt())
                            : "instance exited with code " + event.path("code").asInt());
                }
            }
            case "learned" -> LOG.info("zygote of {} now preloads {} modules its instances imported ({} ms)",
                    spec.label(), event.path("modules").size(), event.path("ms").asLong());
            case "failed" -> {
                failed = true;
                LOG.warn("zygote of {} (pid {}) cannot serve: {}", spec.label(), pid(), event.path("error").asText());
                ready.completeExceptionally(new IOException("the zygote failed: " + event.path("error").asText()));
            }
            default -> LOG.warn("zygote of {} sent an unexpected event: {}", spec.label(), event);
        }
    }

    private static String describePreload(JsonNode event) {
        StringBuilder text = new StringBuilder();
        text.append(": preloaded ").append(join(event.path("preloaded")));
        if (!event.path("learned").isEmpty()) text.append(" and ").append(event.path("learned").size()).append(" learned modules");
        event.path("refused").fields().forEachRemaining(e ->
                text.append("; refused ").append(e.getKey()).append(" (").append(e.getValue().asText()).append(')'));
        event.path("skipped").fields().forEachRemaining(e ->
                text.append("; skipped ").append(e.getKey()).append(" (").append(e.getValue().asText()).append(')'));
        if (event.hasNonNull("note")) text.append("; ").append(event.path("note").asText());
        return text.toString();
    }

    private static String join(JsonNode names) {
        if (names.isEmpty()) return "nothing";
        var list = new java.util.ArrayList<String>();
        names.forEach(n -> list.add(n.asText()));
        return String.join(", ", list);
    }

    private void onForked(String instanceId, long pid) {
        var waiting = forking.get(instanceId);
        long hostPid = ownPidNamespace ? hostPidOf(pid) : pid;
        if (hostPid < 0) {
            sendLater(control("cancel", instanceId));
            if (waiting != null) {
                waiting.result().completeExceptionally(new IOException("the zygote forked pid " + pid + " but it is not among its processes"));
            }
            return;
        }
        var exit = new CompletableFuture<String>();
        children.put(pid, new Child(hostPid, exit));
        var child = new ProcessInstance.OsProcess(hostPid, ProcessHandle.of(hostPid), exit);
        if (waiting != null && waiting.cgroup().isPresent()) {
            try {
                waiting.cgroup().get().attach(hostPid);
            } catch (IOException e) {
                sendLater(control("cancel", instanceId));
                waiting.result().completeExceptionally(new IOException("could not move the instance into its cgroup: " + e.getMessage(), e));
                return;
            }
            sendLater(control("release", instanceId));
        }
        if (waiting == null || !waiting.result().complete(child)) {
            LOG.info("zygote of {} forked {} after it was given up on; killing it", spec.label(), instanceId);
            child.destroy();
        }
    }

    private static ObjectNode control(String op, String instanceId) {
        return Frame.JSON.createObjectNode().put("op", op).put("id", instanceId);
    }

    private void sendLater(ObjectNode message) {
        try {
            writer.execute(() -> send(message, new CompletableFuture<>()));
        } catch (java.util.concurrent.RejectedExecutionException stopped) {
            // the zygote is stopping; its held children end with it
        }
    }

    /**
     * The host pid of a process the zygote knows as {@code nsPid} inside its PID namespace:
     * the last entry of {@code NSpid} in /proc/PID/status is the pid in the innermost namespace.
     */
    private long hostPidOf(long nsPid) {
        for (long pid : ProcessTree.descendants(process.pid())) {
            if (ProcessTree.innermostPid(pid) == nsPid) return pid;
        }
        return -1;
    }

    private void readStderr() {
        try (var reader = new BufferedReader(new InputStreamReader(process.getErrorStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = reader.readLine()) != null) {
                LOG.debug("zygote of {} (pid {}): {}", spec.label(), pid(), line);
                synchronized (lastStderr) {
                    if (lastStderr.size() == STDERR_LINES_KEPT) lastStderr.removeFirst();
                    lastStderr.addLast(line);
                }
            }
        } catch (IOException ignored) {
            // the zygote is gone
        }
    }

    /** The zygote has exited: nothing more to fork, and its children's exits must be watched another way. */
    private void onExit() {
        gone = true;
        String why = process.isAlive() ? "closed its control channel"
                : process.exitValue() > 128 ? "was killed by signal " + (process.exitValue() - 128)
                : "exited with code " + process.exitValue();
        String stderr;
        synchronized (lastStderr) {
            stderr = String.join(" | ", lastStderr);
        }
        if (!ready.isDone()) {
            failed = true;
            LOG.warn("zygote of {} (pid {}) {} before it was ready{}", spec.label(), pid(), why, stderr.isEmpty() ? "" : ": " + stderr);
        } else {
            LOG.info("zygote of {} (pid {}) {}; {} instances it forked keep running", spec.label(), pid(), why, children.size());
        }
        ready.completeExceptionally(new IOException("the zygote " + why));
        forking.values().forEach(f -> f.result().completeExceptionally(new IOException("the zygote " + why)));
        children.forEach((pid, child) -> {
            child.exit().thenRun(() -> children.remove(pid));
            ProcessHandle.of(child.hostPid()).ifPresentOrElse(h -> h.onExit().thenRun(() -> child.exit().complete(UNKNOWN_EXIT)),
                    () -> child.exit().complete(UNKNOWN_EXIT));
        });
        writer.shutdown();
        onGone.accept(this);
    }

    @Override
    public String toString() {
        return "Zygote[" + spec.label() + " pid " + pid() + "]";
    }
}
