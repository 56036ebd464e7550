package gale.runtime;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * A process and its descendants, read from /proc. Walking {@code /proc/PID/task/TID/children}
 * touches only the tree itself; {@link ProcessHandle#descendants()} scans every process on
 * the machine, which at a few checks per second per instance costs whole CPU percents.
 */
public final class ProcessTree {

    private ProcessTree() {
    }

    /** The pids below {@code root} (children, grandchildren...), not including it; empty once it is gone. */
    public static List<Long> descendants(long root) {
        List<Long> found = new ArrayList<>();
        ArrayDeque<Long> todo = new ArrayDeque<>(List.of(root));
        while (!todo.isEmpty() && found.size() < 10_000) {
            long pid = todo.poll();
            for (long child : childrenOf(pid)) {
                found.add(child);
                todo.add(child);
            }
        }
        return found;
    }

    /** True while the process runs: it exists and is not a zombie waiting to be reaped. */
    public static boolean isRunning(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            char state = stat.charAt(stat.lastIndexOf(')') + 2);
            return state != 'Z' && state != 'X';
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** Resident memory of {@code root} and its descendants, in bytes; 0 once it is gone. */
    public static long rssBytes(long root) {
        long total = rssOf(root);
        for (long pid : descendants(root)) total += rssOf(pid);
        return total;
    }

    /** The pid of {@code pid} in the innermost PID namespace it belongs to (itself outside any); -1 once gone. */
    public static long innermostPid(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
                if (line.startsWith("NSpid:")) {
                    String[] pids = line.substring(6).trim().split("\\s+");
                    return Long.parseLong(pids[pids.length - 1]);
                }
            }
            return pid; // a kernel without NSpid (before 4.1): no namespaces to speak of
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /** The direct children of {@code pid}; none once it is gone. */
    public static List<Long> children(long pid) {
        return childrenOf(pid);
    }

    private static List<Long> childrenOf(long pid) {
        List<Long> children = new ArrayList<>();
        try (DirectoryStream<Path> tasks = Files.newDirectoryStream(Path.of("/proc", Long.toString(pid), "task"))) {
            for (Path task : tasks) {
                String text = Files.readString(task.resolve("children")).trim();
                if (text.isEmpty()) continue;
                for (String child : text.split("\\s+")) children.add(Long.parseLong(child));
            }
        } catch (IOException | RuntimeException e) {
            // gone, or a kernel without /proc/PID/task/TID/children: no children known
        }
        return children;
    }

    private static long rssOf(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.substring(6).trim().split("\\s+")[0]) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            // exited between listing and reading
        }
        return 0;
    }
}
