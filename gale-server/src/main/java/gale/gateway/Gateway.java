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
import gale.registry.TrafficSplit;
import gale.registry.TrafficTag;
import gale.runtime.InstanceFailure;
import gale.runtime.InvokeRequest;
import gale.runtime.InvokeResult;
import gale.triggers.AsyncQueue;
import gale.store.AsyncInvocationRow;
import gale.store.InvocationRecord;
import gale.store.InvocationRecord.Outcome;
import gale.store.LogEntry;
import gale.util.TimeOrderedIds;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.URLDecoder;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Serves {@code /fn/NAME} and every sub-path, any method, and {@code /fn/NAME@v4} or {@code /fn/NAME@TAG} for one
 * version (docs/traffic.md): picks the version by the function's traffic split, authenticates, answers CORS
 * preflight for functions that asked Gale to, borrows an instance from the function's
 * pool, passes the call through, and records what happened. Every other path goes on to
 * the wrapped handler (the admin API).
 *
 * <p>A call holds no thread while its function runs: the request is sent to the instance,
 * and the instance's reader thread writes the response when the function answers (Jetty
 * writes without blocking). A call that must wait for an instance waits in the pool's queue,
 * not on a thread. That is the whole serving path: no hand-off to a thread that then parks.
 *
 * <p>Status codes: 503 with Retry-After while Gale restores the function after a restart or is
 * stopping, 400 body cut off (the function is not called), 401 private or key-requiring function
 * without a valid credential, 403 an access key without invoke scope for the function, 404 unknown
 * function or not a function name, 413 body too large, 429 queue full or the key over its rate limit,
 * 500 the handler raised, 502 the instance died, 504 the call ran past the function's
 * timeout. Every error says who failed in {@code X-Gale-Error: platform|function}, and every call that reached a
 * version names it in {@code X-Gale-Version}.
 */
public final class Gateway extends Handler.Wrapper {

    private static final Logger LOG = LoggerFactory.getLogger(Gateway.class);
    public static final String PREFIX = "/fn/";
    /** What marks a trigger's event (gale.triggers.TriggerEvents): only Gale and admin callers may send it. */
    private static final String TRIGGER_HEADER = "X-Gale-Trigger";
    /** Calls with the same value meet the same version while the split stays (docs/traffic.md). */
    public static final String STICKY_HEADER = "X-Gale-Sticky-Key";
    public static final String VERSION_HEADER = "X-Gale-Version";
    private static final Set<String> METHODS = Set.of("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS");

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final byte[] NO_BODY = new byte[0];
    /** Headers that describe one hop, not the message; the server sets its own. */
    private static final Set<String> HOP_BY_HOP = Set.of("connection", "keep-alive", "transfer-encoding", "content-length",
            "upgrade", "proxy-connection", "te", "trailer");
    /** What Javalin answered when a function named no type; kept so responses stay as they were. */
    private static final String DEFAULT_CONTENT_TYPE = "text/plain;charset=utf-8";

    private final Registry registry;
    private final LogSink logs;
    private final GatewayMetrics metrics;
    private final Auth auth;
    private final long maxBodyBytes;
    private final AsyncQueue async;
    private final Peers peers;
    private final PeerCalls peerCalls;

    /** A single node's gateway: every call is served here. */
    public Gateway(Registry registry, LogSink logs, GatewayMetrics metrics, Auth auth, long maxBodyBytes, AsyncQueue async) {
        this(registry, logs, metrics, auth, maxBodyBytes, async, Peers.NONE);
    }

    /** A gateway that sends a call to a peer with a free warm instance when this node has none ({@link Peers}). */
    public Gateway(Registry registry, LogSink logs, GatewayMetrics metrics, Auth auth, long maxBodyBytes, AsyncQueue async,
                   Peers peers) {
        this.peers = peers;
        this.peerCalls = peers.enabled() ? new PeerCalls() : null;
        this.registry = registry;
        this.async = async;
        this.logs = logs;
        this.metrics = metrics;
        this.auth = auth;
        this.maxBodyBytes = maxBodyBytes;
    }

    /**
     * Calls are served on Jetty's selector thread, which never blocks here: a call's steps either
     * complete at once or continue when something arrives. Everything else (the admin API, whose
     * handlers block) goes to a virtual thread, as Jetty would send it if this handler blocked.
     */
    @Override
    protected void doStop() throws Exception {
        if (peerCalls != null) peerCalls.close();
        super.doStop();
    }

    @Override
    public InvocationType getInvocationType() {
        return InvocationType.NON_BLOCKING;
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) {
        String path = request.getHttpURI().getPath();
        boolean functionPath = path != null && (path.equals("/fn") || path.startsWith(PREFIX));
        if (!functionPath || !METHODS.contains(request.getMethod())) {
            Thread.startVirtualThread(() -> {
                try {
                    if (!super.handle(request, response, callback)) Response.writeError(request, response, callback, 404);
                } catch (Throwable e) {
                    Response.writeError(request, response, callback, e);
                }
            });
            return true;
        }
        var call = new Call(request, response, callback);
        call.guarded(call::start);
        return true;
    }

    /** A call's request id: time-ordered, so invocation records append to one page of the store ({@link TimeOrderedIds}). */
    static String newRequestId() {
        return TimeOrderedIds.next(System.currentTimeMillis());
    }

    /** One call through the gateway, from arrival to the invocation record. */
    private final class Call {
        private final Request request;
        private final Response response;
        private final Callback callback;
        private final long startNanos = System.nanoTime();
        private long acquiredNanos; // when the pool handed over an instance: a cold start's wait ends there
        private final Instant arrival = Instant.now();
        /** Sent on by a peer node, which authenticated it already: served here, never sent on again. */
        private final boolean fromPeer;
        private final String requestId;
        private final String name;
        private final String target; // what followed @ in the path: a version (v4), a tag, or "" for the split to pick
        private final int bucket;
        private final AtomicBoolean answered = new AtomicBoolean();
        private CallHistory.Result ended = CallHistory.Result.OK; // who failed: set by fail(), which finish() calls before reading it

        Call(Request request, Response response, Callback callback) {
            this.request = request;
            this.response = response;
            this.callback = callback;
            String segment = nameOf(request.getHttpURI().getPath());
            int at = segment.indexOf('@');
            this.name = at < 0 ? segment : segment.substring(0, at);
            // "/fn/NAME@" names no version: "@" is never a tag, so it gets the 404 that says what follows @
            this.target = at < 0 ? "" : at == segment.length() - 1 ? "@" : segment.substring(at + 1);
            String sticky = request.getHeaders().get(STICKY_HEADER);
            this.bucket = sticky == null || sticky.isEmpty() ? TrafficSplit.randomBucket() : TrafficSplit.bucketOf(sticky);
            this.fromPeer = peers.isPeerCall(request.getHeaders().get(Peers.CREDENTIAL_HEADER));
            this.requestId = fromPeer ? forwardedRequestId(request.getHeaders().get(Peers.FORWARDED_HEADER)) : newRequestId();
        }

        /** Runs one step of the call; a bug in it answers 500 instead of leaving the client waiting. */
        void guarded(Runnable step) {
            try {
                step.run();
            } catch (RuntimeException | Error e) {
                LOG.error("{} {} failed", request.getMethod(), request.getHttpURI().getPath(), e);
                if (!answered.get()) fail(GatewayError.platform(500, "internal error: " + e + "; see the server log"));
            }
        }

        void start() {
            response.getHeaders().put("X-Gale-Request-Id", requestId);
            if (peers.enabled()) response.getHeaders().put(Peers.NODE_HEADER, peers.self());
            if (registry.isStopping()) {
                response.getHeaders().put(HttpHeader.RETRY_AFTER, "1");
                fail(GatewayError.platform(503, "Gale is stopping and takes no new calls; retry in a moment"));
                return;
            }
            Optional<ActiveFunction> found = registry.route(name, target, bucket);
            if (found.isEmpty()) {
                if (registry.isRestoring(name)) {
                    response.getHeaders().put(HttpHeader.RETRY_AFTER, "1");
                    fail(GatewayError.platform(503, "function '" + name + "' is starting on this Gale node (after a restart, "
                            + "or deployed at another node of its store); retry in a moment"));
                    return;
                }
                Optional<String> elsewhere = registry.cannotServeHere(name);
                if (elsewhere.isPresent()) { // another node of the store serves it: a balancer may send the call there
                    fail(GatewayError.platform(503, "function '" + name + "': " + elsewhere.get() + "; see this node's log"));
                    return;
                }
                Thread.startVirtualThread(() -> guarded(() -> fail(GatewayError.platform(404, notFoundMessage(name, target))))); // reads the store
                return;
            }
            ActiveFunction fn = found.get();
            response.getHeaders().put(VERSION_HEADER, Integer.toString(fn.version()));
            FunctionConfig config = fn.config();
            String authorization = request.getHeaders().get(HttpHeader.AUTHORIZATION);
            boolean admin = auth.isAdmin(authorization);
            // A browser's preflight never carries a key: a key-requiring function's is answered without one.
            if (!config.isPublic() && !admin && !fromPeer && !(config.requireKey() && Cors.isPreflight(request, config))) {
                Optional<Auth.Refusal> refused = auth.refuseCall(name, config.requireKey(),
                        auth.caller(authorization, request.getHeaders().get(Auth.KEY_HEADER)));
                if (refused.isPresent()) {
                    refuse(refused.get());
                    return;
                }
            }
            if (Cors.handlePreflight(request, response, callback, config)) return;
            Cors.allowOrigin(request, response, config);
            boolean respondAsync;
            try {
                respondAsync = AsyncPreference.respondAsync(request.getHeaders().get(AsyncPreference.HEADER));
            } catch (AsyncPreference.Refused e) {
                fail(GatewayError.platform(400, e.getMessage() + "; function '" + name + "' was not called"));
                return;
            }
            long length = request.getLength();
            if (length > maxBodyBytes) {
                refuseBody(false);
                return;
            }
            boolean chunked = request.getHeaders().contains(HttpHeader.TRANSFER_ENCODING);
            if (length == 0 || (length < 0 && !chunked)) {
                if (respondAsync) {
                    accept(fn, NO_BODY, admin);
                } else {
                    invoke(fn, NO_BODY, admin);
                }
                return;
            }
            // The whole body or nothing: the function never sees a part of one.
            Content.Source.asByteArrayAsync(request, (int) Math.min(Integer.MAX_VALUE - 8, maxBodyBytes)).whenComplete((body, error) -> guarded(() -> {
                if (error == null && respondAsync) {
                    accept(fn, body, admin);
                } else if (error == null) {
                    invoke(fn, body, admin);
                } else if (unwrap(error) instanceof IllegalStateException) { // over the limit, found while reading
                    refuseBody(true);
                } else {
                    fail(GatewayError.platform(400, "the request body was cut off (" + Objects.requireNonNullElse(
                            unwrap(error).getMessage(), unwrap(error).getClass().getSimpleName()) + "); function '" + name
                            + "' was not called, send the whole body again"));
                }
            }));
        }

        /** 401 (with WWW-Authenticate), 403, or 429 (with Retry-After) before anything else happens. */
        private void refuse(Auth.Refusal refusal) {
            if (refusal.status() == 401) response.getHeaders().put(HttpHeader.WWW_AUTHENTICATE, "Bearer");
            if (refusal.status() == 429) response.getHeaders().put(HttpHeader.RETRY_AFTER, refusal.retryAfterSeconds());
            fail(GatewayError.platform(refusal.status(), refusal.message()));
        }

        /** 413 once what the client still sends is read and dropped (on a virtual thread: that waits for the client). */
        private void refuseBody(boolean started) {
            Thread.startVirtualThread(() -> guarded(() -> {
                RefusedBody.discardRest(request, response, started, maxBodyBytes);
                fail(GatewayError.platform(413, "the request body is over this server's limit of "
                        + new DataSize(maxBodyBytes) + " (gale server --max-body); send less, or pass a reference to the data"));
            }));
        }

        private void invoke(ActiveFunction fn, byte[] body, boolean admin) {
            var call = new InvokeRequest(requestId, request.getMethod(), subPath(request.getHttpURI().getPath(), name),
                    Objects.requireNonNullElse(request.getHttpURI().getQuery(), ""),
                    fromPeer ? forwardedHeaders(request) : headers(request, admin), body,
                    Objects.requireNonNullElse(Request.getRemoteAddr(request), ""),
                    Objects.requireNonNullElse(request.getHttpURI().getScheme(), "http"),
                    Objects.requireNonNullElse(request.getHeaders().get(HttpHeader.HOST), ""),
                    arrival.plus(fn.config().timeout()));
            // Only calls to the ACTIVE version go to peers: a peer picks a version by its own split (traffic.md).
            if (!fromPeer && target.isEmpty() && peers.enabled() && fn.pool().freeSlots() == 0
                    && registry.active(fn.name()).map(ActiveFunction::version).orElse(-1) == fn.version()) {
                Optional<Peers.Peer> peer = peers.takeFree(fn.name(), fn.version());
                if (peer.isEmpty()) peer = peers.placeColdStart(fn.name(), fn.version()); // none warm: start it where there is room
                if (peer.isPresent()) {
                    forward(fn, peer.get(), call);
                    return;
                }
            }
            serve(fn, call, 0);
        }

        /**
         * Sends the call to a peer (one with a free warm instance, or one with less load to start an instance) and
         * answers with what it answered; the peer records the call. A peer that cannot be reached got nothing: the
         * call is served here after all.
         */
        private void forward(ActiveFunction fn, Peers.Peer peer, InvokeRequest call) {
            String pathAndQuery = request.getHttpURI().getPathQuery();
            peerCalls.send(peer, call.method(), pathAndQuery, call.headers(), call.body(), call.deadline(), peers.credential(),
                    peers.self() + " " + requestId).whenComplete((answer, error) -> guarded(() -> {
                if (error == null) {
                    relay(answer);
                    return;
                }
                if (unwrap(error) instanceof PeerCalls.PeerFailed failed && failed.unreachable) {
                    LOG.info("{}; serving {} {} here", failed.getMessage(), fn.name(), requestId);
                    peers.forget(peer.id());
                    serve(fn, call, 0);
                    return;
                }
                LOG.warn("{} {}: {}", fn.name(), requestId, unwrap(error).getMessage());
                fail(GatewayError.platform(502, "function '" + fn.name() + "': " + unwrap(error).getMessage()
                        + "; the call may have run there, retry it if that is safe"));
            }));
        }

        /** A peer's answer, as it gave it: its status, headers (its X-Gale-* too) and body. */
        private void relay(PeerCalls.Answer answer) {
            response.setStatus(answer.status());
            Set<String> given = new java.util.HashSet<>();
            for (Map.Entry<String, String> h : answer.headers()) {
                if (given.add(h.getKey().toLowerCase(java.util.Locale.ROOT))) {
                    response.getHeaders().put(h.getKey(), h.getValue());
                } else {
                    response.getHeaders().add(h.getKey(), h.getValue());
                }
            }
            send(answer.body());
        }

        /**
         * Prefer: respond-async: stores the whole call, then answers 202 with where to find how it ends. The store
         * write is the queue's (a group commit on its writer thread); the 202 goes from there, without blocking.
         */
        private void accept(ActiveFunction fn, byte[] body, boolean admin) {
            List<Map.Entry<String, String>> headers = headers(request, admin);
            headers.removeIf(h -> h.getKey().equalsIgnoreCase(AsyncPreference.HEADER)); // the function answers as for any call
            var call = AsyncInvocationRow.accepted(requestId, fn.name(), request.getMethod(),
                    subPath(request.getHttpURI().getPath(), name), Objects.requireNonNullElse(request.getHttpURI().getQuery(), ""),
                    AsyncQueue.headersJson(headers), body, Objects.requireNonNullElse(Request.getRemoteAddr(request), ""),
                    Objects.requireNonNullElse(request.getHttpURI().getScheme(), "http"),
                    Objects.requireNonNullElse(request.getHeaders().get(HttpHeader.HOST), ""), arrival);
            async.accept(call).whenComplete((stored, error) -> guarded(() -> {
                if (error != null) {
                    response.getHeaders().put(HttpHeader.RETRY_AFTER, "1");
                    fail(GatewayError.platform(503, "the async call to '" + name + "' could not be stored ("
                            + unwrap(error).getMessage() + "); nothing was queued, send it again"));
                    return;
                }
                response.setStatus(202);
                response.getHeaders().put(HttpHeader.LOCATION, "/v1/invocations/" + requestId);
                response.getHeaders().put("Preference-Applied", AsyncPreference.RESPOND_ASYNC);
                response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
                send(("{\"invocationId\":\"" + requestId + "\",\"function\":\"" + fn.name() + "\",\"status\":\"queued\"}")
                        .getBytes(StandardCharsets.UTF_8)); // an id and a function name need no escaping
            }));
        }

        private void serve(ActiveFunction fn, InvokeRequest call, int attempt) {
            fn.pool().acquireAsync(call.deadline()).whenComplete((lease, error) -> guarded(() -> {
                if (error != null) {
                    if (unwrap(error) instanceof PoolRejection.Closed) {
                        // A redeploy swapped pools between lookup and acquire: the new version serves this call.
                        Optional<ActiveFunction> next = registry.route(fn.name(), target, bucket);
                        if (attempt < 3 && next.isPresent() && next.get() != fn) {
                            response.getHeaders().put(VERSION_HEADER, Integer.toString(next.get().version()));
                            serve(next.get(), call, attempt + 1);
                            return;
                        }
                        finish(fn, rejected(fn, GatewayError.platform(503, "function '" + fn.name() + "' is being removed")));
                    } else if (unwrap(error) instanceof PoolRejection rejection) {
                        finish(fn, rejected(fn, rejectionError(fn, rejection)));
                    } else {
                        finish(fn, rejected(fn, GatewayError.platform(500, "internal error: " + unwrap(error) + "; see the server log")));
                    }
                    return;
                }
                acquiredNanos = System.nanoTime();
                invokeOn(fn, lease, call);
            }));
        }

        private void invokeOn(ActiveFunction fn, InstancePool.Lease lease, InvokeRequest call) {
            CompletableFuture<InvokeResult> result;
            try {
                result = lease.invokeAsync(call);
            } catch (RuntimeException e) {
                lease.close();
                throw e;
            }
            result.whenComplete((outcome, error) -> guarded(() -> {
                Served served;
                try {
                    if (error != null) throw new IllegalStateException("call results are never completed exceptionally", error);
                    long rss = lease.instance().lastRssBytes();
                    served = new Served(outcome, Optional.empty(), outcomeOf(outcome), fn.version(),
                            Optional.of(lease.instance().id()), lease.coldStart(),
                            rss > 0 ? Optional.of((int) (rss >> 20)) : Optional.empty());
                } finally {
                    lease.close();
                }
                finish(fn, served);
            }));
        }

        /** Writes the response, then tells the function's logs and metrics what happened. */
        private void finish(ActiveFunction fn, Served served) {
            int status = writeResult(fn, served);
            if (served.result instanceof InvokeResult.InstanceDied died) {
                // Make the kill visible where users look: in the function's own logs, with the request id.
                logs.log(new LogEntry(0, Instant.now(), fn.name(), served.version, served.instanceId, Optional.of(requestId),
                        "gale", "instance stopped during this call: " + died.failure().message()));
            } else if (served.result instanceof InvokeResult.TimedOut) {
                logs.log(new LogEntry(0, Instant.now(), fn.name(), served.version, served.instanceId, Optional.of(requestId),
                        "gale", "call exceeded the timeout of " + Durations.format(fn.config().timeout()) + "; instance stopped"));
            }
            double durationMs = (System.nanoTime() - startNanos) / 1e6;
            metrics.record(fn.name(), served.version, served.outcome, ended, durationMs, served.coldStart,
                    served.coldStart ? (acquiredNanos - startNanos) / 1e6 : 0);
            logs.record(new InvocationRecord(requestId, fn.name(), served.version, served.instanceId, status,
                    served.outcome, durationMs, served.coldStart, served.memoryMb, arrival));
        }

        /** The response for a call that reached the pool; returns its status. */
        private int writeResult(ActiveFunction fn, Served served) {
            response.getHeaders().put("X-Gale-Cold-Start", Boolean.toString(served.coldStart));
            if (served.rejection.isPresent()) {
                if (served.rejection.get().status() == 429) response.getHeaders().put(HttpHeader.RETRY_AFTER, "1");
                return fail(served.rejection.get());
            }
            String label = "function '" + fn.name() + "' v" + served.version;
            return switch (served.result) {
                case InvokeResult.Response r -> {
                    response.setStatus(r.status());
                    boolean typed = false;
                    Set<String> given = new java.util.HashSet<>();
                    for (Map.Entry<String, String> h : r.headers()) {
                        String header = h.getKey().toLowerCase(java.util.Locale.ROOT);
                        if (HOP_BY_HOP.contains(header) || header.startsWith("x-gale-")) continue; // Gale's own headers stay Gale's
                        if (header.equals("content-type")) {
                            if (typed) continue; // one type: the first the function gave
                            typed = true;
                            response.getHeaders().put(HttpHeader.CONTENT_TYPE, h.getValue());
                        } else if (given.add(header)) {
                            response.getHeaders().put(h.getKey(), h.getValue()); // the function's header wins over Gale's CORS one
                        } else {
                            response.getHeaders().add(h.getKey(), h.getValue());
                        }
                    }
                    if (!typed) response.getHeaders().put(HttpHeader.CONTENT_TYPE, DEFAULT_CONTENT_TYPE);
                    send(r.body());
                    yield r.status();
                }
                case InvokeResult.FunctionError e -> fail(GatewayError.function(500,
                        label + " raised " + e.error() + "; the traceback is in gale logs " + fn.name()));
                case InvokeResult.TimedOut t -> fail(GatewayError.function(504,
                        label + " did not answer within its timeout of " + Durations.format(fn.config().timeout())
                                + "; the instance was stopped. Raise --timeout or make the call faster"));
                case InvokeResult.InstanceDied d -> fail(instanceDied(label, fn.name(), d.failure()));
            };
        }

        /** Answers with a JSON error; returns its status. */
        private int fail(GatewayError error) {
            ended = error.blame() == GatewayError.Blame.FUNCTION ? CallHistory.Result.FUNCTION_ERROR : CallHistory.Result.PLATFORM_ERROR;
            response.setStatus(error.status());
            response.getHeaders().put("X-Gale-Error", error.blame().header());
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("error", error.message());
            body.put("status", error.status());
            body.put("requestId", requestId);
            response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
            try {
                send(JSON.writeValueAsBytes(body));
            } catch (IOException e) {
                send(error.message().getBytes(StandardCharsets.UTF_8));
            }
            return error.status();
        }

        /** Writes the response, exactly once: a second answer (a bug) is dropped. */
        private void send(byte[] body) {
            if (!answered.compareAndSet(false, true)) return;
            response.getHeaders().put(HttpHeader.CONTENT_LENGTH, body.length);
            response.write(true, ByteBuffer.wrap(body), callback);
        }
    }

    /** What happened to one call, for the response and the invocation record. */
    private record Served(InvokeResult result, Optional<GatewayError> rejection, Outcome outcome, int version,
                          Optional<String> instanceId, boolean coldStart, Optional<Integer> memoryMb) {
    }

    /** The request id a peer gave the call it forwarded ("NODE REQUEST-ID"), or a new one if it is not well formed. */
    static String forwardedRequestId(String forwardedBy) {
        if (forwardedBy == null) return newRequestId();
        String id = forwardedBy.substring(forwardedBy.indexOf(' ') + 1).trim();
        return id.matches("[A-Za-z0-9_-]{1,64}") ? id : newRequestId();
    }

    /** A forwarded call's headers for the function: as the forwarding node passed them on, minus the node's own. */
    private static List<Map.Entry<String, String>> forwardedHeaders(Request request) {
        List<Map.Entry<String, String>> list = new ArrayList<>(request.getHeaders().size());
        for (HttpField field : request.getHeaders()) {
            if (field.getName().equalsIgnoreCase(Peers.CREDENTIAL_HEADER) || field.getName().equalsIgnoreCase(Peers.FORWARDED_HEADER)) {
                continue;
            }
            list.add(Map.entry(field.getName(), Objects.requireNonNullElse(field.getValue(), "")));
        }
        return list;
    }

    private static Throwable unwrap(Throwable error) {
        return error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
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

    private String notFoundMessage(String name, String target) {
        if (!FunctionName.isValid(name)) {
            return "no function '" + FunctionName.shown(name) + "': " + FunctionName.RULE + "; call it at /fn/NAME";
        }
        if (registry.function(name).isEmpty()) return "function '" + name + "' not found; gale ls lists the deployed functions";
        if (registry.active(name).isEmpty()) return "function '" + name + "' has no ACTIVE version yet; see gale versions " + name;
        Optional<Integer> version = TrafficTag.version(target);
        if (version.isPresent()) {
            return "version " + version.get() + " of '" + name + "' takes no calls: it is not ACTIVE and has no share of the "
                    + "traffic and no tag (gale traffic " + name + " shows them); give it one: gale traffic " + name
                    + " --tag NAME=v" + version.get();
        }
        try {
            TrafficTag.check(target);
        } catch (gale.registry.InvalidTrafficException e) {
            return "what follows @ in /fn/" + name + "@" + FunctionName.shown(target.equals("@") ? "" : target) + " is neither a version (like v4) nor a tag: "
                    + TrafficTag.RULE;
        }
        return "function '" + name + "' has no tag '" + target + "'; gale traffic " + name + " lists its tags";
    }

    /** The function's name: the path segment after /fn/, decoded; "" for a bare /fn or /fn/. */
    static String nameOf(String path) {
        if (path.length() <= PREFIX.length()) return "";
        int end = path.indexOf('/', PREFIX.length());
        String raw = path.substring(PREFIX.length(), end < 0 ? path.length() : end);
        try {
            return raw.indexOf('%') < 0 && raw.indexOf('+') < 0 ? raw : URLDecoder.decode(raw, StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return raw; // a broken escape: no function has that name, and the 404 says so
        }
    }

    /** What follows the function's name, as the client sent it (still encoded); "/" when nothing does. */
    static String subPath(String path, String name) {
        int end = path.indexOf('/', Math.min(path.length(), PREFIX.length()));
        String rest = end < 0 ? "" : path.substring(end);
        return rest.isEmpty() ? "/" : rest;
    }

    /**
     * The request's headers for the function, in arrival order, minus Gale's credentials: user code never
     * sees the admin token or an access key (in Authorization or X-Gale-Key, valid or not). A public
     * function's own Authorization passes. {@code X-Gale-Schedule*} and {@code X-Gale-Trigger*} are only passed
     * on from a caller with the token (Gale's scheduler, a test), so no one else can make a call look scheduled
     * or like a trigger's event.
     */
    private static List<Map.Entry<String, String>> headers(Request request, boolean carriesAdminToken) {
        List<Map.Entry<String, String>> list = new ArrayList<>(request.getHeaders().size());
        for (HttpField field : request.getHeaders()) {
            if (field.getHeader() == HttpHeader.AUTHORIZATION && (carriesAdminToken || Auth.carriesKey(field.getValue()))) continue;
            if (field.getName().equalsIgnoreCase(Auth.KEY_HEADER)) continue;
            if (!carriesAdminToken && (field.getName().regionMatches(true, 0, ScheduledCalls.SCHEDULE_HEADER, 0,
                    ScheduledCalls.SCHEDULE_HEADER.length()) || field.getName().regionMatches(true, 0, TRIGGER_HEADER, 0,
                    TRIGGER_HEADER.length()))) continue;
            list.add(Map.entry(field.getName(), Objects.requireNonNullElse(field.getValue(), "")));
        }
        return list;
    }
}
