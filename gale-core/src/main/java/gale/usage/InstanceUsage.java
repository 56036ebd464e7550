package gale.usage;

import gale.runtime.InstanceSpec;
import gale.runtime.UsageCounters;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One instance's calls, as the usage sampler needs them: counted for the instance as a whole and
 * per owner (the function's own callers, or a map job), so the sampler can split the instance's
 * CPU time between the jobs that ran on it and everything else. Calls are marked on their path
 * (a short uncontended lock, no I/O, no allocation but the first call of a new owner); the
 * sampler drains the counts on its own thread, together with the kernel's {@link UsageCounters}.
 */
public final class InstanceUsage {

    /** The owner of calls that are no map job's: HTTP, async and scheduled calls. */
    public static final String FUNCTION = "";

    /** What one drain found: the instance as a whole, and each owner that had calls. */
    record Drained(CallTally.Delta all, Map<String, CallTally.Delta> owners) {
    }

    final InstanceSpec spec;
    final String instanceId;
    final UsageCounters counters;
    final long startedNanos;
    private final ReentrantLock lock = new ReentrantLock();
    private final CallTally all = new CallTally();
    private final Map<String, CallTally> owners = new HashMap<>(4);
    private volatile long endedNanos;
    // The sampler thread's own: where the last sample left off.
    long sampledCpuNanos;
    long sampledAtNanos;

    InstanceUsage(InstanceSpec spec, String instanceId, UsageCounters counters, long startedNanos) {
        this.spec = spec;
        this.instanceId = instanceId;
        this.counters = counters;
        this.startedNanos = startedNanos;
        this.sampledAtNanos = startedNanos;
    }

    /**
     * A call of {@code owner} (a job id, or {@link #FUNCTION}) starts on this instance.
     *
     * @return its start, to give back to {@link #callEnded}
     */
    public long callStarted(String owner) {
        long now = System.nanoTime();
        lock.lock();
        try {
            all.started(now);
            owners.computeIfAbsent(owner, o -> new CallTally()).started(now);
        } finally {
            lock.unlock();
        }
        return now;
    }

    /** That call has ended (answered, failed or timed out: the instance was busy with it either way). */
    public void callEnded(String owner, long startedAt) {
        long now = System.nanoTime();
        lock.lock();
        try {
            all.ended(now, startedAt);
            owners.get(owner).ended(now, startedAt);
        } finally {
            lock.unlock();
        }
    }

    /** The instance is gone: from now on it counts no time alive. */
    public void ended() {
        if (endedNanos == 0) endedNanos = System.nanoTime();
    }

    boolean isEnded() {
        return endedNanos != 0;
    }

    /** When the instance ended, or {@code now} while it lives. */
    long aliveUntil(long now) {
        long ended = endedNanos;
        return ended == 0 ? now : Math.min(ended, now);
    }

    /** The counts since the last drain. An owner with nothing running and nothing counted is forgotten. */
    Drained drain(long now) {
        lock.lock();
        try {
            CallTally.Delta whole = all.drain(now);
            Map<String, CallTally.Delta> each = new HashMap<>(owners.size() * 2);
            owners.entrySet().removeIf(e -> {
                CallTally.Delta delta = e.getValue().drain(now);
                if (!delta.isZero()) each.put(e.getKey(), delta);
                return e.getValue().idle();
            });
            return new Drained(whole, each);
        } finally {
            lock.unlock();
        }
    }
}
