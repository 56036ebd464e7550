package gale.e2e;

import gale.runtime.Isolation;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;

import static gale.e2e.GaleHarness.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Isolation through the gateway: real functions try to break out and fail. Each probe
 * runs as a forked instance of its version's zygote (the default), so the zygote's
 * sandbox and the cgroup hand-over are what is tested.
 */
class SandboxTest extends GaleE2E {

    /** A Cloud Functions-style probe: ?op=read|write|connect|list&path=...&port=... answers "ok ..." or "error ...". */
    private static final String PROBE = """
            import os, socket

            def probe(request):
                op, path = request.args.get("op"), request.args.get("path", "")
                try:
                    if op == "read":
                        with open(path, "rb") as f:
                            return "ok " + f.read(200).decode(errors="replace")
                    if op == "write":
                        with open(path, "a") as f:
                            f.write("x")
                        return "ok"
                    if op == "connect":
                        socket.create_connection(("127.0.0.1", int(request.args["port"])), timeout=3).close()
                        return "ok"
                    if op == "list":
                        return "ok " + " ".join(sorted(os.listdir(path)))
                    if op == "session":  # 0: the session's leader is outside the sandbox's PID namespace
                        return "ok " + str(os.getsid(0))
                    if op == "whoami":
                        return "ok " + os.environ["TMPDIR"] + " " + os.path.abspath(".")
                except Exception as e:
                    return "error " + type(e).__name__ + ": " + str(e)
                return "error unknown op"
            """;

    static int port;

    private static String probe(String function, String op, String path) {
        return gale.probe(function, op, path, "&port=" + port);
    }

    @BeforeAll
    static void deployProbes() {
        Isolation isolation = Isolation.probe("gale-test");
        assumeTrue(isolation.sandboxAvailable(), "bubblewrap is not installed (apt-get install bubblewrap)");
        gale.deployActive("probe", gale.bundle("probe", "main.py", PROBE));
        gale.deployActive("offline", gale.bundle("offline", "main.py", PROBE.replace("def probe", "def offline")),
                "network", "none");
        gale.deployActive("secretive", gale.bundle("secretive", "main.py", "def secretive(request):\n    return 'hi'\n",
                "secret.txt", "the other function's secret"));
        port = URI.create(gale.server.url()).getPort();
    }

    @Test
    void aFunctionCannotWriteToItsBundleButCanWriteToTmp() throws IOException {
        String self = probe("probe", "whoami", "");
        String bundle = self.split(" ")[2];
        String tmpdir = self.split(" ")[1];

        assertThat(probe("probe", "write", bundle + "/main.py")).startsWith("error OSError").contains("Read-only file system");
        assertThat(probe("probe", "write", bundle + "/new-file.txt")).startsWith("error OSError").contains("Read-only file system");
        assertThat(probe("probe", "write", "/tmp/scratch.txt")).isEqualTo("ok");
        assertThat(probe("probe", "write", tmpdir + "/scratch.txt")).isEqualTo("ok");
        assertThat(probe("probe", "write", "/usr/lib/gale-was-here")).startsWith("error");
        assertThat(Files.readString(gale.bundleFile("probe", "main.py"))).isEqualTo(PROBE);
    }

    @Test
    void aFunctionCannotReadAnotherFunctionsFiles() throws IOException {
        Path secret = gale.bundleFile("secretive", "secret.txt");
        assertThat(Files.readString(secret)).isEqualTo("the other function's secret"); // it is there, on the host

        assertThat(probe("probe", "read", secret.toString())).startsWith("error FileNotFoundError");
        // Its own bundle is at /var/task (its working directory): of the data dir's layout, nothing is visible.
        assertThat(probe("probe", "list", gale.dataDir.resolve("functions").toString())).startsWith("error FileNotFoundError");
        assertThat(probe("probe", "whoami", "").split(" ")[2]).isEqualTo("/var/task");
    }

    @Test
    void aFunctionCannotReadTheAdminTokenNorReachTheHostThroughProc() throws IOException {
        Path token = gale.dataDir.resolve("admin-token");
        assertThat(Files.exists(token)).isTrue();

        assertThat(probe("probe", "read", token.toString())).startsWith("error FileNotFoundError");
        assertThat(probe("probe", "read", "/proc/1/root" + token)).startsWith("error");
        assertThat(probe("probe", "read", "/etc/shadow")).doesNotContain("root:");
        // Only the sandbox's own processes are visible: not the JVM, not other functions.
        String pids = probe("probe", "list", "/proc");
        assertThat(pids).doesNotContain(" " + ProcessHandle.current().pid() + " ");
    }

    @Test
    void aKilledSandboxedZygoteIsRebuiltAndTheFunctionKeepsServing() throws IOException {
        gale.deployActive("phoenix", gale.bundle("phoenix", "main.py", "import os\ndef phoenix(request):\n    return str(os.getpid())\n"));
        assertThat(gale.get("phoenix", "").statusCode()).isEqualTo(200);
        long zygote = zygoteOf("phoenix");

        ProcessHandle.of(zygote).orElseThrow().destroyForcibly();

        // Its instances lived in its PID namespace and went with it; the next call gets a new zygote and instance.
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(gale.get("phoenix", "").statusCode()).isEqualTo(200));
        assertThat(zygoteOf("phoenix")).isNotEqualTo(zygote);
    }

    /** The host pid of the function's zygote (see {@link ZygoteProcesses}). */
    private static long zygoteOf(String function) {
        return ZygoteProcesses.versionZygoteOf(gale, function).map(ProcessHandle::pid)
                .orElseThrow(() -> new AssertionError("no zygote for " + function));
    }

    @Test
    void aFunctionRunsInASessionOfItsOwnSoItCannotReachTheServersTerminal() {
        // With the server's session (and so its terminal, when started from a shell), TIOCSTI could type into that shell.
        assertThat(probe("probe", "session", "")).startsWith("ok ").isNotEqualTo("ok 0");
        assertThat(probe("probe", "read", "/dev/tty")).startsWith("error");
    }

    @Test
    void networkNoneLeavesAFunctionWithoutNetworkWhileOthersHaveIt() {
        assertThat(probe("probe", "connect", "")).isEqualTo("ok");

        assertThat(probe("offline", "connect", "")).startsWith("error");
    }

    @Test
    void theKernelEnforcesTheMemoryLimitOfAForkedInstance() {
        assumeTrue(Isolation.probe("gale-test").cgroupMode() != Isolation.CgroupMode.NONE, "this host gives no cgroups (not root?)");
        // Allocates and answers at once: only the kernel, not a watchdog polling RSS, can stop this.
        gale.deployActive("greedy", gale.bundle("greedy", "main.py", """
                def greedy(request):
                    block = bytearray(300 * 1024 * 1024)
                    for i in range(0, len(block), 4096):
                        block[i] = 1
                    return str(len(block))
                """), "memory", "96MB");

        var response = gale.get("greedy", "");

        assertThat(response.statusCode()).as(text(response)).isEqualTo(502);
        assertThat(text(response)).contains("memory limit exceeded (96 MB)");
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(gale.client.invocations("greedy", 10))
                .anySatisfy(i -> assertThat(i.outcome()).isEqualTo("memory")));
    }

    @Test
    void cpuSetsTheInstancesShareInItsCgroup() throws IOException {
        Isolation isolation = Isolation.probe("gale-test");
        assumeTrue(isolation.cgroupMode() != Isolation.CgroupMode.NONE, "this host gives no cgroups (not root?)");
        gale.deployActive("half", gale.bundle("half", "main.py", "def half(request):\n    return 'ok'\n"), "cpu", 0.5);
        assertThat(gale.get("half", "").statusCode()).isEqualTo(200);

        List<Path> candidates = isolation.cgroupMode() == Isolation.CgroupMode.V2
                ? List.of(Path.of("/sys/fs/cgroup/gale"))
                : List.of(Path.of("/sys/fs/cgroup/cpu/gale"));
        String file = isolation.cgroupMode() == Isolation.CgroupMode.V2 ? "cpu.weight" : "cpu.shares";
        String expected = isolation.cgroupMode() == Isolation.CgroupMode.V2 ? "50" : "512";
        try (Stream<Path> dirs = Files.list(candidates.getFirst()).flatMap(SandboxTest::children)) { // gale/NODE/INSTANCE
            Path dir = dirs.filter(d -> d.getFileName().toString().startsWith("half-")).findFirst().orElseThrow();
            assertThat(Files.readString(dir.resolve(file)).strip()).isEqualTo(expected);
        }
    }

    private static Stream<Path> children(Path dir) {
        try {
            return Files.isDirectory(dir) ? Files.list(dir).toList().stream() : Stream.empty();
        } catch (IOException e) {
            return Stream.empty();
        }
    }
}
