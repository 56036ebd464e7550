package gale.runtime.java;

import gale.config.FunctionConfig;
import gale.runtime.DeployFailure;
import gale.runtime.Instance;
import gale.runtime.InstanceIds;
import gale.runtime.InstanceListener;
import gale.runtime.InstanceObserver;
import gale.runtime.InstanceSpec;
import gale.runtime.Isolation;
import gale.runtime.ProcessLauncher;
import gale.runtime.SocketInstance;
import gale.runtime.Runtime;
import gale.runtime.RuntimeContext;
import gale.util.FileTrees;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.jar.JarFile;

/**
 * Runs Java functions (runtime {@code java21}): classes implementing {@code gale.api.HttpFunction},
 * one JVM per instance, started with {@code gale.api.internal.Bootstrap} (module gale-api) as
 * main class, which speaks docs/protocol.md. See docs/java.md.
 *
 * <p>A bundle is either jars (at its root, libraries in lib/) or a Maven project, which
 * {@link #prepare} builds. Instances start on the JVM running Gale with a clean environment
 * (nothing of the server's, so never the admin token), the function's variables, and a scratch
 * HOME and TMPDIR. After a version's first instance is ready, a training run makes its
 * class-data archive in the background; every later instance maps it and starts faster.
 *
 * <p>Isolation ({@link Isolation}): each JVM joins a cgroup with the function's memory limit
 * and CPU share before it starts, and runs in the bubblewrap sandbox when the version's config
 * asks for it: the bundle, the version's {@code java/} folder (classpath, built jars, the
 * archive), the gale-api jar and the JDK read-only; the instance socket and its scratch folder
 * writable. The JVM talks to Gale over the UNIX socket only, so {@code network = "none"}
 * works. The training run loads the function's class, so it runs in the same sandbox, with
 * only its own scratch folder writable: the archive is written there and moved into place.
 *
 * <p>Once a version has served (and its archive is trained), a spare JVM of it is started off
 * the request path and waits, READY, for the next cold start ({@link SpareJvms}): a cold start
 * then costs a first call, not a JVM start.
 */
public final class JavaRuntime implements Runtime {

    private static final Logger LOG = LoggerFactory.getLogger(JavaRuntime.class);

    private final RuntimeContext context;
    private final String javaBinary;
    private final Path scratchRoot;
    private final InstanceListener listener;
    private final InstanceObserver observer;
    private final Isolation isolation;
    private final Path runtimeDir;
    private Optional<Path> apiJar = Optional.empty();
    /** Size and time of the gale-api jar: a new one (a Gale upgrade) needs new archives. */
    private String apiJarStamp = "";
    private Optional<MavenBuild> maven = Optional.empty();
    private final boolean classDataSharing;
    private final ClassDataArchive.Kind archiveKind = ClassDataArchive.Kind.forJava(java.lang.Runtime.version().feature());
    /** Archives being trained now, so each is trained once. */
    private final Set<Path> training = ConcurrentHashMap.newKeySet();
    private final ExecutorService trainer = Executors.newVirtualThreadPerTaskExecutor();
    private final SpareJvms spares;

    /**
     * A runtime with class-data archives unless the server's environment has {@code GALE_JAVA_CDS=0}.
     *
     * @param java the java binary instances run on ({@link #currentJava()}: the JVM running Gale)
     */
    public JavaRuntime(RuntimeContext context, Path java) {
        this(context, java, !"0".equals(System.getenv("GALE_JAVA_CDS")), SpareJvms.Budget.defaults());
    }

    /**
     * @param classDataSharing train and use a class-data archive per version (off: for comparisons)
     * @param spareBudget      how many spare JVMs to keep ready, and for how long
     */
    JavaRuntime(RuntimeContext context, Path java, boolean classDataSharing, SpareJvms.Budget spareBudget) {
        this.spares = new SpareJvms(spareBudget, this::launchSpare);
        this.context = context;
        this.classDataSharing = classDataSharing;
        this.javaBinary = java.toString();
        this.scratchRoot = context.scratchRoot();
        this.listener = context.listener();
        this.observer = context.observer();
        this.isolation = context.isolation();
        this.runtimeDir = context.runtimeDir();
    }

    /** Writes the gale-api jar that instances run with, and finds Maven for projects. */
    @Override
    public void start() {
        apiJar = ApiJar.install(runtimeDir);
        apiJarStamp = apiJar.map(JavaRuntime::stamp).orElse("");
        maven = apiJar.map(jar -> new MavenBuild(MavenBuild.locate(System.getenv(), galeCodeSource()), jdkHome(), jar, apiVersion(jar)));
    }

    /** Kills the spare JVMs and stops class-data training runs still going (their JVMs are killed when the runs are interrupted). */
    @Override
    public void close() {
        spares.close();
        trainer.shutdownNow();
    }

    /** The version starts no more instances: its spare JVM goes. */
    @Override
    public void retire(InstanceSpec spec) {
        spares.retire(spec);
    }

    /** Kills spare JVMs no cold start wanted for a while. */
    @Override
    public void maintain() {
        spares.expire();
    }

    /** The java binary of the JVM running Gale, else $JAVA_HOME/bin/java. */
    public static Path currentJava() {
        Optional<String> command = ProcessHandle.current().info().command();
        if (command.isPresent() && Files.isExecutable(Path.of(command.get()))) return Path.of(command.get());
        Path own = Path.of(System.getProperty("java.home"), "bin", "java");
        if (Files.isExecutable(own)) return own;
        String javaHome = System.getenv("JAVA_HOME");
        return javaHome == null ? Path.of("java") : Path.of(javaHome, "bin", "java");
    }

    @Override
    public String name() {
        return "java21";
    }

    /**
     * Finds the jars to run, building a Maven project first. Reuses what an earlier prepare of
     * the version made (restart, rollback).
     *
     * @return the version's {@code java/} folder, holding classpath.txt and later the class-data archive
     */
    @Override
    public Optional<Path> prepare(Path bundleDir, Path versionDir) throws DeployFailure {
        if (apiJar.isEmpty() || maven.isEmpty()) {
            throw new DeployFailure("this Gale server cannot run Java functions: it was built without its gale-api module "
                    + "(rebuild Gale with ./mvnw install, or start it with -D" + ApiJar.OVERRIDE_PROPERTY + "=PATH_TO_GALE_API_JAR)");
        }
        Path javaDir = versionDir.resolve("java");
        if (FunctionClasspath.load(javaDir).isPresent()) return Optional.of(javaDir);
        FunctionClasspath classpath = MavenBuild.isMavenProject(bundleDir)
                ? maven.get().build(bundleDir, javaDir)
                : FunctionClasspath.ofBundle(bundleDir);
        try {
            classpath.save(javaDir);
        } catch (IOException e) {
            throw new DeployFailure("cannot write the classpath of the version into " + javaDir + ": " + e.getMessage());
        }
        return Optional.of(javaDir);
    }

    /** Fails the deploy when the config asks for a sandbox this host cannot give. */
    @Override
    public void checkIsolation(FunctionConfig config) throws DeployFailure {
        isolation.check(config);
    }

    /** Hands out the version's spare JVM when it has one, else starts a JVM; then a new spare is readied in the background. */
    @Override
    public Instance start(InstanceSpec spec) {
        FunctionConfig config = spec.config();
        if (config.memory().megabytes() < JvmOptions.MIN_MEMORY_MB) {
            throw new IllegalArgumentException("a Java function needs --memory of at least " + JvmOptions.MIN_MEMORY_MB
                    + "MB (a JVM alone uses about 40MB); " + spec.label() + " has " + config.memory());
        }
        Optional<SocketInstance> spare = spares.take(spec);
        if (spare.isPresent()) {
            spare.get().ready().thenRun(() -> spares.refill(spec));
            return spare.get();
        }
        Jvm jvm = jvmOf(spec);
        SocketInstance instance = launch(spec, jvm, false);
        if (classDataSharing && !jvm.archive().exists() && !jvm.archive().failedBefore()) {
            // Train once the function is known to load, off the request path; this instance runs without.
            // The spare comes after the training, so that it maps the archive and does not compete with it.
            instance.ready().thenRunAsync(() -> {
                trainOnce(spec, jvm);
                spares.refill(spec);
            }, trainer);
        } else {
            instance.ready().thenRun(() -> spares.refill(spec));
        }
        return instance;
    }

    /**
     * What every JVM of a version runs with.
     *
     * @param classpath as the JVM sees it (inside the sandbox, the bundle is at /var/task)
     * @param archive   the class-data archive for exactly these flags and classpath (it may not exist yet)
     */
    private record Jvm(FunctionClasspath jars, Path api, String classpath, List<String> options, ClassDataArchive archive) {
    }

    private Jvm jvmOf(InstanceSpec spec) {
        FunctionConfig config = spec.config();
        Path javaDir = spec.environment().orElseThrow(() -> new IllegalStateException(spec.label() + " was not prepared"));
        FunctionClasspath jars = FunctionClasspath.load(javaDir).orElseThrow(() -> new IllegalStateException(
                "the jars of " + spec.label() + " are gone from " + javaDir + "; deploy it again"));
        Path api = apiJar.orElseThrow(() -> new IllegalStateException("this Gale server has no gale-api jar"));
        String classpath = isolation.runsSandboxed(config)
                ? jars.withApi(api, jar -> Isolation.inSandbox(jar, spec.bundleDir())) // the bundle is at /var/task there
                : jars.withApi(api);
        List<String> jvmOptions = JvmOptions.forVersion(config.memory(), config.env());
        return new Jvm(jars, api, classpath, jvmOptions,
                ClassDataArchive.of(javaDir, archiveKind, javaBinary, jvmOptions, classpath, apiJarStamp));
    }

    /** Starts a spare JVM of the version, which links what a first call needs before it says READY (docs/protocol.md). */
    private SocketInstance launchSpare(InstanceSpec spec) {
        return launch(spec, jvmOf(spec), true);
    }

    private SocketInstance launch(InstanceSpec spec, Jvm jvm, boolean spare) {
        FunctionConfig config = spec.config();
        String id = InstanceIds.next(spec);
        String nonce = InstanceIds.nonce();
        var connecting = listener.expect(id, nonce);
        Optional<Isolation.Cgroup> cgroup = Optional.empty();
        try {
            Path scratch = Files.createDirectories(scratchRoot.resolve(id));
            cgroup = isolation.createCgroup(id, config);
            List<String> command = new ArrayList<>();
            cgroup.ifPresent(c -> command.addAll(c.joinCommand()));
            command.addAll(launcher(spec, jvm.jars(), jvm.api(), Set.of(listener.socketPath(), scratch)));
            command.addAll(jvm.options());
            if (classDataSharing && jvm.archive().exists()) command.add(jvm.archive().useFlag());
            command.add("-Djava.io.tmpdir=" + scratch);
            command.add("-Duser.home=" + scratch);
            command.addAll(List.of("-cp", jvm.classpath(), ApiJar.BOOTSTRAP_CLASS));
            ProcessBuilder pb = new ProcessBuilder(command).directory(spec.bundleDir().toFile());
            pb.environment().clear();
            pb.environment().putAll(environment(spec, scratch));
            pb.environment().put("GALE_SOCKET", listener.socketPath().toString());
            pb.environment().put("GALE_INSTANCE_ID", id);
            pb.environment().put("GALE_INSTANCE_NONCE", nonce);
            if (spare) pb.environment().put("GALE_WARM_UP", "1");
            context.addSecretFiles(spec, scratch, pb.environment());
            Process process = ProcessLauncher.start(pb);
            process.getOutputStream().close();
            process.onExit().thenRun(() -> FileTrees.deleteQuietly(scratch));
            // What the JVM itself prints (warnings, "Terminating due to java.lang.OutOfMemoryError") is logged too.
            return SocketInstance.ofProcess(id, spec, process, connecting, observer, cgroup);
        } catch (IOException e) {
            connecting.cancel(false);
            cgroup.ifPresent(Isolation.Cgroup::remove);
            throw new UncheckedIOException("cannot start " + javaBinary + " for " + spec.label() + ": " + e.getMessage(), e);
        }
    }

    /** The instance environment: clean, then the function's variables, then the protocol's (docs/protocol.md). */
    private Map<String, String> environment(InstanceSpec spec, Path scratch) {
        Map<String, String> env = context.instanceEnvironment(spec);
        env.put("HOME", scratch.toString());
        env.put("TMPDIR", scratch.toString());
        env.putAll(spec.config().env());
        env.put("GALE_FUNCTION", spec.function());
        env.put("GALE_VERSION", Integer.toString(spec.version()));
        env.put("GALE_ENTRY_POINT", spec.config().entryPoint());
        env.put("GALE_MEMORY_MB", Long.toString(spec.config().memory().megabytes()));
        env.put("GALE_CONCURRENCY", Integer.toString(spec.config().concurrency()));
        env.put("GALE_URL_PREFIX", "/fn/" + spec.function());
        return env;
    }

    /**
     * The command that starts a JVM of this version: the java binary, behind the sandbox's prefix
     * when the version is sandboxed. Read-only: what it runs (see the class comment); writable:
     * {@code readWrite}, an instance's socket and scratch folder, or a training run's scratch folder.
     */
    private List<String> launcher(InstanceSpec spec, FunctionClasspath jars, Path api, Set<Path> readWrite) {
        if (!isolation.runsSandboxed(spec.config())) return List.of(javaBinary);
        Path javaDir = spec.environment().orElseThrow();
        Set<Path> readOnly = new LinkedHashSet<>(List.of(javaDir, api.getParent()));
        jars.jars().stream().filter(jar -> !jar.startsWith(spec.bundleDir()) && !jar.startsWith(javaDir)).forEach(readOnly::add);
        Path java = Path.of(javaBinary);
        if (java.isAbsolute()) readOnly.addAll(Isolation.installationOf(java)); // a JDK in /opt, say
        List<String> command = new ArrayList<>(isolation.sandboxCommand(spec.bundleDir(), readOnly, readWrite,
                !spec.config().network().equals("none")));
        command.add(javaBinary);
        return command;
    }

    private void trainOnce(InstanceSpec spec, Jvm jvm) {
        ClassDataArchive archive = jvm.archive();
        if (!training.add(archive.file())) return;
        try {
            if (archive.exists()) return;
            Path scratch = Files.createDirectories(scratchRoot.resolve(spec.function() + "-" + spec.version() + "-training"));
            try {
                List<String> java = launcher(spec, jvm.jars(), jvm.api(), Set.of(scratch)); // the archive is written into scratch
                archive.train(java, jvm.options(), jvm.classpath(), spec.bundleDir(), scratch, environment(spec, scratch));
            } finally {
                FileTrees.deleteQuietly(scratch);
            }
        } catch (IOException | RuntimeException e) {
            LOG.warn("no class-data archive for {}: {}", spec.label(), e.toString());
        } finally {
            training.remove(archive.file());
        }
    }

    private static String stamp(Path file) {
        try {
            return Files.size(file) + "@" + Files.getLastModifiedTime(file).toMillis();
        } catch (IOException e) {
            return "";
        }
    }

    /** The JDK Maven builds with: Gale's own when it has javac, else $JAVA_HOME. */
    private static Path jdkHome() {
        Path own = Path.of(System.getProperty("java.home"));
        if (Files.isExecutable(own.resolve("bin").resolve("javac"))) return own;
        String javaHome = System.getenv("JAVA_HOME");
        return javaHome == null ? own : Path.of(javaHome);
    }

    private static Optional<Path> galeCodeSource() {
        try {
            var source = JavaRuntime.class.getProtectionDomain().getCodeSource();
            return source == null ? Optional.empty() : Optional.of(Path.of(source.getLocation().toURI()));
        } catch (URISyntaxException | RuntimeException e) {
            return Optional.empty();
        }
    }

    /** The version written into gale-api at build time (gale/api/internal/gale-api.properties). */
    static String apiVersion(Path apiJar) {
        try (JarFile jar = new JarFile(apiJar.toFile())) {
            var entry = jar.getEntry("gale/api/internal/gale-api.properties");
            if (entry == null) return "unknown";
            try (InputStream in = jar.getInputStream(entry)) {
                Properties p = new Properties();
                p.load(in);
                return p.getProperty("version", "unknown");
            }
        } catch (IOException e) {
            return "unknown";
        }
    }
}
