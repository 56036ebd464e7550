package gale.runtime.python;

import java.time.Duration;

/**
 * How many Python zygotes a server keeps, and for how long (see {@link Zygotes}).
 *
 * @param maxZygotes  zygotes kept at most (a target: those with running instances stay); at least 1
 * @param idleTimeout a zygote that forked nothing for this long, and has no running instance, is retired
 */
public record ZygoteBudget(int maxZygotes, Duration idleTimeout) {

    /**
     * Memory a zygote is reckoned to take when sizing the default budget: forked from the base
     * zygote it holds some 5-10 MB of its own, and its spare child as much while it is in use;
     * one of its own interpreter (a virtualenv, say) holds far more, so the reckoning is generous.
     */
    static final long RECKONED_BYTES_PER_ZYGOTE = 64L << 20;

    public ZygoteBudget {
        if (maxZygotes < 1) throw new IllegalArgumentException("max zygotes must be at least 1, got " + maxZygotes);
        if (idleTimeout == null || idleTimeout.isNegative() || idleTimeout.isZero()) {
            throw new IllegalArgumentException("the zygote idle timeout must be positive, got " + idleTimeout);
        }
    }

    /** The default: one zygote per 64 MB of the machine's memory (at least 8), retired after 10 minutes unused. */
    public static ZygoteBudget defaults() {
        return new ZygoteBudget(defaultMaxZygotes(physicalMemoryBytes()), Duration.ofMinutes(10));
    }

    static int defaultMaxZygotes(long memoryBytes) {
        return (int) Math.max(8, Math.min(4096, memoryBytes / RECKONED_BYTES_PER_ZYGOTE));
    }

    private static long physicalMemoryBytes() {
        if (java.lang.management.ManagementFactory.getOperatingSystemMXBean()
                instanceof com.sun.management.OperatingSystemMXBean os) {
            return os.getTotalMemorySize();
        }
        return 8L << 30;
    }
}
