package gale.gateway;

import com.fasterxml.jackson.databind.ObjectMapper;
import gale.config.DataSize;
import gale.config.Durations;
import gale.config.FunctionConfig;
import gale.logs.LogSink;
import gale.pool.InstancePool;
import gale.pool.PoolRejection;
import gale.registry.ActiveFunction;
import gale.registry.FunctionName;
import gale.registry.Registry;
import gale.runtime.InstanceFailure;
import gale.runtime.InvokeRequest;
import gale.runtime.InvokeResult;
import gale.store.InvocationRecord;
import gale.store.LogEntry;
import gale.store.InvocationRecord.Outcome;
import io.javalin.http.Context;
import io.javalin.http.Handler;
import io.javalin.http.HandlerType;

import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

/**
 * Serves {@code /fn/NAME} and every sub-path, any method: authenticates, answers CORS
 * preflight for functions that asked Gale to, borrows an instance from the function's
 * pool, passes the call through, and records what happened.
 *
 * <p>Status codes: 503 with Retry-After while Gale restores the function after a restart or is
 * stopping, 400 body cut off (the function is not called), 401 private function without
 * token, 404 unknown function or not a function name, 413 body too large, 429 queue full,
 * 500 the handler raised, 502 the instance died, 504 the call ran past the function's
 * timeout. Every error says who failed in {@code X-Gale-Error: platform|function}.
 */
public final class Gateway implements Handler {

    public static final String PREFIX = "/fn/";
    public static final List<HandlerType> METHODS = List.of(HandlerType.GET, HandlerType.POST, HandlerType.PUT,
            HandlerType.PATCH, HandlerType.DELETE, HandlerType.HEAD, HandlerType.OPTIONS);

    private static final ObjectMapper JSON = new ObjectMapper();
    /** Headers that describe one hop, not the message; the server sets its own. */
    private static final Set<String> HOP_BY_HOP = Set.of("connection", "keep-alive", "transfer-encoding", "content-length",
            "upgrade", "proxy-connection", "te", "trailer");

    private final Registry registry;
    private final LogSink logs;
    private final GatewayMetrics metrics;
    private final Auth auth;
    private final long maxBodyBytes;

    public Gateway(Registry registry, LogSink logs, GatewayMetrics metrics, Auth auth, long maxBodyBytes) {
        this.registry = registry;
        this.logs = logs;
        this.metrics = metrics;
        this.auth = auth;
        this.maxBodyBytes = maxBodyBytes;
    }

    @Override
    public void handle(Context ctx) {
        long startNanos = System.nanoTime();
        Instant arrival = Instant.now();
        String requestId = UUID.randomUUID().toString();
        ctx.header("X-Gale-Request-Id", requestId);
        String name = ctx.pathParamMap().getOrDefault("name", ""); // "" for a bare /fn/
        if (registry.isStopping()) {
            ctx.header("Retry-After", "1");
            fail(ctx, requestId, GatewayError.platform(503, "Gale is stopping and takes no new calls; retry in a moment"));
            return;
        }
        Optional<ActiveFunction> found = registry.active(name);
        if (found.isEmpty()) {
            if (registry.isRestoring(name)) {
                ctx.header("Retry-After", "1");
                fail(ctx, requestId, GatewayError.platform(503, "function '" + name + "' is starting after a restart of Gale; "
                        + "retry in a moment"));
                return;
            }
            fail(ctx, requestId, GatewayError.platform(404, notFoundMessage(name)));
            return;
        }
        ActiveFunction fn = found.get();
        FunctionConfig config = fn.config();
        if (!config.isPublic() && !auth.isAdmin(ctx)) {
            ctx.header("WWW-Authenticate", "Bearer");
            fail(ctx, requestId, GatewayError.platform(401, "function '" + name + "' is private: send "
                    + "'Authorization: Bearer <admin token>', or redeploy it with --allow-unauthenticated"));
            return;
        }
        if (Cors.handlePreflight(ctx, config)) return;
        Cors.allowOrigin(ctx, config);
        long length = ctx.req().getContentLengthLong();
        byte[] body;
        try { // the whole body or nothing: the function never sees a part of one
            body = length > maxBodyBytes ? null : readBody(ctx);
        } catch (IOException e) {
            fail(ctx, requestId, GatewayError.platform(400, "the request body was cut off (" + Objects.requireNonNullElse(
                    e.getMessage(), e.getClass().getSimpleName()) + "); function '" + name + "' was not called, send the whole body again"));
            return;
        }
        if (body == null || body.length > maxBodyBytes) {
            RefusedBody.discardRest(ctx, body != null, maxBodyBytes);
            fail(ctx, requestId, GatewayError.platform(413, "the request body is over this server's limit of "
                    + new DataSize(maxBodyBytes) + " (gale server --max-body); send less, or pass a reference to the data"));
            return;
        }
        InvokeRequest request = new InvokeRequest(requestId, ctx.method().name(), subPath(ctx, name),
                Optional.ofNullable(ctx.queryString()).orElse(""), headers(ctx, auth.isAdmin(ctx)), body, ctx.ip(), ctx.scheme(),
                Optional.ofNullable(ctx.host()).orElse(""), arrival.plus(config.timeout()));
        Served served = serve(fn, request);
        writeResult(ctx, requestId, fn, served);
        if (served.result instanceof InvokeResult.InstanceDied died) {
            // Make the kill visible where users look: in the function's own logs, with the request id.
            logs.log(new LogEntry(0, Instant.now(), fn.name(), served.version, served.instanceId, Optional.of(requestId),
                    "gale", "instance stopped during this call: " + died.failure().message()));
        } else if (served.result instanceof InvokeResult.TimedOut) {
            logs.log(new LogEntry(0, Instant.now(), fn.name(), served.version, served.instanceId, Optional.of(requestId),
                    "gale", "call exceeded the timeout of " + Durations.format(config.timeout()) + "; instance stopped"));
        }
        double durationMs = (System.nanoTime() - startNanos) / 1e6;
        metrics.record(fn.name(), served.outcome, durationMs, served.coldStart);
        logs.record(new InvocationRecord(requestId, fn.name(), served.version, served.instanceId, ctx.statusCode(),
                served.outcome, durationMs, served.coldStart, served.memoryMb, arrival));
    }

    /** What happened to one call, for the response and the invocation record. */
    private record Served(InvokeResult result, Optional<GatewayError> rejection, Outcome outcome, int version,
                          Optional<String> instanceId, boolean coldStart, Optional<Integer> memoryMb) {
    }

    private Served serve(ActiveFunction fn, InvokeRequest request) {
        ActiveFunction current = fn;
        for (int attempt = 0; ; attempt++) {
            InstancePool.Lease lease;
            try {
                lease = current.pool().acquire(request.deadline());
            } catch (PoolRejection.Closed closed) {
                // A redeploy swapped pools between lookup and acquire: the new version serves this call.
                Optional<ActiveFunction> next = registry.active(fn.name());
                if (attempt < 3 && next.isPresent() && next.get() != current) {
                    current = next.get();
                    continue;
                }
                return rejected(current, GatewayError.platform(503, "function '" + fn.name() + "' is being removed"));
            } catch (PoolRejection rejection) {
                return rejected(current, rejectionError(current, rejection));
            }
            try (lease) {
                InvokeResult result = lease.instance().invoke(request);
                long rss = lease.instance().lastRssBytes();
                return new Served(result, Optional.empty(), outcomeOf(result), current.version(),
                        Optional.of(lease.instance().id()), lease.coldStart(),
                        rss > 0 ? Optional.of((int) (rss >> 20)) : Optional.empty());
            }
        }
    }

    private static Served rejected(ActiveFunction fn, GatewayError error) {
        Outcome outcome = switch (error.status()) {
            case 504 -> Outcome.TIMEOUT;
            case 500 -> Outcome.FUNCTION_ERROR;
            case 502 -> Outcome.CRASH;
            default -> Outcome.REJECTED;
        };
        return new Served(null, Optional.of(error), outcome, fn.version(), Optional.empty(), false, Optional.empty());
    }

    private static GatewayError rejectionError(ActiveFunction fn, PoolRejection rejection) {
        return switch (rejection) {
            case PoolRejection.QueueFull q -> GatewayError.platform(429, q.getMessage());
            case PoolRejection.DeadlinePassed d -> GatewayError.platform(504, d.getMessage());
            case PoolRejection.StartFailed s -> s.failure().kind() == InstanceFailure.Kind.LOAD_FAILED
                    ? GatewayError.function(500, "function '" + fn.name() + "' v" + fn.version()
                    + " failed to start: " + s.failure().message() + "; see gale logs " + fn.name())
                    : GatewayError.platform(502, s.getMessage());
            case PoolRejection.Closed c -> GatewayError.platform(503, c.getMessage());
        };
    }

    private static Outcome outcomeOf(InvokeResult result) {
        return switch (result) {
            case InvokeResult.Response r -> Outcome.OK;
            case InvokeResult.FunctionError e -> Outcome.FUNCTION_ERROR;
            case InvokeResult.TimedOut t -> Outcome.TIMEOUT;
            case InvokeResult.InstanceDied d -> d.failure().kind() == InstanceFailure.Kind.MEMORY ? Outcome.MEMORY : Outcome.CRASH;
        };
    }

    private void writeResult(Context ctx, String requestId, ActiveFunction fn, Served served) {
        ctx.header("X-Gale-Cold-Start", Boolean.toString(served.coldStart));
        if (served.rejection.isPresent()) {
            if (served.rejection.get().status() == 429) ctx.header("Retry-After", "1");
            fail(ctx, requestId, served.rejection.get());
            return;
        }
        String label = "function '" + fn.name() + "' v" + served.version;
        switch (served.result) {
            case InvokeResult.Response r -> {
                ctx.status(r.status());
                for (Map.Entry<String, String> h : r.headers()) {
                    String header = h.getKey().toLowerCase();
                    if (HOP_BY_HOP.contains(header)) continue;
                    // Replaces Javalin's default text/plain: on Jetty 12, addHeader would send both.
                    if (header.equals("content-type")) ctx.res().setContentType(h.getValue());
                    else ctx.res().addHeader(h.getKey(), h.getValue());
                }
                ctx.result(r.body());
            }
            case InvokeResult.FunctionError e -> fail(ctx, requestId, GatewayError.function(500,
                    label + " raised " + e.error() + "; the traceback is in gale logs " + fn.name()));
            case InvokeResult.TimedOut t -> fail(ctx, requestId, GatewayError.function(504,
                    label + " did not answer within its timeout of " + Durations.format(fn.config().timeout())
                            + "; the instance was stopped. Raise --timeout or make the call faster"));
            case InvokeResult.InstanceDied d -> fail(ctx, requestId, instanceDied(label, fn.name(), d.failure()));
        }
    }

    /** 502: who failed, what happened, and what to do; an instance lost with its zygote is Gale's doing, not the function's. */
    private static GatewayError instanceDied(String label, String name, InstanceFailure failure) {
        String next = "; a new instance serves the next call";
        return switch (failure.kind()) {
            case LOST -> GatewayError.platform(502, label + ": " + failure.message() + "; the function is not at fault: "
                    + "retry the call" + next);
            case MEMORY -> GatewayError.function(502, label + ": " + failure.message() + "; raise --memory or use less" + next);
            default -> GatewayError.function(502, label + ": " + failure.message() + "; what it printed is in gale logs " + name + next);
        };
    }

    static void fail(Context ctx, String requestId, GatewayError error) {
        ctx.status(error.status());
        ctx.header("X-Gale-Error", error.blame().header());
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("error", error.message());
        body.put("status", error.status());
        body.put("requestId", requestId);
        try {
            ctx.contentType("application/json").result(JSON.writeValueAsBytes(body));
        } catch (IOException e) {
            ctx.result(error.message());
        }
    }

    private String notFoundMessage(String name) {
        if (!FunctionName.isValid(name)) {
            return "no function '" + FunctionName.shown(name) + "': " + FunctionName.RULE + "; call it at /fn/NAME";
        }
        return registry.function(name)
                .map(f -> "function '" + name + "' has no ACTIVE version yet; see gale versions " + name)
                .orElse("function '" + name + "' not found; gale ls lists the deployed functions");
    }

    /** At most one byte over the limit, so a chunked body without Content-Length is cut off there too. */
    private byte[] readBody(Context ctx) throws IOException {
        return ctx.req().getInputStream().readNBytes((int) Math.min(Integer.MAX_VALUE - 8, maxBodyBytes + 1));
    }

    private static String subPath(Context ctx, String name) {
        String uri = ctx.req().getRequestURI();
        int start = PREFIX.length() + name.length();
        String rest = uri.length() > start ? uri.substring(start) : "";
        return rest.isEmpty() ? "/" : rest;
    }

    /** The request's headers for the function, minus the admin token: user code never sees it. */
    private static List<Map.Entry<String, String>> headers(Context ctx, boolean carriesAdminToken) {
        List<Map.Entry<String, String>> list = new ArrayList<>();
        Enumeration<String> names = ctx.req().getHeaderNames();
        while (names.hasMoreElements()) {
            String n = names.nextElement();
            if (carriesAdminToken && n.equalsIgnoreCase("Authorization")) continue;
            Enumeration<String> values = ctx.req().getHeaders(n);
            while (values.hasMoreElements()) list.add(Map.entry(n, values.nextElement()));
        }
        return list;
    }
}
