package gale.gateway;

import gale.store.InvocationRecord.Outcome;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/** Per-function call counters and latency, exported on /metrics. Meters are cached: no lookup per call. */
public final class GatewayMetrics {

    private record Meters(Map<Outcome, Counter> calls, Timer duration, Counter coldStarts) {
    }

    private final MeterRegistry registry;
    private final Map<String, Meters> byFunction = new ConcurrentHashMap<>();

    public GatewayMetrics(MeterRegistry registry) {
        this.registry = registry;
    }

    void record(String function, Outcome outcome, double durationMs, boolean coldStart) {
        Meters m = byFunction.computeIfAbsent(function, this::meters);
        m.calls().get(outcome).increment();
        m.duration().record((long) (durationMs * 1_000_000), TimeUnit.NANOSECONDS);
        if (coldStart) m.coldStarts().increment();
    }

    private Meters meters(String function) {
        var calls = new java.util.EnumMap<Outcome, Counter>(Outcome.class);
        for (Outcome o : Outcome.values()) {
            calls.put(o, Counter.builder("gale.invocations").tag("function", function).tag("outcome", o.wire())
                    .description("calls of a function by how they ended").register(registry));
        }
        Timer duration = Timer.builder("gale.invocation.duration").tag("function", function)
                .publishPercentiles(0.5, 0.99).description("time from arrival to response").register(registry);
        Counter cold = Counter.builder("gale.cold.starts").tag("function", function)
                .description("calls that waited for an instance to start").register(registry);
        return new Meters(calls, duration, cold);
    }
}
