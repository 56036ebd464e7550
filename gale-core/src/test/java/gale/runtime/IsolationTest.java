package gale.runtime;

import gale.config.ConfigResolver;
import gale.config.FunctionConfig;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The isolation primitives against the real kernel. On CI (root on Debian, bubblewrap
 * installed by ./run-tests) both are available, so nothing here is skipped there.
 */
class IsolationTest {

    static Isolation isolation;
    static final String PYTHON = Files.isExecutable(Path.of("/usr/bin/python3")) ? "/usr/bin/python3" : "python3";

    @TempDir
    Path tmp;

    @BeforeAll
    static void probe() {
        isolation = Isolation.probe("gale-isolation-test");
    }

    record Run(int exit, String output) {
    }

    private static Run run(List<String> command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        return new Run(p.exitValue(), out);
    }

    private static FunctionConfig config(String memory) {
        return ConfigResolver.fromMap("fn", Map.of("memory", memory));
    }

    @Test
    void closingRemovesTheServersParentCgroupsOnceItsInstancesCgroupsAreGone() throws Exception {
        assumeTrue(isolation.cgroupMode() != Isolation.CgroupMode.NONE, "this host gives no cgroups (not root?)");
        String node = "gale-close-test-" + System.nanoTime();
        Isolation own = Isolation.probe(node);
        var busy = own.createCgroup("still-running", config("64MB")).orElseThrow();
        var done = own.createCgroup("exited", config("64MB")).orElseThrow(); // its instance exited, its removal is late
        Path memoryRoot = busy.dirs().getFirst().getParent();
        assertThat(memoryRoot.getFileName()).hasToString(node);
        List<String> command = new ArrayList<>(busy.joinCommand());
        command.addAll(List.of("sleep", "60"));
        Process running = new ProcessBuilder(command).start();
        try {
            org.awaitility.Awaitility.await().until(() -> !Files.readString(busy.dirs().getFirst().resolve("cgroup.procs")).isBlank());

            own.close(); // a process still runs in one: that one and the parent stay, for the next start's reaping
            assertThat(memoryRoot).isDirectory();
            assertThat(busy.dirs().getFirst()).isDirectory();
            for (Path dir : done.dirs()) assertThat(dir).doesNotExist();
        } finally {
            running.destroyForcibly().waitFor();
        }

        own.close();
        assertThat(memoryRoot).doesNotExist();
        for (Path dir : busy.dirs()) assertThat(dir.getParent()).doesNotExist();
    }

    @Test
    void aProcessOverItsCgroupMemoryLimitIsKilledByTheKernel() throws Exception {
        assumeTrue(isolation.cgroupMode() != Isolation.CgroupMode.NONE, "this host gives no cgroups (not root?)");
        var cgroup = isolation.createCgroup("test-" + System.nanoTime(), config("64MB")).orElseThrow();
        try {
            List<String> command = new ArrayList<>(cgroup.joinCommand());
            command.addAll(List.of(PYTHON, "-c", "b = bytearray(300 * 1024 * 1024); print('survived')"));

            Run run = run(command);

            assertThat(run.output()).doesNotContain("survived");
            assertThat(run.exit()).isNotZero();
            assertThat(cgroup.oomKilled()).isTrue();
        } finally {
            cgroup.remove();
        }
    }

    @Test
    void aProcessWithinItsLimitRunsNormally() throws Exception {
        assumeTrue(isolation.cgroupMode() != Isolation.CgroupMode.NONE, "this host gives no cgroups (not root?)");
        var cgroup = isolation.createCgroup("test-" + System.nanoTime(), config("256MB")).orElseThrow();
        try {
            List<String> command = new ArrayList<>(cgroup.joinCommand());
            command.addAll(List.of(PYTHON, "-c", "b = bytearray(16 * 1024 * 1024); print('fine')"));

            Run run = run(command);

            assertThat(run.output().trim()).isEqualTo("fine");
            assertThat(cgroup.oomKilled()).isFalse();
        } finally {
            cgroup.remove();
        }
    }

    @Test
    void theSandboxShowsTheBundleReadOnlyHidesOtherFilesAndGivesAPrivateTmp() throws Exception {
        assumeTrue(isolation.sandboxAvailable(), "bubblewrap is not installed");
        Path bundle = Files.createDirectories(tmp.resolve("bundle"));
        Files.writeString(bundle.resolve("main.py"), "x = 1\n");
        Path secret = Files.writeString(Files.createDirectories(tmp.resolve("data")).resolve("admin-token"), "gale_secret\n");
        Files.writeString(Path.of("/tmp").resolve("gale-host-file-" + ProcessHandle.current().pid()), "host");
        String probe = String.join("\n",
                "import os",
                "def attempt(f):",
                "    try:",
                "        f(); return 'yes'",
                "    except OSError as e:",
                "        return 'no'",
                "print('read-bundle', attempt(lambda: open('main.py').read()))",
                "print('write-bundle', attempt(lambda: open('new.py', 'w').write('x')))",
                "print('read-secret', attempt(lambda: open('" + secret + "').read()))",
                "print('write-tmp', attempt(lambda: open('/tmp/scratch', 'w').write('x')))",
                "print('host-tmp-visible', os.path.exists('/tmp/gale-host-file-" + ProcessHandle.current().pid() + "'))",
                "print('cwd', os.getcwd())",
                "print('host-bundle-path-visible', os.path.exists('" + bundle + "'))");
        List<String> command = new ArrayList<>(isolation.sandboxCommand(bundle, Set.of(), Set.of(), true));
        command.addAll(List.of(PYTHON, "-c", probe));

        Run run = run(command);

        assertThat(run.output()).contains("read-bundle yes").contains("write-bundle no").contains("read-secret no")
                .contains("write-tmp yes").contains("host-tmp-visible False")
                .contains("cwd /var/task").contains("host-bundle-path-visible False"); // no trace of the host's layout
    }

    @Test
    void networkNoneRemovesNetworkAccess() throws Exception {
        assumeTrue(isolation.sandboxAvailable(), "bubblewrap is not installed");
        try (ServerSocket listening = new ServerSocket(0)) {
            String connect = "import socket\ntry:\n    socket.create_connection(('127.0.0.1', " + listening.getLocalPort()
                    + "), timeout=2); print('connected')\nexcept OSError as e:\n    print('refused')";
            List<String> with = new ArrayList<>(isolation.sandboxCommand(tmp, Set.of(), Set.of(), true));
            with.addAll(List.of(PYTHON, "-c", connect));
            List<String> without = new ArrayList<>(isolation.sandboxCommand(tmp, Set.of(), Set.of(), false));
            without.addAll(List.of(PYTHON, "-c", connect));

            assertThat(run(with).output()).contains("connected");
            assertThat(run(without).output()).contains("refused");
        }
    }
}
