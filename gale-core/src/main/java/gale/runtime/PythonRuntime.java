package gale.runtime;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Starts Python instances with a clean environment (nothing of the server's, so never the
 * admin token) plus the function's own variables and the protocol variables of
 * docs/protocol.md, in the bundle directory.
 *
 * <p>Each function version gets a zygote ({@link PythonZygote}) that has imported its
 * dependencies, and instances are forked from it, so a cold start costs a fork and the
 * entry module's own code rather than an interpreter start-up and every import. When the
 * zygote cannot serve (still preloading after {@link PythonZygote#FORK_WAIT}, failed,
 * exited), the instance is a fresh {@code python3 _bootstrap.py} and the reason is logged.
 * {@code GALE_ZYGOTE=0} in the server's environment turns zygotes off, for comparisons.
 *
 * <p>Isolation ({@link Isolation}): each instance gets a cgroup with its memory limit and
 * CPU share (a fresh process joins it before exec; a forked one is held until Gale has
 * moved it in). A sandboxed version's zygote runs inside bubblewrap, so the instances it
 * forks are in the same sandbox: the bundle, the interpreter and Gale's Python files
 * read-only, the version's scratch folder and the instance socket writable, nothing else
 * of the host. A fresh process gets a sandbox of its own.
 */
public final class PythonRuntime implements Runtime {

    private static final Logger LOG = LoggerFactory.getLogger(PythonRuntime.class);
    /** Files of the python/gale package shipped inside the jar. */
    private static final List<String> PACKAGE_FILES = List.of("__init__.py", "_bootstrap.py", "_requirements.py", "_zygote.py");
    /** Inherited variables that are safe and useful for user code; everything else is dropped. */
    private static final List<String> PASSED_THROUGH = List.of("PATH", "LANG", "LC_ALL", "TZ",
            "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS");
    /** After a zygote failed before it was ready, the version's instances start fresh for this long. */
    private static final Duration ZYGOTE_RETRY_AFTER = Duration.ofSeconds(30);

    private final Path python;
    private final Path packageDir;
    private final Path scratchRoot;
    private final InstanceListener listener;
    private final InstanceObserver observer;
    private final PythonRequirements requirements;
    private final boolean zygotes;
    private final Isolation isolation;
    private final Map<String, PythonZygote> zygoteByVersion = new ConcurrentHashMap<>();
    private final Map<String, Instant> zygoteBrokenUntil = new ConcurrentHashMap<>();
    private final SecureRandom random = new SecureRandom();
    private final AtomicLong counter = new AtomicLong();

    /**
     * A runtime with zygotes unless the server's environment has {@code GALE_ZYGOTE=0}.
     *
     * @param python      the interpreter (GALE_PYTHON)
     * @param runtimeDir  where the bootstrap is unpacked
     * @param scratchRoot per-instance scratch directories (HOME, TMPDIR) live here
     * @param indexUrl    package index for requirements the interpreter lacks (GALE_PIP_INDEX_URL)
     * @param wheelDir    wheel folder for requirements the interpreter lacks (GALE_WHEEL_DIR)
     */
    public PythonRuntime(Path python, Path runtimeDir, Path scratchRoot, InstanceListener listener, InstanceObserver observer,
                         Optional<String> indexUrl, Optional<Path> wheelDir, Isolation isolation) {
        this(python, runtimeDir, scratchRoot, listener, observer, indexUrl, wheelDir, isolation,
                zygotesWanted(System.getenv("GALE_ZYGOTE")));
    }

    /** @param zygotes fork instances from a zygote per version (else every instance is a fresh process) */
    public PythonRuntime(Path python, Path runtimeDir, Path scratchRoot, InstanceListener listener, InstanceObserver observer,
                         Optional<String> indexUrl, Optional<Path> wheelDir, Isolation isolation, boolean zygotes) {
        this.python = python;
        this.packageDir = unpackPackage(runtimeDir);
        this.scratchRoot = scratchRoot;
        this.listener = listener;
        this.observer = observer;
        this.requirements = new PythonRequirements(python, packageDir.resolve("_requirements.py"), indexUrl, wheelDir);
        this.zygotes = zygotes;
        this.isolation = isolation;
        listener.onClose(this::stopZygotes);
        if (!zygotes) LOG.info("python zygotes are off (GALE_ZYGOTE=0): every instance starts a fresh interpreter");
    }

    /** GALE_ZYGOTE: unset or anything but 0/false/off means on. */
    static boolean zygotesWanted(String setting) {
        if (setting == null) return true;
        return !List.of("0", "false", "off", "no").contains(setting.strip().toLowerCase(java.util.Locale.ROOT));
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

    /** Starts the version's zygote now, so the first cold start finds its dependencies imported. */
    @Override
    public void prewarm(InstanceSpec spec) {
        zygoteFor(spec);
    }

    /** Stops the version's zygote; the instances it forked keep running until their pool stops them. */
    @Override
    public void retire(InstanceSpec spec) {
        zygoteBrokenUntil.remove(key(spec));
        PythonZygote zygote = zygoteByVersion.remove(key(spec));
        if (zygote != null) zygote.retire();
    }

    /** Fails the deploy when the config asks for a sandbox this host cannot give. */
    @Override
    public void checkIsolation(gale.config.FunctionConfig config) throws DeployFailure {
        isolation.check(config);
    }

    @Override
    public Instance start(InstanceSpec spec) {
        String id = spec.function() + "-" + spec.version() + "-" + Long.toString(counter.incrementAndGet(), 36)
                + HexFormat.of().formatHex(randomBytes(2));
        String nonce = HexFormat.of().formatHex(randomBytes(16));
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
        Optional<Isolation.Cgroup> cgroup = isolation.createCgroup(id, spec.config());
        Optional<PythonZygote> zygote = zygoteFor(spec);
        if (zygote.isEmpty()) {
            try {
                Process process = startFresh(spec, env, scratch, cgroup);
                process.onExit().thenRun(() -> deleteQuietly(scratch));
                return new ProcessInstance(id, spec, process, connecting, observer, cgroup);
            } catch (IOException e) {
                connecting.cancel(false);
                cgroup.ifPresent(Isolation.Cgroup::remove);
                throw new UncheckedIOException(cannotStart(spec, e), e);
            }
        }
        return fork(zygote.get(), id, nonce, env, scratch, connecting, cgroup);
    }

    /** An instance forked by the zygote, or a fresh process should the zygote not deliver. */
    private Instance fork(PythonZygote zygote, String id, String nonce, Map<String, String> env, Path scratch,
                          CompletableFuture<Connection> connecting, Optional<Isolation.Cgroup> cgroup) {
        InstanceSpec spec = zygote.spec();
        var launching = new CompletableFuture<ProcessInstance.OsProcess>();
        var instance = new ProcessInstance(id, spec, launching, connecting, observer, cgroup);
        listener.expectOutput(id, nonce, (stream, in) -> instance.pipe(in, stream));
        instance.terminated().thenAccept(failure -> {
            listener.forgetOutput(id);
            if (failure.kind() == InstanceFailure.Kind.LOAD_FAILED) {
                // A version whose code cannot load serves nothing (a failed deploy): stop its zygote once
                // nothing it forked runs; should the version be started again, it gets a new one.
                launching.thenCompose(ProcessInstance.OsProcess::exit).thenRun(() -> {
                    if (zygote.liveChildren() == 0) retireZygote(zygote);
                });
            }
        });
        zygote.fork(id, env, cgroup).whenComplete((child, error) -> {
            if (error == null) {
                launching.complete(child);
            } else if (instance.failure().isPresent()) {
                launching.completeExceptionally(error);
            } else {
                LOG.warn("{}: zygote (pid {}) did not fork instance {} ({}); starting a fresh python3 instead",
                        spec.label(), zygote.pid(), id, rootMessage(error));
                try {
                    Process process = startFresh(spec, env, scratch, cgroup);
                    instance.pipe(process.getInputStream(), "stdout");
                    instance.pipe(process.getErrorStream(), "stderr");
                    launching.complete(ProcessInstance.OsProcess.of(process));
                } catch (IOException e) {
                    launching.completeExceptionally(new IOException(cannotStart(spec, e), e));
                }
            }
        });
        launching.thenCompose(ProcessInstance.OsProcess::exit).whenComplete((exit, error) -> deleteQuietly(scratch));
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
        Process process = pb.start();
        process.getOutputStream().close();
        return process;
    }

    /**
     * The sandbox of an instance or of a version's zygote: the bundle, the interpreter (and
     * the virtualenv) and Gale's Python files read-only; the instance socket and
     * {@code scratch} writable.
     */
    private List<String> sandbox(InstanceSpec spec, Path scratch) {
        Set<Path> readOnly = new LinkedHashSet<>(List.of(spec.bundleDir(), packageRoot()));
        spec.environment().ifPresent(readOnly::add);
        readOnly.addAll(Isolation.installationOf(interpreter(spec)));
        Set<Path> readWrite = new LinkedHashSet<>(List.of(listener.socketPath(), scratch));
        return isolation.sandboxCommand(readOnly, readWrite, spec.bundleDir(), !spec.config().network().equals("none"));
    }

    /** The folder of a version's scratch folders (its instances' HOME and TMPDIR, its zygote's). */
    private Path versionScratch(InstanceSpec spec) {
        return scratchRoot.resolve(spec.function() + "-" + spec.version());
    }

    /** The environment of the version's instances, without the per-instance id and nonce. */
    private Map<String, String> environment(InstanceSpec spec, Path scratch) {
        Map<String, String> env = new LinkedHashMap<>();
        Map<String, String> inherited = System.getenv();
        PASSED_THROUGH.forEach(k -> {
            if (inherited.containsKey(k)) env.put(k, inherited.get(k));
        });
        env.putIfAbsent("PATH", "/usr/local/bin:/usr/bin:/bin");
        env.putIfAbsent("LANG", "C.UTF-8");
        env.put("HOME", scratch.toString());
        env.put("TMPDIR", scratch.toString());
        env.put("PYTHONUNBUFFERED", "1");
        env.put("PYTHONDONTWRITEBYTECODE", "1");
        env.putAll(spec.config().env());
        env.put("PYTHONPATH", packageRoot().toString()); // `import gale` works in user code
        env.put("GALE_SOCKET", listener.socketPath().toString());
        env.put("GALE_FUNCTION", spec.function());
        env.put("GALE_VERSION", Integer.toString(spec.version()));
        env.put("GALE_ENTRY_POINT", spec.config().entryPoint());
        env.put("GALE_ENTRY_MODULE", spec.config().entryModule());
        env.put("GALE_SIGNATURE", spec.config().signature());
        env.put("GALE_MEMORY_MB", Long.toString(spec.config().memory().megabytes()));
        env.put("GALE_CONCURRENCY", Integer.toString(spec.config().concurrency()));
        env.put("GALE_URL_PREFIX", "/fn/" + spec.function());
        return env;
    }

    private Path interpreter(InstanceSpec spec) {
        return spec.environment().map(v -> v.resolve("bin").resolve("python")).orElse(python);
    }

    // ---- zygotes

    private static String key(InstanceSpec spec) {
        return spec.function() + "@" + spec.version();
    }

    /** The version's serving zygote, started if there is none; empty when zygotes are off or recently broken. */
    private Optional<PythonZygote> zygoteFor(InstanceSpec spec) {
        if (!zygotes) return Optional.empty();
        String key = key(spec);
        Instant brokenUntil = zygoteBrokenUntil.get(key);
        if (brokenUntil != null && Instant.now().isBefore(brokenUntil)) return Optional.empty();
        try {
            return Optional.of(zygoteByVersion.compute(key, (k, current) ->
                    current != null && current.isServing() ? current : startZygote(spec)));
        } catch (UncheckedIOException e) {
            LOG.warn("{}: cannot start a zygote ({}); instances start fresh for {} s", spec.label(), e.getMessage(),
                    ZYGOTE_RETRY_AFTER.toSeconds());
            zygoteBrokenUntil.put(key, Instant.now().plus(ZYGOTE_RETRY_AFTER));
            return Optional.empty();
        }
    }

    private PythonZygote startZygote(InstanceSpec spec) {
        try {
            Path versionScratch = Files.createDirectories(versionScratch(spec));
            Path scratch = Files.createDirectories(versionScratch.resolve("zygote-" + Long.toString(counter.incrementAndGet(), 36)));
            boolean sandboxed = isolation.runsSandboxed(spec.config());
            List<String> command = new ArrayList<>();
            if (sandboxed) command.addAll(sandbox(spec, versionScratch)); // its instances' scratch folders appear there later
            command.addAll(List.of(interpreter(spec).toString(), packageDir.resolve("_zygote.py").toString()));
            PythonZygote zygote = PythonZygote.start(spec, command, environment(spec, scratch), sandboxed, gone -> {
                onZygoteGone(gone);
                deleteQuietly(scratch);
            });
            zygote.ready().whenComplete((ok, error) -> {
                if (error == null) zygoteBrokenUntil.remove(key(spec));
            });
            LOG.debug("{}: zygote started (pid {})", spec.label(), zygote.pid());
            return zygote;
        } catch (IOException e) {
            throw new UncheckedIOException(cannotStart(spec, e), e);
        }
    }

    /** A zygote that exits is replaced at the next start; one that failed is not retried for a while. */
    private void onZygoteGone(PythonZygote zygote) {
        String key = key(zygote.spec());
        if (zygote.failed() && zygoteByVersion.get(key) == zygote) {
            zygoteBrokenUntil.put(key, Instant.now().plus(ZYGOTE_RETRY_AFTER));
        }
        zygoteByVersion.remove(key, zygote);
    }

    private void retireZygote(PythonZygote zygote) {
        if (zygoteByVersion.remove(key(zygote.spec()), zygote)) zygote.stop();
    }

    private void stopZygotes() {
        zygoteByVersion.values().forEach(PythonZygote::stop);
        zygoteByVersion.clear();
    }

    // ---- helpers

    private String cannotStart(InstanceSpec spec, IOException e) {
        return "cannot start " + interpreter(spec) + " for " + spec.label() + ": " + e.getMessage()
                + " (set GALE_PYTHON to a Python 3 interpreter)";
    }

    private static String rootMessage(Throwable error) {
        Throwable cause = error;
        while (cause.getCause() != null && cause instanceof java.util.concurrent.CompletionException) cause = cause.getCause();
        if (cause instanceof java.util.concurrent.TimeoutException) return "no answer within " + PythonZygote.FORK_WAIT.toSeconds() + " s";
        return cause.getMessage() == null ? cause.toString() : cause.getMessage();
    }

    private byte[] randomBytes(int n) {
        byte[] b = new byte[n];
        random.nextBytes(b);
        return b;
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

    private static void deleteQuietly(Path dir) {
        try (var walk = Files.walk(dir)) {
            walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException | UncheckedIOException ignored) {
            // best effort: scratch dirs are also cleared at server start
        }
    }
}
