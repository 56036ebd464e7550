package gale.runtime.process;

import gale.runtime.DeployFailure;
import gale.runtime.Instance;
import gale.runtime.InstanceObserver;
import gale.runtime.InstanceSpec;
import gale.runtime.Runtime;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The {@code process} runtime: any command that serves HTTP on {@code $PORT}, the Cloud
 * Run container contract without the container. The command runs through
 * {@code /bin/sh -c} in the bundle directory, in a session of its own, with a clean
 * environment: the function's variables plus PORT, K_SERVICE, K_REVISION and
 * K_CONFIGURATION as Cloud Run sets them, and nothing of the server's (so never the
 * admin token). See docs/runtimes.md.
 */
public final class ProcessRuntime implements Runtime {

    /** Cloud Run gives a container 4 minutes to listen; a start may take no longer here either. */
    public static final Duration MAX_STARTUP = Duration.ofMinutes(4);
    private static final Path SHELL = Path.of("/bin/sh");
    private static final Path SETSID = Path.of("/usr/bin/setsid");
    /** Inherited variables that are safe and useful for user code; everything else is dropped. */
    private static final List<String> PASSED_THROUGH = List.of("PATH", "LANG", "LC_ALL", "TZ");

    private final Path scratchRoot;
    private final InstanceObserver observer;
    private final ScheduledThreadPoolExecutor deadlines;
    private final Set<Integer> portsInUse = ConcurrentHashMap.newKeySet();
    private final SecureRandom random = new SecureRandom();
    private final AtomicLong counter = new AtomicLong();

    /**
     * @param scratchRoot per-instance scratch directories (HOME, TMPDIR) live here
     * @param observer    receives each line the commands print
     */
    public ProcessRuntime(Path scratchRoot, InstanceObserver observer) {
        this.scratchRoot = scratchRoot;
        this.observer = observer;
        this.deadlines = new ScheduledThreadPoolExecutor(1,
                Thread.ofPlatform().name("gale-process-deadlines").daemon().factory());
        deadlines.setRemoveOnCancelPolicy(true); // most calls finish long before their deadline
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
        String id = spec.function() + "-" + spec.version() + "-" + Long.toString(counter.incrementAndGet(), 36)
                + HexFormat.of().formatHex(randomBytes(2));
        int port = reservePort();
        Path scratch = null;
        try {
            scratch = Files.createDirectories(scratchRoot.resolve(id));
            List<String> argv = new ArrayList<>();
            if (Files.isExecutable(SETSID)) argv.add(SETSID.toString()); // its own process group, signalled as one
            argv.addAll(List.of(SHELL.toString(), "-c", spec.config().command()));
            ProcessBuilder pb = new ProcessBuilder(argv).directory(spec.bundleDir().toFile());
            environment(pb.environment(), spec, id, port, scratch);
            Process process = pb.start();
            process.getOutputStream().close(); // stdin is empty, as in a container started without -i
            Path dir = scratch;
            process.onExit().thenRun(() -> deleteQuietly(dir));
            var instance = new HttpProcessInstance(id, spec, process, port, startupTimeout(spec), observer, deadlines);
            instance.terminated().whenComplete((reason, error) -> portsInUse.remove(port));
            return instance;
        } catch (IOException e) {
            portsInUse.remove(port);
            if (scratch != null) deleteQuietly(scratch);
            throw new UncheckedIOException("cannot start the command of " + spec.label() + " (" + spec.config().command()
                    + "): " + e.getMessage(), e);
        }
    }

    private static void environment(Map<String, String> env, InstanceSpec spec, String id, int port, Path scratch) {
        Map<String, String> inherited = System.getenv();
        env.clear();
        PASSED_THROUGH.forEach(k -> {
            if (inherited.containsKey(k)) env.put(k, inherited.get(k));
        });
        env.putIfAbsent("PATH", "/usr/local/bin:/usr/bin:/bin");
        env.putIfAbsent("LANG", "C.UTF-8");
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

    private byte[] randomBytes(int n) {
        byte[] b = new byte[n];
        random.nextBytes(b);
        return b;
    }

    private static void deleteQuietly(Path dir) {
        try (var walk = Files.walk(dir)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException | UncheckedIOException ignored) {
            // best effort: scratch dirs are also cleared at server start
        }
    }
}
