package gale.server;

import gale.admin.AdminApi;
import gale.admin.JobsApi;
import gale.jobs.JobService;
import gale.blob.BlobStore;
import gale.gateway.Auth;
import gale.gateway.Gateway;
import gale.gateway.GatewayMetrics;
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
import gale.store.LogEntry;
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
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;

/**
 * One Gale node: store, registry, runtimes and the HTTP server, wired together.
 * {@link #start} returns when the server listens and every active function is
 * registered again; {@link #close} stops instances and writes out pending logs.
 */
public final class GaleServer implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(GaleServer.class);
    /** UNIX socket paths are limited to 108 bytes; longer data dirs put the socket in /tmp. */
    private static final int MAX_SOCKET_PATH = 100;

    private final ServerConfig config;
    private final DataDir dataDir;
    private final DataDir.Token token;
    private final FileChannel lockChannel;
    private final Store store;
    private final LogSink logs;
    private final InstanceListener listener;
    private final List<gale.runtime.Runtime> runtimes;
    private final Registry registry;
    private final JobService jobs;
    private final Javalin app;
    private final String url;
    private final CountDownLatch stopped = new CountDownLatch(1);

    private GaleServer(ServerConfig config) {
        this.config = config;
        this.dataDir = new DataDir(config.dataDir());
        this.lockChannel = lockDataDir(dataDir.root());
        this.token = dataDir.adminToken();
        this.store = Store.openSqlite(dataDir.store());
        this.logs = new LogSink(store);
        Path run = dataDir.root().resolve("run");
        String node = dataDir.node();
        var isolation = Isolation.probe(node);
        Leftovers.reap(node, isolation); // a crashed run's instances go before anything starts
        FileTrees.clear(run);
        this.listener = InstanceListener.open(socketPath(run, node));
        var context = new RuntimeContext(node, dataDir.runtime(), run.resolve("instances"), listener, this::onInstanceLog, isolation);
        this.runtimes = List.of(
                new PythonRuntime(context, config.python(), config.pipIndexUrl(), config.wheelDir(), config.zygotes()),
                new ProcessRuntime(context),
                new JavaRuntime(context, JavaRuntime.currentJava()));
        runtimes.forEach(gale.runtime.Runtime::start);
        this.registry = new Registry(store, new BlobStore(dataDir.blobs()), dataDir.versions(), runtimes, logs,
                config.drainTimeout());
        registry.restore();
        this.jobs = new JobService(registry, store.jobs());
        jobs.restore();
        var prometheus = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        var auth = new Auth(token.value());
        var gateway = new Gateway(registry, logs, new GatewayMetrics(prometheus), auth, config.maxBodyBytes());
        this.app = Javalin.create(cfg -> configure(cfg, run, prometheus, auth, gateway));
        app.start(config.host(), config.port());
        this.url = listeningUrl();
        dataDir.writeServerInfo(url, ProcessHandle.current().pid());
        LOG.info("Gale listening on {} (data dir {})", url, dataDir.root());
    }

    /** Starts a server; returns once it accepts calls. */
    public static GaleServer start(ServerConfig config) {
        return new GaleServer(config);
    }

    public String url() {
        return url;
    }

    public String adminToken() {
        return token.value();
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

    @Override
    public void close() {
        if (stopped.getCount() == 0) return;
        app.stop();
        jobs.close();
        registry.close();
        runtimes.forEach(gale.runtime.Runtime::close);
        logs.close();
        store.close();
        listener.close();
        dataDir.removeServerInfo();
        try {
            lockChannel.close();
        } catch (IOException ignored) {
            // released with the process anyway
        }
        stopped.countDown();
    }

    /** Javalin 7 takes every setting, route and handler up front, before it starts. */
    private void configure(JavalinConfig cfg, Path run, PrometheusMeterRegistry prometheus, Auth auth, Gateway gateway) {
        cfg.startup.showJavalinBanner = false;
        cfg.startup.showOldJavalinVersionWarning = false; // Gale pins its Javalin; the jar's age is not the user's concern
        cfg.startup.startupWatcherEnabled = false; // started right away; the watcher is a non-daemon thread sleeping 5 s
        cfg.concurrency.useVirtualThreads = true;
        cfg.http.compressionStrategy = CompressionStrategy.NONE; // function responses pass through as they are
        cfg.http.maxRequestSize = config.maxBodyBytes();
        cfg.jetty.multipartConfig.maxFileSize(4L << 30, SizeUnit.BYTES);
        cfg.jetty.multipartConfig.maxTotalRequestSize(4L << 30, SizeUnit.BYTES);
        cfg.jetty.multipartConfig.maxInMemoryFileSize(8, SizeUnit.MB);
        cfg.jetty.multipartConfig.cacheDirectory(run.toString());
        var routes = cfg.routes;
        routes.exception(HttpResponseException.class, (e, ctx) ->
                ctx.status(e.getStatus()).json(Map.of("error", e.getMessage(), "status", e.getStatus())));
        routes.exception(Exception.class, (e, ctx) -> {
            LOG.error("{} {} failed", ctx.method(), ctx.path(), e);
            ctx.status(500).json(Map.of("error", "internal error: " + e + "; see the server log", "status", 500));
        });
        routes.get("/healthz", ctx -> ctx.json(Map.of("status", "ok")));
        routes.get("/metrics", ctx -> ctx.contentType("text/plain; version=0.0.4").result(prometheus.scrape()));
        for (var method : Gateway.METHODS) {
            routes.addHttpHandler(method, "/fn/{name}", gateway);
            routes.addHttpHandler(method, "/fn/{name}/<rest>", gateway);
        }
        new AdminApi(registry, store, logs, auth, this::listeningUrl).register(routes);
        new JobsApi(jobs).register(routes);
    }

    /** The base URL clients use; valid from the moment the server accepts calls (port 0 binds a free port then). */
    private String listeningUrl() {
        return "http://" + displayHost(config.host()) + ":" + app.port();
    }

    private void onInstanceLog(Instance instance, Optional<String> requestId, String stream, String line) {
        logs.log(new LogEntry(0, Instant.now(), instance.spec().function(), instance.spec().version(),
                Optional.of(instance.id()), requestId, stream, line));
    }

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
