package gale.runtime;

import gale.config.FunctionConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * What keeps an instance in its lane: a cgroup with its memory limit and CPU share, and
 * a bubblewrap sandbox in which the bundle and the runtime are read-only, /tmp is a
 * private tmpfs, nothing else of the host's files is visible (not the data dir, so not
 * the admin token), and the network can be removed.
 *
 * <p>Both are probed once at start. Where the host allows no cgroups, the pool's RSS
 * watchdog enforces memory limits instead; where bubblewrap is missing, functions
 * deployed with {@code sandbox = "on"} fail to start with a message saying so.
 *
 * <p>Each server (each data dir) has a parent cgroup of its own, {@code gale/NODE}, so a
 * server that starts again after a crash can kill what its last run left in there
 * ({@link #removeLeftovers}) without touching another server's instances.
 */
public final class Isolation implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(Isolation.class);
    private static final Path CGROUP_ROOT = Path.of("/sys/fs/cgroup");
    /** Where cgroup v1 counts a cgroup's CPU time, in nanoseconds (the cpuacct controller). */
    private static final String CPUACCT_USAGE = "cpuacct.usage";
    /** cpu.shares of one normal instance (cgroup v1); v2's cpu.weight default is 100. */
    private static final int V1_SHARES = 1024;

    /** Which cgroup interface the host offers. */
    public enum CgroupMode { V2, V1, NONE }

    private final CgroupMode mode;
    /**
     * This server's parent cgroups: one on v2; on v1 the memory one, then the cpu one and the cpuacct one
     * (which counts CPU time) where writable and mounted apart.
     */
    private final List<Path> roots;
    private final boolean bubblewrap;

    Isolation(CgroupMode mode, List<Path> roots, boolean bubblewrap) {
        this.mode = mode;
        this.roots = List.copyOf(roots);
        this.bubblewrap = bubblewrap;
    }

    /**
     * Looks at what this host allows; creates this server's parent cgroups.
     *
     * @param node names this server's parent cgroup ({@code gale/NODE}); the same name on every start of one data dir
     */
    public static Isolation probe(String node) {
        CgroupMode mode = probeCgroups();
        List<Path> roots = switch (mode) {
            case V2 -> createRoots(List.of(CGROUP_ROOT.resolve("gale").resolve(node)), true);
            case V1 -> createRoots(v1Roots(node), false);
            case NONE -> List.of();
        };
        if (roots.isEmpty()) mode = CgroupMode.NONE;
        boolean bwrap = probeBubblewrap();
        LOG.info("isolation: cgroups {}, bubblewrap sandbox {}", mode == CgroupMode.NONE ? "unavailable (RSS watchdog enforces memory)" : mode,
                bwrap ? "available" : "unavailable");
        return new Isolation(mode, roots, bwrap);
    }

    /** No cgroups, no sandbox: for tests and hosts that allow neither. */
    public static Isolation none() {
        return new Isolation(CgroupMode.NONE, List.of(), false);
    }

    /** v1: memory, then cpu and cpuacct where Gale may write them; cpuacct only where it is not the cpu hierarchy itself. */
    private static List<Path> v1Roots(String node) {
        List<Path> roots = new ArrayList<>(List.of(v1Parent("memory").resolve(node)));
        boolean cpu = Files.isWritable(v1Parent("cpu"));
        if (cpu) roots.add(v1Parent("cpu").resolve(node));
        boolean cpuacctApart = !(cpu && Files.exists(CGROUP_ROOT.resolve("cpu").resolve(CPUACCT_USAGE)));
        if (cpuacctApart && Files.isWritable(v1Parent("cpuacct"))) roots.add(v1Parent("cpuacct").resolve(node));
        return roots;
    }

    /** {@code /sys/fs/cgroup/CONTROLLER/gale}: where every server's parent cgroup of that v1 controller lies. */
    private static Path v1Parent(String controller) {
        return CGROUP_ROOT.resolve(controller).resolve("gale");
    }

    /** This server's parent cgroup of a v1 controller, if it has one. */
    private Optional<Path> v1Root(String controller) {
        return roots.stream().filter(root -> root.getParent().equals(v1Parent(controller))).findFirst();
    }

    private static List<Path> createRoots(List<Path> roots, boolean v2) {
        try {
            for (Path root : roots) {
                Files.createDirectories(root);
                if (v2) writeIfPresent(root.resolve("cgroup.subtree_control"), "+memory +cpu");
            }
            return roots;
        } catch (IOException e) {
            LOG.warn("cannot create Gale's cgroups {}: {}; memory limits fall back to the RSS watchdog", roots, e.toString());
            return List.of();
        }
    }

    /**
     * Kills every process left in this server's cgroups by a run that ended without stopping
     * them (a crash, {@code kill -9}) and removes those cgroups. Call before any instance starts.
     *
     * @return how many leftover cgroups were removed
     */
    public int removeLeftovers() {
        int removed = 0;
        for (Path root : roots) {
            for (Path cgroup : childCgroups(root)) {
                killAll(cgroup);
                new Cgroup(List.of(cgroup), mode, 0).remove();
                if (!Files.exists(cgroup)) removed++;
            }
        }
        return removed;
    }

    /**
     * Removes this server's parent cgroups once the server has stopped its instances, so that
     * a stopped server leaves nothing under the cgroup root (one per data dir would pile up).
     * Instances' cgroups with no process left go first (an instance's own removal may not have
     * run yet); a parent that still holds a process is left for the next start's
     * {@link #removeLeftovers}.
     */
    @Override
    public void close() {
        for (Path root : roots.reversed()) {
            for (Path child : childCgroups(root)) {
                if (processesIn(child) == 0) new Cgroup(List.of(child), mode, 0).remove();
            }
            for (int attempt = 0; attempt < 10 && Files.exists(root); attempt++) {
                try {
                    Files.deleteIfExists(root);
                } catch (IOException busy) { // DirectoryNotEmpty, or the kernel's EBUSY
                    sleep(100);
                }
            }
        }
    }

    /** The cgroups directly under {@code root} (the instances'); none once it is gone. */
    private static List<Path> childCgroups(Path root) {
        try (var children = Files.list(root)) {
            return children.filter(Files::isDirectory).toList();
        } catch (IOException gone) {
            return List.of();
        }
    }

    /** How many processes are in {@code cgroup} (not counting its children); 0 once it is gone. */
    private static long processesIn(Path cgroup) {
        try (var lines = Files.lines(cgroup.resolve("cgroup.procs"))) {
            return lines.filter(line -> !line.isBlank()).count();
        } catch (IOException | java.io.UncheckedIOException gone) {
            return 0;
        }
    }

    /** SIGKILL to every process in {@code cgroup}: cgroup.kill where the kernel has it (v2, 5.14+), else one by one. */
    private static void killAll(Path cgroup) {
        Path kill = cgroup.resolve("cgroup.kill");
        try {
            if (Files.exists(kill)) {
                Files.writeString(kill, "1");
                return;
            }
            for (String pid : Files.readAllLines(cgroup.resolve("cgroup.procs"))) {
                if (!pid.isBlank()) ProcessHandle.of(Long.parseLong(pid.strip())).ifPresent(ProcessHandle::destroyForcibly);
            }
        } catch (IOException | RuntimeException e) {
            LOG.debug("could not kill the processes of {}: {}", cgroup, e.toString());
        }
    }

    public CgroupMode cgroupMode() {
        return mode;
    }

    public boolean sandboxAvailable() {
        return bubblewrap;
    }

    /** Whether instances of this config run in the sandbox (after {@link #check} admitted the config). */
    public boolean runsSandboxed(FunctionConfig config) {
        return bubblewrap && !config.sandbox().equals("off");
    }

    /**
     * Fails the deploy when the config asks for a sandbox this host cannot give; where it
     * passes, {@link #runsSandboxed} says whether instances run in one. (A config with
     * network "none" and sandbox "off" never gets here: FunctionConfig refuses it.)
     */
    public void check(FunctionConfig config) throws DeployFailure {
        if (bubblewrap) return;
        if (config.sandbox().equals("on")) {
            throw new DeployFailure("sandbox = \"on\" needs bubblewrap, which this host lacks: apt-get install bubblewrap, "
                    + "or deploy with --sandbox auto");
        }
        if (config.network().equals("none")) {
            throw new DeployFailure("network = \"none\" needs the bubblewrap sandbox: apt-get install bubblewrap");
        }
    }

    // ---- cgroups

    /**
     * An instance's cgroup: its directories (one per controller on v1, one on v2) and the
     * memory limit written there. The kernel enforces the limit; {@link #explain} turns the
     * resulting SIGKILL into the failure users should see.
     */
    public record Cgroup(List<Path> dirs, CgroupMode mode, long memoryMegabytes) {

        private List<Path> procsFiles() {
            return dirs.stream().map(d -> d.resolve("cgroup.procs")).toList();
        }

        /**
         * A command prefix that moves the process into the cgroup before anything else runs,
         * so not even interpreter start-up escapes the limit.
         */
        public List<String> joinCommand() {
            StringBuilder script = new StringBuilder();
            int i = 1;
            for (Path ignored : procsFiles()) {
                script.append("echo $$ > \"$").append(i++).append("\" && ");
            }
            script.append("shift ").append(procsFiles().size()).append(" && exec \"$@\"");
            List<String> command = new ArrayList<>(List.of("/bin/sh", "-c", script.toString(), "gale-cgroup"));
            procsFiles().forEach(p -> command.add(p.toString()));
            return command;
        }

        /** Moves a running process (one a zygote forked) into the cgroup. */
        public void attach(long pid) throws IOException {
            for (Path procs : procsFiles()) Files.writeString(procs, Long.toString(pid));
        }

        /** True when the kernel killed a process of this cgroup for exceeding its memory limit. */
        public boolean oomKilled() {
            try {
                Path dir = dirs.getFirst();
                Path events = mode == CgroupMode.V2 ? dir.resolve("memory.events") : dir.resolve("memory.oom_control");
                for (String line : Files.readAllLines(events)) {
                    if (line.startsWith("oom_kill ") && Long.parseLong(line.substring(9).trim()) > 0) return true;
                }
            } catch (IOException | RuntimeException e) {
                // gone already: no evidence either way
            }
            return false;
        }

        /**
         * The memory failure, once the kernel has killed any process of this cgroup for its limit:
         * the one it killed may have been a helper, leaving the instance alive but not whole.
         */
        public Optional<InstanceFailure> memoryFailure() {
            if (!oomKilled()) return Optional.empty();
            return Optional.of(new InstanceFailure(InstanceFailure.Kind.MEMORY, "memory limit exceeded (" + memoryMegabytes + " MB)"));
        }

        /** The failure to report for an instance of this cgroup: a crash the OOM killer caused is a memory failure. */
        public InstanceFailure explain(InstanceFailure failure) {
            if (failure.kind() == InstanceFailure.Kind.CRASHED) return memoryFailure().orElse(failure);
            return failure;
        }

        /**
         * CPU time the kernel has counted for this cgroup's processes since it was made, in nanoseconds
         * (v2: {@code cpu.stat} usage_usec; v1: {@code cpuacct.usage}); -1 where it cannot be read (v1
         * without the cpuacct controller, or once the cgroup is gone). It keeps what exited processes used.
         */
        public long cpuNanos() {
            if (mode == CgroupMode.V2) {
                for (String line : readLines(dirs.getFirst().resolve("cpu.stat"))) {
                    if (line.startsWith("usage_usec ")) return parseOr(line.substring(11), -1) * 1_000;
                }
                return -1;
            }
            for (Path dir : dirs) {
                Path usage = dir.resolve(CPUACCT_USAGE);
                if (Files.exists(usage)) return readLong(usage);
            }
            return -1;
        }

        /** Memory charged to the cgroup now, in bytes (memory.current, memory.usage_in_bytes); -1 once gone. */
        public long memoryBytes() {
            return readLong(dirs.getFirst().resolve(mode == CgroupMode.V2 ? "memory.current" : "memory.usage_in_bytes"));
        }

        /**
         * The most memory ever charged to the cgroup, in bytes (memory.peak on v2 from Linux 5.19,
         * memory.max_usage_in_bytes on v1); -1 where the kernel does not keep it.
         */
        public long peakMemoryBytes() {
            return readLong(dirs.getFirst().resolve(mode == CgroupMode.V2 ? "memory.peak" : "memory.max_usage_in_bytes"));
        }

        private static List<String> readLines(Path file) {
            try {
                return Files.readAllLines(file);
            } catch (IOException | RuntimeException gone) {
                return List.of();
            }
        }

        private static long readLong(Path file) {
            try {
                return parseOr(Files.readString(file), -1);
            } catch (IOException | RuntimeException gone) {
                return -1;
            }
        }

        private static long parseOr(String text, long fallback) {
            try {
                return Long.parseLong(text.strip());
            } catch (NumberFormatException e) {
                return fallback;
            }
        }

        /** Removes the cgroup once its processes are gone (retrying briefly while the kernel reaps them). */
        public void remove() {
            for (Path dir : dirs) {
                for (int attempt = 0; attempt < 20 && Files.exists(dir); attempt++) {
                    try {
                        Files.deleteIfExists(dir);
                    } catch (IOException busy) {
                        sleep(50);
                    }
                }
            }
        }
    }

    /** Creates the instance's cgroup with its memory limit and CPU share; empty where cgroups are unavailable. */
    public Optional<Cgroup> createCgroup(String instanceId, FunctionConfig config) {
        long megabytes = config.memory().megabytes();
        try {
            return switch (mode) {
                case V2 -> {
                    Path dir = Files.createDirectories(roots.getFirst().resolve(instanceId));
                    Files.writeString(dir.resolve("memory.max"), Long.toString(config.memory().bytes()));
                    writeIfPresent(dir.resolve("memory.swap.max"), "0");
                    writeIfPresent(dir.resolve("cpu.weight"), Long.toString(cpuWeight(config.cpu())));
                    yield Optional.of(new Cgroup(List.of(dir), mode, megabytes));
                }
                case V1 -> {
                    Path memory = Files.createDirectories(roots.getFirst().resolve(instanceId));
                    Files.writeString(memory.resolve("memory.limit_in_bytes"), Long.toString(config.memory().bytes()));
                    writeIfPresent(memory.resolve("memory.memsw.limit_in_bytes"), Long.toString(config.memory().bytes()));
                    List<Path> dirs = new ArrayList<>(List.of(memory));
                    Optional<Path> cpuRoot = v1Root("cpu");
                    if (cpuRoot.isPresent()) {
                        Path cpu = Files.createDirectories(cpuRoot.get().resolve(instanceId));
                        Files.writeString(cpu.resolve("cpu.shares"), Long.toString(cpuShares(config.cpu())));
                        dirs.add(cpu);
                    }
                    Optional<Path> cpuacctRoot = v1Root("cpuacct");
                    if (cpuacctRoot.isPresent()) dirs.add(Files.createDirectories(cpuacctRoot.get().resolve(instanceId)));
                    yield Optional.of(new Cgroup(dirs, mode, megabytes));
                }
                case NONE -> Optional.empty();
            };
        } catch (IOException | RuntimeException e) {
            LOG.warn("could not create a cgroup for {}: {}; its memory limit falls back to the RSS watchdog", instanceId, e.toString());
            return Optional.empty();
        }
    }

    /** cgroup v1 cpu.shares for a --cpu value (1 = 1024, the kernel's default share). */
    static long cpuShares(double cpu) {
        return Math.max(2, Math.round(V1_SHARES * cpu));
    }

    /** cgroup v2 cpu.weight for a --cpu value (1 = 100, the kernel's default weight). */
    static long cpuWeight(double cpu) {
        return Math.max(1, Math.min(10_000, Math.round(100 * cpu)));
    }

    // ---- sandbox

    /** Host files a root process could read even without any capability: hidden behind /dev/null. */
    private static final List<String> HIDDEN_SYSTEM_FILES = List.of("/etc/shadow", "/etc/shadow-", "/etc/gshadow",
            "/etc/gshadow-", "/etc/sudoers", "/etc/ssh/ssh_host_rsa_key", "/etc/ssh/ssh_host_ecdsa_key",
            "/etc/ssh/ssh_host_ed25519_key");
    /** Files in /etc that are often links to elsewhere (/run): their targets must be visible too. */
    private static final List<String> LINKED_SYSTEM_FILES = List.of("/etc/resolv.conf", "/etc/localtime", "/etc/hosts");
    private static final List<String> SYSTEM_DIRS = List.of("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/etc");

    /**
     * The bubblewrap prefix for an instance (or a zygote and the instances it forks).
     *
     * <p>Processes inside run as root without any capability, in their own mount, PID, IPC,
     * UTS and cgroup namespaces: the host's other processes are invisible (so no
     * {@code /proc/PID/root} leads out), and only the system directories, the given paths
     * and a private tmpfs at {@code /tmp} exist. The function's bundle is read-only at
     * {@link #BUNDLE_INSIDE} (as Lambda's {@code /var/task}), the working directory, so the
     * function sees nothing of the host's data-dir layout there. The environment passes through
     * unchanged. With {@code --die-with-parent} everything inside is killed when Gale dies: the
     * kernel ties that to the thread that started bubblewrap, which {@link ProcessLauncher}
     * keeps alive as long as Gale.
     *
     * @param bundle    the function's bundle on the host, shown at {@link #BUNDLE_INSIDE}
     * @param readOnly  paths visible read-only at the same place (runtime, interpreter)
     * @param readWrite paths visible writable at the same place (the instance socket, scratch folders)
     * @param network   false to give the instance no network at all
     */
    public List<String> sandboxCommand(Path bundle, Set<Path> readOnly, Set<Path> readWrite, boolean network) {
        return sandboxCommand(bundle, readOnly, readWrite, network, true);
    }

    /** Where a sandboxed function finds its bundle: its working directory. */
    public static final Path BUNDLE_INSIDE = Path.of("/var/task");

    /**
     * {@code path} as a sandboxed function sees it: a file of its bundle under {@link #BUNDLE_INSIDE},
     * anything else where it is.
     */
    public static Path inSandbox(Path path, Path bundle) {
        return path.startsWith(bundle) ? BUNDLE_INSIDE.resolve(bundle.relativize(path).toString()) : path;
    }

    /**
     * @param newSession true to start the sandbox in a session of its own, without a controlling
     *                   terminal (else, with the server started from a shell, code inside could push
     *                   keystrokes into that shell with TIOCSTI); false only for a command that
     *                   {@code setsid} already put in a session whose process group Gale signals
     */
    public List<String> sandboxCommand(Path bundle, Set<Path> readOnly, Set<Path> readWrite, boolean network, boolean newSession) {
        List<String> args = new ArrayList<>(List.of("bwrap", "--die-with-parent", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
                "--unshare-cgroup-try", "--cap-drop", "ALL", "--hostname", "gale",
                "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"));
        if (newSession) args.add("--new-session");
        for (String system : SYSTEM_DIRS) {
            if (Files.exists(Path.of(system))) args.addAll(List.of("--ro-bind", system, system));
        }
        for (String link : LINKED_SYSTEM_FILES) { // e.g. /etc/resolv.conf -> /run/systemd/resolve/stub-resolv.conf
            try {
                Path real = Path.of(link).toRealPath();
                if (!isSystemPath(real)) args.addAll(List.of("--ro-bind", real.toString(), real.toString()));
            } catch (IOException absent) {
                // nothing to follow
            }
        }
        for (String hidden : HIDDEN_SYSTEM_FILES) {
            if (Files.exists(Path.of(hidden))) args.addAll(List.of("--ro-bind", "/dev/null", hidden));
        }
        args.addAll(List.of("--ro-bind", bundle.toString(), BUNDLE_INSIDE.toString()));
        for (Path p : new LinkedHashSet<>(readOnly)) {
            if (!isSystemPath(p)) args.addAll(List.of("--ro-bind", p.toString(), p.toString()));
        }
        for (Path p : new LinkedHashSet<>(readWrite)) args.addAll(List.of("--bind", p.toString(), p.toString()));
        if (!network) args.add("--unshare-net");
        args.addAll(List.of("--chdir", BUNDLE_INSIDE.toString(), "--"));
        return args;
    }

    /**
     * What must be visible for {@code executable} to run when it is installed outside the
     * system directories (a pyenv Python, a JDK under /opt): its installation prefix, the
     * folder above its {@code bin}; for a virtualenv, also the interpreter it was made from.
     */
    public static Set<Path> installationOf(Path executable) {
        Set<Path> roots = new LinkedHashSet<>();
        addInstallation(executable, roots);
        return roots;
    }

    private static void addInstallation(Path executable, Set<Path> roots) {
        Path bin = executable.toAbsolutePath().getParent();
        if (bin != null && bin.getParent() != null && !isSystemPath(bin)) {
            Path prefix = bin.getParent();
            roots.add(prefix);
            Path venvConfig = prefix.resolve("pyvenv.cfg");
            if (Files.isRegularFile(venvConfig)) {
                try {
                    for (String line : Files.readAllLines(venvConfig)) {
                        if (line.strip().startsWith("home") && line.contains("=")) {
                            addInstallation(Path.of(line.substring(line.indexOf('=') + 1).strip()).resolve("python"), roots);
                        }
                    }
                } catch (IOException ignored) {
                    // an unreadable venv fails to start, and says so
                }
            }
        }
        try {
            Path real = executable.toRealPath();
            if (!real.equals(executable.toAbsolutePath())) addInstallation(real, roots);
        } catch (IOException ignored) {
            // not there: starting it fails with a clear message
        }
    }

    private static boolean isSystemPath(Path p) {
        Path abs = p.toAbsolutePath().normalize();
        return SYSTEM_DIRS.stream().anyMatch(abs::startsWith);
    }

    // ---- probing

    private static CgroupMode probeCgroups() {
        try {
            Path controllers = CGROUP_ROOT.resolve("cgroup.controllers");
            if (Files.exists(controllers) && Files.readString(controllers).contains("memory")) {
                Path gale = Files.createDirectories(CGROUP_ROOT.resolve("gale"));
                writeIfPresent(gale.resolve("cgroup.subtree_control"), "+memory +cpu");
                if (Files.readString(gale.resolve("cgroup.subtree_control")).contains("memory")) return CgroupMode.V2;
            }
            Path memory = CGROUP_ROOT.resolve("memory");
            if (Files.isDirectory(memory) && Files.exists(memory.resolve("memory.limit_in_bytes"))) {
                Path probe = Files.createDirectories(memory.resolve("gale"));
                if (Files.isWritable(probe)) {
                    for (String controller : List.of("cpu", "cpuacct")) {
                        if (Files.isWritable(CGROUP_ROOT.resolve(controller))) Files.createDirectories(v1Parent(controller));
                    }
                    return CgroupMode.V1;
                }
            }
        } catch (IOException | RuntimeException e) {
            LOG.debug("cgroups unavailable: {}", e.toString());
        }
        return CgroupMode.NONE;
    }

    private static boolean probeBubblewrap() {
        List<String> command = List.of("bwrap", "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid",
                "--cap-drop", "ALL", "--proc", "/proc", "--dev", "/dev", "true");
        try {
            var result = HelperProcess.run(command, Path.of("/"), CleanEnvironment.create(), Duration.ofSeconds(10), Optional.empty());
            if (result.exitCode() != 0) LOG.debug("bubblewrap does not work here: {}", result.tail(3));
            return result.exitCode() == 0;
        } catch (IOException e) {
            return false; // not installed
        }
    }

    private static void writeIfPresent(Path file, String value) {
        try {
            if (Files.exists(file)) Files.writeString(file, value);
        } catch (IOException e) {
            LOG.debug("could not write {} to {}: {}", value, file, e.toString());
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
