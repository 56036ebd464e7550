package gale.usage;

/**
 * Calls counted for one owner of one instance (the function's own callers, or one map job)
 * between two samples: how many ended, their durations under each platform's rounding, and how
 * long at least one of them was running. Not thread-safe: {@link InstanceUsage} guards it.
 */
final class CallTally {

    static final long NANOS_PER_MS = 1_000_000;
    private static final long NANOS_PER_100MS = 100 * NANOS_PER_MS;

    /** The figures between two samples, all in nanoseconds but the call count. */
    record Delta(long calls, long durationNanos, long billedNanos1ms, long billedNanos100ms, long busyNanos,
                 long activeNanos100ms) {

        static final Delta ZERO = new Delta(0, 0, 0, 0, 0, 0);

        boolean isZero() {
            return equals(ZERO);
        }
    }

    private int inFlight;
    /** Start of the busy time not counted yet (the later of the stretch's start and the last sample). */
    private long busySince;
    /** Start of the current stretch of calls, for its rounding to 100 ms when it ends. */
    private long stretchSince;
    private long calls;
    private long durationNanos;
    private long billedNanos1ms;
    private long billedNanos100ms;
    private long busyNanos;
    private long activeNanos100ms;

    void started(long now) {
        if (inFlight++ == 0) {
            busySince = now;
            stretchSince = now;
        }
    }

    void ended(long now, long startedAt) {
        long took = Math.max(1, now - startedAt);
        calls++;
        durationNanos += took;
        billedNanos1ms += roundUp(took, NANOS_PER_MS);
        billedNanos100ms += roundUp(took, NANOS_PER_100MS);
        if (--inFlight == 0) {
            busyNanos += now - busySince;
            activeNanos100ms += roundUp(Math.max(1, now - stretchSince), NANOS_PER_100MS);
        }
    }

    boolean idle() {
        return inFlight == 0;
    }

    /** What was counted since the last drain; calls still running count busy time up to {@code now}. */
    Delta drain(long now) {
        if (inFlight > 0) {
            busyNanos += now - busySince;
            busySince = now;
        }
        Delta delta = new Delta(calls, durationNanos, billedNanos1ms, billedNanos100ms, busyNanos, activeNanos100ms);
        calls = durationNanos = billedNanos1ms = billedNanos100ms = busyNanos = activeNanos100ms = 0;
        return delta;
    }

    /** {@code nanos} rounded up to a whole number of {@code unit}s, as platforms bill a call's duration. */
    static long roundUp(long nanos, long unit) {
        return Math.ceilDiv(nanos, unit) * unit;
    }
}
