package gale.runtime.process;

import gale.config.FunctionConfig;
import gale.runtime.DeployFailure;
import gale.runtime.Instance;
import gale.runtime.InstanceIds;
import gale.runtime.InstanceObserver;
import gale.runtime.InstanceSpec;
import gale.runtime.Isolation;
import gale.runtime.ProcessLauncher;
import gale.runtime.Runtime;
import gale.runtime.RuntimeContext;
import gale.util.FileTrees;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.regex.Pattern;

/**
 * The {@code process} runtime: any command that serves HTTP on {@code $PORT}, the Cloud
 * Run container contract without the container. The command runs through
 * {@code /bin/sh -c} in the bundle directory, in a session of its own, with a clean
 * environment: the function's variables plus PORT, K_SERVICE, K_REVISION and
 * K_CONFIGURATION as Cloud Run sets them, and nothing of the server's (so never the
 * admin token). See docs/runtimes.md.
 *
 * <p>Isolation ({@link Isolation}): each instance joins a cgroup with its memory limit and CPU
 * share before the shell starts, and runs in the bubblewrap sandbox when the version's config
 * asks for it: the system directories, the bundle (at /var/task, the working directory) and
 * the program the command names by absolute path read-only, the instance's scratch folder writable. The sandbox keeps the
 * host's network, because Gale reaches the command over TCP on 127.0.0.1; so
 * {@code network = "none"} fails the deploy.
 */
public final class ProcessRuntime implements Runtime {

    /** Cloud Run gives a container 4 minutes to listen; a start may take no longer here either. */
    public static final Duration MAX_STARTUP = Duration.ofMinutes(4);
    private static final Path SHELL = Path.of("/bin/sh");
    private static final Path SETSID = Path.of("/usr/bin/setsid");
    /**
     * Put before the command: the shell outlives SIGTERM (a no-op trap, reset to the default in
     * what it starts) until what it runs has exited, so the server gets its grace period. Without
     * it the shell would die at once, and the sandbox, whose first process it is, with it.
     */
    static final String SHELL_TRAP = "trap : TERM; ";
    /** Leading words of a command that come before the program it runs: {@code exec}, {@code NAME=value}. */
    private static final Pattern PREFIX_WORD = Pattern.compile("exec|[A-Za-z_][A-Za-z0-9_]*=\\S*");
    /** An absolute path with nothing the shell would expand or split. */
    private static final Pattern PLAIN_PATH = Pattern.compile("/[A-Za-z0-9._+/@%:,-]*");

    private final RuntimeContext context;
    private final Path scratchRoot;
    private final InstanceObserver observer;
    private final Isolation isolation;
    private ScheduledThreadPoolExecutor deadlines;
    private final Set<Integer> portsInUse = ConcurrentHashMap.newKeySet();

    public ProcessRuntime(RuntimeContext context) {
        this.context = context;
        this.scratchRoot = context.scratchRoot();
        this.observer = context.observer();
        this.isolation = context.isolation();
    }

    /** Starts the timer thread that ends calls at their deadline. */
    @Override
    public void start() {
        deadlines = new ScheduledThreadPoolExecutor(1, Thread.ofPlatform().name("gale-process-deadlines").daemon().factory());
        deadlines.setRemoveOnCancelPolicy(true); // most calls finish long before their deadline
    }

    @Override
    public void close() {
        if (deadlines != null) deadlines.shutdownNow();
    }

    @Override
    public String name() {
        return "process";
    }

    /** Nothing to build: the bundle is run as it is. */
    @Override
    public Optional<Path> prepare(Path bundleDir, Path versionDir) throws DeployFailure {
        if (!Files.isExecutable(SHELL)) {
            throw new DeployFailure("the process runtime runs commands with " + SHELL + ", which this server does not have");
        }
        return Optional.empty();
    }

    /**
     * Refuses {@code network = "none"}, which would cut Gale off from the command, and a
     * sandbox this host cannot give.
     */
    @Override
    public void checkIsolation(FunctionConfig config) throws DeployFailure {
        if (config.network().equals("none")) {
            throw new DeployFailure("the process runtime is reached over TCP on 127.0.0.1; network none is not possible: "
                    + "the instance needs the host's loopback for Gale to send it calls. Deploy with --network all (the "
                    + "sandbox still hides the host's files), or use the python3 or java21 runtime, which Gale reaches "
                    + "over a UNIX socket");
        }
        isolation.check(config);
    }

    /** How long the command may take to answer HTTP: the function's timeout, at most {@link #MAX_STARTUP}. */
    static Duration startupTimeout(InstanceSpec spec) {
        Duration timeout = spec.config().timeout();
        return timeout.compareTo(MAX_STARTUP) < 0 ? timeout : MAX_STARTUP;
    }

    /** The public path prefix of the function's URLs, e.g. {@code /fn/plots}. */
    static String urlPrefix(InstanceSpec spec) {
        return "/fn/" + spec.function();
    }

    @Override
    public Instance start(InstanceSpec spec) {
        String id = InstanceIds.next(spec);
        int port = reservePort();
        Path scratch = null;
        Optional<Isolation.Cgroup> cgroup = Optional.empty();
        try {
            scratch = Files.createDirectories(scratchRoot.resolve(id));
            cgroup = isolation.createCgroup(id, spec.config());
            boolean sandboxed = isolation.runsSandboxed(spec.config());
            List<String> argv = new ArrayList<>();
            cgroup.ifPresent(c -> argv.addAll(c.joinCommand()));
            if (Files.isExecutable(SETSID)) argv.add(SETSID.toString()); // its own process group, signalled as one
            if (sandboxed) argv.addAll(sandbox(spec, scratch));
            argv.addAll(List.of(SHELL.toString(), "-c", SHELL_TRAP + spec.config().command()));
            ProcessBuilder pb = new ProcessBuilder(argv).directory(spec.bundleDir().toFile());
            environment(pb.environment(), context.instanceEnvironment(spec), spec, id, port, scratch);
            context.addSecretFiles(spec, scratch, pb.environment());
            Process process = ProcessLauncher.start(pb);
            process.getOutputStream().close(); // stdin is empty, as in a container started without -i
            var instance = new HttpProcessInstance(id, spec, process, sandboxed, cgroup, port, startupTimeout(spec), observer,
                    deadlines);
            instance.start();
            Path dir = scratch;
            // After the whole group, not just the shell, is gone: a server may still write there while it handles SIGTERM.
            instance.terminated().whenComplete((reason, error) -> {
                portsInUse.remove(port);
                FileTrees.deleteQuietly(dir);
            });
            return instance;
        } catch (IOException e) {
            portsInUse.remove(port);
            if (scratch != null) FileTrees.deleteQuietly(scratch);
            cgroup.ifPresent(Isolation.Cgroup::remove);
            throw new UncheckedIOException("cannot start the command of " + spec.label() + " (" + spec.config().command()
                    + "): " + e.getMessage(), e);
        }
    }

    /**
     * The sandbox of an instance: the bundle (at /var/task) and the program the command names by absolute
     * path (with its installation, e.g. /opt/node) read-only, the scratch folder writable, the
     * host's network kept. Never an installation folder holding Gale's own data: a program in
     * ~/bin would otherwise show ~/.gale, admin token included.
     */
    private List<String> sandbox(InstanceSpec spec, Path scratch) {
        Set<Path> readOnly = new LinkedHashSet<>();
        program(spec.config().command()).map(Isolation::installationOf).orElse(Set.of()).stream()
                .filter(Files::isDirectory) // a program that is not there fails with "not found", not a sandbox error
                .filter(root -> !scratchRoot.toAbsolutePath().startsWith(root))
                .forEach(readOnly::add);
        // setsid (before bwrap) already gave it a session without a terminal, and its process group is the one Gale signals.
        return isolation.sandboxCommand(spec.bundleDir(), readOnly, Set.of(scratch), true, false);
    }

    /**
     * The program a command starts, when it names it by a plain absolute path
     * ({@code /opt/node/bin/node server.js}, {@code exec /opt/r/bin/Rscript serve.R}); empty for
     * a name found on PATH, which the sandbox looks up in the system directories only.
     */
    static Optional<Path> program(String command) {
        for (String word : command.strip().split("\\s+")) {
            if (PREFIX_WORD.matcher(word).matches()) continue;
            return PLAIN_PATH.matcher(word).matches() ? Optional.of(Path.of(word)) : Optional.empty();
        }
        return Optional.empty();
    }

    private static void environment(Map<String, String> env, Map<String, String> clean, InstanceSpec spec, String id, int port,
                                    Path scratch) {
        env.clear();
        env.putAll(clean);
        env.put("HOME", scratch.toString());
        env.put("TMPDIR", scratch.toString());
        env.putAll(spec.config().env());
        // The contract's variables win over the function's own, as on Cloud Run.
        env.put("PORT", Integer.toString(port));
        env.put("K_SERVICE", spec.function());
        env.put("K_REVISION", String.format("%s-%05d", spec.function(), spec.version()));
        env.put("K_CONFIGURATION", spec.function());
        env.put("GALE_FUNCTION", spec.function());
        env.put("GALE_VERSION", Integer.toString(spec.version()));
        env.put("GALE_INSTANCE_ID", id);
        env.put("GALE_MEMORY_MB", Long.toString(spec.config().memory().megabytes()));
        env.put("GALE_CONCURRENCY", Integer.toString(spec.config().concurrency()));
        env.put("GALE_URL_PREFIX", urlPrefix(spec));
    }

    /** A loopback port free right now and not handed to another instance that has yet to bind it. */
    private int reservePort() {
        for (int attempt = 0; attempt < 50; attempt++) {
            try (var socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
                int port = socket.getLocalPort();
                if (portsInUse.add(port)) return port;
            } catch (IOException e) {
                throw new UncheckedIOException("cannot find a free loopback port for an instance: " + e.getMessage(), e);
            }
        }
        throw new IllegalStateException("cannot find a free loopback port for an instance after 50 tries");
    }

}
