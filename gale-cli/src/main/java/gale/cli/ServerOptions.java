package gale.cli;

import gale.client.GaleHome;
import gale.config.DataSize;
import gale.kubernetes.KubernetesSettings;
import gale.registry.BundleLimits;
import gale.runtime.python.ZygoteBudget;
import gale.server.ServerConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import picocli.CommandLine.Option;

/** The flags of `gale server` and `gale demo`. */
final class ServerOptions {

    private static final String DEFAULT_LOG_LEVEL = "org.slf4j.simpleLogger.defaultLogLevel";
    private static final Path SERVICE_ACCOUNT_NAMESPACE = Path.of("/var/run/secrets/kubernetes.io/serviceaccount/namespace");

    @Option(names = "--host", paramLabel = "HOST", defaultValue = "127.0.0.1",
            description = "interface to listen on (default: ${DEFAULT-VALUE}; 0.0.0.0 for all)")
    String host;

    @Option(names = "--port", paramLabel = "PORT", defaultValue = "8080",
            description = "TCP port (default: ${DEFAULT-VALUE}; 0 picks a free one)")
    int port;

    @Option(names = "--data-dir", paramLabel = "DIR",
            description = "store, bundles, logs and the admin token (default: $GALE_HOME, else ./.gale)")
    Optional<Path> dataDir = Optional.empty();

    @Option(names = "--store", paramLabel = "URL",
            description = "Keep functions, jobs, state and the rest in PostgreSQL, e.g. jdbc:postgresql://db:5432/gale?user=gale "
                    + "(the password in the URL or in PGPASSWORD; env: GALE_STORE). Default: a SQLite file in the data dir.")
    Optional<String> store = Optional.empty();

    @Option(names = "--advertise", paramLabel = "URL",
            description = "With several nodes on one --store: the URL clients and other nodes reach this node at, shown by "
                    + "`gale nodes` (env: GALE_ADVERTISE; default: http://127.0.0.1:PORT)")
    Optional<String> advertise = Optional.empty();

    @Option(names = "--node-heartbeat", paramLabel = "DURATION",
            description = "How often this node writes its heartbeat to the store and renews its map jobs' leases "
                    + "(env: GALE_NODE_HEARTBEAT; default: 2s)")
    Optional<Duration> nodeHeartbeat = Optional.empty();

    @Option(names = "--node-dead-after", paramLabel = "DURATION",
            description = "A node whose heartbeat is older than this is dead: another node takes over its map jobs and async "
                    + "calls (env: GALE_NODE_DEAD_AFTER; default: 10s; at least twice the heartbeat)")
    Optional<Duration> nodeDeadAfter = Optional.empty();

    @Option(names = "--instances", paramLabel = "local|kubernetes",
            description = "Where function instances run: local processes (the default), or pods in a Kubernetes namespace, "
                    + "see docs/kubernetes.md (env: GALE_INSTANCES)")
    Optional<String> instances = Optional.empty();

    @Option(names = "--namespace", paramLabel = "NS",
            description = "With --instances kubernetes: the namespace of the pods (env: GALE_K8S_NAMESPACE; default: the namespace "
                    + "Gale's own pod runs in)")
    Optional<String> namespace = Optional.empty();

    @Option(names = "--image", paramLabel = "IMAGE",
            description = "With --instances kubernetes: the function image pods run, Debian's python3 with Gale's Python package "
                    + "(env: GALE_K8S_IMAGE; deploy/kubernetes/function-image)")
    Optional<String> image = Optional.empty();

    @Option(names = "--advertise-address", paramLabel = "HOST",
            description = "With --instances kubernetes: where pods reach this node, its pod IP (env: GALE_K8S_ADVERTISE_ADDRESS)")
    Optional<String> advertiseAddress = Optional.empty();

    @Option(names = "--instance-port", paramLabel = "PORT",
            description = "With --instances kubernetes: the TCP port pods connect back to (env: GALE_K8S_INSTANCE_PORT; default: 7070)")
    Optional<Integer> instancePort = Optional.empty();

    @Option(names = "--pod-start-timeout", paramLabel = "DURATION",
            description = "With --instances kubernetes: how long a pod may take to be scheduled, pull its image and connect "
                    + "before its instance fails (env: GALE_K8S_POD_START_TIMEOUT; default: 2m)")
    Optional<Duration> podStartTimeout = Optional.empty();

    @Option(names = "--python", paramLabel = "PATH",
            description = "Python for functions (default: $GALE_PYTHON, else /usr/bin/python3, else python3)")
    Optional<Path> python = Optional.empty();

    @Option(names = "--max-body", paramLabel = "SIZE", defaultValue = "10MB",
            description = "largest request body a function accepts (default: ${DEFAULT-VALUE})")
    DataSize maxBody;

    @Option(names = "--max-blob-size", paramLabel = "SIZE", defaultValue = "5GB",
            description = "largest blob `gale blobs put` may store; larger puts are cut off with 413 (default: ${DEFAULT-VALUE})")
    DataSize maxBlob;

    @Option(names = "--max-bundle", paramLabel = "SIZE", defaultValue = "1GB",
            description = "largest bundle zip a deploy may upload; larger uploads are cut off with 413 (default: ${DEFAULT-VALUE})")
    DataSize maxBundle;

    @Option(names = "--max-bundle-expanded", paramLabel = "SIZE", defaultValue = "1GB",
            description = "largest size a bundle may unpack to, counted as it is written (default: ${DEFAULT-VALUE})")
    DataSize maxBundleExpanded;

    @Option(names = "--max-bundle-files", paramLabel = "N", defaultValue = "10000",
            description = "most entries a bundle zip may hold (default: ${DEFAULT-VALUE})")
    int maxBundleFiles;

    @Option(names = "--wheel-dir", paramLabel = "DIR",
            description = "wheels to install requirements from (default: $GALE_WHEEL_DIR)")
    Optional<Path> wheelDir = Optional.empty();

    @Option(names = "--pip-index-url", paramLabel = "URL",
            description = "package index to install requirements from (default: $GALE_PIP_INDEX_URL)")
    Optional<String> pipIndexUrl = Optional.empty();

    @Option(names = "--max-zygotes", paramLabel = "N",
            description = "Python zygotes kept at most; the least recently used go first (default: one per 64 MB of memory, at least 8)")
    Optional<Integer> maxZygotes = Optional.empty();

    @Option(names = "--zygote-idle-timeout", paramLabel = "DURATION", defaultValue = "10m",
            description = "a Python zygote that started no instance for this long is retired (default: ${DEFAULT-VALUE})")
    Duration zygoteIdleTimeout;

    @Option(names = "--shutdown-grace", paramLabel = "DURATION", defaultValue = "10s",
            description = "on SIGTERM or Ctrl-C, how long calls in flight may take to finish before instances are killed (default: ${DEFAULT-VALUE})")
    Duration shutdownGrace;

    @Option(names = "--min-schedule-interval", paramLabel = "DURATION", defaultValue = "1m",
            description = "the shortest --every a schedule may have, 1s at least (default: ${DEFAULT-VALUE})")
    Duration minScheduleInterval;

    @Option(names = "--verbose",
            description = "also print the INFO lines of the libraries Gale runs on (Jetty, Javalin, Flyway, HikariCP...);"
                    + " by default only their warnings and Gale's own lines")
    boolean verbose;

    /**
     * Sets how much the libraries log; call before the server starts, as slf4j-simple reads its
     * levels once, when the first logger is created (the quiet default is in simplelogger.properties).
     */
    void applyLogLevels() {
        if (verbose && System.getProperty(DEFAULT_LOG_LEVEL) == null) System.setProperty(DEFAULT_LOG_LEVEL, "info");
    }

    ServerConfig config(Map<String, String> env) {
        ServerConfig config = ServerConfig.defaults(dataDir.orElseGet(() -> GaleHome.resolve(env).dir()))
                .withHost(host)
                .withPort(port)
                .withMaxBodyBytes(maxBody.bytes())
                .withBundleLimits(new BundleLimits(maxBundle, maxBundleExpanded, maxBundleFiles))
                .withZygotes(new ZygoteBudget(maxZygotes.orElse(ZygoteBudget.defaults().maxZygotes()), zygoteIdleTimeout))
                .withShutdownGrace(shutdownGrace)
                .withMinScheduleInterval(minScheduleInterval)
                .withMaxBlobBytes(maxBlob.bytes())
                .withStore(store.orElse(env.get("GALE_STORE")));
        if (wheelDir.isPresent()) config = config.withWheelDir(wheelDir.get());
        config = config.withNodes(new gale.nodes.NodeSettings(advertise.or(() -> variable(env, "GALE_ADVERTISE")),
                nodeHeartbeat.or(() -> variable(env, "GALE_NODE_HEARTBEAT").map(gale.config.Durations::parse)).orElse(null),
                nodeDeadAfter.or(() -> variable(env, "GALE_NODE_DEAD_AFTER").map(gale.config.Durations::parse)).orElse(null)));
        config = config.withKubernetes(kubernetes(env, config.dataDir()).orElse(null));
        if (python.isEmpty() && pipIndexUrl.isEmpty()) return config;
        // ServerConfig has no withers for these two yet.
        return new ServerConfig(config.host(), config.port(), config.dataDir(), python.orElse(config.python()),
                config.maxBodyBytes(), config.bundleLimits(), pipIndexUrl.or(config::pipIndexUrl), config.wheelDir(),
                config.drainTimeout(), config.zygotes(), config.shutdownGrace(), config.minScheduleInterval(), config.maxBlobBytes(),
                config.store(), config.kubernetes(), config.nodes());
    }

    /** The pods' settings with --instances kubernetes (or GALE_INSTANCES=kubernetes), flags before GALE_K8S_* variables. */
    private Optional<KubernetesSettings> kubernetes(Map<String, String> env, Path dataDir) {
        String where = instances.or(() -> Optional.ofNullable(env.get("GALE_INSTANCES"))).orElse("local").strip();
        if (where.equals("local")) return Optional.empty();
        if (!where.equals("kubernetes")) {
            throw new IllegalArgumentException("--instances takes local or kubernetes, got '" + where + "'");
        }
        String podsNamespace = namespace.or(() -> variable(env, "GALE_K8S_NAMESPACE")).or(ServerOptions::podNamespace).orElse("");
        // In a pod (the downward API): the node is its pod, which names the function pods across restarts and owns them,
        // unless they go to another namespace, where the cluster takes an owner for absent and deletes what it owns.
        Optional<String> podName = variable(env, "GALE_K8S_POD_NAME");
        Optional<KubernetesSettings.OwnerPod> owner = podName.flatMap(name -> variable(env, "GALE_K8S_POD_UID")
                .map(uid -> new KubernetesSettings.OwnerPod(name, uid)))
                .filter(pod -> podNamespace().map(podsNamespace::equals).orElse(true));
        return Optional.of(new KubernetesSettings(
                podsNamespace,
                image.or(() -> variable(env, "GALE_K8S_IMAGE")).orElse(""),
                advertiseAddress.or(() -> variable(env, "GALE_K8S_ADVERTISE_ADDRESS")).orElse(""),
                instancePort.orElseGet(() -> variable(env, "GALE_K8S_INSTANCE_PORT").map(ServerOptions::port)
                        .orElse(KubernetesSettings.DEFAULT_INSTANCE_PORT)),
                podName.orElseGet(() -> gale.server.DataDir.node(dataDir)),
                owner,
                podStartTimeout.or(() -> variable(env, "GALE_K8S_POD_START_TIMEOUT").map(gale.config.Durations::parse))
                        .orElse(KubernetesSettings.DEFAULT_POD_START_TIMEOUT)));
    }

    private static Optional<String> variable(Map<String, String> env, String name) {
        return Optional.ofNullable(env.get(name)).map(String::strip).filter(v -> !v.isEmpty());
    }

    private static int port(String text) {
        try {
            return Integer.parseInt(text);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("GALE_K8S_INSTANCE_PORT must be a port number, got '" + text + "'");
        }
    }

    /** The namespace of the pod Gale runs in, as its service account's files say; empty outside a cluster. */
    private static Optional<String> podNamespace() {
        try {
            return Optional.of(java.nio.file.Files.readString(SERVICE_ACCOUNT_NAMESPACE).strip()).filter(n -> !n.isEmpty());
        } catch (java.io.IOException e) {
            return Optional.empty();
        }
    }
}
