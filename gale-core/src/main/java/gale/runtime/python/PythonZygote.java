package gale.runtime.python;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
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
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The zygote of one function version (python/gale/_zygote.py): a Python process that has
 * imported the version's dependencies once and forks instances on request, so a cold
 * start pays neither interpreter start-up nor imports. One zygote per function version,
 * never shared, so no state passes between functions.
 *
 * <p>It is either forked from the interpreter's {@link BaseZygote} into the version's sandbox
 * ({@link #spawn}: the packages most functions use are then shared by all of them), or started
 * as a process of its own ({@link #start}). Either way Gale drives it through a
 * {@link ZygoteControl}. The instances it forks are its children and die with it (each asks the
 * kernel for that), so it reports their exits, and it is stopped only once they are gone
 * ({@link #retire}). Life: starting → ready → gone; once gone it forks nothing more.
 */
final class PythonZygote {

    private static final Logger LOG = LoggerFactory.getLogger(PythonZygote.class);
    /** Longest a fork may wait, for the zygote to finish preloading and then to fork; then a fresh process is started. */
    static final Duration FORK_WAIT = Duration.ofSeconds(60);

    private final InstanceSpec spec;
    private final boolean ownPidNamespace;
    private final Consumer<PythonZygote> onGone;
    private final ZygoteControl control;
    private final CompletableFuture<Void> ready = new CompletableFuture<>();
    private final Map<String, Forking> forking = new ConcurrentHashMap<>();
    /** Live children by the pid the zygote knows them by (inside its sandbox's PID namespace, if any). */
    private final Map<Long, Child> children = new ConcurrentHashMap<>();
    private final SpareInstance spare = new SpareInstance();
    /**
     * The next spare is forked a second after a start took one: at once, its fork and imports shared
     * the 2 CPUs with the first calls of the instance just taken and with the cold starts of other
     * functions right after (bench/coldstart.py: the slowest 5% of cold starts, 30-36 ms against 5 ms).
     */
    static final java.time.Duration NEXT_SPARE_DELAY = java.time.Duration.ofSeconds(1);
    private volatile long nextSpareNotBefore = System.nanoTime();
    private volatile long lastUsedNanos = System.nanoTime();
    private volatile boolean gone;
    private volatile boolean failed;
    private volatile boolean retiring;
    /** The host pid of the process that forks the instances (the zygote's interpreter), once a fork has shown it. */
    private volatile long forkingPid = -1;

    /** A fork asked for: its result, and the cgroup the child joins before it runs anything of the instance. */
    private record Forking(CompletableFuture<SocketInstance.OsProcess> result, Optional<Isolation.Cgroup> cgroup) {
    }

    /** A forked child: the instance it is, its pid on the host, and how it exited. */
    private record Child(String instanceId, long hostPid, CompletableFuture<String> exit) {
    }

    /** The id, nonce, output file and expected connection of a zygote about to start. */
    private record Identity(String id, String nonce, Path output, CompletableFuture<gale.runtime.Connection> connecting) {

        static Identity create(InstanceSpec spec, InstanceListener listener, Path outputDir) throws IOException {
            String id = InstanceIds.next(spec, "zygote");
            String nonce = InstanceIds.nonce();
            Path output = Files.createDirectories(outputDir).resolve(id + ".log");
            return new Identity(id, nonce, output, listener.expect(id, nonce));
        }

        /** {@code env} plus what the zygote needs to connect and prove who it is. */
        Map<String, String> environment(Map<String, String> env, InstanceListener listener) {
            Map<String, String> all = new LinkedHashMap<>(env);
            all.put("GALE_SOCKET", listener.socketPath().toString());
            all.put("GALE_ZYGOTE_ID", id);
            all.put("GALE_ZYGOTE_NONCE", nonce);
            return all;
        }
    }

    private PythonZygote(InstanceSpec spec, boolean ownPidNamespace, Identity identity,
                         CompletableFuture<SocketInstance.OsProcess> process, Consumer<PythonZygote> onGone) {
        this.spec = spec;
        this.ownPidNamespace = ownPidNamespace;
        this.onGone = onGone;
        this.control = new ZygoteControl(identity.id(), "zygote of " + spec.label(), identity.connecting(), process,
                identity.output(), this::handle);
    }

    /**
     * Starts a zygote as a process of its own; it preloads in the background ({@link #ready()}).
     *
     * @param command         the interpreter and _zygote.py, after the sandbox's prefix if any
     * @param env             the environment of the version's instances, without per-instance variables
     * @param ownPidNamespace true when the command runs in a PID namespace (the sandbox), so the pids
     *                        the zygote reports are not the host's
     * @param outputDir       where its stdout and stderr go (a file per zygote, removed when it has gone)
     * @param onGone          called once when the zygote has exited
     */
    static PythonZygote start(InstanceSpec spec, List<String> command, Map<String, String> env, boolean ownPidNamespace,
                              InstanceListener listener, Path outputDir, Consumer<PythonZygote> onGone) throws IOException {
        Identity identity = Identity.create(spec, listener, outputDir);
        ProcessBuilder pb = new ProcessBuilder(command).directory(spec.bundleDir().toFile())
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                .redirectOutput(identity.output().toFile())
                .redirectErrorStream(true);
        pb.environment().clear();
        pb.environment().putAll(identity.environment(env, listener));
        Process process;
        try {
            process = ProcessLauncher.start(pb);
        } catch (IOException | RuntimeException e) {
            identity.connecting().cancel(false);
            Files.deleteIfExists(identity.output());
            throw e;
        }
        var launched = new SocketInstance.OsProcess(process.pid(), Optional.of(process.toHandle()),
                process.onExit().thenApply(p -> ZygoteControl.describeExit(p.exitValue())));
        var zygote = new PythonZygote(spec, ownPidNamespace, identity, CompletableFuture.completedFuture(launched), onGone);
        zygote.control.start(zygote::onExit);
        return zygote;
    }

    /**
     * Has {@code base} fork the version's zygote, into the namespaces of {@code anchor} (the
     * version's sandbox) when there is one, working in {@code cwd} (the bundle as the zygote sees it). The base runs it on {@code python} itself when it
     * cannot share its own imports with this version (another interpreter, say).
     */
    static PythonZygote spawn(BaseZygote base, InstanceSpec spec, Path cwd, Map<String, String> env, Optional<SandboxAnchor> anchor,
                              Path python, InstanceListener listener, Path outputDir, Consumer<PythonZygote> onGone)
            throws IOException {
        Identity identity = Identity.create(spec, listener, outputDir);
        ObjectNode request = Frame.JSON.createObjectNode().put("op", "zygote").put("id", identity.id())
                .put("cwd", cwd.toString()).put("python", python.toString())
                .put("output", identity.output().toString());
        anchor.ifPresent(a -> request.put("anchor", a.pid()));
        ObjectNode environment = request.putObject("env");
        identity.environment(env, listener).forEach(environment::put);
        CompletableFuture<SocketInstance.OsProcess> process = base.spawn(identity.id(), request);
        process.whenComplete((p, error) -> {
            if (error != null) identity.connecting().cancel(false);
        });
        var zygote = new PythonZygote(spec, anchor.isPresent(), identity, process, onGone);
        zygote.control.start(zygote::onExit);
        return zygote;
    }

    InstanceSpec spec() {
        return spec;
    }

    /** The zygote's pid on the host, or -1 while it is starting. */
    long pid() {
        return control.pid();
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

    /**
     * True while an instance it forked runs, or a fork is under way: retiring it now would take
     * that instance with it (a zygote handed out for a cold start counts as used from then on).
     */
    boolean inUse() {
        return instances() > 0;
    }

    /** Instances it forked that run or are being forked, not counting a spare that nobody took. */
    private long instances() {
        return children.values().stream().filter(c -> !spare.is(c.instanceId())).count()
                + forking.keySet().stream().filter(id -> !spare.is(id)).count();
    }

    /** Marks it used now: it was just handed out to fork an instance. */
    PythonZygote touch() {
        lastUsedNanos = System.nanoTime();
        return this;
    }

    /** When it last forked, was handed out (or started), for retiring the least recently used zygotes first. */
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
        if (!spare.is(instanceId)) {
            lastUsedNanos = System.nanoTime(); // a spare is not a use: an idle zygote still retires
            spare.used();
        }
        var forked = new CompletableFuture<SocketInstance.OsProcess>();
        var entry = new Forking(forked, cgroup);
        forking.put(instanceId, entry);
        forked.whenComplete((child, error) -> forking.remove(instanceId, entry));
        if (gone || retiring) forked.completeExceptionally(new IOException("the zygote is " + (gone ? "gone" : "retired")));
        ready.whenCompleteAsync((ok, error) -> {
            if (error != null) {
                forked.completeExceptionally(error);
            } else if (!forked.isDone()) {
                try {
                    control.send(forkRequest(instanceId, env, cgroup.isPresent()));
                } catch (IOException e) {
                    forked.completeExceptionally(e);
                }
            }
        }, ZygoteControl.VIRTUAL_TASKS);
        return forked.orTimeout(FORK_WAIT.toMillis(), TimeUnit.MILLISECONDS);
    }

    private static ObjectNode forkRequest(String instanceId, Map<String, String> env, boolean hold) {
        ObjectNode request = Frame.JSON.createObjectNode().put("op", "fork").put("id", instanceId);
        if (hold) request.put("hold", true);
        ObjectNode environment = request.putObject("env");
        env.forEach(environment::put);
        return request;
    }

    /**
     * The spare instance ({@link SpareInstance}) for a start of the version, if one was made
     * and has not failed; it may still be loading. Empty otherwise (then fork one).
     */
    Optional<gale.runtime.Instance> takeSpare() {
        Optional<gale.runtime.Instance> taken = spare.take();
        if (taken.isPresent()) {
            lastUsedNanos = System.nanoTime();
            nextSpareNotBefore = lastUsedNanos + NEXT_SPARE_DELAY.toNanos();
        }
        return taken;
    }

    /**
     * Reserves the making of a spare when one is wanted: the zygote serves and is ready, the
     * version prewarms and was used since its last spare failed, no fork is under way (a spare
     * never competes with a start) and fewer instances run than max-instances (else no start
     * could take it). The caller then forks it, off the request path, with the id returned, and
     * hands it to {@link #spareMade} or {@link #spareFailed}.
     */
    Optional<String> reserveSpare(java.util.function.Supplier<String> newId) {
        if (!isServing() || !ready.isDone() || !spec.config().prewarm() || !forking.isEmpty() || !spare.wanted()
                || instances() >= spec.config().maxInstances() || System.nanoTime() - nextSpareNotBefore < 0) {
            return Optional.empty();
        }
        String id = newId.get();
        return spare.reserve(id) ? Optional.of(id) : Optional.empty();
    }

    /**
     * Kills the spare when max-instances run besides it (made while starts were under way, say):
     * no start could take it before an instance ends, and then the upkeep makes one again.
     */
    void trimSpare() {
        if (spare.made() && instances() >= spec.config().maxInstances()) spare.discard();
    }

    void spareMade(gale.runtime.Instance instance) {
        spare.made(instance);
    }

    void spareFailed(String instanceId) {
        spare.failed(instanceId);
    }

    /**
     * The version starts no more instances from this zygote: it forks nothing more, kills its
     * spare, and goes once the last instance it forked has exited (they die with it; the pool
     * drains them).
     */
    void retire() {
        retiring = true;
        spare.close();
        if (children.isEmpty()) stop();
    }

    /**
     * The server stops: asks the spare, if any, to exit and waits for it up to {@code grace} (then
     * kills it), so that its cgroup is empty before the server removes its own; makes no more.
     */
    void stopSpare(java.time.Duration grace) {
        spare.release().ifPresent(instance -> instance.stop(grace));
    }

    /** Closes the control channel, so the zygote exits (and its instances with it); kills it if it does not. */
    void stop() {
        spare.close();
        control.stop();
    }

    // ---- events from the zygote

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

    static String describePreload(JsonNode event) {
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
            control.sendLater(control("cancel", instanceId));
            if (waiting != null) {
                waiting.result().completeExceptionally(new IOException("the zygote forked pid " + pid + " but it is not among its processes"));
            }
            return;
        }
        var exit = new CompletableFuture<String>();
        children.put(pid, new Child(instanceId, hostPid, exit));
        var child = new SocketInstance.OsProcess(hostPid, ProcessHandle.of(hostPid), exit);
        if (waiting != null && waiting.cgroup().isPresent()) {
            try {
                waiting.cgroup().get().attach(hostPid);
            } catch (IOException e) {
                control.sendLater(control("cancel", instanceId));
                waiting.result().completeExceptionally(new IOException("could not move the instance into its cgroup: " + e.getMessage(), e));
                return;
            }
            control.sendLater(control("release", instanceId));
        }
        if (waiting == null || !waiting.result().complete(child)) {
            LOG.info("zygote of {} forked {} after it was given up on; killing it", spec.label(), instanceId);
            child.destroy();
        }
    }

    private static ObjectNode control(String op, String instanceId) {
        return Frame.JSON.createObjectNode().put("op", op).put("id", instanceId);
    }

    /**
     * The host pid of a process the zygote knows as {@code nsPid} inside its PID namespace:
     * the last entry of {@code NSpid} in /proc/PID/status is the pid in the innermost namespace.
     */
    private long hostPidOf(long nsPid) {
        // Among the children of the process that forks, not yet known; once that process is found. A burst
        // of forks would otherwise read every instance's /proc status again for each new one, on this
        // zygote's one reader thread. (Started in a sandbox of its own, the zygote is under bubblewrap's processes.)
        long forker = forkingPid;
        if (forker > 0) {
            var known = new java.util.HashSet<Long>();
            children.values().forEach(c -> known.add(c.hostPid()));
            for (long pid : ProcessTree.children(forker)) {
                if (!known.contains(pid) && ProcessTree.innermostPid(pid) == nsPid) return pid;
            }
        }
        for (long pid : ProcessTree.descendants(pid())) {
            if (ProcessTree.innermostPid(pid) == nsPid) {
                forkingPid = ProcessHandle.of(pid).flatMap(ProcessHandle::parent).map(ProcessHandle::pid).orElse(-1L);
                return pid;
            }
        }
        return -1;
    }

    /** The zygote has exited: nothing more to fork; the instances it forked have died with it. */
    private void onExit(String how, String lastOutput) {
        gone = true;
        spare.close();
        if (!ready.isDone()) {
            failed = true;
            LOG.warn("zygote of {} (pid {}) {} before it was ready{}", spec.label(), pid(), how, lastOutput.isEmpty() ? "" : ": " + lastOutput);
        } else if (!control.isStopping()) {
            LOG.warn("zygote of {} (pid {}) {}; the {} instances it forked went with it{}", spec.label(), pid(), how,
                    children.size(), lastOutput.isEmpty() ? "" : "; last output: " + lastOutput);
        }
        ready.completeExceptionally(new IOException("the zygote " + how));
        forking.values().forEach(f -> f.result().completeExceptionally(new IOException("the zygote " + how)));
        // Its children got SIGKILL when it exited; make sure, and report their exits from /proc: lost, not crashed.
        var lost = new InstanceFailedException(new InstanceFailure(InstanceFailure.Kind.LOST,
                "the zygote it was forked from " + how + ", and the instance with it"));
        children.forEach((pid, child) -> ProcessHandle.of(child.hostPid()).ifPresentOrElse(h -> {
            h.destroyForcibly();
            h.onExit().thenRun(() -> child.exit().completeExceptionally(lost));
        }, () -> child.exit().completeExceptionally(lost)));
        children.clear();
        onGone.accept(this);
    }

    @Override
    public String toString() {
        return "Zygote[" + spec.label() + " " + control.id() + " pid " + pid() + "]";
    }
}
