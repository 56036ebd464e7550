package gale.runtime.process;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The processes of one instance: the command started with {@code setsid} (so it leads
 * its own process group, which the shell and everything it starts share) plus any
 * descendant that moved to another group. Signals and memory cover all of them, so a
 * shell's or R's children are neither left running nor left out of the memory limit.
 *
 * <p>In the sandbox the leader is bubblewrap, which passes on no signal: SIGTERM would end it at
 * once, while the command still handles the signal, and Gale would take that for the command's
 * exit. Its child, the sandbox's init (pid 1 inside), would end the whole sandbox with it (with
 * {@code --die-with-parent} it does not ignore SIGTERM). So SIGTERM skips both; they exit by
 * themselves with the shell's status. SIGKILL reaches everyone.
 *
 * <p>Membership is read from {@code /proc} on each call; a process that exits between
 * listing and signalling is simply gone. {@link ProcessHandle} checks start times, so
 * a recycled pid is never signalled.
 */
final class ProcessGroup {

    private static final Path PROC = Path.of("/proc");

    private final ProcessHandle leader;
    private final boolean leaderIsSandbox;
    /** Once the leader and all members are gone the group is gone for good, and its id may be reused. */
    private volatile boolean gone;

    /**
     * @param leader          the process started with setsid: its pid is the group id
     * @param leaderIsSandbox the leader is bubblewrap, holding the command in its sandbox
     */
    ProcessGroup(ProcessHandle leader, boolean leaderIsSandbox) {
        this.leader = leader;
        this.leaderIsSandbox = leaderIsSandbox;
    }

    /** Asks every member to exit (SIGTERM); a sandbox's leader and init end when the command does. */
    void terminate() {
        for (ProcessHandle p : members()) {
            boolean sandbox = leaderIsSandbox && (p.pid() == leader.pid()
                    || p.parent().map(parent -> parent.pid() == leader.pid()).orElse(false));
            if (!sandbox) p.destroy();
        }
    }

    /** Kills every member (SIGKILL). */
    void kill() {
        members().forEach(ProcessHandle::destroyForcibly);
    }

    /** True while any member is running. */
    boolean anyAlive() {
        return !members().isEmpty();
    }

    /** Resident memory of all members, in bytes. */
    long rssBytes() {
        long total = 0;
        for (ProcessHandle p : members()) total += rssOf(p.pid());
        return total;
    }

    /** The leader, its descendants, and every process still in its group (reparented ones included). */
    List<ProcessHandle> members() {
        if (gone) return List.of();
        Set<Long> pids = new LinkedHashSet<>();
        boolean leaderAlive = leader.isAlive();
        if (leaderAlive) pids.add(leader.pid());
        Map<Long, List<Long>> children = new HashMap<>();
        List<ProcStat> stats = scan();
        if (stats.isEmpty() && leaderAlive) leader.descendants().forEach(p -> pids.add(p.pid()));
        for (ProcStat stat : stats) {
            // Linux never hands out a pid still in use as a group id, so this cannot match a stranger.
            if (stat.processGroup() == leader.pid()) pids.add(stat.pid());
            children.computeIfAbsent(stat.parent(), k -> new ArrayList<>()).add(stat.pid());
        }
        // Descendants that left the group (setsid, daemons): children of members, which are live pids.
        var pending = new ArrayList<>(pids);
        while (!pending.isEmpty()) {
            for (long child : children.getOrDefault(pending.removeLast(), List.of())) {
                if (pids.add(child)) pending.add(child);
            }
        }
        pids.remove(ProcessHandle.current().pid()); // never Gale itself, whatever /proc says
        List<ProcessHandle> handles = new ArrayList<>();
        for (long pid : pids) ProcessHandle.of(pid).filter(ProcessHandle::isAlive).ifPresent(handles::add);
        if (handles.isEmpty() && !leaderAlive) gone = true;
        return handles;
    }

    private record ProcStat(long pid, long parent, long processGroup) {
    }

    private static List<ProcStat> scan() {
        List<ProcStat> stats = new ArrayList<>();
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(PROC, p -> isNumeric(p.getFileName().toString()))) {
            for (Path dir : dirs) readStat(dir).ifPresent(stats::add);
        } catch (IOException e) {
            return List.of(); // no /proc (not Linux): members() falls back to ProcessHandle's descendants
        }
        return stats;
    }

    /** Fields 3 to 5 of /proc/PID/stat (state, parent, group), counted after the name, which may hold spaces and ')'. */
    private static Optional<ProcStat> readStat(Path dir) {
        try {
            String line = Files.readString(dir.resolve("stat"));
            String[] fields = line.substring(line.lastIndexOf(')') + 2).split(" ");
            if (fields[0].equals("Z") || fields[0].equals("X")) return Optional.empty(); // dead, waiting to be reaped
            return Optional.of(new ProcStat(Long.parseLong(dir.getFileName().toString()),
                    Long.parseLong(fields[1]), Long.parseLong(fields[2])));
        } catch (IOException | RuntimeException e) {
            return Optional.empty(); // exited while we looked
        }
    }

    private static long rssOf(long pid) {
        try {
            for (String line : Files.readAllLines(PROC.resolve(Long.toString(pid)).resolve("status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.substring(6).trim().split("\\s+")[0]) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            // exited between listing and reading
        }
        return 0;
    }

    private static boolean isNumeric(String s) {
        if (s.isEmpty()) return false;
        for (int i = 0; i < s.length(); i++) {
            if (!Character.isDigit(s.charAt(i))) return false;
        }
        return true;
    }
}
