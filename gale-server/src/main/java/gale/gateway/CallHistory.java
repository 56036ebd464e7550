package gale.gateway;

import gale.registry.ActiveFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import java.util.stream.Collectors;

/**
 * The last hour of each function's calls in 10-second buckets, for the console's charts and its
 * functions list. {@link GatewayMetrics#record} feeds it from the same call it feeds /metrics, and
 * latency percentiles come from a histogram with /metrics' own bucket bounds, interpolated as
 * Prometheus' {@code histogram_quantile} does, so the console and a Grafana dashboard show the same
 * numbers. Kept in memory: a restart starts the charts afresh (the last call comes back from the
 * invocation records).
 *
 * <p>Per call: one map read, one array read and four atomic increments; a bucket is allocated once
 * per function and 10 seconds. A slot is reused an hour later by replacing its bucket with a
 * compare-and-set, so no call lands in a stale bucket and no lock is taken.
 */
public final class CallHistory {

    private static final Logger LOG = LoggerFactory.getLogger(CallHistory.class);
    public static final Duration BUCKET = Duration.ofSeconds(10);
    public static final Duration SPAN = Duration.ofHours(1);
    private static final long BUCKET_MS = BUCKET.toMillis();
    private static final int SLOTS = (int) (SPAN.toMillis() / BUCKET_MS);

    // Positions in a bucket's counters; the latency histogram's bins follow LATENCY.
    private static final int CALLS = 0;
    private static final int FUNCTION_ERRORS = 1;
    private static final int PLATFORM_ERRORS = 2;
    private static final int COLD_STARTS = 3;
    private static final int INSTANCES = 4;
    private static final int LATENCY = 5;

    /** How a call ended, by who failed (the {@code X-Gale-Error} of its response). */
    public enum Result { OK, FUNCTION_ERROR, PLATFORM_ERROR }

    /** One function's last hour, oldest bucket first; a percentile of a bucket without calls is NaN. */
    public record Window(long[] startMillis, int[] calls, int[] functionErrors, int[] platformErrors, int[] coldStarts,
                         int[] instances, double[] p50Ms, double[] p99Ms) {
    }

    /** Sums over the last hour. */
    public record Totals(long calls, long functionErrors, long platformErrors) {
        public long errors() {
            return functionErrors + platformErrors;
        }
    }

    private static final class Bucket {
        final long index; // start time / BUCKET_MS
        final AtomicIntegerArray counts;

        Bucket(long index, int size) {
            this.index = index;
            this.counts = new AtomicIntegerArray(size);
        }
    }

    private final class Series {
        final AtomicReferenceArray<Bucket> slots = new AtomicReferenceArray<>(SLOTS);
        volatile long lastCallMillis;

        /** The bucket of {@code index}, replacing the one an hour older in its slot. */
        Bucket bucket(long index) {
            int slot = (int) Math.floorMod(index, (long) SLOTS);
            Bucket b = slots.get(slot);
            while (b == null || b.index < index) {
                Bucket fresh = new Bucket(index, LATENCY + boundsMs.length + 1);
                if (slots.compareAndSet(slot, b, fresh)) return fresh;
                b = slots.get(slot);
            }
            return b; // the clock stepped back: counted in the newer bucket of the slot
        }

        Bucket existing(long index) {
            Bucket b = slots.get((int) Math.floorMod(index, (long) SLOTS));
            return b != null && b.index == index ? b : null;
        }
    }

    private final double[] boundsMs;
    private final LongSupplier clockMillis;
    private final Map<String, Series> series = new ConcurrentHashMap<>();

    /** @param bounds the latency histogram's upper bounds, ascending; calls above the last are counted beyond it */
    public CallHistory(Duration[] bounds, LongSupplier clockMillis) {
        this.boundsMs = new double[bounds.length];
        for (int i = 0; i < bounds.length; i++) boundsMs[i] = bounds[i].toNanos() / 1e6;
        this.clockMillis = clockMillis;
    }

    void record(String function, Result result, double durationMs, boolean coldStart) {
        long now = clockMillis.getAsLong();
        Series s = series.get(function);
        if (s == null) s = series.computeIfAbsent(function, f -> new Series());
        AtomicIntegerArray counts = s.bucket(now / BUCKET_MS).counts;
        counts.incrementAndGet(CALLS);
        if (result == Result.FUNCTION_ERROR) counts.incrementAndGet(FUNCTION_ERRORS);
        if (result == Result.PLATFORM_ERROR) counts.incrementAndGet(PLATFORM_ERRORS);
        if (coldStart) counts.incrementAndGet(COLD_STARTS);
        counts.incrementAndGet(LATENCY + bin(durationMs));
        s.lastCallMillis = now;
    }

    /** The histogram bin of a duration: the first bound it does not exceed (Prometheus' {@code le}), or the one past them. */
    private int bin(double durationMs) {
        int i = 0;
        while (i < boundsMs.length && durationMs > boundsMs[i]) i++;
        return i;
    }

    /** Notes how many instances each active function has now; a bucket keeps the most it saw. */
    public void sampleInstances(List<ActiveFunction> active) {
        for (ActiveFunction f : active) {
            var stats = f.pool().stats();
            noteInstances(f.name(), stats.instances() + stats.starting());
        }
    }

    void noteInstances(String function, int instances) {
        if (instances == 0) return; // no bucket reads as none
        series.computeIfAbsent(function, n -> new Series()).bucket(clockMillis.getAsLong() / BUCKET_MS).counts
                .accumulateAndGet(INSTANCES, instances, Math::max);
    }

    /** Drops the history of functions that are gone and had nothing in the last hour. */
    void forgetIdle(Set<String> existing) {
        long oldest = clockMillis.getAsLong() / BUCKET_MS - SLOTS + 1;
        series.entrySet().removeIf(e -> !existing.contains(e.getKey()) && newestIndex(e.getValue()) < oldest
                && e.getValue().lastCallMillis / BUCKET_MS < oldest);
    }

    private static long newestIndex(Series s) {
        long newest = Long.MIN_VALUE;
        for (int i = 0; i < SLOTS; i++) {
            Bucket b = s.slots.get(i);
            if (b != null) newest = Math.max(newest, b.index);
        }
        return newest;
    }

    /** When each function was last called, as the store knows it from before this start. */
    public void seedLastCalls(Map<String, Instant> lastCalls) {
        lastCalls.forEach((name, at) -> {
            Series s = series.computeIfAbsent(name, n -> new Series());
            s.lastCallMillis = Math.max(s.lastCallMillis, at.toEpochMilli());
        });
    }

    public Optional<Instant> lastCall(String function) {
        Series s = series.get(function);
        return s == null || s.lastCallMillis == 0 ? Optional.empty() : Optional.of(Instant.ofEpochMilli(s.lastCallMillis));
    }

    public Totals lastHour(String function) {
        Series s = series.get(function);
        if (s == null) return new Totals(0, 0, 0);
        long now = clockMillis.getAsLong() / BUCKET_MS;
        long calls = 0, functionErrors = 0, platformErrors = 0;
        for (long i = now - SLOTS + 1; i <= now; i++) {
            Bucket b = s.existing(i);
            if (b == null) continue;
            calls += b.counts.get(CALLS);
            functionErrors += b.counts.get(FUNCTION_ERRORS);
            platformErrors += b.counts.get(PLATFORM_ERRORS);
        }
        return new Totals(calls, functionErrors, platformErrors);
    }

    /** The last hour of {@code function}, one entry per bucket, the current (partial) bucket last. */
    public Window window(String function) {
        Series s = series.get(function);
        long now = clockMillis.getAsLong() / BUCKET_MS;
        long[] start = new long[SLOTS];
        int[] calls = new int[SLOTS], functionErrors = new int[SLOTS], platformErrors = new int[SLOTS];
        int[] coldStarts = new int[SLOTS], instances = new int[SLOTS];
        double[] p50 = new double[SLOTS], p99 = new double[SLOTS];
        int[] histogram = new int[boundsMs.length + 1];
        for (int k = 0; k < SLOTS; k++) {
            long index = now - SLOTS + 1 + k;
            start[k] = index * BUCKET_MS;
            Bucket b = s == null ? null : s.existing(index);
            if (b == null) {
                p50[k] = p99[k] = Double.NaN;
                continue;
            }
            calls[k] = b.counts.get(CALLS);
            functionErrors[k] = b.counts.get(FUNCTION_ERRORS);
            platformErrors[k] = b.counts.get(PLATFORM_ERRORS);
            coldStarts[k] = b.counts.get(COLD_STARTS);
            instances[k] = b.counts.get(INSTANCES);
            for (int i = 0; i < histogram.length; i++) histogram[i] = b.counts.get(LATENCY + i);
            p50[k] = quantile(0.50, histogram, boundsMs);
            p99[k] = quantile(0.99, histogram, boundsMs);
        }
        return new Window(start, calls, functionErrors, platformErrors, coldStarts, instances, p50, p99);
    }

    /**
     * The q-quantile of a histogram as Prometheus' {@code histogram_quantile} computes it: linear within
     * the bin the rank falls in (the first bin starting at 0), the highest bound for a rank beyond them,
     * NaN without observations.
     *
     * @param counts per bin, the last counting what is above every bound
     */
    static double quantile(double q, int[] counts, double[] bounds) {
        long total = 0;
        for (int c : counts) total += c;
        if (total == 0) return Double.NaN;
        double rank = q * total;
        long below = 0;
        for (int i = 0; i < bounds.length; i++) {
            if (below + counts[i] >= rank && counts[i] > 0) {
                double lower = i == 0 ? 0 : bounds[i - 1];
                return lower + (bounds[i] - lower) * (rank - below) / counts[i];
            }
            below += counts[i];
        }
        return bounds[bounds.length - 1];
    }

    /**
     * Samples instance counts every half bucket and forgets deleted functions' history, on a daemon thread,
     * until closed.
     */
    public AutoCloseable startSampling(Supplier<List<ActiveFunction>> active, Supplier<Set<String>> existing) {
        var sampler = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon().name("gale-call-history").factory());
        sampler.scheduleWithFixedDelay(() -> {
            try {
                sampleInstances(active.get());
                forgetIdle(existing.get());
            } catch (RuntimeException e) {
                LOG.warn("could not sample the functions' instances for the console's charts: {}", e.toString());
            }
        }, 0, BUCKET_MS / 2, TimeUnit.MILLISECONDS);
        return sampler::shutdownNow;
    }

    /** Names of the functions with a history (tests). */
    Set<String> functions() {
        return series.keySet().stream().collect(Collectors.toUnmodifiableSet());
    }
}
