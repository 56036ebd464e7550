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
import java.util.Map;
import java.util.stream.Stream;

import static gale.e2e.GaleHarness.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Java functions' isolation through the gateway, as SandboxTest does for Python: a real JVM
 * instance tries to break out and fails. The JVM talks to Gale over the UNIX socket only, so
 * it serves with network none too.
 */
class JavaSandboxTest extends GaleE2E {

    /** ?op=read|write|connect|list|whoami&path=...&port=... answers "ok ..." or "error ...". */
    private static final String PROBE = """
            package probe;

            import gale.api.HttpFunction;
            import gale.api.Request;
            import gale.api.Response;
            import java.net.InetSocketAddress;
            import java.net.Socket;
            import java.nio.file.Files;
            import java.nio.file.Path;
            import java.nio.file.StandardOpenOption;
            import java.util.stream.Collectors;
            import java.util.stream.Stream;

            public class Probe implements HttpFunction {
                public void handle(Request req, Response res) {
                    Path path = Path.of(req.query("path").orElse("."));
                    try {
                        res.send(switch (req.query("op").orElse("")) {
                            case "read" -> "ok " + new String(Files.readAllBytes(path));
                            case "write" -> {
                                Files.writeString(path, "x", StandardOpenOption.CREATE, StandardOpenOption.APPEND);
                                yield "ok";
                            }
                            case "connect" -> {
                                try (Socket socket = new Socket()) {
                                    socket.connect(new InetSocketAddress("127.0.0.1", Integer.parseInt(req.query("port").orElseThrow())), 3000);
                                }
                                yield "ok";
                            }
                            case "list" -> {
                                try (Stream<Path> files = Files.list(path)) {
                                    yield "ok " + files.map(p -> p.getFileName().toString()).sorted().collect(Collectors.joining(" "));
                                }
                            }
                            case "whoami" -> "ok " + System.getProperty("java.io.tmpdir") + " " + Path.of("").toAbsolutePath();
                            default -> "error unknown op";
                        });
                    } catch (Exception e) {
                        res.send("error " + e.getClass().getSimpleName() + ": " + e.getMessage());
                    }
                }
            }
            """;

    static int port;

    private static String probe(String function, String op, String path) {
        return gale.probe(function, op, path, "&port=" + port);
    }

    @BeforeAll
    static void deployProbes() {
        assumeTrue(Isolation.probe("gale-test").sandboxAvailable(), "bubblewrap is not installed (apt-get install bubblewrap)");
        gale.deployActive("probe-java", JavaBundles.jarBundle(gale, "probe-java", Map.of("probe/Probe.java", PROBE)),
                "runtime", "java21", "entryPoint", "probe.Probe");
        gale.deployActive("offline-java", JavaBundles.jarBundle(gale, "offline-java", Map.of("probe/Probe.java", PROBE)),
                "runtime", "java21", "entryPoint", "probe.Probe", "network", "none");
        gale.deployActive("secretive", gale.bundle("secretive", "main.py", "def secretive(request):\n    return 'hi'\n",
                "secret.txt", "the other function's secret"));
        port = URI.create(gale.server.url()).getPort();
    }

    private static List<Path> filesEndingIn(Path dir, String... endings) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(f -> Stream.of(endings).anyMatch(f.getFileName().toString()::endsWith)).toList();
        }
    }

    @Test
    void aJavaFunctionCannotWriteToItsBundleNorItsJarsButCanWriteToTmpAndItsScratchFolder() throws IOException {
        String self = probe("probe-java", "whoami", "");
        String tmpdir = self.split(" ")[1];
        String bundle = self.split(" ")[2];
        byte[] jar = Files.readAllBytes(gale.versionDir("probe-java").resolve("bundle/app.jar"));

        assertThat(bundle).isEqualTo("/var/task"); // the bundle, where a sandboxed function finds it (as on Lambda)
        assertThat(probe("probe-java", "write", bundle + "/app.jar")).startsWith("error FileSystemException")
                .contains("Read-only file system");
        assertThat(probe("probe-java", "write", bundle + "/new-file.txt")).contains("Read-only file system");
        assertThat(probe("probe-java", "write", gale.versionDir("probe-java").resolve("java/classpath.txt").toString()))
                .contains("Read-only file system");
        assertThat(probe("probe-java", "write", gale.dataDir.resolve("runtime/java/gale-api.jar").toString()))
                .contains("Read-only file system");
        assertThat(probe("probe-java", "write", "/tmp/scratch.txt")).isEqualTo("ok");
        assertThat(probe("probe-java", "write", tmpdir + "/scratch.txt")).isEqualTo("ok");
        assertThat(Files.readAllBytes(gale.versionDir("probe-java").resolve("bundle/app.jar"))).isEqualTo(jar);
    }

    @Test
    void aJavaFunctionCannotReadTheAdminTokenNorAnotherFunctionsFiles() throws IOException {
        Path token = gale.dataDir.resolve("admin-token");
        Path secret = gale.versionDir("secretive").resolve("bundle/secret.txt");
        assertThat(token).exists();
        assertThat(Files.readString(secret)).isEqualTo("the other function's secret"); // there, on the host

        assertThat(probe("probe-java", "read", token.toString())).startsWith("error NoSuchFileException");
        assertThat(probe("probe-java", "read", secret.toString())).startsWith("error NoSuchFileException");
        assertThat(probe("probe-java", "read", "/proc/1/root" + token)).startsWith("error");
        assertThat(probe("probe-java", "list", gale.dataDir.resolve("functions").toString())).isEqualTo("ok probe-java");
        assertThat(probe("probe-java", "list", gale.dataDir.toString())).doesNotContain("admin-token").doesNotContain("gale.db");
        assertThat(probe("probe-java", "list", "/proc")).doesNotContain(" " + ProcessHandle.current().pid() + " ");
    }

    @Test
    void networkNoneLeavesAJavaFunctionWithoutNetworkButServingOverItsSocket() {
        assertThat(probe("probe-java", "connect", "")).isEqualTo("ok");

        assertThat(probe("offline-java", "connect", "")).startsWith("error");
        assertThat(probe("offline-java", "whoami", "")).startsWith("ok ");
    }

    @Test
    void theTrainingRunOfTheClassDataArchiveRunsInTheSandboxAndItsArchiveIsKept() throws IOException {
        Path javaDir = gale.versionDir("probe-java").resolve("java");
        await().atMost(Duration.ofSeconds(60)).until(() -> !filesEndingIn(javaDir, ".aot", ".jsa", ".failed").isEmpty());

        Path log = filesEndingIn(javaDir, ".log").getFirst(); // the training run's command and output
        assertThat(Files.readString(log).lines().findFirst().orElseThrow()).startsWith("$ bwrap ").contains(" --train");
        assertThat(filesEndingIn(javaDir, ".aot", ".jsa")).hasSize(1);
        assertThat(filesEndingIn(javaDir, ".failed")).isEmpty();
    }

    @Test
    void aJvmRunsInACgroupWithTheFunctionsMemoryLimitAndCpuShare() throws IOException {
        Isolation isolation = Isolation.probe("gale-test");
        assumeTrue(isolation.cgroupMode() != Isolation.CgroupMode.NONE, "this host gives no cgroups (not root?)");
        gale.deployActive("half-java", JavaBundles.jarBundle(gale, "half-java", Map.of("probe/Probe.java", PROBE)),
                "runtime", "java21", "entryPoint", "probe.Probe", "cpu", 0.5, "memory", "192MB");

        String instance = probe("half-java", "whoami", "").split(" ")[1].replaceAll(".*/", ""); // its scratch folder is named after it

        assertThat(Cgroups.cpuShare(isolation, instance)).isEqualTo(isolation.cgroupMode() == Isolation.CgroupMode.V2 ? 50 : 512);
        assertThat(Cgroups.memoryLimit(isolation, instance)).isEqualTo(192L << 20);
    }
}
