package gale.gateway;

import gale.pool.PoolStats;
import gale.registry.ActiveFunction;
import gale.store.InvocationRecord.Outcome;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.MultiGauge;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;

import java.time.Duration;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Per-function, per-version metrics, exported on /metrics in Prometheus' names:
 * {@code gale_function_calls_total{function,version,outcome}}, {@code gale_function_duration_seconds}
 * (a histogram), {@code gale_function_cold_starts_total}, {@code gale_function_cold_start_seconds}
 * (the wait of a call for its instance to start), and, read from the pools at each scrape,
 * {@code gale_function_instances} and {@code gale_function_queue_depth}. Meters are cached: no
 * lookup per call beyond one map read. Each call also goes into the {@link CallHistory} the console
 * charts, with the same outcome, duration and histogram bounds.
 */
public final class GatewayMetrics {

    /** Histogram buckets of call and cold-start durations: what a dashboard's p50/p99 is computed from. */
    private static final Duration[] BUCKETS = {Duration.ofMillis(1), Duration.ofMillis(2), Duration.ofMillis(5),
            Duration.ofMillis(10), Duration.ofMillis(25), Duration.ofMillis(50), Duration.ofMillis(100), Duration.ofMillis(250),
            Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofMillis(2500), Duration.ofSeconds(5), Duration.ofSeconds(10),
            Duration.ofSeconds(30), Duration.ofSeconds(60)};

    private record Key(String function, int version) {
    }

    private record Meters(Map<Outcome, Counter> calls, Timer duration, Counter coldStarts, Timer coldStart) {
    }

    private final MeterRegistry registry;
    private final Map<Key, Meters> meters = new ConcurrentHashMap<>();
    private final MultiGauge instances;
    private final MultiGauge queueDepth;
    private final CallHistory history = new CallHistory(BUCKETS, System::currentTimeMillis);

    public GatewayMetrics(MeterRegistry registry) {
        this.registry = registry;
        this.instances = MultiGauge.builder("gale.function.instances")
                .description("instances of a version that run or are starting").register(registry);
        this.queueDepth = MultiGauge.builder("gale.function.queue.depth")
                .description("calls of a version waiting for a free instance").register(registry);
    }

    /** The last hour of calls per function, in 10-second buckets (the console's charts). */
    public CallHistory history() {
        return history;
    }

    /**
     * @param result          who failed, if anyone (the response's X-Gale-Error)
     * @param coldStartWaitMs how long the call waited for its instance to start (only for a cold start)
     */
    void record(String function, int version, Outcome outcome, CallHistory.Result result, double durationMs, boolean coldStart,
                double coldStartWaitMs) {
        history.record(function, result, durationMs, coldStart);
        Meters m = meters.computeIfAbsent(new Key(function, version), this::meters);
        m.calls().get(outcome).increment();
        m.duration().record((long) (durationMs * 1_000_000), TimeUnit.NANOSECONDS);
        if (coldStart) {
            m.coldStarts().increment();
            m.coldStart().record((long) (coldStartWaitMs * 1_000_000), TimeUnit.NANOSECONDS);
        }
    }

    /** Reads the pools' instance counts and queues into the gauges (before a scrape); gone versions drop out. */
    public void refreshPools(List<ActiveFunction> active) {
        instances.register(active.stream().map(f -> MultiGauge.Row.of(tags(f), stats(f).instances() + stats(f).starting())).toList(), true);
        queueDepth.register(active.stream().map(f -> MultiGauge.Row.of(tags(f), stats(f).waiting())).toList(), true);
    }

    private static PoolStats stats(ActiveFunction f) {
        return f.pool().stats();
    }

    private static Tags tags(ActiveFunction f) {
        return Tags.of("function", f.name(), "version", Integer.toString(f.version()));
    }

    private Meters meters(Key key) {
        Tags tags = Tags.of("function", key.function(), "version", Integer.toString(key.version()));
        var calls = new EnumMap<Outcome, Counter>(Outcome.class);
        for (Outcome o : Outcome.values()) {
            calls.put(o, Counter.builder("gale.function.calls").tags(tags).tag("outcome", o.wire())
                    .description("calls of a function by how they ended").register(registry));
        }
        Timer duration = Timer.builder("gale.function.duration").tags(tags).serviceLevelObjectives(BUCKETS)
                .description("time from a call's arrival to its response").register(registry);
        Counter cold = Counter.builder("gale.function.cold.starts").tags(tags)
                .description("calls that waited for an instance to start").register(registry);
        Timer coldStart = Timer.builder("gale.function.cold.start").tags(tags).serviceLevelObjectives(BUCKETS)
                .description("how long a cold-started call waited for its instance").register(registry);
        return new Meters(calls, duration, cold, coldStart);
    }
}
