package gale.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import gale.client.LogEntry;
import gale.client.Version;
import gale.server.ServerConfig;
import org.assertj.core.api.Condition;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

import static gale.e2e.GaleHarness.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The process runtime (the Cloud Run contract): any command serving HTTP on $PORT is
 * started, probed, proxied to, replaced when it dies and stopped with SIGTERM, then
 * SIGKILL. Driven with examples/http-echo and a small stdlib Python server written here.
 *
 * <p>Where bubblewrap is installed the commands run in the sandbox (the default, sandbox =
 * "auto"), in a PID namespace of their own: the pids they see are not the host's, and the
 * host's folders are not theirs to write. So instances are told apart by GALE_INSTANCE_ID,
 * their processes found on the host by it, and what they do on SIGTERM read from the logs.
 */
class ProcessRuntimeTest extends GaleE2E {

    private static final ObjectMapper JSON = new ObjectMapper();
    /** The interpreter Gale's Python functions use, so the test server starts as fast as they do. */
    private static final String PYTHON = ServerConfig.defaultPython().toString();

    /**
     * A server that misbehaves on request. On SIGTERM it prints "got SIGTERM at TIME" and
     * exits, or keeps serving when IGNORE_TERM is set. With SPAWN_CHILD it starts a `sleep`
     * child, to check that signals reach children.
     */
    private static final String TEST_SERVER = """
            import json, os, signal, subprocess, sys, threading, time
            from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
            from urllib.parse import urlsplit, parse_qs

            class Handler(BaseHTTPRequestHandler):
                protocol_version = "HTTP/1.1"

                def do_GET(self):
                    url = urlsplit(self.path)
                    query = parse_qs(url.query)
                    if url.path == "/crash":
                        os._exit(3)
                    if url.path == "/sleep":
                        time.sleep(float(query["s"][0]))
                    if url.path == "/hog":
                        # the memory is held by a child process: the limit counts the whole tree
                        subprocess.run([sys.executable, "-c",
                            "import time; b = bytearray(300 * 1024 * 1024)\\n"
                            "for i in range(0, len(b), 4096): b[i] = 1\\n"
                            "time.sleep(30)"])
                    if url.path == "/chunked":
                        self.send_response(201)
                        self.send_header("Transfer-Encoding", "chunked")
                        self.send_header("X-Multi", "one")
                        self.send_header("X-Multi", "two")
                        self.end_headers()
                        for part in (b"first,", b"second,", b"third"):
                            self.wfile.write(b"%x\\r\\n%s\\r\\n" % (len(part), part))
                        self.wfile.write(b"0\\r\\n\\r\\n")
                        return
                    if url.path == "/unframed":
                        # no Content-Length: the body ends when the connection closes
                        self.protocol_version = "HTTP/1.0"
                        self.send_response(200)
                        self.end_headers()
                        self.wfile.write(b"until the end")
                        self.close_connection = True
                        return
                    if url.path == "/broken":
                        self.close_connection = True
                        return
                    body = json.dumps({"pid": os.getpid(), "env": dict(os.environ)}).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

                def log_message(self, fmt, *args):
                    pass

            server = ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler)
            if os.environ.get("SPAWN_CHILD"):
                child = subprocess.Popen(["sleep", "600"])

            def on_term(signum, frame):
                print("got SIGTERM at %f" % time.time(), flush=True)
                if not os.environ.get("IGNORE_TERM"):
                    threading.Thread(target=server.shutdown).start()

            signal.signal(signal.SIGTERM, on_term)
            print("test server up", flush=True)
            server.serve_forever()
            """;

    @Test
    void theExampleSeesMethodPathQueryHeadersAndBodyAsSent() throws IOException {
        gale.deployActive("echo", example("http-echo"));

        var response = gale.client.call("echo", "POST", "/some/path?msg=hello&tag=a&tag=b",
                "{\"x\": 1}".getBytes(StandardCharsets.UTF_8),
                Map.of("Content-Type", "application/json", "X-Survey", "wave-2"));
        JsonNode echo = JSON.readTree(response.body());

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("Content-Type")).hasValue("application/json");
        assertThat(response.headers().allValues("Set-Cookie")).containsExactly("seen=1; Path=/", "flavour=plain; Path=/");
        assertThat(echo.path("method").asText()).isEqualTo("POST");
        assertThat(echo.path("path").asText()).isEqualTo("/some/path");
        assertThat(echo.path("query").toString()).isEqualTo("{\"msg\":[\"hello\"],\"tag\":[\"a\",\"b\"]}");
        assertThat(echo.path("body").asText()).isEqualTo("{\"x\": 1}");
        assertThat(header(echo, "X-Survey")).containsExactly("wave-2");
        assertThat(header(echo, "Content-Length")).containsExactly("8");
        assertThat(header(echo, "Host")).containsExactly(gale.server.url().substring("http://".length()));
        assertThat(header(echo, "X-Forwarded-Prefix")).containsExactly("/fn/echo");
        assertThat(header(echo, "X-Forwarded-Proto")).containsExactly("http");
        assertThat(header(echo, "X-Gale-Request-Id")).containsExactly(response.headers().firstValue("X-Gale-Request-Id").orElseThrow());
        assertThat(echo.path("service").asText()).isEqualTo("echo");
        assertThat(echo.path("revision").asText()).isEqualTo("echo-00001");
    }

    @Test
    void everySubPathAndMethodReachesTheServer() throws IOException {
        gale.deployActive("paths", example("http-echo"));

        var root = JSON.readTree(gale.get("paths", "").body());
        var deep = JSON.readTree(gale.get("paths", "/a/b%20c/d.png?size=large").body());
        var put = gale.client.call("paths", "PUT", "/items/7", "seven".getBytes(StandardCharsets.UTF_8), Map.of());
        var delete = gale.client.call("paths", "DELETE", "/items/7", new byte[0], Map.of());
        var head = gale.client.call("paths", "HEAD", "/items/7", new byte[0], Map.of());

        assertThat(root.path("path").asText()).isEqualTo("/");
        assertThat(deep.path("path").asText()).isEqualTo("/a/b%20c/d.png");
        assertThat(deep.path("query").path("size").get(0).asText()).isEqualTo("large");
        assertThat(JSON.readTree(put.body()).path("method").asText()).isEqualTo("PUT");
        assertThat(JSON.readTree(put.body()).path("body").asText()).isEqualTo("seven");
        assertThat(JSON.readTree(delete.body()).path("method").asText()).isEqualTo("DELETE");
        assertThat(head.statusCode()).isEqualTo(200);
        assertThat(head.body()).isEmpty();
    }

    @Test
    void chunkedAndUnframedResponsesArriveWholeWithRepeatedHeaders() {
        deployTestServer("framing");

        var chunked = gale.get("framing", "/chunked");
        var unframed = gale.get("framing", "/unframed");

        assertThat(chunked.statusCode()).isEqualTo(201);
        assertThat(text(chunked)).isEqualTo("first,second,third");
        assertThat(chunked.headers().allValues("X-Multi")).containsExactly("one", "two");
        assertThat(text(unframed)).isEqualTo("until the end");
    }

    @Test
    void aServerThatClosesWithoutAnsweringGets500AndKeepsServing() throws IOException {
        deployTestServer("rude");
        String instance = instance(gale.get("rude", ""));

        var broken = gale.get("rude", "/broken");

        assertThat(broken.statusCode()).isEqualTo(500);
        assertThat(broken.headers().firstValue("X-Gale-Error")).hasValue("function");
        assertThat(text(broken)).contains("closed the connection without answering");
        assertThat(instance(gale.get("rude", ""))).isEqualTo(instance);
    }

    @Test
    void theCommandGetsACleanEnvironmentWithPortAndTheFunctionsVariables() throws IOException {
        deployTestServer("envy", "env", Map.of("GREETING", "hello", "PORT", "1"));

        JsonNode env = JSON.readTree(gale.get("envy", "").body()).path("env");

        assertThat(env.path("GREETING").asText()).isEqualTo("hello");
        assertThat(env.path("PORT").asInt()).isGreaterThan(1024);
        assertThat(env.path("K_SERVICE").asText()).isEqualTo("envy");
        assertThat(env.path("K_REVISION").asText()).isEqualTo("envy-00001");
        assertThat(env.path("HOME").asText()).isEqualTo(env.path("TMPDIR").asText());
        assertThat(env.toString()).doesNotContain(gale.server.adminToken());
        assertThat(env.has("GALE_TOKEN")).isFalse();
    }

    @Test
    void aPrivateFunctionNeverSeesTheAdminToken() throws IOException {
        Version v = gale.deploy("private-echo", example("http-echo"), "allowUnauthenticated", false);
        assertThat(v.state().name()).isEqualTo("ACTIVE");

        JsonNode echo = JSON.readTree(gale.get("private-echo", "").body());

        assertThat(header(echo, "Authorization")).isEmpty();
        assertThat(echo.toString()).doesNotContain(gale.server.adminToken());
    }

    @Test
    void aCommandThatExitsAtOnceFailsTheDeployWithItsOutput() {
        Version v = gale.deploy("quits", gale.bundle("quits", "README", "nothing to serve"),
                "runtime", "process", "command", "echo 'cannot read model.rds: no such file' >&2; exit 3");

        assertThat(v.state().name()).isEqualTo("FAILED");
        assertThat(v.reason()).hasValueSatisfying(r -> assertThat(r)
                .contains("exited with code 3 before listening on $PORT")
                .contains("cannot read model.rds: no such file"));
    }

    @Test
    void aCommandThatIsNotInstalledSaysSo() {
        Version v = gale.deploy("missing", gale.bundle("missing", "README", "x"),
                "runtime", "process", "command", "no-such-server --port $PORT");

        assertThat(v.state().name()).isEqualTo("FAILED");
        assertThat(v.reason()).hasValueSatisfying(r -> assertThat(r)
                .contains("exited with code 127").contains("command not found").contains("no-such-server"));
    }

    @Test
    void aCommandThatNeverListensFailsWithinTheStartupTimeoutAndIsKilled() {
        Instant start = Instant.now();
        Version v = gale.deploy("deaf", gale.bundle("deaf", "README", "x"),
                "runtime", "process", "command", "echo \"warming up as $GALE_INSTANCE_ID\"; exec sleep 600", "timeout", "2s");

        assertThat(Duration.between(start, Instant.now())).isLessThan(Duration.ofSeconds(15));
        assertThat(v.state().name()).isEqualTo("FAILED");
        String reason = v.reason().orElseThrow();
        assertThat(reason).contains("never listened on $PORT").contains("within 2s").contains("warming up as deaf-1-");
        String instance = reason.replaceAll("(?s).*warming up as (deaf-1-[0-9a-z]+).*", "$1");
        await().atMost(Duration.ofSeconds(5)).until(() -> processesOf(instance).isEmpty());
    }

    @Test
    void aCommandThatListensButNeverAnswersHttpFailsSayingSo() {
        Version v = gale.deploy("mute", gale.bundle("mute", "mute.py", """
                import os, socket, time
                s = socket.socket()
                s.bind(("127.0.0.1", int(os.environ["PORT"])))
                s.listen()
                time.sleep(600)
                """), "runtime", "process", "command", PYTHON + " mute.py", "timeout", "4s");

        assertThat(v.state().name()).isEqualTo("FAILED");
        assertThat(v.reason()).hasValueSatisfying(r -> assertThat(r).contains("never answered an HTTP request to /"));
    }

    @Test
    void aCrashMidCallGets502AndANewInstanceServesTheNextCall() {
        deployTestServer("crashy");
        String before = instance(gale.get("crashy", ""));

        var crashed = gale.get("crashy", "/crash");
        var after = gale.get("crashy", "");

        assertThat(crashed.statusCode()).isEqualTo(502);
        assertThat(crashed.headers().firstValue("X-Gale-Error")).hasValue("function");
        assertThat(text(crashed)).contains("the command exited with code 3");
        assertThat(after.statusCode()).isEqualTo(200);
        assertThat(instance(after)).isNotEqualTo(before);
        assertThat(after.headers().firstValue("X-Gale-Cold-Start")).hasValue("true");
    }

    @Test
    void aCallPastItsTimeoutGets504AndTheInstanceIsKilledAndReplaced() {
        deployTestServer("sleepy", "timeout", "3s");
        String before = instance(gale.get("sleepy", ""));

        var slow = gale.get("sleepy", "/sleep?s=20");
        var next = gale.get("sleepy", "");

        assertThat(slow.statusCode()).isEqualTo(504);
        assertThat(text(slow)).contains("timeout of 3s");
        assertThat(next.statusCode()).isEqualTo(200);
        assertThat(instance(next)).isNotEqualTo(before);
        await().atMost(Duration.ofSeconds(5)).until(() -> processesOf(before).isEmpty());
    }

    @Test
    void memoryHeldByChildProcessesCountsTowardsTheLimit() {
        deployTestServer("hoarder", "memory", "128MB");

        var response = gale.get("hoarder", "/hog");

        assertThat(response.statusCode()).isEqualTo(502);
        assertThat(text(response)).contains("memory limit exceeded (128 MB)");
    }

    @Test
    void scaleDownSendsSigtermToEveryProcessAndACooperativeServerExits() {
        deployTestServer("polite", "idleTimeout", "1s", "env", Map.of("SPAWN_CHILD", "1"));
        String instance = instance(gale.get("polite", ""));
        assertThat(processesOf(instance)).contains(List.of("sleep", "600")).haveAtLeastOne(isTheServer());

        await().atMost(Duration.ofSeconds(10)).until(() -> gale.client.function("polite").instances() == 0);

        await().atMost(Duration.ofSeconds(5)).until(() -> sigtermAt("polite").isPresent());
        await().atMost(Duration.ofSeconds(2)).until(() -> processesOf(instance).isEmpty());
        assertThat(gale.client.latestLogs("polite", 50).entries()).noneSatisfy(e -> assertThat(e.message()).contains("did not exit"));
    }

    @Test
    void aServerThatIgnoresSigtermIsKilledAfterTheGracePeriod() {
        deployTestServer("stubborn", "idleTimeout", "1s", "env", Map.of("IGNORE_TERM", "1"));
        String instance = instance(gale.get("stubborn", ""));

        await().atMost(Duration.ofSeconds(10)).until(() -> sigtermAt("stubborn").isPresent());
        Instant termed = sigtermAt("stubborn").orElseThrow();
        assertThat(processesOf(instance)).haveAtLeastOne(isTheServer());
        await().atMost(Duration.ofSeconds(10)).until(() -> processesOf(instance).isEmpty());
        Instant killed = Instant.now();

        assertThat(Duration.between(termed, killed)).isGreaterThan(Duration.ofSeconds(4)); // the pool's 5s grace
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(gale.client.latestLogs("stubborn", 50).entries())
                .anySatisfy(e -> assertThat(e.message()).contains("did not exit within 5s of SIGTERM; killed")));
    }

    // ---- helpers

    /** Deploys TEST_SERVER as a public process function; {@code flags} add to or override the defaults. */
    private void deployTestServer(String name, Object... flags) {
        List<Object> all = new ArrayList<>(List.of("runtime", "process", "command", PYTHON + " server.py", "timeout", "20s"));
        all.addAll(List.of(flags));
        gale.deployActive(name, gale.bundle(name, "server.py", TEST_SERVER), all.toArray());
    }

    /** examples/NAME, found from the module directory Maven runs tests in. */
    static Path example(String name) {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path candidate = dir.resolve("examples").resolve(name);
            if (Files.isRegularFile(candidate.resolve("gale.toml"))) return candidate;
        }
        throw new IllegalStateException("examples/" + name + " not found above " + Path.of("").toAbsolutePath());
    }

    private static List<String> header(JsonNode echo, String name) {
        List<String> values = new ArrayList<>();
        for (JsonNode pair : echo.path("headers")) {
            if (pair.get(0).asText().equalsIgnoreCase(name)) values.add(pair.get(1).asText());
        }
        return values;
    }

    /** The id of the TEST_SERVER instance that answered (it returns its environment). */
    private static String instance(HttpResponse<byte[]> response) {
        try {
            assertThat(response.statusCode()).as(text(response)).isEqualTo(200);
            return JSON.readTree(response.body()).path("env").path("GALE_INSTANCE_ID").asText();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * The command lines of an instance's running processes, sandbox included, found on the host by
     * GALE_INSTANCE_ID in their environment. Zombies do not count: orphans are reparented to init,
     * which in some containers never reaps them.
     */
    static List<List<String>> processesOf(String instance) {
        List<List<String>> found = new ArrayList<>();
        try (Stream<Path> dirs = Files.list(Path.of("/proc"))) {
            for (Path dir : dirs.filter(d -> d.getFileName().toString().matches("\\d+")).toList()) {
                try {
                    String stat = Files.readString(dir.resolve("stat"));
                    char state = stat.charAt(stat.lastIndexOf(')') + 2);
                    if (state == 'Z' || state == 'X') continue;
                    String env = new String(Files.readAllBytes(dir.resolve("environ")), StandardCharsets.UTF_8);
                    if (List.of(env.split("\0")).contains("GALE_INSTANCE_ID=" + instance)) {
                        found.add(List.of(new String(Files.readAllBytes(dir.resolve("cmdline")), StandardCharsets.UTF_8).split("\0")));
                    }
                } catch (IOException | RuntimeException gone) {
                    // exited while we looked
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return found;
    }

    /** The Python process running server.py itself (not the shell or bubblewrap, whose command lines mention it too). */
    private static Condition<List<String>> isTheServer() {
        return new Condition<>(command -> command.contains("server.py"), "the server.py process");
    }

    /** When the function's server said it got SIGTERM, from its logs. */
    private static Optional<Instant> sigtermAt(String function) {
        return gale.client.latestLogs(function, 50).entries().stream()
                .map(LogEntry::message)
                .filter(m -> m.startsWith("got SIGTERM at "))
                .map(m -> Instant.ofEpochMilli((long) (Double.parseDouble(m.substring("got SIGTERM at ".length())) * 1000)))
                .findFirst();
    }
}
