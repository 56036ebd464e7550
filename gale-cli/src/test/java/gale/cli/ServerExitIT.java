package gale.cli;

import gale.client.GaleClient;
import gale.client.Version;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.tools.ToolProvider;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarOutputStream;
import java.util.stream.Collectors;
import java.util.zip.ZipEntry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The real server (the shaded jar, a process of its own) leaves nothing behind, however it
 * ends. {@code kill -9}: instances of all three runtimes and the Python zygote die with it, a
 * process an unsandboxed instance started for itself is reaped by the next start before it
 * serves, and that start serves every function again. SIGTERM: calls in flight finish within
 * the shutdown grace, then instances are killed (even one that ignores SIGTERM), and the server
 * exits; a deploy under way stays DEPLOYING and finishes after the restart, while the version
 * before it serves.
 */
class ServerExitIT {

    /** The starved scheduler of the unit tests, for the server under test too. */
    private static final List<String> STARVED = List.of("-Djdk.virtualThreadScheduler.parallelism=1",
            "-Djdk.virtualThreadScheduler.maxPoolSize=2");

    @TempDir
    Path tmp;
    private GaleServers servers;

    @BeforeEach
    void servers() {
        servers = new GaleServers(tmp);
    }

    @AfterEach
    void stopServers() {
        servers.killAll();
    }

    @Test
    void aServerKilledWithSigkillLeavesNoInstanceRunningAndItsRestartServesAgain() throws Exception {
        Path data = tmp.resolve("data");
        Process server = startServer(data, List.of());
        GaleClient client = client(data);
        deploy(client, "py", bundle("py", Map.of("main.py", "def py(request):\n    return 'python'\n")), Map.of());
        deploy(client, "jv", javaBundle(data), Map.of("runtime", "java21", "entryPoint", "example.Jv", "memory", "256MB"));
        deploy(client, "proc", bundle("proc", Map.of("server.py", HTTP_SERVER)),
                Map.of("runtime", "process", "command", "exec python3 server.py"));
        // Unsandboxed, with a daemon of its own: nothing ties the daemon to Gale but its cgroup and environment.
        deploy(client, "daemon", bundle("daemon", Map.of("server.py", HTTP_SERVER)),
                Map.of("runtime", "process", "command", "sleep 600 & exec python3 server.py", "sandbox", "off"));
        for (String name : List.of("py", "jv", "proc", "daemon")) assertThat(call(client, name)).isEqualTo(200);
        Set<Long> started = server.descendants().map(ProcessHandle::pid).collect(Collectors.toSet());
        ProcessHandle daemon = server.descendants().filter(p -> p.info().commandLine().orElse("").contains("sleep 600"))
                .findFirst().orElseThrow(() -> new AssertionError("the daemon's sleep is not running"));
        assertThat(started).hasSizeGreaterThan(5); // zygote, instances, sandboxes

        server.destroyForcibly().waitFor(10, TimeUnit.SECONDS);

        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(alive(started)).as("still running after kill -9")
                .containsOnly(daemon.pid()));
        Process restarted = startServer(data, List.of());
        assertThat(running(daemon.pid())).as("the restart reaped the daemon the crashed run left").isFalse();
        GaleClient again = client(data);
        for (String name : List.of("py", "jv", "proc", "daemon")) assertThat(call(again, name)).isEqualTo(200);
        assertThat(restarted.isAlive()).isTrue();
    }

    @Test
    void sigtermLetsCallsInFlightFinishWithinTheGraceThenKillsWhatIsLeftAndExits() throws Exception {
        Path data = tmp.resolve("data");
        Process server = startServer(data, List.of("--shutdown-grace", "3s"));
        GaleClient client = client(data);
        deploy(client, "nap", bundle("nap", Map.of("main.py", """
                import time
                def nap(request):
                    time.sleep(float(request.args.get("s", "0")))
                    return "rested"
                """)), Map.of());
        deploy(client, "stubborn", bundle("stubborn", Map.of("server.py", "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                + HTTP_SERVER)), Map.of("runtime", "process", "command", "exec python3 server.py"));
        assertThat(call(client, "stubborn")).isEqualTo(200);
        var shortCall = client.callAsync("nap", "GET", "?s=1", new byte[0], Map.of());
        var longCall = client.callAsync("nap", "GET", "?s=120", new byte[0], Map.of());
        await().atMost(Duration.ofSeconds(30)).until(() -> client.function("nap").instances() >= 2);
        Set<Long> started = server.descendants().map(ProcessHandle::pid).collect(Collectors.toSet());
        assertThat(serverCgroups(data)).as("the instances run in the server's cgroups").anyMatch(Files::isDirectory);

        server.destroy(); // SIGTERM

        assertThat(server.waitFor(60, TimeUnit.SECONDS)).as("the server exits after SIGTERM").isTrue();
        assertThat(shortCall.get(30, TimeUnit.SECONDS).statusCode()).as("a call that ends within the grace is answered").isEqualTo(200);
        assertThat(longCall.handle((response, error) -> error != null || response.statusCode() >= 500).get(30, TimeUnit.SECONDS))
                .as("a call still running after the grace fails, it does not hang").isTrue();
        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(alive(started)).as("still running after SIGTERM").isEmpty());
        assertThat(serverCgroups(data)).as("a stopped server leaves no cgroup behind").noneMatch(Files::exists);
    }

    /** The server's parent cgroups (gale/NODE under each hierarchy), named from its data dir as the server names them. */
    private static List<Path> serverCgroups(Path data) throws Exception {
        byte[] hash = java.security.MessageDigest.getInstance("SHA-256")
                .digest(data.toAbsolutePath().normalize().toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
        String node = "gale-" + java.util.HexFormat.of().formatHex(hash, 0, 6);
        Path root = Path.of("/sys/fs/cgroup");
        return List.of(root.resolve("gale").resolve(node), root.resolve("memory/gale").resolve(node), root.resolve("cpu/gale").resolve(node),
                root.resolve("cpuacct/gale").resolve(node));
    }

    @Test
    void sigtermStopsTheSpareJavaJvmWithTheInstancesAndLeavesNoCgroupBehind() throws Exception {
        Path data = tmp.resolve("data");
        Process server = startServer(data, List.of());
        GaleClient client = client(data);
        deploy(client, "jv", javaBundle(data), Map.of("runtime", "java21", "entryPoint", "example.Jv", "memory", "256MB"));
        assertThat(call(client, "jv")).isEqualTo(200);
        // The instance, and the spare started after the archive's training.
        await().atMost(Duration.ofSeconds(120)).until(() -> instanceJvms(server).size() == 2);
        Set<Long> started = server.descendants().map(ProcessHandle::pid).collect(Collectors.toSet());

        server.destroy(); // SIGTERM

        assertThat(server.waitFor(60, TimeUnit.SECONDS)).as("the server exits after SIGTERM").isTrue();
        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(alive(started)).as("still running after SIGTERM").isEmpty());
        assertThat(serverCgroups(data)).as("a stopped server leaves no cgroup behind").noneMatch(Files::exists);
    }

    /** The JVMs serving (or waiting to serve) Java functions, not training runs. */
    private static List<ProcessHandle> instanceJvms(Process server) {
        return server.descendants().filter(p -> p.info().command().orElse("").endsWith("/java")).filter(p -> {
            List<String> args = List.of(p.info().arguments().orElse(new String[0]));
            return args.contains("gale.api.internal.Bootstrap") && !args.contains("--train");
        }).toList();
    }

    @Test
    void sigtermDuringADeployStopsTheServerAndTheRestartFinishesTheDeployWhileTheOldVersionServes() throws Exception {
        Path data = tmp.resolve("data");
        int port = GaleServers.freePort();
        Process server = startServer(data, port, List.of("--shutdown-grace", "3s"));
        GaleClient client = client(data);
        deploy(client, "slow", bundle("slow-v1", Map.of("main.py", "def slow(request):\n    return 'v1'\n")), Map.of());
        Path v2 = bundle("slow-v2", Map.of("main.py", """
                import time
                print("loading v2", flush=True)
                time.sleep(10)  # longer than the grace: the deploy is still loading when SIGTERM comes
                def slow(request):
                    return "v2"
                """));
        int version = client.deploy("slow", v2, Map.of("allowUnauthenticated", true)).version();
        await().atMost(Duration.ofSeconds(60)).until(() -> client.logs("slow", 0, 1000, 0).entries().stream()
                .anyMatch(e -> e.message().equals("loading v2")));
        assertThat(body(client, "slow")).isEqualTo("v1");
        Set<Long> started = server.descendants().map(ProcessHandle::pid).collect(Collectors.toSet());

        server.destroy(); // SIGTERM

        assertThat(server.waitFor(60, TimeUnit.SECONDS)).as("the server exits after SIGTERM").isTrue();
        assertThat(server.exitValue()).as("stopped by its shutdown hook (128 + SIGTERM), not halted by its watchdog").isEqualTo(143);
        assertThat(Files.readString(servers.log("server", port))).doesNotContain("did not stop within");
        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(alive(started)).as("still running after SIGTERM").isEmpty());

        startServer(data, List.of());
        GaleClient again = client(data);
        Version interrupted = again.version("slow", version);
        assertThat(interrupted.state().name()).as("the interrupted deploy: " + interrupted.reason().orElse("")).isEqualTo("DEPLOYING");
        assertThat(body(again, "slow")).as("the version before serves while the deploy resumes").isEqualTo("v1");
        Version resumed = again.awaitVersion("slow", version, Duration.ofSeconds(120));
        assertThat(resumed.state().name()).as(resumed.reason().orElse("")).isEqualTo("ACTIVE");
        assertThat(body(again, "slow")).isEqualTo("v2");
        assertThat(again.logs("slow", 0, 1000, 0).entries()).extracting(e -> e.message())
                .contains("the server stopped during the deploy of version 2; it resumes when the server starts again",
                        "resuming the deploy of version 2 after a restart");
    }

    private static final String HTTP_SERVER = """
            import os
            from http.server import BaseHTTPRequestHandler, HTTPServer
            class Handler(BaseHTTPRequestHandler):
                def do_GET(self):
                    self.send_response(200)
                    self.end_headers()
                    self.wfile.write(b"process")
            HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
            """;

    private static List<Long> alive(Set<Long> pids) {
        return pids.stream().filter(ServerExitIT::running).toList();
    }

    /** True while the process runs: exists and is not a zombie waiting for its parent to reap it. */
    private static boolean running(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            char state = stat.charAt(stat.lastIndexOf(')') + 2);
            return state != 'Z' && state != 'X';
        } catch (IOException gone) {
            return false;
        }
    }

    private Process startServer(Path data, List<String> flags) throws Exception {
        return startServer(data, GaleServers.freePort(), flags);
    }

    private Process startServer(Path data, int port, List<String> flags) throws Exception {
        return servers.start(Map.of(), STARVED, "server", port, data, flags.toArray(String[]::new));
    }

    private static GaleClient client(Path data) throws IOException {
        String url = new com.fasterxml.jackson.databind.ObjectMapper().readTree(data.resolve("server.json").toFile()).path("url").asText();
        return new GaleClient(URI.create(url), Files.readString(data.resolve("admin-token")).strip());
    }

    private static void deploy(GaleClient client, String name, Path source, Map<String, Object> settings) {
        Map<String, Object> config = new java.util.LinkedHashMap<>(settings);
        config.put("allowUnauthenticated", true);
        Version v = client.awaitVersion(name, client.deploy(name, source, config).version(), Duration.ofSeconds(120));
        assertThat(v.state().name()).as(name + ": " + v.reason().orElse("")).isEqualTo("ACTIVE");
    }

    private static int call(GaleClient client, String name) {
        return client.call(name, "GET", "", new byte[0], Map.of()).statusCode();
    }

    private static String body(GaleClient client, String name) {
        var response = client.call(name, "GET", "", new byte[0], Map.of());
        assertThat(response.statusCode()).as(name + " answers").isEqualTo(200);
        return new String(response.body(), StandardCharsets.UTF_8);
    }

    private Path bundle(String name, Map<String, String> files) throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("bundles").resolve(name));
        for (var file : files.entrySet()) Files.writeString(dir.resolve(file.getKey()), file.getValue());
        return dir;
    }

    /** A jar with one HttpFunction, compiled against the gale-api jar the server wrote into its data dir. */
    private Path javaBundle(Path data) throws IOException {
        Path src = Files.createDirectories(tmp.resolve("jv-src/example"));
        Files.writeString(src.resolve("Jv.java"), """
                package example;
                import gale.api.*;
                public class Jv implements HttpFunction {
                    public void handle(Request request, Response response) throws Exception {
                        response.send("java");
                    }
                }
                """);
        Path classes = Files.createDirectories(tmp.resolve("jv-classes"));
        int compiled = ToolProvider.getSystemJavaCompiler().run(null, null, null, "--release", "21", "-cp",
                data.resolve("runtime/java/gale-api.jar").toString(), "-d", classes.toString(), src.resolve("Jv.java").toString());
        assertThat(compiled).isZero();
        Path bundle = Files.createDirectories(tmp.resolve("bundles/jv"));
        try (var jar = new JarOutputStream(Files.newOutputStream(bundle.resolve("app.jar")))) {
            jar.putNextEntry(new ZipEntry("example/Jv.class"));
            Files.copy(classes.resolve("example/Jv.class"), jar);
            jar.closeEntry();
        }
        return bundle;
    }

}
