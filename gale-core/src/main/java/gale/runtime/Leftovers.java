package gale.runtime;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What a run of this server left running when it ended without stopping its instances
 * ({@code kill -9}, a crash, a power cut of the JVM alone). Every instance and zygote dies
 * with Gale (see {@link ProcessLauncher}), but a process an unsandboxed instance started
 * itself (a daemon of a shell command, a subprocess of user code) has no such tie. Such
 * processes are found by their cgroup ({@link Isolation#removeLeftovers}) and, where there are
 * no cgroups, by the variable {@value #MARKER} their environment inherited, and killed before
 * the server serves again.
 */
public final class Leftovers {

    /** The variable naming the server (its data dir) in the environment of every process it starts. */
    public static final String MARKER = "GALE_NODE";
    private static final Logger LOG = LoggerFactory.getLogger(Leftovers.class);
    private static final Path PROC = Path.of("/proc");

    private Leftovers() {
    }

    /**
     * Kills what a previous run of server {@code node} left: the processes in its cgroups, then
     * any process whose environment carries {@code GALE_NODE=node}. Call before anything starts.
     *
     * @return how many processes were killed by their marker, plus how many cgroups were removed
     */
    public static int reap(String node, Isolation isolation) {
        int cgroups = isolation.removeLeftovers();
        List<ProcessHandle> marked = marked(node);
        marked.forEach(ProcessHandle::destroyForcibly);
        if (cgroups > 0 || !marked.isEmpty()) {
            LOG.warn("the last run of this server ended without stopping its instances: killed {} leftover processes and removed "
                    + "{} leftover cgroups", marked.size(), cgroups);
        }
        return cgroups + marked.size();
    }

    /** Live processes (other than this one) whose environment has {@code GALE_NODE=node}. */
    static List<ProcessHandle> marked(String node) {
        byte[] needle = (MARKER + "=" + node).getBytes(StandardCharsets.UTF_8);
        long self = ProcessHandle.current().pid();
        List<ProcessHandle> found = new ArrayList<>();
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(PROC, p -> p.getFileName().toString().chars().allMatch(Character::isDigit))) {
            for (Path dir : dirs) {
                long pid = Long.parseLong(dir.getFileName().toString());
                if (pid == self) continue;
                ProcessHandle.of(pid).ifPresent(handle -> { // looked up before reading, so a reused pid is never killed
                    if (hasVariable(dir.resolve("environ"), needle)) found.add(handle);
                });
            }
        } catch (IOException e) {
            LOG.debug("cannot list processes: {}", e.toString());
        }
        return found;
    }

    /** True when the NUL-separated environment in {@code environ} holds exactly the entry {@code needle}. */
    static boolean hasVariable(Path environ, byte[] needle) {
        byte[] env;
        try {
            env = Files.readAllBytes(environ);
        } catch (IOException | SecurityException e) {
            return false; // gone, or another user's
        }
        int start = 0;
        for (int i = 0; i <= env.length; i++) {
            if (i == env.length || env[i] == 0) {
                if (i - start == needle.length && java.util.Arrays.equals(env, start, i, needle, 0, needle.length)) return true;
                start = i + 1;
            }
        }
        return false;
    }
}
