package gale.server;

import gale.kubernetes.KubernetesSettings;
import gale.nodes.NodeSettings;
import gale.registry.BundleLimits;
import gale.runtime.python.ZygoteBudget;
import gale.triggers.ScheduleSpec;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/**
 * Everything `gale server` can be told at start. Built by the CLI from flags and
 * environment; validated once here so the rest of the server can trust it.
 *
 * @param host          interface to bind (default 127.0.0.1)
 * @param port          TCP port; 0 picks a free one (tests)
 * @param dataDir       store, blobs, bundles, logs and the admin token live here
 * @param python        interpreter for Python functions (GALE_PYTHON)
 * @param maxBodyBytes  largest request body a function accepts (413 above)
 * @param bundleLimits  largest bundle a deploy may upload and unpack (413 or 400 above)
 * @param pipIndexUrl   package index used when a requirement is not installed (optional)
 * @param wheelDir      folder of wheels used when a requirement is not installed (optional)
 * @param drainTimeout  how long a redeploy waits for in-flight calls on old instances
 * @param zygotes       how many Python zygotes to keep, and for how long
 * @param shutdownGrace how long calls in flight may take to finish when the server stops (SIGTERM); then instances are killed
 * @param minScheduleInterval the shortest {@code --every} a schedule may have (1m; tests lower it to fire within seconds)
 * @param maxBlobBytes  largest blob a put may store (413 above)
 * @param store         where the durable state lives: a {@code jdbc:postgresql:} URL (several nodes share it), or
 *                      empty for the SQLite file in the data dir (docs/postgresql.md)
 * @param kubernetes    run function instances as pods in this namespace with this image (docs/kubernetes.md), or empty
 *                      for local processes
 * @param nodes         this node among the nodes sharing the store: its advertised URL, heartbeat and dead-after
 */
public record ServerConfig(
        String host,
        int port,
        Path dataDir,
        Path python,
        long maxBodyBytes,
        BundleLimits bundleLimits,
        Optional<String> pipIndexUrl,
        Optional<Path> wheelDir,
        Duration drainTimeout,
        ZygoteBudget zygotes,
        Duration shutdownGrace,
        Duration minScheduleInterval,
        long maxBlobBytes,
        Optional<String> store,
        Optional<KubernetesSettings> kubernetes,
        NodeSettings nodes) {

    public static final long DEFAULT_MAX_BODY_BYTES = 10L * 1024 * 1024;
    /** Models of a few GB fit; the bytes stream to disk, so the limit guards the disk, not memory. */
    public static final long DEFAULT_MAX_BLOB_BYTES = 5L * 1024 * 1024 * 1024;
    /** As Cloud Run: 10 seconds between SIGTERM and SIGKILL. */
    public static final Duration DEFAULT_SHUTDOWN_GRACE = Duration.ofSeconds(10);

    public ServerConfig {
        if (host == null || host.isBlank()) throw new IllegalArgumentException("host must not be empty");
        if (port < 0 || port > 65535) throw new IllegalArgumentException("port must be 0..65535, got " + port);
        if (dataDir == null) throw new IllegalArgumentException("dataDir must be set");
        if (python == null) throw new IllegalArgumentException("python must be set");
        if (maxBodyBytes <= 0) throw new IllegalArgumentException("maxBodyBytes must be positive, got " + maxBodyBytes);
        bundleLimits = bundleLimits == null ? BundleLimits.DEFAULT : bundleLimits;
        pipIndexUrl = pipIndexUrl == null ? Optional.empty() : pipIndexUrl;
        wheelDir = wheelDir == null ? Optional.empty() : wheelDir;
        drainTimeout = drainTimeout == null ? Duration.ofSeconds(60) : drainTimeout;
        zygotes = zygotes == null ? ZygoteBudget.defaults() : zygotes;
        shutdownGrace = shutdownGrace == null ? DEFAULT_SHUTDOWN_GRACE : shutdownGrace;
        if (shutdownGrace.isNegative()) throw new IllegalArgumentException("shutdownGrace must not be negative, got " + shutdownGrace);
        minScheduleInterval = minScheduleInterval == null ? ScheduleSpec.DEFAULT_MIN_INTERVAL : minScheduleInterval;
        if (minScheduleInterval.toMillis() < 1000) {
            throw new IllegalArgumentException("minScheduleInterval must be 1s or more, got " + minScheduleInterval);
        }
        if (maxBlobBytes <= 0) throw new IllegalArgumentException("maxBlobBytes must be positive, got " + maxBlobBytes);
        store = store == null ? Optional.empty() : store.filter(s -> !s.isBlank());
        store.ifPresent(s -> {
            if (!s.startsWith(gale.store.Store.POSTGRESQL_PREFIX)) {
                throw new IllegalArgumentException("--store takes a PostgreSQL JDBC URL (" + gale.store.Store.POSTGRESQL_PREFIX
                        + "//HOST:PORT/DB?user=NAME), got: " + s + "; leave it out for the SQLite file in the data dir");
            }
        });
        kubernetes = kubernetes == null ? Optional.empty() : kubernetes;
        nodes = nodes == null ? NodeSettings.DEFAULT : nodes;
        dataDir = dataDir.toAbsolutePath().normalize();
    }

    /** Defaults for a data dir, reading GALE_PYTHON, GALE_PIP_INDEX_URL and GALE_WHEEL_DIR from the environment. */
    public static ServerConfig defaults(Path dataDir) {
        return new ServerConfig("127.0.0.1", 8080, dataDir, defaultPython(),
                DEFAULT_MAX_BODY_BYTES, BundleLimits.DEFAULT,
                Optional.ofNullable(System.getenv("GALE_PIP_INDEX_URL")).filter(s -> !s.isBlank()),
                Optional.ofNullable(System.getenv("GALE_WHEEL_DIR")).filter(s -> !s.isBlank()).map(Path::of),
                Duration.ofSeconds(60), ZygoteBudget.defaults(), DEFAULT_SHUTDOWN_GRACE, ScheduleSpec.DEFAULT_MIN_INTERVAL,
                DEFAULT_MAX_BLOB_BYTES, Optional.empty(), Optional.empty(), NodeSettings.DEFAULT);
    }

    public ServerConfig withPort(int newPort) {
        return new ServerConfig(host, newPort, dataDir, python, maxBodyBytes, bundleLimits, pipIndexUrl, wheelDir, drainTimeout, zygotes, shutdownGrace, minScheduleInterval, maxBlobBytes, store, kubernetes, nodes);
    }

    public ServerConfig withHost(String newHost) {
        return new ServerConfig(newHost, port, dataDir, python, maxBodyBytes, bundleLimits, pipIndexUrl, wheelDir, drainTimeout, zygotes, shutdownGrace, minScheduleInterval, maxBlobBytes, store, kubernetes, nodes);
    }

    public ServerConfig withMaxBodyBytes(long bytes) {
        return new ServerConfig(host, port, dataDir, python, bytes, bundleLimits, pipIndexUrl, wheelDir, drainTimeout, zygotes, shutdownGrace, minScheduleInterval, maxBlobBytes, store, kubernetes, nodes);
    }

    public ServerConfig withBundleLimits(BundleLimits limits) {
        return new ServerConfig(host, port, dataDir, python, maxBodyBytes, limits, pipIndexUrl, wheelDir, drainTimeout, zygotes, shutdownGrace, minScheduleInterval, maxBlobBytes, store, kubernetes, nodes);
    }

    public ServerConfig withWheelDir(Path dir) {
        return new ServerConfig(host, port, dataDir, python, maxBodyBytes, bundleLimits, pipIndexUrl, Optional.ofNullable(dir), drainTimeout, zygotes, shutdownGrace, minScheduleInterval, maxBlobBytes, store, kubernetes, nodes);
    }

    public ServerConfig withZygotes(ZygoteBudget budget) {
        return new ServerConfig(host, port, dataDir, python, maxBodyBytes, bundleLimits, pipIndexUrl, wheelDir, drainTimeout, budget, shutdownGrace, minScheduleInterval, maxBlobBytes, store, kubernetes, nodes);
    }

    public ServerConfig withShutdownGrace(Duration grace) {
        return new ServerConfig(host, port, dataDir, python, maxBodyBytes, bundleLimits, pipIndexUrl, wheelDir, drainTimeout, zygotes, grace, minScheduleInterval, maxBlobBytes, store, kubernetes, nodes);
    }

    public ServerConfig withMinScheduleInterval(Duration interval) {
        return new ServerConfig(host, port, dataDir, python, maxBodyBytes, bundleLimits, pipIndexUrl, wheelDir, drainTimeout, zygotes, shutdownGrace, interval, maxBlobBytes, store, kubernetes, nodes);
    }

    public ServerConfig withMaxBlobBytes(long bytes) {
        return new ServerConfig(host, port, dataDir, python, maxBodyBytes, bundleLimits, pipIndexUrl, wheelDir, drainTimeout, zygotes, shutdownGrace, minScheduleInterval, bytes, store, kubernetes, nodes);
    }

    public ServerConfig withStore(String url) {
        return new ServerConfig(host, port, dataDir, python, maxBodyBytes, bundleLimits, pipIndexUrl, wheelDir, drainTimeout, zygotes, shutdownGrace, minScheduleInterval, maxBlobBytes, Optional.ofNullable(url), kubernetes, nodes);
    }

    public ServerConfig withKubernetes(KubernetesSettings settings) {
        return new ServerConfig(host, port, dataDir, python, maxBodyBytes, bundleLimits, pipIndexUrl, wheelDir, drainTimeout, zygotes, shutdownGrace, minScheduleInterval, maxBlobBytes, store, Optional.ofNullable(settings), nodes);
    }

    public ServerConfig withNodes(NodeSettings settings) {
        return new ServerConfig(host, port, dataDir, python, maxBodyBytes, bundleLimits, pipIndexUrl, wheelDir, drainTimeout, zygotes, shutdownGrace, minScheduleInterval, maxBlobBytes, store, kubernetes, settings);
    }

    /** GALE_PYTHON, else Debian's /usr/bin/python3 (which gets sklearn and Flask from apt), else python3 on PATH. */
    public static Path defaultPython() {
        String env = System.getenv("GALE_PYTHON");
        if (env != null && !env.isBlank()) return Path.of(env);
        Path debian = Path.of("/usr/bin/python3");
        if (java.nio.file.Files.isExecutable(debian)) return debian;
        return Path.of("python3");
    }
}
