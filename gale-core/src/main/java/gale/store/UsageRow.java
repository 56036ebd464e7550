package gale.store;

/**
 * What one function version (or the part of it one map job used) used in one minute, or summed over
 * many (docs/cost.md). Durations are whole milliseconds or microseconds, as stored.
 *
 * @param minuteMs        the minute's start (epoch ms); for a sum, the first minute
 * @param lastMinuteMs    for a sum, the last minute; else the same as {@code minuteMs}
 * @param jobId           {@code ""} for everything the version's instances did, else the job whose share this is
 * @param memoryMb        the version's memory setting
 * @param cpu             the version's --cpu setting
 * @param billedMs1       call durations summed, each rounded up to 1 ms
 * @param billedMs100     call durations summed, each rounded up to 100 ms
 * @param activeMs        time an instance had a call in flight, each stretch rounded up to 100 ms
 * @param instanceMs      time instances were alive (a job: its busy time on them)
 * @param cpuMicros       CPU time the kernel counted
 * @param peakCpuMicros   for a sum, the most CPU time of any one minute; else {@code cpuMicros}
 * @param peakMemoryBytes the most memory one instance had charged (-1: not known)
 * @param peakInstances   the most instances alive at once (a job: busy with its tasks)
 * @param source          where CPU and memory were read: cgroup-v2, cgroup-v1, proc or none
 */
public record UsageRow(long minuteMs, long lastMinuteMs, String function, int version, String jobId, int memoryMb, double cpu,
                       long calls, long durationMicros, long billedMs1, long billedMs100, long activeMs, long instanceMs,
                       long cpuMicros, long peakCpuMicros, long peakMemoryBytes, int peakInstances, String source) {
}
