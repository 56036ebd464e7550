package gale.server;

import gale.admin.AdminApi;
import gale.admin.DeployUpload;
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
import gale.runtime.Isolation;
import gale.runtime.PythonRuntime;
import gale.runtime.java.JavaRuntime;
import gale.runtime.process.ProcessRuntime;
import gale.store.LogEntry;
import gale.store.Store;
import io.javalin.Javalin;
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
        clearDirectory(run);
        this.listener = new InstanceListener(socketPath(run));
        var isolation = Isolation.probe();
        var python = new PythonRuntime(config.python(), dataDir.runtime(), run.resolve("instances"), listener,
                this::onInstanceLog, config.pipIndexUrl(), config.wheelDir(), isolation);
        var process = new ProcessRuntime(run.resolve("instances"), this::onInstanceLog, isolation);
        var java = new JavaRuntime(JavaRuntime.currentJava(), dataDir.runtime(), run.resolve("instances"), listener, this::onInstanceLog,
                isolation);
        this.registry = new Registry(store, new BlobStore(dataDir.blobs()), dataDir.versions(), config.bundleLimits(),
                List.of(python, process, java), logs, config.drainTimeout());
        registry.restore();
        this.jobs = new JobService(registry, store.jobs());
        jobs.restore();
        var prometheus = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        var auth = new Auth(token.value());
        this.app = Javalin.create(cfg -> {
            cfg.showJavalinBanner = false;
            cfg.useVirtualThreads = true;
            cfg.http.disableCompression(); // function responses pass through as they are
            cfg.http.maxRequestSize = config.maxBodyBytes();
            // Jetty's multipart parser stops reading at these, so an oversized deploy is refused while it streams.
            cfg.jetty.multipartConfig.maxFileSize(config.bundleLimits().upload().bytes(), io.javalin.config.SizeUnit.BYTES);
            cfg.jetty.multipartConfig.maxTotalRequestSize(DeployUpload.maxRequestBytes(config.bundleLimits()),
                    io.javalin.config.SizeUnit.BYTES);
            cfg.jetty.multipartConfig.maxInMemoryFileSize(8, io.javalin.config.SizeUnit.MB);
            cfg.jetty.multipartConfig.cacheDirectory(run.toString());
            cfg.jetty.modifyHttpConfiguration(http -> http.setRequestHeaderSize(JettyErrors.MAX_REQUEST_HEADER_BYTES));
            cfg.jetty.modifyServer(server -> server.setErrorHandler(new JettyErrors()));
        });
        app.exception(HttpResponseException.class, (e, ctx) ->
                ctx.status(e.getStatus()).json(Map.of("error", e.getMessage(), "status", e.getStatus())));
        app.exception(Exception.class, (e, ctx) -> {
            LOG.error("{} {} failed", ctx.method(), ctx.path(), e);
            ctx.status(500).json(Map.of("error", "internal error: " + e + "; see the server log", "status", 500));
        });
        app.get("/healthz", ctx -> ctx.json(Map.of("status", "ok")));
        app.get("/metrics", ctx -> ctx.contentType("text/plain; version=0.0.4").result(prometheus.scrape()));
        app.start(config.host(), config.port());
        this.url = "http://" + displayHost(config.host()) + ":" + app.port();
        var gateway = new Gateway(registry, logs, new GatewayMetrics(prometheus), auth, config.maxBodyBytes());
        for (var method : Gateway.METHODS) {
            app.addHttpHandler(method, "/fn", gateway); // a bare /fn/ gets the gateway's 404 with the naming rule
            app.addHttpHandler(method, "/fn/{name}", gateway);
            app.addHttpHandler(method, "/fn/{name}/<rest>", gateway);
        }
        new AdminApi(registry, store, logs, auth, url).register(app);
        new JobsApi(jobs).register(app);
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

    private static Path socketPath(Path run) {
        Path inDataDir = run.resolve("instances.sock");
        if (inDataDir.toString().length() <= MAX_SOCKET_PATH) return inDataDir;
        try {
            return Files.createTempDirectory("gale-").resolve("instances.sock");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a directory for the instance socket", e);
        }
    }

    private static void clearDirectory(Path dir) {
        try {
            if (Files.exists(dir)) {
                try (var walk = Files.walk(dir)) {
                    walk.sorted(Comparator.reverseOrder()).filter(p -> !p.equals(dir)).forEach(p -> p.toFile().delete());
                }
            }
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot prepare " + dir, e);
        }
    }

    private static String displayHost(String host) {
        return "0.0.0.0".equals(host) || "::".equals(host) ? "127.0.0.1" : host;
    }
}
