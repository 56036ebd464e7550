package gale.e2e;

import com.fasterxml.jackson.databind.ObjectMapper;
import gale.client.LogEntry;
import gale.runtime.ProcessTree;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static gale.e2e.GaleHarness.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Faults of the processes under Gale, injected for real: an instance that cuts its connection
 * or writes what is not a frame, a zygote killed in the middle of a burst of cold starts, an
 * instance that stops reading, a client that hangs up, a flood of output. Each call ends with
 * a status that says who failed and what to do, the server keeps answering, the next call is
 * served by a new instance, what was stored stays, and no process is left behind.
 * docs/reliability.md ("Faults") lists each case; the full disk and SIGTERM are in
 * {@link DiskFullTest} and gale-cli's FaultsIT.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES, threadMode = Timeout.ThreadMode.SEPARATE_THREAD) // a hang fails, not blocks
class FaultsTest extends GaleE2E {

    /** Only catches a call that never ends; no assertion depends on how fast anything is. */
    private static final Duration HANG = Duration.ofSeconds(90);
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * A function that breaks its instance on request. Each instance names its process (its
     * comm, as ps shows it) with a tag it returns, so the test finds its host pid and can tell
     * a new instance from the old one. It finds its connection to Gale the way a stray library
     * would: the one socket object in the heap.
     */
    private static final String BREAKER = """
            import gc, json, os, secrets, socket, struct, sys, time
            TAG = "gi-" + secrets.token_hex(5)
            with open("/proc/self/comm", "w") as comm:
                comm.write(TAG)

            def gale_socket():
                return next(o for o in gc.get_objects() if isinstance(o, socket.socket) and o.fileno() >= 0)

            def frame(kind, header, body=b""):
                head = header if isinstance(header, bytes) else json.dumps(header).encode()
                return kind + struct.pack(">II", len(head), len(body)) + head + body

            def breaker(request):
                how = request.args.get("how", "")
                if not how:
                    return TAG
                print("about to break:", how, flush=True)
                s = gale_socket()
                if how == "close-all-descriptors":     # what daemonising libraries do before they fork
                    os.closerange(3, 65536)
                elif how == "shut-and-stay":           # the connection goes, the process stays
                    s.shutdown(socket.SHUT_RDWR)
                    time.sleep(60)
                elif how == "exit-mid-response":       # half a RESPONSE frame, then os._exit()
                    head = json.dumps({"id": "x", "status": 200, "headers": []}).encode()
                    s.sendall(b"r" + struct.pack(">II", len(head), 1000) + head + b"x" * 500)
                    os._exit(0)
                elif how == "garbage":
                    s.sendall(b"hello, Gale\\n")
                elif how == "prefix-announcing-more":  # 1000 body bytes announced, 10 sent; the instance goes on
                    s.sendall(b"L" + struct.pack(">II", 2, 1000) + b"{}" + b"0123456789")
                elif how == "header-not-json":
                    s.sendall(frame(b"r", b"{not json"))
                elif how == "unknown-type":
                    s.sendall(frame(b"Z", {}))
                elif how == "oversized-part":
                    s.sendall(b"r" + struct.pack(">II", 0xFFFFFFF0, 0))
                return TAG
            """;

    @BeforeAll
    static void deployAFunctionThatKeepsWorking() {
        gale.deployActive("steady", gale.bundle("steady", "main.py", "def steady(request):\n    return 'steady'\n"));
    }

    // ---- 1. an instance that closes its socket in the middle of a call

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            close-all-descriptors | instance exited with code 1              | lost the connection to Gale
            shut-and-stay         | closed its connection to Gale but kept running | about to break: shut-and-stay
            exit-mid-response     | in the middle of a frame (550 of its 1050 bytes had arrived) | about to break: exit-mid-response
            """)
    void anInstanceThatCutsItsConnectionGets502NamingWhatHappenedAndIsReplaced(String how, String expected, String logged) {
        assertBreakingIsContained("cut-" + how.substring(0, 4), how, expected, logged);
    }

    // ---- 2. an instance that writes what is not a frame

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            garbage                | unknown frame type 0x68 ('h')
            prefix-announcing-more | bytes of a frame, then nothing for
            header-not-json        | frame header is not valid JSON
            unknown-type           | unknown frame type 0x5a ('Z')
            oversized-part         | frame part too large: header 4294967280 bytes
            """)
    void anInstanceThatWritesWhatIsNotAFrameGets502SayingItBrokeTheProtocolAndIsReplaced(String how, String expected) {
        assertBreakingIsContained("bad-" + how.substring(0, 4), how, expected, "about to break: " + how,
                "the instance broke Gale's protocol: ");
    }

    /** Deploys the breaker as {@code name}, breaks an instance the way {@code how} says, and checks the aftermath. */
    private static void assertBreakingIsContained(String name, String how, String expected, String logged, String... alsoExpected) {
        gale.deployActive(name, gale.bundle(name, "main.py", BREAKER), "entryPoint", "breaker", "timeout", "5s");
        String before = text(gale.get(name, ""));
        long pid = hostPid(before);

        var broken = gale.get(name, "?how=" + how);

        assertThat(broken.statusCode()).as(text(broken)).isEqualTo(502);
        assertThat(broken.headers().firstValue("X-Gale-Error")).hasValue("function");
        assertThat(error(broken)).contains("function '" + name + "' v1: ", expected, "gale logs " + name,
                "a new instance serves the next call");
        for (String fragment : alsoExpected) assertThat(error(broken)).contains(fragment);
        assertServerAnswers();
        var next = gale.get(name, "");
        assertThat(next.statusCode()).isEqualTo(200);
        assertThat(text(next)).as("served by a new instance").isNotEqualTo(before);
        awaitGone(List.of(pid));
        String requestId = broken.headers().firstValue("X-Gale-Request-Id").orElseThrow();
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(logs(name))
                .as("what the instance printed before it broke is kept")
                .anySatisfy(e -> assertThat(e.message()).contains(logged))
                .anySatisfy(e -> {
                    assertThat(e.requestId()).hasValue(requestId);
                    assertThat(e.message()).startsWith("instance stopped during this call: ");
                }));
    }

    // ---- 3. a zygote killed while it forks a burst of instances

    @ParameterizedTest(name = "sandbox {0}")
    @ValueSource(strings = {"on", "off"}) // sandboxed or not, the instances ask the kernel to die with their zygote
    void aZygoteKilledDuringABurstOfColdStartsFailsOnlyTheCallsItsInstancesWereRunningAndTheRestAreServed(String sandbox) throws Exception {
        String name = "burst-" + sandbox;
        gale.deployActive(name, gale.bundle(name, "main.py", """
                import secrets, time
                TAG = "gz-" + secrets.token_hex(5)
                with open("/proc/self/comm", "w") as comm:
                    comm.write(TAG)
                time.sleep(1)  # loading takes a while: the burst's instances are still starting when the zygote dies
                def burst(request):
                    time.sleep(float(request.args.get("s", "0")))
                    return TAG
                """), "entryPoint", "burst", "timeout", "60s", "maxInstances", 8, "sandbox", sandbox);
        ProcessHandle zygote = zygoteOf(name);
        long runningPid = hostPid(text(gale.get(name, ""))); // the deploy's instance, the only one: it takes the next call
        assertThat(ProcessHandle.of(runningPid).flatMap(ProcessHandle::parent).map(ProcessHandle::pid)).as("forked by the zygote")
                .hasValue(zygote.pid());
        var running = gale.client.callAsync(name, "GET", "?s=60", new byte[0], Map.of());
        await().atMost(HANG).until(() -> stats(name).busy() == 1);
        // The version's spare instance (forked ahead of demand) would serve the whole burst at once: it takes a call of its own.
        var alsoRunning = gale.client.callAsync(name, "GET", "?s=60", new byte[0], Map.of());
        await().atMost(HANG).until(() -> stats(name).busy() == 2);
        List<CompletableFuture<HttpResponse<byte[]>>> burst = new ArrayList<>();
        for (int i = 0; i < 5; i++) burst.add(gale.client.callAsync(name, "GET", "", new byte[0], Map.of()));
        await().atMost(HANG).until(() -> stats(name).starting() >= 3);
        List<Long> forked = zygote.descendants().map(ProcessHandle::pid).toList();

        new ProcessBuilder("kill", "-KILL", Long.toString(zygote.pid())).start().waitFor();

        var lost = running.get(HANG.toSeconds(), TimeUnit.SECONDS);
        assertThat(lost.statusCode()).as(text(lost)).isEqualTo(502);
        assertThat(lost.headers().firstValue("X-Gale-Error")).as("the zygote is Gale's, not the function's").hasValue("platform");
        assertThat(error(lost)).contains("function '" + name + "' v1: the zygote it was forked from was killed by signal 9, "
                + "and the instance with it", "the function is not at fault: retry the call");
        assertThat(alsoRunning.get(HANG.toSeconds(), TimeUnit.SECONDS).statusCode()).isEqualTo(502);
        for (var call : burst) {
            var served = call.get(HANG.toSeconds(), TimeUnit.SECONDS);
            assertThat(served.statusCode()).as("a call waiting for a cold start is served by a new instance: " + text(served))
                    .isEqualTo(200);
        }
        assertThat(forked).contains(runningPid);
        awaitGone(forked);
        assertServerAnswers();
        assertThat(gale.get(name, "").statusCode()).isEqualTo(200);
        // The calls above may all have been served by the fresh interpreter started when the fork failed;
        // one call more than there are instances makes the next instance start, from a new zygote.
        int warm = stats(name).instances() + stats(name).starting(); // one still loading would take the extra call
        List<CompletableFuture<HttpResponse<byte[]>>> more = new ArrayList<>();
        for (int i = 0; i <= warm; i++) more.add(gale.client.callAsync(name, "GET", "?s=1", new byte[0], Map.of()));
        for (var call : more) assertThat(call.get(HANG.toSeconds(), TimeUnit.SECONDS).statusCode()).isEqualTo(200);
        assertThat(zygoteOf(name).pid()).as("a new zygote forks the next instances").isNotEqualTo(zygote.pid());
    }

    private static gale.pool.PoolStats stats(String name) {
        return gale.server.registry().active(name).orElseThrow().pool().stats();
    }

    /** The zygote of a function (see {@link ZygoteProcesses}), once it runs. */
    private static ProcessHandle zygoteOf(String name) {
        return await().atMost(HANG).until(() -> ZygoteProcesses.versionZygoteOf(gale, name), Optional::isPresent).orElseThrow();
    }

    // ---- an instance that stops reading its socket

    @Test
    void anInstanceThatStopsReadingItsSocketCannotHoldACallPastItsTimeout() throws Exception {
        gale.deployActive("frozen", gale.bundle("frozen", "main.py", """
                import os, secrets, signal, threading
                TAG = "gf-" + secrets.token_hex(5)
                with open("/proc/self/comm", "w") as comm:
                    comm.write(TAG)
                def frozen(request):
                    if request.args.get("freeze"):  # after answering, the whole process stops: it reads nothing more
                        threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGSTOP)).start()
                    return TAG
                """), "timeout", "3s", "maxInstances", 1);
        String tag = text(gale.get("frozen", "?freeze=1"));
        long pid = hostPid(tag);
        await().atMost(HANG).until(() -> state(pid) == 'T');

        // More than a socket buffer holds, so sending it blocks until someone reads.
        var stuck = gale.client.callAsync("frozen", "POST", "", new byte[8 << 20], Map.of()).get(HANG.toSeconds(), TimeUnit.SECONDS);

        assertThat(stuck.statusCode()).as(text(stuck)).isEqualTo(504);
        assertThat(stuck.headers().firstValue("X-Gale-Error")).hasValue("function");
        assertThat(error(stuck)).contains("function 'frozen' v1 did not answer within its timeout of 3s; the instance was stopped");
        assertServerAnswers();
        var next = gale.get("frozen", "");
        assertThat(next.statusCode()).isEqualTo(200);
        assertThat(text(next)).isNotEqualTo(tag);
        awaitGone(List.of(pid));
    }

    private static char state(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            return stat.charAt(stat.lastIndexOf(')') + 2);
        } catch (IOException gone) {
            return 'X';
        }
    }

    // ---- a client that hangs up in the middle of a call

    @Test
    void aCallWhoseClientHangsUpRunsToItsEndIsRecordedAndItsInstanceServesTheNextCall() throws Exception {
        gale.deployActive("hangup", gale.bundle("hangup", "main.py", """
                import secrets, time
                TAG = "gh-" + secrets.token_hex(5)
                def hangup(request):
                    print("started", request.args.get("n"), flush=True)
                    time.sleep(float(request.args.get("s", "0")))
                    print("finished", request.args.get("n"), flush=True)
                    return TAG
                """));
        String tag = text(gale.get("hangup", ""));
        URI url = URI.create(gale.server.url());
        try (var socket = new java.net.Socket(url.getHost(), url.getPort())) {
            socket.getOutputStream().write(("GET /fn/hangup?n=gone&s=2 HTTP/1.1\r\nHost: " + url.getAuthority() + "\r\n\r\n")
                    .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            await().atMost(HANG).until(() -> logs("hangup").stream().anyMatch(e -> e.message().equals("started gone")));
        } // the client hangs up while the function runs

        await().atMost(HANG).until(() -> logs("hangup").stream().anyMatch(e -> e.message().equals("finished gone")));
        String requestId = logs("hangup").stream().filter(e -> e.message().equals("started gone")).findFirst()
                .flatMap(LogEntry::requestId).orElseThrow();
        await().atMost(HANG).untilAsserted(() -> assertThat(gale.client.invocation(requestId).outcome()).isEqualTo("ok"));
        assertServerAnswers();
        var next = gale.get("hangup", "");
        assertThat(next.statusCode()).isEqualTo(200);
        assertThat(text(next)).as("the instance was not stopped for a client's hang-up").isEqualTo(tag);
    }

    // ---- an instance that prints 100 MB

    @Test
    void anInstanceThatPrintsAHundredMegabytesStaysWithinItsMemoryAndEveryPieceIsStoredOrCounted() {
        gale.deployActive("chatty", gale.bundle("chatty", "main.py", """
                def chatty(request):
                    print("x" * (100 << 20))  # one line of 100 MB, from an instance limited to 256 MB
                    return "printed"
                """), "memory", "256MB", "timeout", "120s");

        var printed = gale.get("chatty", "");

        assertThat(printed.statusCode()).as(text(printed)).isEqualTo(200);
        assertThat(text(printed)).isEqualTo("printed");
        assertServerAnswers();
        int pieces = (100 << 20) / PIECE;
        await().atMost(HANG).untilAsserted(() -> {
            List<LogEntry> stdout = new ArrayList<>();
            long dropped = 0;
            long after = 0;
            for (List<LogEntry> page; !(page = gale.client.logs("chatty", after, 1000, 0).entries()).isEmpty(); after = page.getLast().seq()) {
                for (LogEntry e : page) {
                    if (e.stream().equals("stdout")) stdout.add(e);
                    var note = DROPPED.matcher(e.message());
                    if (e.stream().equals("gale") && note.find()) dropped += Long.parseLong(note.group(1));
                }
            }
            // Summaries, not the entries: a failure message must not hold 100 MB.
            assertThat(stdout.stream().map(e -> e.message().length()).distinct().toList()).as("lengths of the pieces")
                    .containsOnly(PIECE);
            assertThat(stdout.stream().filter(e -> e.message().chars().anyMatch(c -> c != 'x')).count()).as("pieces not all x").isZero();
            assertThat(stdout.size() + dropped).as("pieces stored, plus pieces counted as dropped").isEqualTo(pieces);
        });
    }

    /** The longest log line; longer ones are stored in pieces of this many characters. */
    private static final int PIECE = 16 * 1024;
    private static final java.util.regex.Pattern DROPPED = java.util.regex.Pattern.compile("^(\\d+) lines? of output (?:was|were) dropped");

    // ---- helpers

    /** /healthz and another function answer. */
    private static void assertServerAnswers() {
        try (HttpClient http = HttpClient.newHttpClient()) {
            var health = http.send(HttpRequest.newBuilder(URI.create(gale.server.url() + "/healthz")).timeout(HANG).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(health.statusCode()).isEqualTo(200);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
        assertThat(text(gale.get("steady", ""))).isEqualTo("steady");
    }

    private static String error(HttpResponse<byte[]> response) {
        try {
            return JSON.readTree(response.body()).path("error").asText();
        } catch (IOException e) {
            throw new AssertionError("not Gale's JSON error: " + text(response), e);
        }
    }

    private static List<LogEntry> logs(String name) {
        return gale.client.logs(name, 0, 10_000, 0).entries();
    }

    /** The host pid of the process that named itself {@code tag} (see {@link #BREAKER}). */
    static long hostPid(String tag) {
        return ProcessHandle.current().descendants()
                .filter(p -> tag.equals(comm(p.pid()).orElse("")))
                .findFirst().orElseThrow(() -> new AssertionError("no process named " + tag)).pid();
    }

    static Optional<String> comm(long pid) {
        try {
            return Optional.of(Files.readString(Path.of("/proc", Long.toString(pid), "comm")).strip());
        } catch (IOException gone) {
            return Optional.empty();
        }
    }

    static void awaitGone(List<Long> pids) {
        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(pids.stream().filter(ProcessTree::isRunning).toList())
                .as("processes still running").isEmpty());
    }
}
