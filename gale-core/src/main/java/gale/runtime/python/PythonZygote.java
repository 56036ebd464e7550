package gale.runtime.python;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import gale.runtime.Connection;
import gale.runtime.Frame;
import gale.runtime.InstanceFailedException;
import gale.runtime.InstanceFailure;
import gale.runtime.InstanceIds;
import gale.runtime.InstanceListener;
import gale.runtime.InstanceSpec;
import gale.runtime.Isolation;
import gale.runtime.ProcessLauncher;
import gale.runtime.ProcessTree;
import gale.runtime.SocketInstance;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The zygote of one function version (python/gale/_zygote.py): a Python process that has
 * imported the version's dependencies once and forks instances on request, so a cold
 * start pays neither interpreter start-up nor imports. One zygote per function version,
 * never shared, so no state passes between functions.
 *
 * <p>No thread of Gale's waits on it: its stdin is /dev/null, its stdout and stderr go to a
 * file that is read only to say why it failed, and it talks to Gale over a connection of its
 * own to the instance socket (CONTROL frames, docs/protocol.md), read by a virtual thread that
 * parks between messages. The instances it forks are its children and die with it (each asks
 * the kernel for that), so it reports their exits, and it is stopped only once they are gone
 * ({@link #retire}). Life: starting → ready → gone; once gone it forks nothing more.
 */
final class PythonZygote {

    private static final Logger LOG = LoggerFactory.getLogger(PythonZygote.class);
    /** Longest a fork may wait, for the zygote to finish preloading and then to fork; then a fresh process is started. */
    static final Duration FORK_WAIT = Duration.ofSeconds(60);
    /** How long a zygote asked to stop may take to exit before it is killed. */
    private static final Duration STOP_GRACE = Duration.ofSeconds(2);
    /** How long the exit waits for the last events the zygote sent (the reader may lag the exit a little). */
    private static final Duration LAST_EVENTS = Duration.ofSeconds(1);
    /** Lines of the zygote's output kept to explain why it exited. */
    private static final int OUTPUT_LINES_KEPT = 8;
    /** Where callbacks run that may write to the control channel (a write parks a virtual thread). */
    private static final Executor VIRTUAL_TASKS = Thread::startVirtualThread;

    private final String id;
    private final InstanceSpec spec;
    private final Process process;
    private final Path output;
    private final boolean ownPidNamespace;
    private final Consumer<PythonZygote> onGone;
    private final CompletableFuture<Connection> connecting;
    private final CompletableFuture<Void> ready = new CompletableFuture<>();
    private final CompletableFuture<Void> eventsRead = new CompletableFuture<>();
    private final Map<String, Forking> forking = new ConcurrentHashMap<>();
    /** Live children by the pid the zygote knows them by (inside its sandbox's PID namespace, if any). */
    private final Map<Long, Child> children = new ConcurrentHashMap<>();
    private volatile Connection connection;
    private volatile long lastUsedNanos = System.nanoTime();
    private volatile boolean gone;
    private volatile boolean failed;
    private volatile boolean retiring;
    private volatile boolean stopping;

    /** A fork asked for: its result, and the cgroup the child joins before it runs anything of the instance. */
    private record Forking(CompletableFuture<SocketInstance.OsProcess> result, Optional<Isolation.Cgroup> cgroup) {
    }

    /** A forked child: its pid on the host, and how it exited. */
    private record Child(long hostPid, CompletableFuture<String> exit) {
    }

    private PythonZygote(String id, InstanceSpec spec, Process process, Path output, boolean ownPidNamespace,
                         CompletableFuture<Connection> connecting, Consumer<PythonZygote> onGone) {
        this.id = id;
        this.spec = spec;
        this.process = process;
        this.output = output;
        this.ownPidNamespace = ownPidNamespace;
        this.connecting = connecting;
        this.onGone = onGone;
    }

    /**
     * Starts a zygote; it preloads in the background ({@link #ready()}).
     *
     * @param command         the interpreter and _zygote.py, after the sandbox's prefix if any
     * @param env             the environment of the version's instances, without per-instance variables
     * @param ownPidNamespace true when the command runs in a PID namespace (the sandbox), so the pids
     *                        the zygote reports are not the host's
     * @param listener        the instance socket, where the zygote connects its control channel
     * @param outputDir       where its stdout and stderr go (a file per zygote, removed when it has gone)
     * @param onGone          called once when the zygote has exited
     */
    static PythonZygote start(InstanceSpec spec, List<String> command, Map<String, String> env, boolean ownPidNamespace,
                              InstanceListener listener, Path outputDir, Consumer<PythonZygote> onGone) throws IOException {
        String id = InstanceIds.next(spec, "zygote");
        String nonce = InstanceIds.nonce();
        Map<String, String> zygoteEnv = new LinkedHashMap<>(env);
        zygoteEnv.put("GALE_SOCKET", listener.socketPath().toString());
        zygoteEnv.put("GALE_ZYGOTE_ID", id);
        zygoteEnv.put("GALE_ZYGOTE_NONCE", nonce);
        Path output = Files.createDirectories(outputDir).resolve(id + ".log");
        ProcessBuilder pb = new ProcessBuilder(command).directory(spec.bundleDir().toFile())
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                .redirectOutput(output.toFile())
                .redirectErrorStream(true);
        pb.environment().clear();
        pb.environment().putAll(zygoteEnv);
        var connecting = listener.expect(id, nonce);
        Process process;
        try {
            process = ProcessLauncher.start(pb);
        } catch (IOException | RuntimeException e) {
            connecting.cancel(false);
            Files.deleteIfExists(output);
            throw e;
        }
        var zygote = new PythonZygote(id, spec, process, output, ownPidNamespace, connecting, onGone);
        zygote.watch();
        return zygote;
    }

    private void watch() {
        connecting.whenComplete((c, error) -> {
            if (c == null) {
                eventsRead.complete(null);
                return;
            }
            connection = c;
            if (stopping) c.close();
            Thread.ofVirtual().name("gale-zygote-" + pid()).start(this::readEvents);
        });
        process.onExit().thenRunAsync(() -> {
            connecting.cancel(false); // exited without connecting
            eventsRead.completeOnTimeout(null, LAST_EVENTS.toMillis(), TimeUnit.MILLISECONDS).thenRun(this::onExit);
        }, VIRTUAL_TASKS);
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

    /** True until the zygote has exited, failed or been retired: it can still fork. */
    boolean isServing() {
        return !gone && !retiring && !ready.isCompletedExceptionally();
    }

    /** True when the zygote never became ready or gave up: starting another one at once would likely fail the same way. */
    boolean failed() {
        return failed;
    }

    /** True once it has exited. */
    boolean isGone() {
        return gone;
    }

    /** Instances it forked that have not exited yet. */
    int liveChildren() {
        return children.size();
    }

    /** When it last forked (or started), for retiring the least recently used zygotes first. */
    long lastUsedNanos() {
        return lastUsedNanos;
    }

    /**
     * Forks an instance with exactly {@code env} as its environment. Completes with the new
     * process, or fails (zygote gone, fork failed, no answer within {@link #FORK_WAIT}); a
     * child forked after its caller gave up is killed. With a cgroup, the child is held
     * until Gale has moved it there, so everything of the instance counts against its limit.
     */
    CompletableFuture<SocketInstance.OsProcess> fork(String instanceId, Map<String, String> env, Optional<Isolation.Cgroup> cgroup) {
        lastUsedNanos = System.nanoTime();
        var forked = new CompletableFuture<SocketInstance.OsProcess>();
        var entry = new Forking(forked, cgroup);
        forking.put(instanceId, entry);
        forked.whenComplete((child, error) -> forking.remove(instanceId, entry));
        if (gone || retiring) forked.completeExceptionally(new IOException("the zygote is " + (gone ? "gone" : "retired")));
        ready.whenCompleteAsync((ok, error) -> {
            if (error != null) {
                forked.completeExceptionally(error);
            } else if (!forked.isDone()) {
                send(forkRequest(instanceId, env, cgroup.isPresent()), forked);
            }
        }, VIRTUAL_TASKS);
        return forked.orTimeout(FORK_WAIT.toMillis(), TimeUnit.MILLISECONDS);
    }

    private static ObjectNode forkRequest(String instanceId, Map<String, String> env, boolean hold) {
        ObjectNode request = Frame.JSON.createObjectNode().put("op", "fork").put("id", instanceId);
        if (hold) request.put("hold", true);
        ObjectNode environment = request.putObject("env");
        env.forEach(environment::put);
        return request;
    }

    /** Sends one control message; a broken channel fails {@code onFailure}. Writes park the caller, never pin it. */
    private void send(ObjectNode message, CompletableFuture<?> onFailure) {
        Connection c = connection;
        if (c == null) {
            onFailure.completeExceptionally(new IOException("the zygote has not connected its control channel"));
            return;
        }
        try {
            c.write(Frame.of(Frame.Type.CONTROL, message));
        } catch (IOException e) {
            onFailure.completeExceptionally(new IOException("the zygote's control channel is closed: " + e.getMessage(), e));
        }
    }

    /**
     * The version starts no more instances from this zygote: it forks nothing more and goes
     * once the last instance it forked has exited (they die with it; the pool drains them).
     */
    void retire() {
        retiring = true;
        if (children.isEmpty()) stop();
    }

    /** Closes the control channel, so the zygote exits (and its instances with it); kills it if it does not. */
    void stop() {
        stopping = true;
        Connection c = connection;
        if (c != null) c.close(); // EOF: the zygote exits
        process.onExit().completeOnTimeout(null, STOP_GRACE.toMillis(), TimeUnit.MILLISECONDS)
                .thenRun(process::destroyForcibly);
    }

    // ---- events from the zygote

    private void readEvents() {
        try {
            while (true) {
                Frame frame = connection.read();
                if (frame.type() != Frame.Type.CONTROL) {
                    LOG.warn("zygote of {} (pid {}) sent an unexpected {} frame; ignored", spec.label(), pid(), frame.type());
                    continue;
                }
                try {
                    handle(frame.header());
                } catch (RuntimeException e) {
                    LOG.warn("zygote of {} (pid {}) sent something unreadable: {}", spec.label(), pid(), e.toString());
                }
            }
        } catch (IOException closed) {
            // the zygote is gone or closed its channel; either way it serves no more
        } finally {
            eventsRead.complete(null);
            if (process.isAlive()) stop();
        }
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
                    child.exit().complete(event.has("signal") ? SocketInstance.describeSignal(event.path("signal").asInt())
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
        event.path("refused").properties().forEach(e ->
                text.append("; refused ").append(e.getKey()).append(" (").append(e.getValue().asText()).append(')'));
        event.path("skipped").properties().forEach(e ->
                text.append("; skipped ").append(e.getKey()).append(" (").append(e.getValue().asText()).append(')'));
        if (event.hasNonNull("note")) text.append("; ").append(event.path("note").asText());
        return text.toString();
    }

    private static String join(JsonNode names) {
        if (names.isEmpty()) return "nothing";
        var list = new ArrayList<String>();
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
        var child = new SocketInstance.OsProcess(hostPid, ProcessHandle.of(hostPid), exit);
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

    /** Sends from another thread than the reader's, which must stay free to read what the zygote answers. */
    private void sendLater(ObjectNode message) {
        VIRTUAL_TASKS.execute(() -> send(message, new CompletableFuture<>()));
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

    /** The zygote has exited: nothing more to fork; the instances it forked have died with it. */
    private void onExit() {
        gone = true;
        int code = process.exitValue();
        String why = code > 128 ? "was killed by signal " + (code - 128) : "exited with code " + code;
        String last = lastOutput();
        if (!ready.isDone()) {
            failed = true;
            LOG.warn("zygote of {} (pid {}) {} before it was ready{}", spec.label(), pid(), why, last.isEmpty() ? "" : ": " + last);
        } else if (!stopping) {
            LOG.warn("zygote of {} (pid {}) {}; the {} instances it forked went with it{}", spec.label(), pid(), why,
                    children.size(), last.isEmpty() ? "" : "; last output: " + last);
        }
        ready.completeExceptionally(new IOException("the zygote " + why));
        forking.values().forEach(f -> f.result().completeExceptionally(new IOException("the zygote " + why)));
        // Its children got SIGKILL when it exited; make sure, and report their exits from /proc: lost, not crashed.
        var lost = new InstanceFailedException(new InstanceFailure(InstanceFailure.Kind.LOST,
                "the zygote it was forked from " + why + ", and the instance with it"));
        children.forEach((pid, child) -> ProcessHandle.of(child.hostPid()).ifPresentOrElse(h -> {
            h.destroyForcibly();
            h.onExit().thenRun(() -> child.exit().completeExceptionally(lost));
        }, () -> child.exit().completeExceptionally(lost)));
        children.clear();
        try {
            Files.deleteIfExists(output);
        } catch (IOException ignored) {
            // the run folder is cleared at the next start
        }
        onGone.accept(this);
    }

    /** The last lines the zygote printed (its output file), joined with " | ". */
    private String lastOutput() {
        try {
            List<String> lines = Files.readAllLines(output, StandardCharsets.UTF_8).stream().filter(l -> !l.isBlank()).toList();
            return String.join(" | ", lines.subList(Math.max(0, lines.size() - OUTPUT_LINES_KEPT), lines.size()));
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }

    @Override
    public String toString() {
        return "Zygote[" + spec.label() + " " + id + " pid " + pid() + "]";
    }
}
