package gale.runtime.python;

import gale.runtime.ProcessLauncher;
import gale.runtime.ProcessTree;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A process that holds a version's bubblewrap sandbox open (its mount, PID, IPC, UTS, cgroup
 * and network namespaces) so that a zygote forked by the {@link BaseZygote} can enter it: a
 * {@code sleep} inside the sandbox, doing nothing for as long as the version's zygote lives.
 * Closing it ends the sandbox, and everything still inside with it.
 */
final class SandboxAnchor implements AutoCloseable {

    private static final Duration APPEAR_WITHIN = Duration.ofSeconds(10);

    private final Process bubblewrap;
    private final long pid;

    private SandboxAnchor(Process bubblewrap, long pid) {
        this.bubblewrap = bubblewrap;
        this.pid = pid;
    }

    /**
     * Starts the sandbox {@code sandboxCommand} describes (bubblewrap and its options, ending
     * with {@code --}) around a {@code sleep}, and waits until that runs inside.
     */
    static SandboxAnchor start(List<String> sandboxCommand, Map<String, String> env) throws IOException {
        List<String> command = new ArrayList<>(sandboxCommand);
        command.addAll(List.of(sleep(), "infinity"));
        ProcessBuilder pb = new ProcessBuilder(command)
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectError(ProcessBuilder.Redirect.DISCARD);
        pb.environment().clear();
        pb.environment().putAll(env);
        Process bubblewrap = ProcessLauncher.start(pb);
        long deadline = System.nanoTime() + APPEAR_WITHIN.toNanos();
        while (System.nanoTime() < deadline && bubblewrap.isAlive()) {
            for (long pid : ProcessTree.descendants(bubblewrap.pid())) {
                if (isSleep(pid)) return new SandboxAnchor(bubblewrap, pid);
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        bubblewrap.destroyForcibly();
        throw new IOException(bubblewrap.isAlive() ? "the sandbox did not start within " + APPEAR_WITHIN.toSeconds() + " s"
                : "the sandbox ended at once (bubblewrap exit code " + bubblewrap.onExit().join().exitValue() + ")");
    }

    /** The anchor's pid on the host: /proc/PID/ns/* are the sandbox's namespaces. */
    long pid() {
        return pid;
    }

    /** Ends the sandbox and whatever still runs in it. */
    @Override
    public void close() {
        bubblewrap.destroyForcibly();
    }

    private static boolean isSleep(long pid) {
        try {
            String cmdline = new String(Files.readAllBytes(Path.of("/proc", Long.toString(pid), "cmdline")), StandardCharsets.UTF_8);
            return cmdline.startsWith(sleep() + "\0") || cmdline.startsWith("sleep\0");
        } catch (IOException e) {
            return false;
        }
    }

    private static String sleep() {
        return Files.isExecutable(Path.of("/usr/bin/sleep")) ? "/usr/bin/sleep" : "/bin/sleep";
    }
}
