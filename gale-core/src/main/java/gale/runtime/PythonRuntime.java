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
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Starts Python instances: {@code python3 _bootstrap.py} in the bundle directory, with
 * a clean environment (nothing of the server's, so never the admin token) plus the
 * function's own variables and the protocol variables of docs/protocol.md.
 */
public final class PythonRuntime implements Runtime {

    private static final Logger LOG = LoggerFactory.getLogger(PythonRuntime.class);
    /** Files of the python/gale package shipped inside the jar. */
    private static final List<String> PACKAGE_FILES = List.of("__init__.py", "_bootstrap.py", "_requirements.py");
    /** Inherited variables that are safe and useful for user code; everything else is dropped. */
    private static final List<String> PASSED_THROUGH = List.of("PATH", "LANG", "LC_ALL", "TZ",
            "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS");

    private final Path python;
    private final Path packageDir;
    private final Path scratchRoot;
    private final InstanceListener listener;
    private final InstanceObserver observer;
    private final PythonRequirements requirements;
    private final SecureRandom random = new SecureRandom();
    private final AtomicLong counter = new AtomicLong();

    /**
     * @param python      the interpreter (GALE_PYTHON)
     * @param runtimeDir  where the bootstrap is unpacked
     * @param scratchRoot per-instance scratch directories (HOME, TMPDIR) live here
     * @param indexUrl    package index for requirements the interpreter lacks (GALE_PIP_INDEX_URL)
     * @param wheelDir    wheel folder for requirements the interpreter lacks (GALE_WHEEL_DIR)
     */
    public PythonRuntime(Path python, Path runtimeDir, Path scratchRoot, InstanceListener listener, InstanceObserver observer,
                         Optional<String> indexUrl, Optional<Path> wheelDir) {
        this.python = python;
        this.packageDir = unpackPackage(runtimeDir);
        this.scratchRoot = scratchRoot;
        this.listener = listener;
        this.observer = observer;
        this.requirements = new PythonRequirements(python, packageDir.resolve("_requirements.py"), indexUrl, wheelDir);
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

    @Override
    public Instance start(InstanceSpec spec) {
        String id = spec.function() + "-" + spec.version() + "-" + Long.toString(counter.incrementAndGet(), 36)
                + HexFormat.of().formatHex(randomBytes(2));
        String nonce = HexFormat.of().formatHex(randomBytes(16));
        var connecting = listener.expect(id, nonce);
        try {
            Path scratch = Files.createDirectories(scratchRoot.resolve(id));
            Path interpreter = spec.environment().map(v -> v.resolve("bin").resolve("python")).orElse(python);
            ProcessBuilder pb = new ProcessBuilder(interpreter.toString(), packageDir.resolve("_bootstrap.py").toString())
                    .directory(spec.bundleDir().toFile());
            Map<String, String> env = pb.environment();
            Map<String, String> inherited = Map.copyOf(env);
            env.clear();
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
            env.put("GALE_INSTANCE_ID", id);
            env.put("GALE_INSTANCE_NONCE", nonce);
            env.put("GALE_FUNCTION", spec.function());
            env.put("GALE_VERSION", Integer.toString(spec.version()));
            env.put("GALE_ENTRY_POINT", spec.config().entryPoint());
            env.put("GALE_ENTRY_MODULE", spec.config().entryModule());
            env.put("GALE_SIGNATURE", spec.config().signature());
            env.put("GALE_MEMORY_MB", Long.toString(spec.config().memory().megabytes()));
            env.put("GALE_CONCURRENCY", Integer.toString(spec.config().concurrency()));
            env.put("GALE_URL_PREFIX", "/fn/" + spec.function());
            Process process = pb.start();
            process.getOutputStream().close();
            process.onExit().thenRun(() -> deleteQuietly(scratch));
            return new ProcessInstance(id, spec, process, connecting, observer);
        } catch (IOException e) {
            connecting.cancel(false);
            throw new UncheckedIOException("cannot start " + python + " for " + spec.label() + ": " + e.getMessage()
                    + " (set GALE_PYTHON to a Python 3 interpreter)", e);
        }
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
