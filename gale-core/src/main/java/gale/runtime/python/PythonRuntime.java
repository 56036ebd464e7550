package gale.runtime.python;

import gale.config.FunctionConfig;
import gale.runtime.Connection;
import gale.runtime.DeployFailure;
import gale.runtime.Instance;
import gale.runtime.InstanceFailure;
import gale.runtime.InstanceIds;
import gale.runtime.InstanceListener;
import gale.runtime.InstanceObserver;
import gale.runtime.InstanceSpec;
import gale.runtime.Isolation;
import gale.runtime.ProcessLauncher;
import gale.runtime.Runtime;
import gale.runtime.RuntimeContext;
import gale.runtime.SocketInstance;
import gale.util.FileTrees;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeoutException;

/**
 * Starts Python instances with a clean environment (nothing of the server's, so never the
 * admin token) plus the function's own variables and the protocol variables of
 * docs/protocol.md, in the bundle directory.
 *
 * <p>Each function version gets a zygote ({@link PythonZygote}) that has imported its
 * dependencies, and instances are forked from it, so a cold start costs a fork and the
 * entry module's own code rather than an interpreter start-up and every import. Zygotes are
 * kept within a budget ({@link Zygotes}). When the zygote cannot serve (still preloading
 * after {@link PythonZygote#FORK_WAIT}, failed, exited), the instance is a fresh
 * {@code python3 _bootstrap.py} and the reason is logged. {@code GALE_ZYGOTE=0} in the
 * server's environment turns zygotes off, for comparisons. A used version's zygote keeps a
 * {@link SpareInstance}: an instance forked and loaded ahead of demand by the upkeep, which the
 * next start takes as it is, so a cold start is a hand-over.
 *
 * <p>Isolation ({@link Isolation}): each instance gets a cgroup with its memory limit and
 * CPU share (a fresh process joins it before exec; a forked one is held until Gale has
 * moved it in). A sandboxed version's zygote runs inside bubblewrap, so the instances it
 * forks are in the same sandbox: the bundle (at /var/task), the interpreter and Gale's Python
 * files read-only, the version's scratch folder and the instance socket writable, nothing else
 * of the host. A fresh process gets a sandbox of its own.
 */
public final class PythonRuntime implements Runtime {

    private static final Logger LOG = LoggerFactory.getLogger(PythonRuntime.class);
    /** Files of the python/gale package shipped inside the jar. */
    /** The bootstrap, and what `from gale import state, blobs` needs inside a function (stdlib-only). */
    private static final List<String> PACKAGE_FILES = List.of("__init__.py", "_bootstrap.py", "_requirements.py", "_zygote.py",
            "state.py", "blobs.py", "client.py", "errors.py", "_events.py");
    /** Where callbacks run that start processes (a start parks a virtual thread while the launcher spawns). */
    private static final Executor VIRTUAL_TASKS = Thread::startVirtualThread;
    /** What the base zygote imports (those installed): what most data-science functions use. */
    static final List<String> BASE_MODULES = List.of("flask", "numpy", "scipy", "sklearn", "pandas");
    /** How Python runs in every instance and zygote. */
    private static final Map<String, String> PYTHON_VARIABLES = Map.of("PYTHONUNBUFFERED", "1", "PYTHONDONTWRITEBYTECODE", "1");
    /** Longest a zygote start waits for the base zygote to finish importing; then it starts on its own. */
    private static final Duration BASE_WAIT = Duration.ofSeconds(60);

    private final RuntimeContext context;
    private final Path python;
    private final Path scratchRoot;
    private final Path zygoteOutputDir;
    private final InstanceListener listener;
    private final InstanceObserver observer;
    private final Optional<String> indexUrl;
    private final Optional<Path> wheelDir;
    private final boolean zygotesOn;
    private final Isolation isolation;
    private final ZygoteBudget budget;
    private final Zygotes zygotes;
    private final boolean baseWanted;
    private Optional<BaseZygote> base = Optional.empty();
    private Path packageDir;
    private PythonRequirements requirements;

    /**
     * A runtime with zygotes unless the server's environment has {@code GALE_ZYGOTE=0}.
     *
     * @param python   the interpreter (GALE_PYTHON)
     * @param indexUrl package index for requirements the interpreter lacks (GALE_PIP_INDEX_URL)
     * @param wheelDir wheel folder for requirements the interpreter lacks (GALE_WHEEL_DIR)
     * @param budget   how many zygotes to keep, and for how long
     */
    public PythonRuntime(RuntimeContext context, Path python, Optional<String> indexUrl, Optional<Path> wheelDir, ZygoteBudget budget) {
        this(context, python, indexUrl, wheelDir, budget, zygotesWanted(System.getenv("GALE_ZYGOTE")),
                zygotesWanted(System.getenv("GALE_BASE_ZYGOTE")));
    }

    /**
     * @param zygotes    fork instances from a zygote per version (else every instance is a fresh process)
     * @param baseZygote fork the versions' zygotes from a base zygote holding the common packages (else each starts its own interpreter)
     */
    public PythonRuntime(RuntimeContext context, Path python, Optional<String> indexUrl, Optional<Path> wheelDir, ZygoteBudget budget,
                         boolean zygotes, boolean baseZygote) {
        this.context = context;
        this.python = python;
        this.scratchRoot = context.scratchRoot();
        this.zygoteOutputDir = scratchRoot.resolveSibling("zygotes"); // outside every sandbox
        this.listener = context.listener();
        this.observer = context.observer();
        this.indexUrl = indexUrl;
        this.wheelDir = wheelDir;
        this.zygotesOn = zygotes;
        this.baseWanted = zygotes && baseZygote;
        this.isolation = context.isolation();
        this.budget = budget;
        this.zygotes = new Zygotes(budget, this::startZygote);
    }

    /** GALE_ZYGOTE: unset or anything but 0/false/off means on. */
    static boolean zygotesWanted(String setting) {
        if (setting == null) return true;
        return !List.of("0", "false", "off", "no").contains(setting.strip().toLowerCase(java.util.Locale.ROOT));
    }

    /** Unpacks Gale's Python files (the bootstrap, the zygote, the requirements checker) out of the jar. */
    @Override
    public void start() {
        packageDir = unpackPackage(context.runtimeDir());
        requirements = new PythonRequirements(python, packageDir.resolve("_requirements.py"), indexUrl, wheelDir);
        if (!zygotesOn) LOG.info("python zygotes are off (GALE_ZYGOTE=0, or instances run as pods): every instance starts a fresh interpreter");
        if (baseWanted) startBase();
    }

    /** The base zygote imports the common packages in the background; until it is ready, zygotes start on their own. */
    private void startBase() {
        try {
            Path work = Files.createDirectories(scratchRoot.resolve("base"));
            Map<String, String> env = context.instanceEnvironment();
            env.put("HOME", work.toString());
            env.put("TMPDIR", work.toString());
            env.putAll(PYTHON_VARIABLES);
            env.put("PYTHONPATH", packageRoot().toString());
            base = Optional.of(BaseZygote.start(python, packageDir.resolve("_zygote.py"), BASE_MODULES, env, listener, work,
                    zygoteOutputDir));
        } catch (IOException e) {
            LOG.warn("no base zygote ({}); every version's zygote starts its own interpreter", e.getMessage());
        }
    }

    @Override
    public String name() {
        return "python3";
    }

    /** Makes requirements.txt importable; a virtualenv when something had to be installed. */
    @Override
    public Optional<Path> prepare(Path bundleDir, Path versionDir) throws DeployFailure {
        return requirements.prepare(bundleDir, versionDir);
    }

    public Path python() {
        return python;
    }

    /** The folder holding the {@code gale} package (put it on PYTHONPATH to import the client). */
    public Path packageRoot() {
        return packageDir.getParent();
    }

    /**
     * Starts the zygotes of the most wanted versions, as many as the budget keeps, so their
     * first cold start finds the dependencies imported; they start one after another, each
     * once the one before is ready, so a restart with many functions does not compete with calls.
     */
    @Override
    public void prewarm(List<InstanceSpec> mostWantedFirst) {
        if (!zygotesOn) return;
        int room = Math.max(0, budget.maxZygotes() - zygotes.size());
        List<InstanceSpec> kept = mostWantedFirst.subList(0, Math.min(room, mostWantedFirst.size()));
        List<PythonZygote> started = new ArrayList<>();
        for (InstanceSpec spec : kept) {
            zygotes.forVersion(spec).ifPresent(zygote -> {
                started.add(zygote);
                zygote.ready().exceptionally(error -> null).completeOnTimeout(null, 60, java.util.concurrent.TimeUnit.SECONDS).join();
            });
        }
        // The most wanted started first, so it looks least recently used: mark them used in the
        // opposite order, so the budget retires the least wanted first.
        for (int i = started.size() - 1; i >= 0; i--) started.get(i).touch();
    }

    /** A zygote is kept this long without use. */
    @Override
    public java.time.Duration keepAlive() {
        return budget.idleTimeout();
    }

    /** The version's zygote forks nothing more, and goes once the instances it forked have stopped. */
    @Override
    public void retire(InstanceSpec spec) {
        zygotes.retire(spec);
    }

    /**
     * Retires zygotes unused for the budget's idle timeout, and has each zygote that wants a
     * spare instance fork one, off the request path ({@link SpareInstance}), and each whose spare
     * no start could take (max-instances run) kill it.
     */
    @Override
    public void maintain() {
        zygotes.retireIdle();
        for (PythonZygote zygote : zygotes.serving()) {
            zygote.trimSpare();
            zygote.reserveSpare(() -> InstanceIds.next(zygote.spec()))
                    .ifPresent(id -> VIRTUAL_TASKS.execute(() -> makeSpare(zygote, id)));
        }
    }

    private void makeSpare(PythonZygote zygote, String id) {
        try {
            zygote.spareMade(launch(zygote.spec(), Optional.of(zygote), id, false));
        } catch (RuntimeException e) {
            LOG.debug("{}: no spare instance: {}", zygote.spec().label(), e.getMessage());
            zygote.spareFailed(id);
        }
    }

    /** Fails the deploy when the config asks for a sandbox this host cannot give. */
    @Override
    public void checkIsolation(FunctionConfig config) throws DeployFailure {
        isolation.check(config);
    }

    /** The zygote's spare instance when it has one (the cold start is then a hand-over), else a new instance. */
    @Override
    public Instance start(InstanceSpec spec) {
        Optional<PythonZygote> zygote = zygotesOn ? zygotes.forVersion(spec) : Optional.empty();
        Optional<Instance> spare = zygote.flatMap(PythonZygote::takeSpare);
        return spare.orElseGet(() -> launch(spec, zygote, InstanceIds.next(spec), true));
    }

    /**
     * An instance forked by {@code zygote}, or a fresh process without one.
     *
     * @param freshIfUnforked start a fresh process should the zygote not fork it (else the instance fails)
     */
    private Instance launch(InstanceSpec spec, Optional<PythonZygote> zygote, String id, boolean freshIfUnforked) {
        String nonce = InstanceIds.nonce();
        var connecting = listener.expect(id, nonce);
        Path scratch;
        try {
            scratch = Files.createDirectories(versionScratch(spec).resolve(id));
        } catch (IOException e) {
            connecting.cancel(false);
            throw new UncheckedIOException("cannot create the scratch directory of " + spec.label() + ": " + e.getMessage(), e);
        }
        Map<String, String> env = environment(spec, scratch);
        env.put("GALE_INSTANCE_ID", id);
        env.put("GALE_INSTANCE_NONCE", nonce);
        try {
            context.addSecretFiles(spec, scratch, env);
        } catch (RuntimeException e) {
            connecting.cancel(false);
            FileTrees.deleteQuietly(scratch);
            throw e;
        }
        Optional<Isolation.Cgroup> cgroup = isolation.createCgroup(id, spec.config());
        if (zygote.isEmpty()) {
            try {
                Process process = startFresh(spec, env, scratch, cgroup);
                process.onExit().thenRun(() -> FileTrees.deleteQuietly(scratch));
                return SocketInstance.ofProcess(id, spec, process, connecting, observer, cgroup);
            } catch (IOException e) {
                connecting.cancel(false);
                cgroup.ifPresent(Isolation.Cgroup::remove);
                throw new UncheckedIOException(cannotStart(spec, e), e);
            }
        }
        return fork(zygote.get(), id, nonce, env, scratch, connecting, cgroup, freshIfUnforked);
    }

    /** An instance forked by the zygote, or (with {@code freshIfUnforked}) a fresh process should the zygote not deliver. */
    private Instance fork(PythonZygote zygote, String id, String nonce, Map<String, String> env, Path scratch,
                          CompletableFuture<Connection> connecting, Optional<Isolation.Cgroup> cgroup, boolean freshIfUnforked) {
        InstanceSpec spec = zygote.spec();
        var launching = new CompletableFuture<SocketInstance.OsProcess>();
        var instance = SocketInstance.launching(id, spec, launching, connecting, observer, cgroup);
        listener.expectOutput(id, nonce, (stream, in) -> instance.logSocket(in, stream));
        instance.terminated().thenAccept(failure -> {
            listener.forgetOutput(id);
            if (failure.kind() == InstanceFailure.Kind.LOAD_FAILED) {
                // A version whose code cannot load serves nothing (a failed deploy): its zygote goes once
                // nothing it forked runs; should the version be started again, it gets a new one.
                zygotes.retire(zygote);
            }
        });
        zygote.fork(id, env, cgroup).whenCompleteAsync((child, error) -> {
            if (error == null) {
                launching.complete(child);
            } else if (instance.failure().isPresent() || !freshIfUnforked) {
                launching.completeExceptionally(error);
            } else {
                LOG.warn("{}: zygote (pid {}) did not fork instance {} ({}); starting a fresh python3 instead",
                        spec.label(), zygote.pid(), id, rootMessage(error));
                try {
                    Process process = startFresh(spec, env, scratch, cgroup);
                    instance.logPipe(process.getInputStream(), "stdout");
                    instance.logPipe(process.getErrorStream(), "stderr");
                    launching.complete(SocketInstance.OsProcess.of(process));
                } catch (IOException e) {
                    launching.completeExceptionally(new IOException(cannotStart(spec, e), e));
                }
            }
        }, VIRTUAL_TASKS);
        launching.thenCompose(SocketInstance.OsProcess::exit).whenComplete((exit, error) -> FileTrees.deleteQuietly(scratch));
        return instance;
    }

    private Process startFresh(InstanceSpec spec, Map<String, String> env, Path scratch, Optional<Isolation.Cgroup> cgroup)
            throws IOException {
        List<String> command = new ArrayList<>();
        cgroup.ifPresent(c -> command.addAll(c.joinCommand()));
        if (isolation.runsSandboxed(spec.config())) command.addAll(sandbox(spec, scratch));
        command.addAll(List.of(interpreter(spec).toString(), packageDir.resolve("_bootstrap.py").toString()));
        ProcessBuilder pb = new ProcessBuilder(command).directory(spec.bundleDir().toFile());
        pb.environment().clear();
        pb.environment().putAll(env);
        Process process = ProcessLauncher.start(pb);
        process.getOutputStream().close();
        return process;
    }

    /**
     * The sandbox of an instance or of a version's zygote: the bundle, the interpreter (and
     * the virtualenv) and Gale's Python files read-only; the instance socket and
     * {@code scratch} writable.
     */
    private List<String> sandbox(InstanceSpec spec, Path scratch) {
        Set<Path> readOnly = new LinkedHashSet<>(List.of(packageRoot()));
        spec.environment().ifPresent(readOnly::add);
        readOnly.addAll(Isolation.installationOf(interpreter(spec)));
        Set<Path> readWrite = new LinkedHashSet<>(List.of(listener.socketPath(), scratch));
        return isolation.sandboxCommand(spec.bundleDir(), readOnly, readWrite, !spec.config().network().equals("none"));
    }

    /** The folder of a version's scratch folders (its instances' HOME and TMPDIR, its zygote's). */
    private Path versionScratch(InstanceSpec spec) {
        return scratchRoot.resolve(spec.function() + "-" + spec.version());
    }

    /** The environment of the version's instances, without the per-instance id and nonce. */
    private Map<String, String> environment(InstanceSpec spec, Path scratch) {
        Map<String, String> env = context.instanceEnvironment(spec);
        addFunctionVariables(env, spec, scratch.toString(), packageRoot().toString());
        env.put("GALE_SOCKET", listener.socketPath().toString());
        return env;
    }

    /**
     * The environment of an instance of {@code spec} that runs on another machine (a pod): its
     * credentials ({@link RuntimeContext#remoteEnvironment}) and the variables of docs/protocol.md
     * naming the function, with HOME and TMPDIR at {@code home} and Gale's Python package under
     * {@code packageRoot} on that machine; without the way to reach Gale and the per-instance id and nonce.
     */
    public Map<String, String> remoteEnvironment(InstanceSpec spec, String home, String packageRoot) {
        Map<String, String> env = context.remoteEnvironment(spec);
        addFunctionVariables(env, spec, home, packageRoot);
        return env;
    }

    /** The variables every instance of the version gets wherever it runs; the function's own env cannot shadow Gale's. */
    private static void addFunctionVariables(Map<String, String> env, InstanceSpec spec, String home, String packageRoot) {
        env.put("HOME", home);
        env.put("TMPDIR", home);
        env.putAll(PYTHON_VARIABLES);
        env.putAll(spec.config().env());
        env.put("PYTHONPATH", packageRoot); // `import gale` works in user code
        env.put("GALE_FUNCTION", spec.function());
        env.put("GALE_VERSION", Integer.toString(spec.version()));
        env.put("GALE_ENTRY_POINT", spec.config().entryPoint());
        env.put("GALE_ENTRY_MODULE", spec.config().entryModule());
        env.put("GALE_SIGNATURE", spec.config().signature());
        env.put("GALE_MEMORY_MB", Long.toString(spec.config().memory().megabytes()));
        env.put("GALE_CONCURRENCY", Integer.toString(spec.config().concurrency()));
        env.put("GALE_URL_PREFIX", "/fn/" + spec.function());
    }

    private Path interpreter(InstanceSpec spec) {
        return spec.environment().map(v -> v.resolve("bin").resolve("python")).orElse(python);
    }

    // ---- zygotes

    /**
     * Starts the version's zygote: forked from the base zygote into the version's sandbox when
     * the base serves, else as an interpreter of its own in that sandbox.
     */
    private PythonZygote startZygote(InstanceSpec spec) {
        try {
            Path versionScratch = Files.createDirectories(versionScratch(spec));
            Path scratch = Files.createDirectories(versionScratch.resolve(InstanceIds.next(spec, "zygote")));
            boolean sandboxed = isolation.runsSandboxed(spec.config());
            Map<String, String> env = environment(spec, scratch);
            Optional<BaseZygote> serving = readyBase().filter(b -> !sandboxed || b.entersSandboxes());
            if (serving.isPresent()) {
                // The anchor holds the sandbox the zygote enters: its instances' scratch folders appear there later.
                Optional<SandboxAnchor> anchor = sandboxed
                        ? Optional.of(SandboxAnchor.start(sandbox(spec, versionScratch), context.instanceEnvironment()))
                        : Optional.empty();
                Path cwd = sandboxed ? Isolation.BUNDLE_INSIDE : spec.bundleDir();
                return PythonZygote.spawn(serving.get(), spec, cwd, env, anchor, interpreter(spec), listener, zygoteOutputDir, gone -> {
                    zygotes.onGone(gone);
                    anchor.ifPresent(SandboxAnchor::close);
                    FileTrees.deleteQuietly(scratch);
                });
            }
            List<String> command = new ArrayList<>();
            if (sandboxed) command.addAll(sandbox(spec, versionScratch));
            command.addAll(List.of(interpreter(spec).toString(), packageDir.resolve("_zygote.py").toString()));
            PythonZygote zygote = PythonZygote.start(spec, command, env, sandboxed, listener, zygoteOutputDir, gone -> {
                zygotes.onGone(gone);
                FileTrees.deleteQuietly(scratch);
            });
            LOG.debug("{}: zygote started (pid {})", spec.label(), zygote.pid());
            return zygote;
        } catch (IOException e) {
            throw new UncheckedIOException(cannotStart(spec, e), e);
        }
    }

    /** The base zygote once it has imported its modules (waiting for that if it is still importing), if it serves. */
    private Optional<BaseZygote> readyBase() {
        return base.filter(BaseZygote::isServing).filter(b -> {
            try {
                b.ready().get(BASE_WAIT.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
                return true;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
                return false;
            }
        });
    }

    /** Stops the zygotes: the server is stopping, and the pools have stopped their instances. */
    @Override
    public void close() {
        zygotes.close();
        base.ifPresent(BaseZygote::stop);
    }

    // ---- helpers

    private String cannotStart(InstanceSpec spec, IOException e) {
        return "cannot start " + interpreter(spec) + " for " + spec.label() + ": " + e.getMessage()
                + " (set GALE_PYTHON to a Python 3 interpreter)";
    }

    private static String rootMessage(Throwable error) {
        Throwable cause = error;
        while (cause.getCause() != null && cause instanceof CompletionException) cause = cause.getCause();
        if (cause instanceof TimeoutException) return "no answer within " + PythonZygote.FORK_WAIT.toSeconds() + " s";
        return cause.getMessage() == null ? cause.toString() : cause.getMessage();
    }

    /** Copies the bootstrap and client out of the jar so Python can run them. */
    private static Path unpackPackage(Path runtimeDir) {
        Path dir = runtimeDir.resolve("python").resolve("gale");
        try {
            Files.createDirectories(dir);
            for (String file : PACKAGE_FILES) {
                try (InputStream in = PythonRuntime.class.getResourceAsStream("/gale-python/gale/" + file)) {
                    if (in == null) throw new IllegalStateException("the Gale jar is missing gale-python/gale/" + file);
                    Files.copy(in, dir.resolve(file), StandardCopyOption.REPLACE_EXISTING);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot unpack the Python bootstrap into " + dir, e);
        }
        LOG.debug("python bootstrap unpacked into {}", dir);
        return dir;
    }
}
