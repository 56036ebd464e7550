package gale.e2e;

import gale.client.GaleClient;
import gale.client.Version;
import gale.server.GaleServer;
import gale.server.ServerConfig;
import gale.store.TestStores;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.function.UnaryOperator;

/**
 * A real Gale server on a free port with its own data dir, real Python instances, and
 * a real HTTP client. Tests write function folders with {@link #bundle} and deploy them
 * exactly as `gale deploy` does.
 */
final class GaleHarness implements AutoCloseable {

    static final Duration DEPLOY_WAIT = Duration.ofSeconds(60);

    final Path dataDir;
    final Path work;
    private final UnaryOperator<ServerConfig> customise;
    GaleServer server;
    GaleClient client;

    GaleHarness(Path tempDir) {
        this(tempDir, c -> c);
    }

    GaleHarness(Path tempDir, UnaryOperator<ServerConfig> customise) {
        this(tempDir, customise, Optional.empty());
    }

    /** A node on the store at {@code storeUrl}, which other nodes of a test may share (SharedStoreTest), in either pass. */
    static GaleHarness onStore(Path tempDir, String storeUrl) {
        return new GaleHarness(tempDir, c -> c, Optional.of(storeUrl));
    }

    private GaleHarness(Path tempDir, UnaryOperator<ServerConfig> customise, Optional<String> store) {
        this.dataDir = tempDir.resolve("data");
        this.work = tempDir.resolve("work");
        // The build runs a set of these tests a second time on PostgreSQL (gale-server's pom): a database per data dir.
        this.customise = store.isPresent() ? c -> customise.apply(c).withStore(store.get())
                : TestStores.postgresql() ? c -> customise.apply(c).withStore(TestStores.database(dataDir)) : customise;
        start();
    }

    /** Starts a server and waits until the functions of an earlier run serve again. */
    void start() {
        server = GaleServer.start(customise.apply(ServerConfig.defaults(dataDir).withPort(0)));
        server.restored().join();
        client = new GaleClient(URI.create(server.url()), server.adminToken());
    }

    /** Stops and starts the server on the same data dir (a new port). */
    void restart() {
        server.close();
        start();
    }

    /** Stops the server, after checking that no virtual thread of it holds its carrier in a blocking call. */
    @Override
    public void close() {
        try {
            CarrierCheck.assertNoVirtualThreadHoldsItsCarrier();
        } finally {
            if (server != null) server.close();
        }
    }

    /** Writes a function folder: pairs of relative path and file content. */
    Path bundle(String name, String... pathsAndContents) {
        Path dir = work.resolve(name + "-" + System.nanoTime());
        try {
            for (int i = 0; i < pathsAndContents.length; i += 2) {
                Path file = dir.resolve(pathsAndContents[i]);
                Files.createDirectories(file.getParent());
                Files.writeString(file, pathsAndContents[i + 1], StandardCharsets.UTF_8);
            }
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return dir;
    }

    /** Deploys and waits for ACTIVE or FAILED. */
    Version deploy(String name, Path source, Object... flags) {
        Map<String, Object> config = new LinkedHashMap<>();
        for (int i = 0; i < flags.length; i += 2) config.put((String) flags[i], flags[i + 1]);
        Version v = client.deploy(name, source, config);
        return client.awaitVersion(name, v.version(), DEPLOY_WAIT);
    }

    /** Deploys a public function and fails the test unless it becomes ACTIVE. */
    Version deployActive(String name, Path source, Object... flags) {
        Object[] withPublic = new Object[flags.length + 2];
        System.arraycopy(flags, 0, withPublic, 0, flags.length);
        withPublic[flags.length] = "allowUnauthenticated";
        withPublic[flags.length + 1] = true;
        Version v = deploy(name, source, withPublic);
        if (!"ACTIVE".equals(v.state().name())) {
            throw new AssertionError("deploy of " + name + " ended " + v.state() + ": " + v.reason().orElse(""));
        }
        return v;
    }

    HttpResponse<byte[]> get(String name, String pathAndQuery) {
        return client.call(name, "GET", pathAndQuery, new byte[0], Map.of());
    }

    HttpResponse<byte[]> post(String name, String pathAndQuery, String body, String contentType) {
        return client.call(name, "POST", pathAndQuery, body.getBytes(StandardCharsets.UTF_8), Map.of("Content-Type", contentType));
    }

    /** Where Gale keeps the first version of a function: functions/NAME/1 in the data dir (bundle/, java/, ...). */
    Path versionDir(String name) {
        return dataDir.resolve("functions").resolve(name).resolve("1");
    }

    /** A file of the first version's bundle, as it lies on the host. */
    Path bundleFile(String name, String file) {
        return versionDir(name).resolve("bundle").resolve(file);
    }

    /**
     * Calls a sandbox probe function (GET ?op=OP&path=PATH plus {@code moreQuery}), which
     * answers 200 with "ok ..." or "error TYPE: message".
     */
    String probe(String name, String op, String path, String moreQuery) {
        var response = get(name, "?op=" + op + "&path=" + java.net.URLEncoder.encode(path, StandardCharsets.UTF_8) + moreQuery);
        if (response.statusCode() != 200) throw new AssertionError("probe " + name + " answered " + response.statusCode() + ": " + text(response));
        return text(response);
    }

    static String text(HttpResponse<byte[]> r) {
        return new String(r.body(), StandardCharsets.UTF_8);
    }
}
