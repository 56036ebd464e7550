package gale.usage;

import gale.store.UsageRow;

/** What one function version (or one job's share of it) used in one minute, as the sampler adds it up. */
final class MinuteUsage {

    private final int memoryMb;
    private final double cpu;
    String source = "none";
    private long calls;
    private long durationNanos;
    private long billedNanos1ms;
    private long billedNanos100ms;
    private long activeNanos;
    private long instanceNanos;
    private long cpuNanos;
    private long peakMemoryBytes = -1;
    private int peakInstances;

    MinuteUsage(int memoryMb, double cpu) {
        this.memoryMb = memoryMb;
        this.cpu = cpu;
    }

    void add(CallTally.Delta calls, long instanceNanos, long cpuNanos, long peakMemoryBytes) {
        this.calls += calls.calls();
        this.durationNanos += calls.durationNanos();
        this.billedNanos1ms += calls.billedNanos1ms();
        this.billedNanos100ms += calls.billedNanos100ms();
        this.activeNanos += calls.activeNanos100ms();
        this.instanceNanos += instanceNanos;
        this.cpuNanos += cpuNanos;
        this.peakMemoryBytes = Math.max(this.peakMemoryBytes, peakMemoryBytes);
    }

    /** {@code count} instances were alive (or busy, for a job) in one sample of this minute. */
    void peakInstances(int count) {
        peakInstances = Math.max(peakInstances, count);
    }

    UsageRow row(long minuteMs, String function, int version, String jobId) {
        long ms = CallTally.NANOS_PER_MS;
        return new UsageRow(minuteMs, minuteMs, function, version, jobId, memoryMb, cpu, calls, durationNanos / 1_000,
                billedNanos1ms / ms, billedNanos100ms / ms, activeNanos / ms, Math.round((double) instanceNanos / ms),
                cpuNanos / 1_000, cpuNanos / 1_000, peakMemoryBytes, peakInstances, source);
    }
}
