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

    /**
     * CPU time of {@code root} and its descendants, in nanoseconds, from {@code /proc/PID/stat}: each
     * one's user and system time, plus what the children it waited for used (cutime, cstime). Time of
     * a descendant that exited unwaited-for, or of the whole tree once it is gone, is not there:
     * cgroups count that, this is the fallback without them. 0 once the root is gone.
     */
    public static long cpuNanos(long root) {
        long ticks = ticksOf(root, true);
        for (long pid : descendants(root)) ticks += ticksOf(pid, false);
        return ticks * NANOS_PER_TICK;
    }

    /** Linux counts /proc CPU times in USER_HZ ticks, 100 a second on every architecture Gale runs on. */
    private static final long NANOS_PER_TICK = 10_000_000;

    private static long ticksOf(long pid, boolean withWaitedChildren) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            // Fields after the command (which may hold spaces and parentheses): state is field 3, utime 14 ... cstime 17.
            String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            long ticks = Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
            if (withWaitedChildren) ticks += Long.parseLong(fields[13]) + Long.parseLong(fields[14]);
            return ticks;
        } catch (IOException | RuntimeException e) {
            return 0; // exited between listing and reading
        }
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
