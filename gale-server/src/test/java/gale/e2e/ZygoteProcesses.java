package gale.e2e;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Finds the zygote processes of a test server from the host. What the base zygote forks (the
 * versions' zygotes, their spare children and instances) shows the base's environment in
 * /proc/PID/environ, so a version's zygote is told by its place in the tree (its parent is the base
 * zygote, or no zygote at all when it runs in a sandbox of its own) and by its bundle: its working
 * directory, followed through /proc/PID/cwd (as root can, even into a sandbox, where it is /var/task), is
 * the very folder of the function's bundle (the same inode), not just one with the same files.
 */
final class ZygoteProcesses {

    private ZygoteProcesses() {
    }

    /** The zygote of {@code function} on {@code gale}'s server, if one runs. */
    static Optional<ProcessHandle> versionZygoteOf(GaleHarness gale, String function) {
        Object bundle = fileKey(gale.bundleFile(function, ""));
        if (bundle == null) throw new AssertionError("function " + function + " has no bundle folder");
        try (Stream<ProcessHandle> all = ProcessHandle.current().descendants()) {
            return all.filter(p -> isVersionZygote(p.pid()) && bundle.equals(fileKey(Path.of("/proc/" + p.pid(), "cwd"))))
                    .findFirst();
        }
    }

    /** A version's zygote: runs _zygote.py, is not the base, and its parent is the base or no zygote. */
    static boolean isVersionZygote(long pid) {
        long parent = parentOf(pid);
        return runsZygote(pid) && !isBase(pid) && (isBase(parent) || !runsZygote(parent));
    }

    /** The base zygote: started by Gale as such; what it forks shows its environment too, but has it as parent. */
    static boolean isBase(long pid) {
        return runsZygote(pid) && !runsZygote(parentOf(pid))
                && new String(read(pid, "environ"), StandardCharsets.ISO_8859_1).contains("GALE_ZYGOTE_ROLE=base\0");
    }

    static boolean runsZygote(long pid) {
        return new String(read(pid, "cmdline"), StandardCharsets.ISO_8859_1).contains("_zygote.py");
    }

    /** What identifies a folder whatever path it is seen by (device and inode); null once it cannot be read. */
    private static Object fileKey(Path path) {
        try {
            return Files.readAttributes(path, java.nio.file.attribute.BasicFileAttributes.class).fileKey();
        } catch (IOException | RuntimeException gone) {
            return null;
        }
    }

    private static long parentOf(long pid) {
        return ProcessHandle.of(pid).flatMap(ProcessHandle::parent).map(ProcessHandle::pid).orElse(0L);
    }

    private static byte[] read(long pid, String... path) {
        try {
            return Files.readAllBytes(Path.of("/proc/" + pid, path));
        } catch (IOException | RuntimeException gone) {
            return new byte[0];
        }
    }
}
