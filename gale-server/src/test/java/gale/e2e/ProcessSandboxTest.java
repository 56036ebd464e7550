package gale.e2e;

import gale.client.Version;
import gale.runtime.Isolation;
import gale.server.ServerConfig;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.stream.Stream;

import static gale.e2e.GaleHarness.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The process runtime's isolation through the gateway, as SandboxTest does for Python: a
 * command serving HTTP (a standard-library Python server) tries to break out and fails.
 * The sandbox keeps the host's network, since Gale reaches the command over TCP on
 * 127.0.0.1, so network none is refused at deploy.
 */
class ProcessSandboxTest extends GaleE2E {

    private static final String PYTHON = ServerConfig.defaultPython().toString();

    /** ?op=read|write|list|whoami|hog&path=... answers 200 "ok ..." or "error ..."; hog allocates 300 MB in the server itself. */
    private static final String PROBE = """
            import os
            from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
            from urllib.parse import urlsplit, parse_qs

            def probe(op, path):
                try:
                    if op == "read":
                        with open(path, "rb") as f:
                            return "ok " + f.read(200).decode(errors="replace")
                    if op == "write":
                        with open(path, "a") as f:
                            f.write("x")
                        return "ok"
                    if op == "list":
                        return "ok " + " ".join(sorted(os.listdir(path)))
                    if op == "whoami":
                        return "ok " + os.environ["TMPDIR"] + " " + os.path.abspath(".")
                    if op == "hog":
                        block = bytearray(300 * 1024 * 1024)
                        for i in range(0, len(block), 4096):
                            block[i] = 1
                        return "ok " + str(len(block))
                except Exception as e:
                    return "error " + type(e).__name__ + ": " + str(e)
                return "error unknown op"

            class Handler(BaseHTTPRequestHandler):
                def do_GET(self):
                    query = parse_qs(urlsplit(self.path).query)
                    body = probe(query.get("op", [""])[0], query.get("path", [""])[0]).encode()
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

                def log_message(self, fmt, *args):
                    pass

            ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
            """;

    private static String probe(String function, String op, String path) {
        return gale.probe(function, op, path, "");
    }

    @BeforeAll
    static void deployProbes() {
        assumeTrue(Isolation.probe("gale-test").sandboxAvailable(), "bubblewrap is not installed (apt-get install bubblewrap)");
        deployProbe("probe");
        deployProbe("secretive", "secret.txt", "the other function's secret");
    }

    /** Deploys PROBE as a process function; {@code moreFiles} are pairs of path and content. */
    private static void deployProbe(String name, String... moreFiles) {
        String[] files = Stream.concat(Stream.of("server.py", PROBE), Stream.of(moreFiles)).toArray(String[]::new);
        gale.deployActive(name, gale.bundle(name, files), "runtime", "process", "command", PYTHON + " server.py");
    }

    @Test
    void aCommandCannotWriteToItsBundleButCanWriteToTmpAndItsScratchFolder() throws IOException {
        String self = probe("probe", "whoami", "");
        String tmpdir = self.split(" ")[1];
        String bundle = self.split(" ")[2];

        assertThat(probe("probe", "write", bundle + "/server.py")).startsWith("error OSError").contains("Read-only file system");
        assertThat(probe("probe", "write", bundle + "/new-file.txt")).startsWith("error OSError").contains("Read-only file system");
        assertThat(probe("probe", "write", "/tmp/scratch.txt")).isEqualTo("ok");
        assertThat(probe("probe", "write", tmpdir + "/scratch.txt")).isEqualTo("ok");
        assertThat(probe("probe", "write", "/usr/lib/gale-was-here")).startsWith("error");
        assertThat(Files.readString(gale.bundleFile("probe", "server.py"))).isEqualTo(PROBE);
    }

    @Test
    void aCommandCannotReadTheAdminTokenNorAnotherFunctionsFiles() throws IOException {
        Path token = gale.dataDir.resolve("admin-token");
        Path secret = gale.bundleFile("secretive", "secret.txt");
        assertThat(token).exists();
        assertThat(Files.readString(secret)).isEqualTo("the other function's secret"); // there, on the host

        assertThat(probe("probe", "read", token.toString())).startsWith("error FileNotFoundError");
        assertThat(probe("probe", "read", secret.toString())).startsWith("error FileNotFoundError");
        assertThat(probe("probe", "read", "/proc/1/root" + token)).startsWith("error");
        // Its own bundle is at /var/task: of the data dir's layout, nothing is visible.
        assertThat(probe("probe", "list", gale.dataDir.resolve("functions").toString())).startsWith("error FileNotFoundError");
        assertThat(probe("probe", "list", "/var/task")).contains("server.py");
    }

    @Test
    void aCommandSeesOnlyTheProcessesOfItsOwnSandbox() {
        String pids = probe("probe", "list", "/proc");

        assertThat(pids).doesNotContain(" " + ProcessHandle.current().pid() + " ");
    }

    @Test
    void networkNoneFailsTheDeployBecauseGaleReachesTheCommandOverLoopbackTcp() {
        Version v = gale.deploy("offline", gale.bundle("offline", "server.py", PROBE),
                "runtime", "process", "command", PYTHON + " server.py", "network", "none");

        assertThat(v.state().name()).isEqualTo("FAILED");
        assertThat(v.reason()).hasValueSatisfying(r -> assertThat(r)
                .contains("the process runtime is reached over TCP on 127.0.0.1; network none is not possible")
                .contains("--network all"));
    }

    @Test
    void theKernelEnforcesTheMemoryLimitAndTheCallGets502SayingSo() {
        assumeTrue(Isolation.probe("gale-test").cgroupMode() != Isolation.CgroupMode.NONE, "this host gives no cgroups (not root?)");
        gale.deployActive("greedy", gale.bundle("greedy", "server.py", PROBE),
                "runtime", "process", "command", PYTHON + " server.py", "memory", "96MB");

        var response = gale.get("greedy", "?op=hog");

        assertThat(response.statusCode()).as(text(response)).isEqualTo(502);
        assertThat(text(response)).contains("memory limit exceeded (96 MB)");
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(gale.client.invocations("greedy", 10))
                .anySatisfy(i -> assertThat(i.outcome()).isEqualTo("memory")));
        assertThat(probe("greedy", "whoami", "")).startsWith("ok "); // a new instance serves
    }

    @Test
    void cpuAndMemoryAreSetInTheInstancesCgroup() throws IOException {
        Isolation isolation = Isolation.probe("gale-test");
        assumeTrue(isolation.cgroupMode() != Isolation.CgroupMode.NONE, "this host gives no cgroups (not root?)");
        gale.deployActive("half", gale.bundle("half", "server.py", PROBE),
                "runtime", "process", "command", PYTHON + " server.py", "cpu", 0.5, "memory", "160MB");

        String instance = probe("half", "whoami", "").split(" ")[1].replaceAll(".*/", ""); // TMPDIR ends in the instance id

        assertThat(Cgroups.cpuShare(isolation, instance)).isEqualTo(isolation.cgroupMode() == Isolation.CgroupMode.V2 ? 50 : 512);
        assertThat(Cgroups.memoryLimit(isolation, instance)).isEqualTo(160L << 20);
    }

    @Test
    void aProgramNamedByAbsolutePathIsVisibleWithItsInstallationReadOnly() throws IOException {
        Path tools = installServe(gale.work.resolve("tools"));

        gale.deployActive("tooled", gale.bundle("tooled", "README", "served by " + tools),
                "runtime", "process", "command", tools.resolve("bin/serve") + " --quiet");

        assertThat(probe("tooled", "read", tools.resolve("share/server.py").toString())).startsWith("ok import os");
        assertThat(probe("tooled", "write", tools.resolve("share/server.py").toString())).contains("Read-only file system");
    }

    @Test
    void aProgramWhoseInstallationHoldsGalesDataDirStaysInvisible() throws IOException {
        Path home = gale.dataDir.getParent(); // its bin/serve makes it an installation, and it holds data/admin-token
        installServe(home);

        Version v = gale.deploy("homebrew", gale.bundle("homebrew", "README", "x"),
                "runtime", "process", "command", home.resolve("bin/serve").toString());

        assertThat(v.state().name()).isEqualTo("FAILED");
        assertThat(v.reason()).hasValueSatisfying(r -> assertThat(r).contains("exited with code 127")
                .contains("name a program installed elsewhere by its absolute path, or deploy with --sandbox off"));
    }

    /** An "installation" outside the system folders: prefix/bin/serve starts PROBE from prefix/share. */
    private static Path installServe(Path prefix) throws IOException {
        Files.createDirectories(prefix.resolve("bin"));
        Files.createDirectories(prefix.resolve("share"));
        Files.writeString(prefix.resolve("share/server.py"), PROBE);
        Path serve = prefix.resolve("bin/serve");
        Files.writeString(serve, "#!/bin/sh\nexec " + PYTHON + " \"$(dirname \"$0\")/../share/server.py\"\n");
        Files.setPosixFilePermissions(serve, PosixFilePermissions.fromString("rwxr-xr-x"));
        return prefix;
    }

    @Test
    void sandboxOffRunsTheCommandWithTheHostsView() {
        gale.deployActive("unboxed", gale.bundle("unboxed", "server.py", PROBE),
                "runtime", "process", "command", PYTHON + " server.py", "sandbox", "off");

        assertThat(probe("unboxed", "list", "/proc")).contains(" " + ProcessHandle.current().pid() + " ");
    }
}
