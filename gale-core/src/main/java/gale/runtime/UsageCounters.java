package gale.runtime;

import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;

/**
 * The kernel's count of one instance's CPU time and memory: its cgroup's counters where it has
 * one, else {@code /proc} for its process tree. Read by the usage sampler, on a platform thread
 * ({@link #read} touches files); never on a call's path.
 *
 * <p>A cgroup keeps the CPU time of processes that have exited, but goes when the instance does:
 * the instance calls {@link #close} just before it removes the cgroup, and from then on
 * {@link #read} answers that last reading. {@code /proc} forgets a process once it exits, so there
 * the last reading is the sampler's last one before the exit.
 */
public final class UsageCounters {

    /** Where the figures come from. */
    public enum Source {
        CGROUP_V2("cgroup v2 (each instance's cpu.stat usage_usec, memory.peak)"),
        CGROUP_V1("cgroup v1 (each instance's cpuacct.usage, memory.max_usage_in_bytes)"),
        PROC("/proc/PID/stat of each instance's process tree (no cgroup counts CPU time on this host)"),
        NONE("nothing: the instance has no process of its own");

        private final String description;

        Source(String description) {
            this.description = description;
        }

        public String description() {
            return description;
        }

        /** As stored with usage and named in reports: cgroup-v2, cgroup-v1, proc, none. */
        public String code() {
            return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
        }

        /** The source a stored code names. */
        public static java.util.Optional<Source> ofCode(String code) {
            for (Source s : values()) {
                if (s.code().equals(code)) return java.util.Optional.of(s);
            }
            return java.util.Optional.empty();
        }
    }

    /** One reading. Memory figures are -1 where the source does not know them. */
    public record Reading(long cpuNanos, long memoryBytes, long peakMemoryBytes) {
        static final Reading NOTHING = new Reading(0, -1, -1);
    }

    /** Counters of nothing, for instances with no process of their own (tests). */
    public static final UsageCounters NONE = new UsageCounters(Optional.empty(), () -> -1);

    private final Optional<Isolation.Cgroup> cgroup;
    private final LongSupplier pid;
    private final ReentrantLock lock = new ReentrantLock();
    private Reading last = Reading.NOTHING;
    private boolean closed;
    /** Whether the cgroup counts CPU time (v1 needs the cpuacct controller); decided at the first reading. */
    private Boolean cgroupCountsCpu;

    /**
     * @param cgroup the instance's cgroup, if it runs in one
     * @param pid    its process id, or -1 while it is still being made
     */
    public UsageCounters(Optional<Isolation.Cgroup> cgroup, LongSupplier pid) {
        this.cgroup = cgroup;
        this.pid = pid;
    }

    /** Where the figures come from. */
    public Source source() {
        if (this == NONE) return Source.NONE;
        lock.lock();
        try {
            if (!cpuFromCgroup()) return Source.PROC;
            return cgroup.get().mode() == Isolation.CgroupMode.V2 ? Source.CGROUP_V2 : Source.CGROUP_V1;
        } finally {
            lock.unlock();
        }
    }

    /** True once {@link #close} took the last reading (always for {@link #NONE}, which has nothing to read). */
    public boolean isClosed() {
        if (this == NONE) return true;
        lock.lock();
        try {
            return closed;
        } finally {
            lock.unlock();
        }
    }

    private boolean cpuFromCgroup() {
        if (cgroupCountsCpu == null) cgroupCountsCpu = cgroup.isPresent() && cgroup.get().cpuNanos() >= 0;
        return cgroupCountsCpu;
    }


    /**
     * Once {@code gone} completes (the instance's processes have exited), takes the last reading and then
     * removes the cgroup, if any, on a platform thread: both touch cgroup files, and removing may retry
     * with short sleeps while the kernel reaps.
     */
    public void retireAfter(CompletableFuture<?> gone) {
        gone.handle((done, error) -> null).thenRunAsync(() -> {
            close();
            cgroup.ifPresent(Isolation.Cgroup::remove);
        }, RETIRING);
    }

    private static final Executor RETIRING = Executors.newCachedThreadPool(Thread.ofPlatform().daemon().name("gale-cgroup-retire-", 0).factory());

    /** The counters now; after {@link #close}, the last reading. CPU time never goes down between readings. */
    public Reading read() {
        lock.lock();
        try {
            if (!closed) last = measure(last);
            return last;
        } finally {
            lock.unlock();
        }
    }

    /** Takes the last reading; call once the instance's processes are gone, before its cgroup is removed. Idempotent. */
    public void close() {
        lock.lock();
        try {
            if (closed) return;
            last = measure(last);
            closed = true;
        } finally {
            lock.unlock();
        }
    }

    private Reading measure(Reading before) {
        if (cpuFromCgroup()) {
            Isolation.Cgroup c = cgroup.get();
            long cpu = c.cpuNanos();
            if (cpu < 0) return before; // gone: keep what was counted
            return new Reading(Math.max(cpu, before.cpuNanos()), c.memoryBytes(), Math.max(c.peakMemoryBytes(), before.peakMemoryBytes()));
        }
        long p = pid.getAsLong();
        if (p <= 0 || !ProcessTree.isRunning(p)) return before;
        long memory = ProcessTree.rssBytes(p);
        return new Reading(Math.max(ProcessTree.cpuNanos(p), before.cpuNanos()), memory, Math.max(memory, before.peakMemoryBytes()));
    }
}
