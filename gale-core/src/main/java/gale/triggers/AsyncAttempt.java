package gale.triggers;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import gale.config.Durations;
import gale.config.FunctionConfig;
import gale.logs.LogSink;
import gale.pool.InstancePool;
import gale.pool.PoolRejection;
import gale.registry.ActiveFunction;
import gale.runtime.InstanceFailure;
import gale.runtime.InvokeRequest;
import gale.runtime.InvokeResult;
import gale.store.AsyncInvocationRow;
import gale.store.InvocationRecord;
import gale.store.InvocationRecord.Outcome;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;

/**
 * One attempt of an async call on the function's active version: borrows an instance from its pool
 * (behind interactive calls, as map-job tasks do, so it scales from zero and respects max-instances),
 * replays the stored request and says how it ended. Records the attempt like any call.
 */
final class AsyncAttempt {

    /** How an attempt ended. */
    sealed interface Ended {
        /** The function answered with a status below 500 (not 429): the call is done. */
        record Answered(int version, InvokeResult.Response response) implements Ended {
        }

        /** The function failed (raised, 5xx or 429, timed out, crashed, could not start): an attempt used. */
        record Failed(int version, String error, Optional<String> traceback, Optional<InvokeResult.Response> response)
                implements Ended {
        }

        /** Not the function's doing (the pool was full, a redeploy swapped it, Gale stops): try again, no attempt used. */
        record NotRun(String why) implements Ended {
        }
    }

    static final String INVOCATION_HEADER = "X-Gale-Invocation-Id";
    static final String ATTEMPT_HEADER = "X-Gale-Attempt";
    private static final ObjectMapper JSON = new ObjectMapper();

    private AsyncAttempt() {
    }

    static Ended run(ActiveFunction fn, AsyncInvocationRow call, int attempt, LogSink logs) {
        FunctionConfig config = fn.config();
        Instant arrival = Instant.now();
        long started = System.nanoTime();
        // Unique per attempt, also after a redrive numbers attempts from 1 again: invocation records are keyed by it.
        String requestId = call.id() + "-" + attempt + "-" + Integer.toHexString(ThreadLocalRandom.current().nextInt() | 0x10000000);
        InvokeRequest request = new InvokeRequest(requestId, call.method(), call.path(), call.query(),
                headers(call, attempt), call.body(), call.remoteAddr(), call.scheme(), call.host(),
                arrival.plus(config.timeout()));
        InstancePool.Lease lease;
        try {
            lease = fn.pool().acquire(request.deadline(), InstancePool.Priority.BACKGROUND);
        } catch (PoolRejection.StartFailed e) {
            record(logs, fn, requestId, Optional.empty(), 502, Outcome.CRASH, started, false, arrival);
            return new Ended.Failed(fn.version(), e.getMessage(), Optional.empty(), Optional.empty());
        } catch (PoolRejection e) {
            return new Ended.NotRun(e.getMessage());
        }
        InvokeResult result;
        boolean cold = lease.coldStart();
        String instance = lease.instance().id();
        try (lease) {
            result = lease.invoke(request);
        }
        String label = "function '" + fn.name() + "' v" + fn.version();
        return switch (result) {
            case InvokeResult.Response r when r.status() < 500 && r.status() != 429 -> {
                record(logs, fn, requestId, Optional.of(instance), r.status(), Outcome.OK, started, cold, arrival);
                yield new Ended.Answered(fn.version(), r);
            }
            case InvokeResult.Response r -> {
                record(logs, fn, requestId, Optional.of(instance), r.status(), Outcome.OK, started, cold, arrival);
                yield new Ended.Failed(fn.version(), label + " answered HTTP " + r.status(), Optional.empty(), Optional.of(r));
            }
            case InvokeResult.FunctionError e -> {
                record(logs, fn, requestId, Optional.of(instance), 500, Outcome.FUNCTION_ERROR, started, cold, arrival);
                yield new Ended.Failed(fn.version(), label + " raised " + e.error(),
                        Optional.of(e.traceback()).filter(t -> !t.isEmpty()), Optional.empty());
            }
            case InvokeResult.TimedOut t -> {
                record(logs, fn, requestId, Optional.of(instance), 504, Outcome.TIMEOUT, started, cold, arrival);
                yield new Ended.Failed(fn.version(), label + " did not answer within its timeout of "
                        + Durations.format(config.timeout()), Optional.empty(), Optional.empty());
            }
            case InvokeResult.InstanceDied d -> {
                boolean memory = d.failure().kind() == InstanceFailure.Kind.MEMORY;
                record(logs, fn, requestId, Optional.of(instance), 502, memory ? Outcome.MEMORY : Outcome.CRASH, started, cold, arrival);
                yield d.failure().kind() == InstanceFailure.Kind.LOST
                        ? new Ended.NotRun(label + ": " + d.failure().message())
                        : new Ended.Failed(fn.version(), label + ": " + d.failure().message(), Optional.empty(), Optional.empty());
            }
        };
    }

    private static void record(LogSink logs, ActiveFunction fn, String requestId, Optional<String> instance, int status,
                               Outcome outcome, long startedNanos, boolean cold, Instant arrival) {
        logs.record(new InvocationRecord(requestId, fn.name(), fn.version(), instance, status, outcome,
                (System.nanoTime() - startedNanos) / 1e6, cold, Optional.empty(), arrival));
    }

    /** The stored headers, plus the invocation id and attempt number, which a function may use to be idempotent. */
    private static List<Map.Entry<String, String>> headers(AsyncInvocationRow call, int attempt) {
        List<Map.Entry<String, String>> headers = new ArrayList<>(fromJson(call.headersJson()));
        headers.add(Map.entry(INVOCATION_HEADER, call.id()));
        headers.add(Map.entry(ATTEMPT_HEADER, Integer.toString(attempt)));
        return headers;
    }

    /** Headers as stored: a JSON array of [name, value] pairs, in order. */
    static String toJson(List<Map.Entry<String, String>> headers) {
        List<List<String>> pairs = new ArrayList<>(headers.size());
        for (Map.Entry<String, String> h : headers) pairs.add(List.of(h.getKey(), h.getValue()));
        try {
            return JSON.writeValueAsString(pairs);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("headers are strings", e);
        }
    }

    static List<Map.Entry<String, String>> fromJson(String json) {
        try {
            List<Map.Entry<String, String>> out = new ArrayList<>();
            for (var pair : JSON.readTree(json)) out.add(Map.entry(pair.get(0).asText(), pair.get(1).asText()));
            return out;
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("stored headers are not JSON: " + e.getOriginalMessage(), e);
        }
    }
}
