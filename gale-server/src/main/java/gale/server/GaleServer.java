package gale.server;

import gale.access.AccessKeys;
import gale.access.AuditLog;
import gale.admin.AdminApi;
import gale.admin.ApiAccess;
import gale.admin.KeysApi;
import gale.admin.AsyncApi;
import gale.admin.DeployUpload;
import gale.admin.CostApi;
import gale.admin.JobsApi;
import gale.admin.SecretsApi;
import gale.admin.SchedulesApi;
import gale.admin.TrafficApi;
import gale.gateway.ScheduledCalls;
import gale.triggers.AsyncQueue;
import gale.usage.UsageMeter;
import gale.triggers.Scheduler;
import gale.triggers.Schedules;
import gale.triggers.Triggers;
import java.time.Clock;
import gale.admin.SamplerApi;
import gale.admin.BlobsApi;
import gale.admin.StateAccess;
import gale.admin.StateApi;
import gale.console.ConsoleAssets;
import gale.jobs.JobService;
import gale.kubernetes.KubernetesRuntime;
import gale.kubernetes.KubernetesSettings;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import gale.blob.BlobCatalog;
import gale.blob.BlobStore;
import gale.gateway.Auth;
import gale.gateway.Gateway;
import gale.gateway.GatewayMetrics;
import gale.gateway.Peers;
import gale.logs.LogSink;
import gale.registry.Registry;
import gale.runtime.Instance;
import gale.runtime.InstanceListener;
import gale.runtime.Leftovers;
import gale.runtime.RuntimeContext;
import gale.runtime.Isolation;
import gale.runtime.python.PythonRuntime;
import gale.runtime.java.JavaRuntime;
import gale.runtime.process.ProcessRuntime;
import gale.store.FunctionRow;
import gale.store.LogEntry;
import gale.secrets.SecretBox;
import gale.secrets.Secrets;
import gale.state.StateCredentials;
import gale.state.StateStore;
import gale.state.StateTokens;
import gale.store.Store;
import gale.util.FileTrees;
import io.javalin.Javalin;
import io.javalin.compression.CompressionStrategy;
import io.javalin.config.JavalinConfig;
import io.javalin.config.SizeUnit;
import io.javalin.http.HttpResponseException;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.stream.Collectors;

/**
 * One Gale node: store, registry, runtimes and the HTTP server, wired together. Every
 * component starts in {@link #start}, in order, and {@link #close} stops them in reverse
 * (see {@link Lifecycle}). The server answers HTTP before the functions of an earlier run
 * serve again (503 with Retry-After for those not back yet), so a restart with many
 * functions passes health checks at once.
 */
public final class GaleServer implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(GaleServer.class);
    /** UNIX socket paths are limited to 108 bytes; longer data dirs put the socket in /tmp. */
    private static final int MAX_SOCKET_PATH = 100;
    /** What stopping may take beyond the shutdown grace (closing the store, the HTTP server) before the JVM is halted. */
    static final Duration STOP_MARGIN = Duration.ofSeconds(20);
    /** How long stopping waits for async calls cut off by the drain to be queued again. */
    private static final Duration ASYNC_SETTLE = Duration.ofSeconds(5);
    /** How often a node on a shared store reads the functions table for other nodes' deploys, rollbacks and deletes. */
    private static final Duration FOLLOW_PERIOD = Duration.ofSeconds(1);
    /** Reads and writes the free slots the nodes advertise in their heartbeats. */
    private static final com.fasterxml.jackson.databind.ObjectMapper NODE_JSON = new com.fasterxml.jackson.databind.ObjectMapper();

    private final ServerConfig config;
    private final DataDir dataDir;
    private final Lifecycle life = new Lifecycle();
    private final CountDownLatch stopped = new CountDownLatch(1);
    private DataDir.Token token;
    private Store store;
    private LogSink logs;
    private UsageMeter usage;
    private Registry registry;
    private JobService jobs;
    private Schedules schedules;
    private GatewayMetrics metrics;
    private Secrets secrets;
    private AsyncQueue asyncQueue;
    private Triggers triggers;
    private Javalin app;
    private String url;
    private volatile String boundUrl;
    private StateTokens stateTokens;
    private BlobCatalog blobCatalog;
    private CompletableFuture<Void> restored;
    private AccessKeys keys;
    private AuditLog audit;
    private Peers peers;
    private String nodeId;
    private volatile gale.nodes.Membership membership;

    private GaleServer(ServerConfig config) {
        this.config = config;
        this.dataDir = new DataDir(config.dataDir());
    }

    private void startComponents() {
        life.add("the data dir lock", lockDataDir(dataDir.root()));
        token = dataDir.adminToken();
        store = life.add("the store", config.store().map(url -> Store.openPostgresql(url, java.time.Clock.systemUTC()))
                .orElseGet(() -> Store.openSqlite(dataDir.store())));
        nodeId = dataDir.nodeId();
        // Closed just before the store: the node leaves the membership once its work is handed back (drained).
        life.onClose("the node's membership", () -> {
            if (membership != null) membership.close();
        });
        keys = life.add("the access keys", new AccessKeys(store.keys(), Clock.systemUTC())); // closed: last uses written
        keys.start();
        // Closed after the HTTP server: admin calls in flight get their outcomes written.
        audit = life.add("the audit log", new AuditLog(store.audit(), Clock.systemUTC()));
        audit.start();
        logs = life.add("the log writer", new LogSink(store));
        logs.start();
        // Closed after the instances have stopped, before the store: its last sample and write come last.
        usage = life.add("the usage meter", new UsageMeter(store.usage(), Clock.systemUTC()));
        usage.start();
        Path run = dataDir.root().resolve("run");
        String node = dataDir.node();
        var isolation = Isolation.probe(node);
        Leftovers.reap(node, isolation); // a crashed run's instances go before anything starts
        life.add("the server's cgroups", isolation); // closed after the runtimes have stopped every instance
        FileTrees.clear(run);
        var listener = life.add("the instance socket", InstanceListener.open(socketPath(run, node)));
        stateTokens = StateTokens.derivedFrom(token.value());
        var stateCredentials = new StateCredentials(stateTokens, this::instanceUrl);
        secrets = new Secrets(store.secrets(), SecretBox.inDataDir(dataDir.root()),
                name -> registry.function(name).isPresent(), java.time.Clock.systemUTC());
        Secrets granted = secrets;
        gale.runtime.InstanceCredentials credentials = new gale.runtime.InstanceCredentials() {
            @Override
            public Map<String, String> environment(gale.runtime.InstanceSpec spec) {
                var env = new java.util.LinkedHashMap<>(stateCredentials.environment(spec));
                env.putAll(granted.environment(spec)); // GALE_* names are refused for secrets: they cannot shadow Gale's
                return env;
            }

            @Override
            public Map<String, byte[]> files(gale.runtime.InstanceSpec spec) {
                return granted.files(spec);
            }
        };
        var context = new RuntimeContext(node, dataDir.runtime(), run.resolve("instances"), listener, this::onInstanceLog, isolation,
                credentials);
        List<gale.runtime.Runtime> runtimes = config.kubernetes().isPresent()
                ? List.of(kubernetesRuntime(context, config.kubernetes().get()))
                : List.of(new PythonRuntime(context, config.python(), config.pipIndexUrl(), config.wheelDir(), config.zygotes()),
                        new ProcessRuntime(context),
                        new JavaRuntime(context, JavaRuntime.currentJava()));
        for (var runtime : runtimes) {
            runtime.start();
            life.add("the " + runtime.name() + " runtime", runtime);
        }
        // On PostgreSQL the data dir's bundles and blobs are a cache of the store's (blob_chunks): any node serves any of them.
        var sharedBlobs = store.sharedBlobs();
        var bundleBytes = new BlobStore(dataDir.blobs(), sharedBlobs);
        var bucketBytes = new BlobStore(dataDir.blobs().resolve("buckets"), sharedBlobs);
        registry = life.add("the registry", new Registry(store, bundleBytes, dataDir.versions(),
                config.bundleLimits(), runtimes, logs, config.drainTimeout(), usage, nodeId));
        registry.start();
        jobs = new JobService(registry, store.jobs(), usage, nodeId, config.nodes().deadAfter());
        // Beside the bundles, not among them: deleting a function deletes its bundles, never a bucket's bytes.
        blobCatalog = store.blobCatalog(bucketBytes);
        Thread.ofVirtual().name("gale-publish-blobs").start(() -> publishUnshared(sharedBlobs, List.of(bundleBytes, bucketBytes)));
        life.add("the state sweeper", startStateSweeper(store.state()));
        // Before the HTTP server starts, so a function not back yet is "starting" (503), never "not found".
        CompletableFuture<Void> functionsRestored = registry.restore();
        var prometheus = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        var auth = new Auth(token.value(), keys);
        metrics = new GatewayMetrics(prometheus);
        metrics.history().seedLastCalls(store.lastCalls()); // the functions list's "last call" survives a restart
        life.add("the call history sampler", metrics.history().startSampling(registry::activeFunctions,
                () -> registry.functions().stream().map(FunctionRow::name).collect(Collectors.toSet())));
        var console = ConsoleAssets.load();
        for (boolean done : new boolean[] {true, false}) {
            io.micrometer.core.instrument.FunctionCounter.builder("gale.job.tasks", jobs, j -> j.tasksEnded(done))
                    .tag("state", done ? "done" : "failed").description("map job tasks that ended, by how")
                    .register(prometheus);
        }
        asyncQueue = new AsyncQueue(store.async(), registry, logs, nodeId);
        asyncQueue.open();
        triggers = new Triggers(store.triggers(), registry, asyncQueue::wake, java.time.Clock.systemUTC());
        triggers.start();
        asyncQueue.guardWith(triggers); // an event runs only while its function may read its source
        store.state().reportTo(triggers); // from here on, every state and blob write stores its trigger events with it
        blobCatalog.reportTo(triggers);
        // Other nodes may share the store: what they deploy, roll back, delete, route (splits, tags), subscribe (triggers)
        // and key (access keys) acts here within a second or two (docs/postgresql.md).
        if (store.storeIsShared()) {
            var follower = life.add("following the other nodes", new gale.nodes.StoreFollower(store.changes(), FOLLOW_PERIOD));
            registry.followOtherNodes(follower);
            follower.on(gale.store.StoreChanges.TRIGGERS, triggers::refresh).on(gale.store.StoreChanges.ACCESS_KEYS, keys::refresh);
            functionsRestored.thenRun(follower::start);
        }
        // Every node of a store derives the same node-to-node credential from the admin token they share.
        peers = new Peers(nodeId, Peers.credential(token.value()), () -> busy().load());
        var gateway = new Gateway(registry, logs, metrics, auth, config.maxBodyBytes(), asyncQueue, peers);
        Clock clock = Clock.systemUTC();
        var scheduledCalls = new ScheduledCalls(this::listeningUrl, token.value());
        var scheduler = new Scheduler(store.schedules(), scheduledCalls, clock, Scheduler.DEFAULT_LATE_LIMIT, nodeId);
        schedules = new Schedules(store.schedules(), clock, name -> registry.function(name).isPresent(), scheduler::poke,
                config.minScheduleInterval());
        app = Javalin.create(cfg -> configure(cfg, run, prometheus, auth, gateway, console));
        app.start(config.host(), config.port());
        life.onClose("the HTTP server", app::stop);
        life.add("the scheduled calls", scheduledCalls); // after the drain: scheduled calls in flight may finish
        // Closed before the HTTP server: calls in flight finish (until the grace) while /healthz still answers,
        // then instances are killed.
        // After the drain: async calls cut off by it are stored back in the queue before the store closes.
        life.onClose("the async calls in flight", () -> asyncQueue.awaitIdleAndStopWriting(ASYNC_SETTLE));
        life.onClose("the calls in flight", () -> registry.drainAll(config.shutdownGrace()));
        jobs.start();
        life.add("the jobs", jobs); // running jobs are suspended before their pools drain
        life.add("the scheduler", scheduler); // closed first: no new scheduled call once stopping
        life.add("the async queue", asyncQueue); // stops leasing before the drain
        url = listeningUrl();
        boundUrl = url;
        dataDir.writeServerInfo(url, ProcessHandle.current().pid());
        life.onClose("the server info", dataDir::removeServerInfo);
        membership = new gale.nodes.Membership(store.nodes(), nodeId, config.nodes().advertise().orElse(url), config.nodes(),
                this::load, Clock.systemUTC());
        membership.onBeat(jobs::beat); // renews this node's job leases, claims the jobs of nodes that died
        if (store.storeIsShared()) membership.onBeat(now -> updatePeers()); // where calls may go when no instance here is free
        membership.start();
        life.onClose("draining the node", membership::drain); // first: the other nodes see it stop taking work
        // Schedules fire once every function serves again: a missed slot's catch-up call finds its function.
        restored = functionsRestored.thenRun(jobs::restore).thenRun(() -> startScheduler(scheduler))
                .thenRun(() -> asyncQueue.start(config.store().isEmpty())); // SQLite: this is the store's only node
        LOG.info("Gale listening on {} (data dir {})", url, dataDir.root());
    }

    /**
     * Python instances as pods (docs/kubernetes.md). The client configures itself as kubectl would: in a pod from its
     * service account, elsewhere from KUBECONFIG or ~/.kube/config. Only python3 runs there for now.
     */
    private gale.runtime.Runtime kubernetesRuntime(RuntimeContext context, KubernetesSettings settings) {
        if (!settings.advertisesLoopback() && (config.host().equals("127.0.0.1") || config.host().equals("localhost"))) {
            LOG.warn("instances run as pods but Gale listens on {} only: functions cannot reach gale.state and gale.blobs; "
                    + "start it with --host 0.0.0.0", config.host());
        }
        KubernetesClient client = life.add("the Kubernetes client", new KubernetesClientBuilder().build());
        var python = new PythonRuntime(context, config.python(), config.pipIndexUrl(), config.wheelDir(), config.zygotes(), false, false);
        return new KubernetesRuntime(context, python, client, settings);
    }

    /**
     * Shares what only this node has: bundles and blobs kept before its store was shared with other nodes (a one-node
     * PostgreSQL store of an earlier Gale), so any node can serve them.
     */
    private static void publishUnshared(gale.blob.SharedBlobs shared, List<BlobStore> local) {
        int published = 0;
        try {
            for (String digest : shared.unpublished()) {
                for (BlobStore bytes : local) {
                    if (bytes.publishIfHere(digest)) {
                        published++;
                        break;
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            LOG.warn("sharing this node's bundles and blobs with the other nodes failed (after {}): {}", published, e.toString());
            return;
        }
        if (published > 0) LOG.info("shared {} bundles and blobs that only this node had with the other nodes", published);
    }

    private static void startScheduler(Scheduler scheduler) {
        try {
            scheduler.start();
        } catch (RuntimeException e) {
            LOG.error("the scheduler did not start; schedules will not fire until Gale restarts", e);
        }
    }

    /**
     * Starts a server; returns once it accepts calls. Functions of an earlier run come back in
     * the background ({@link #restored()}).
     */
    public static GaleServer start(ServerConfig config) {
        var server = new GaleServer(config);
        try {
            server.startComponents();
        } catch (RuntimeException e) {
            server.life.close();
            throw e;
        }
        return server;
    }

    /** Completes when the functions and jobs of an earlier run serve and run again, and schedules fire. */
    public CompletableFuture<Void> restored() {
        return restored;
    }

    public String url() {
        return url;
    }

    public String adminToken() {
        return token.value();
    }

    /** The other nodes of this store as far as their heartbeats tell, and where calls may be sent on to. */
    public Peers peers() {
        return peers;
    }

    /** True when this start created the admin token (first start on this data dir). */
    public boolean tokenCreated() {
        return token.created();
    }

    public Path dataDir() {
        return dataDir.root();
    }

    public Registry registry() {
        return registry;
    }

    public JobService jobs() {
        return jobs;
    }

    public LogSink logs() {
        return logs;
    }

    /** Blocks until {@link #close} is called. */
    public void join() throws InterruptedException {
        stopped.await();
    }

    /**
     * For the JVM's shutdown hook (SIGTERM, Ctrl-C): {@link #close}, but never for longer than the
     * shutdown grace plus {@link #STOP_MARGIN}. Past that, every process Gale started is killed and
     * the JVM halts, so a SIGTERM always ends the server, whatever its instances do.
     */
    public void closeOnShutdown() {
        Duration limit = config.shutdownGrace().plus(STOP_MARGIN);
        Thread watchdog = Thread.ofPlatform().daemon().name("gale-stop-watchdog").start(() -> {
            try {
                Thread.sleep(limit);
            } catch (InterruptedException stoppedInTime) {
                return;
            }
            LOG.error("Gale did not stop within {}; killing the processes it started and exiting", gale.config.Durations.format(limit));
            ProcessHandle.current().descendants().forEach(ProcessHandle::destroyForcibly);
            Runtime.getRuntime().halt(1);
        });
        close();
        watchdog.interrupt();
    }

    /**
     * Stops the server: new calls get 503, calls in flight may finish within the shutdown
     * grace, then instances are killed, the HTTP server stops, and the rest closes in reverse
     * order of start. Safe to call more than once.
     */
    @Override
    public void close() {
        if (stopped.getCount() == 0) return;
        life.close();
        stopped.countDown();
    }

    /** Javalin 7 takes every setting, route and handler up front, before it starts. */
    private void configure(JavalinConfig cfg, Path run, PrometheusMeterRegistry prometheus, Auth auth, Gateway gateway,
                           ConsoleAssets console) {
        cfg.startup.showJavalinBanner = false;
        cfg.startup.showOldJavalinVersionWarning = false; // Gale pins its Javalin; the jar's age is not the user's concern
        cfg.startup.startupWatcherEnabled = false; // started right away; the watcher is a non-daemon thread sleeping 5 s
        cfg.concurrency.useVirtualThreads = true;
        cfg.jetty.threadPool = new JettyThreads();
        cfg.http.compressionStrategy = CompressionStrategy.NONE; // function responses pass through as they are
        cfg.http.maxRequestSize = config.maxBodyBytes();
        // Jetty's multipart parser stops reading at these, so an oversized deploy is refused while it streams.
        cfg.jetty.multipartConfig.maxFileSize(config.bundleLimits().upload().bytes(), SizeUnit.BYTES);
        cfg.jetty.multipartConfig.maxTotalRequestSize(DeployUpload.maxRequestBytes(config.bundleLimits()), SizeUnit.BYTES);
        cfg.jetty.multipartConfig.maxInMemoryFileSize(8, SizeUnit.MB);
        cfg.jetty.multipartConfig.cacheDirectory(run.toString());
        cfg.jetty.modifyHttpConfiguration(http -> http.setRequestHeaderSize(JettyErrors.MAX_REQUEST_HEADER_BYTES));
        cfg.jetty.modifyServer(server -> {
            server.setErrorHandler(new JettyErrors());
            server.insertHandler(gateway); // /fn/ before Javalin's servlet: calls never pass through the servlet layer
        });
        var routes = cfg.routes;
        routes.exception(HttpResponseException.class, (e, ctx) ->
                ctx.status(e.getStatus()).json(Map.of("error", e.getMessage(), "status", e.getStatus())));
        routes.exception(Exception.class, (e, ctx) -> {
            LOG.error("{} {} failed", ctx.method(), ctx.path(), e);
            ctx.status(500).json(Map.of("error", "internal error: " + e + "; see the server log", "status", 500));
        });
        routes.get("/healthz", ctx -> ctx.json(Map.of("status", "ok"))); // alive: answers as soon as it listens
        routes.get("/readyz", ctx -> { // ready: every function of the last run serves again (a readiness probe)
            if (restored != null && restored.isDone()) {
                ctx.json(Map.of("status", "ready"));
            } else {
                ctx.status(503).header("Retry-After", "1").json(Map.of("status", "starting", "restoring", registry.restoringCount()));
            }
        });
        routes.get("/metrics", ctx -> {
            metrics.refreshPools(registry.servingFunctions());
            ctx.contentType("text/plain; version=0.0.4").result(prometheus.scrape());
        });
        new ApiAccess(auth, audit, dataDir.root()).register(routes); // guards every /v1 route below
        var asyncApi = new AsyncApi(asyncQueue, registry);
        new AdminApi(registry, store, logs, this::listeningUrl, schedules, asyncApi, metrics.history(), triggers).register(routes);
        new SchedulesApi(schedules, registry).register(routes);
        new TrafficApi(registry, store, this::listeningUrl).register(routes);
        new JobsApi(jobs).register(routes);
        new gale.admin.NodesApi(store.nodes(), nodeId, Clock.systemUTC()).register(routes);
        new CostApi(usage, store.usage(), jobs, registry, dataDir.root(), Clock.systemUTC()).register(routes);
        asyncApi.register(routes);
        new SecretsApi(secrets).register(routes);
        new KeysApi(keys, audit, Clock.systemUTC()).register(routes);
        var stateAccess = new StateAccess(stateTokens, registry);
        StateAccess.registerErrors(routes);
        new StateApi(store.state(), stateAccess).register(routes);
        new SamplerApi(store.samplers(), stateAccess).register(routes);
        new BlobsApi(blobCatalog, stateAccess, config.maxBlobBytes()).register(routes);
        console.register(routes); // the web console at / (docs/console.md)
    }

    /**
     * Where instances reach this server (GALE_STATE_URL): known from the start on a fixed port; with port 0,
     * once bound (an instance started before that gets no URL).
     */
    private Optional<String> instanceUrl() {
        int port = boundUrl != null ? app.port() : config.port();
        if (port == 0) return Optional.empty();
        // Pods reach this node at the address they connect back to.
        String hostAndPort = config.kubernetes().map(k -> k.address(port)).orElse(displayHost(config.host()) + ":" + port);
        return Optional.of("http://" + hostAndPort);
    }

    /** This node's instances (starting ones too) and the calls they serve now. */
    private record Busy(int instances, int inFlight) {
        int load() {
            return instances + inFlight;
        }
    }

    private Busy busy() {
        int instances = 0;
        int inFlight = 0;
        for (var fn : registry.activeFunctions()) {
            var stats = fn.pool().stats();
            instances += stats.instances() + stats.starting();
            inFlight += stats.busy();
        }
        return new Busy(instances, inFlight);
    }

    /** What this node reports with each heartbeat: its instances, the calls it serves now, the map jobs it runs, its free slots. */
    private gale.nodes.Membership.Load load() {
        Busy busy = busy();
        String free;
        try {
            free = NODE_JSON.writeValueAsString(Peers.freeSlots(registry.activeFunctions()));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            free = "{}";
        }
        return new gale.nodes.Membership.Load(busy.instances(), busy.inFlight(), jobs.runningCount(), free);
    }

    /** The other ACTIVE nodes' free warm slots, from their last heartbeats, for the gateway ({@link Peers}). */
    private void updatePeers() {
        List<Peers.Peer> known = new java.util.ArrayList<>();
        for (var row : store.nodes().list()) {
            if (!gale.store.NodeRow.ACTIVE.equals(row.state()) || row.id().equals(nodeId)) continue;
            try {
                Map<String, Integer> free = NODE_JSON.readValue(row.freeSlotsJson(),
                        new com.fasterxml.jackson.core.type.TypeReference<Map<String, Integer>>() { });
                known.add(new Peers.Peer(row.id(), java.net.URI.create(row.url()), free, row.instances() + row.inFlight()));
            } catch (IOException | IllegalArgumentException e) {
                LOG.debug("node {} advertises no usable free slots: {}", row.id(), e.toString());
            }
        }
        peers.update(known);
    }

    /** This node's id among the nodes sharing the store. */
    public String nodeId() {
        return nodeId;
    }

    /** Deletes expired state keys once a minute (reads skip them before that). */
    private static AutoCloseable startStateSweeper(StateStore state) {
        var sweeper = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(
                Thread.ofPlatform().daemon().name("gale-state-sweeper").factory());
        sweeper.scheduleWithFixedDelay(() -> {
            try {
                int swept = state.sweepExpired();
                if (swept > 0) LOG.debug("deleted {} expired state keys", swept);
            } catch (RuntimeException e) {
                LOG.warn("could not delete expired state keys: {}", e.getMessage());
            }
        }, 1, 1, java.util.concurrent.TimeUnit.MINUTES);
        return sweeper::shutdownNow;
    }

    /** The base URL clients use; valid from the moment the server accepts calls (port 0 binds a free port then). */
    private String listeningUrl() {
        return "http://" + displayHost(config.host()) + ":" + app.port();
    }

    private void onInstanceLog(Instance instance, Optional<String> requestId, String stream, String line) {
        logs.log(new LogEntry(0, Instant.now(), instance.spec().function(), instance.spec().version(),
                Optional.of(instance.id()), requestId, stream, line));
    }

    /** Holds the data dir for this server until closed; another server on it fails to start with a hint. */
    private static FileChannel lockDataDir(Path root) {
        Path lockFile = root.resolve("lock");
        try {
            FileChannel channel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock lock = channel.tryLock();
            if (lock == null) {
                channel.close();
                throw new IllegalStateException("another Gale server is using the data dir " + root
                        + "; stop it, or start this one with --data-dir pointing elsewhere");
            }
            return channel;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot lock the data dir " + root, e);
        }
    }

    /** In the data dir, or where its path is too long for a socket, in /tmp under a name that is the same on every start. */
    private static Path socketPath(Path run, String node) {
        Path inDataDir = run.resolve("instances.sock");
        if (inDataDir.toString().length() <= MAX_SOCKET_PATH) return inDataDir;
        return Path.of(System.getProperty("java.io.tmpdir"), node, "instances.sock");
    }

    private static String displayHost(String host) {
        return "0.0.0.0".equals(host) || "::".equals(host) ? "127.0.0.1" : host;
    }
}
