package gale.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import gale.logs.LogSink;
import gale.pool.PoolStats;
import gale.config.KeepWarm;
import gale.registry.ActiveFunction;
import gale.registry.BundleTooLarge;
import gale.registry.DeployRejected;
import gale.registry.FunctionName;
import gale.registry.NotFoundException;
import gale.registry.Registry;
import gale.registry.StorageFull;
import gale.store.FunctionRow;
import gale.store.InvocationRecord;
import gale.store.LogEntry;
import gale.store.Store;
import gale.store.VersionRow;
import gale.gateway.CallHistory;
import gale.logs.LogLevel;
import gale.gateway.RefusedBody;
import gale.triggers.InvalidScheduleException;
import gale.triggers.ScheduleSpec;
import gale.triggers.Schedules;
import gale.triggers.Triggers;
import io.javalin.config.RoutesConfig;
import io.javalin.http.BadRequestResponse;
import io.javalin.http.Context;
import io.javalin.http.NotFoundResponse;

import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.function.Supplier;

/** The admin REST API under /v1 (docs/api.md). {@link ApiAccess} guards every route: the admin token or a key's scopes. */
public final class AdminApi {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MAX_LOG_PAGE = 10_000;
    private static final int MAX_WAIT_SECONDS = 60;

    private final Registry registry;
    private final Store store;
    private final LogSink logs;
    private final Supplier<String> baseUrl;
    private final Schedules schedules;
    private final AsyncApi async;
    private final CallHistory history;
    private final Triggers triggers;
    private final TriggersApi triggersApi;

    public AdminApi(Registry registry, Store store, LogSink logs, Supplier<String> baseUrl, Schedules schedules,
                    AsyncApi async, CallHistory history, Triggers triggers) {
        this.registry = registry;
        this.history = history;
        this.triggers = triggers;
        this.triggersApi = new TriggersApi(triggers, registry);
        this.async = async;
        this.schedules = schedules;
        this.store = store;
        this.logs = logs;
        this.baseUrl = baseUrl;
    }

    /** Adds the routes; {@code baseUrl} is read per request, as the port is only known once the server listens. */
    public void register(RoutesConfig routes) {
        triggersApi.register(routes);
        routes.get("/v1/functions", ctx -> ctx.json(registry.functions().stream().map(this::summary).toList()));
        routes.get("/v1/functions/{name}", this::describe);
        routes.delete("/v1/functions/{name}", this::delete);
        routes.post("/v1/functions/{name}/versions", this::deploy);
        routes.post("/v1/functions//versions", ctx -> { // an empty name matches no route: say what a name is, not "not found"
            throw new BadRequestResponse("the deploy URL has no function name: POST /v1/functions/NAME/versions, where " + FunctionName.RULE);
        });
        routes.get("/v1/functions/{name}/versions", ctx -> ctx.json(registry.versions(existing(ctx)).stream().map(AdminApi::version).toList()));
        routes.get("/v1/functions/{name}/versions/{version}", this::oneVersion);
        routes.post("/v1/functions/{name}/rollback", this::rollback);
        routes.get("/v1/functions/{name}/logs", this::logs);
        new LogStream(registry, store, logs).register(routes);
        routes.get("/v1/functions/{name}/metrics", ctx -> ctx.json(metrics(existing(ctx))));
        routes.get("/v1/functions/{name}/invocations", ctx -> ctx.json(store.listInvocations(existing(ctx),
                intParam(ctx, "limit", 100, 1, 10_000)).stream().map(AdminApi::invocation).toList()));
        routes.get("/v1/invocations/{id}", ctx -> { // an async call's status, else one call's record
            String id = ctx.pathParam("id");
            Optional<Map<String, Object>> asyncCall = async.invocation(id);
            if (asyncCall.isPresent()) { // its caller may read how it ended, as may a key for logs
                ApiAccess.requireInvokeOrLogs(ctx, (String) asyncCall.get().get("function"), "read async call " + id);
                ctx.json(asyncCall.get());
                return;
            }
            InvocationRecord record = store.findInvocation(id).orElseThrow(() -> new NotFoundResponse("no invocation with id '"
                    + id + "': neither an async call's invocation id (from the 202 of Prefer: respond-async) nor a "
                    + "call's X-Gale-Request-Id; gale logs NAME shows request ids"));
            ApiAccess.requireInvokeOrLogs(ctx, record.function(), "read invocation " + id);
            ctx.json(invocation(record));
        });
    }

    private String existing(Context ctx) {
        String name = ctx.pathParam("name");
        if (registry.function(name).isEmpty()) throw new NotFoundResponse("function '" + name + "' not found");
        return name;
    }

    private void describe(Context ctx) {
        String name = existing(ctx);
        Map<String, Object> out = summary(registry.function(name).orElseThrow());
        out.put("versions", registry.versions(name).stream().map(AdminApi::version).toList());
        out.put("triggers", triggersApi.list(name));
        ctx.json(out);
    }

    private void delete(Context ctx) {
        if (!registry.delete(ctx.pathParam("name"))) throw new NotFoundResponse("function '" + ctx.pathParam("name") + "' not found");
        triggers.functionDeleted(ctx.pathParam("name"));
        ctx.status(204);
    }

    private void deploy(Context ctx) throws IOException {
        String name = ctx.pathParam("name");
        try {
            FunctionName.check(name); // before the body is read
            DeployUpload upload = DeployUpload.read(ctx, registry.bundleLimits(), registry.dataDir());
            Map<String, Object> config = new LinkedHashMap<>(upload.config());
            // Not a setting of the version: the function's schedule, checked before anything is stored.
            Object scheduleConfig = config.remove("schedule");
            Optional<ScheduleSpec> schedule = scheduleConfig == null ? Optional.empty()
                    : Optional.of(SchedulesApi.deploySpec(name, scheduleConfig, schedules.minInterval()));
            // Nor is noTraffic (Cloud Run's --no-traffic): the split is pinned to what serves now, before the version exists.
            boolean pinned = noTraffic(name, config.remove("noTraffic"));
            try (InputStream in = upload.content()) {
                Registry.Deployed deployed;
                try {
                    deployed = registry.deployProject(name, in, config);
                } catch (DeployRejected | RuntimeException e) {
                    if (pinned) unpin(name); // nothing was deployed: the traffic is as it was
                    throw e;
                }
                VersionRow row = deployed.row();
                ApiAccess.auditDetail(ctx, "version " + row.version() + schedule.map(s -> " with schedule " + s.timing().describe()).orElse(""));
                schedule.ifPresent(schedules::put);
                triggers.ensure(name, Registry.configOf(row).triggers()); // the config checked them (grants included)
                Map<String, Object> answer = version(row);
                deployed.keepWarm().ifPresent(k -> answer.put("keepWarm", keepWarm(name, row.version(), k)));
                ctx.status(202).json(answer);
            }
        } catch (BundleTooLarge e) {
            long max = DeployUpload.maxRequestBytes(registry.bundleLimits());
            RefusedBody.discardRest(ctx, ctx.req().getContentLengthLong() <= max, max); // a length declared over it: not read yet
            ctx.status(413).json(Map.of("error", e.getMessage(), "status", 413));
        } catch (StorageFull e) {
            RefusedBody.discardRest(ctx, true, DeployUpload.maxRequestBytes(registry.bundleLimits()));
            ctx.status(507).json(Map.of("error", e.getMessage(), "status", 507)); // Insufficient Storage
        } catch (DeployRejected | InvalidScheduleException e) {
            throw new BadRequestResponse(e.getMessage());
        }
    }

    /**
     * For a deploy with {@code noTraffic}: pins the split to the version serving now, unless a split is pinned
     * already, so the new version takes no calls (docs/traffic.md). Returns whether it pinned.
     */
    private boolean noTraffic(String name, Object flag) {
        if (flag == null || Boolean.FALSE.equals(flag)) return false;
        if (!(flag instanceof Boolean)) throw new BadRequestResponse("noTraffic must be true or false, got '" + flag + "'");
        Optional<FunctionRow> fn = registry.function(name);
        if (fn.isEmpty() || fn.get().activeVersion().isEmpty()) {
            throw new BadRequestResponse("--no-traffic keeps the calls on the version that serves now, and function '" + name
                    + "' has none yet; deploy without --no-traffic");
        }
        if (!store.traffic().find(name).split().isEmpty()) return false; // pinned already: a deploy does not change it
        try {
            registry.setTraffic(name, new Registry.TrafficChange(
                    Optional.of(gale.registry.TrafficSplit.all(fn.get().activeVersion().getAsInt())), false, Optional.empty()));
            return true;
        } catch (NotFoundException e) {
            throw new NotFoundResponse(e.getMessage());
        } catch (gale.registry.InvalidTrafficException e) {
            throw new io.javalin.http.ConflictResponse(e.getMessage() + "; nothing was deployed");
        }
    }

    private void unpin(String name) {
        try {
            registry.setTraffic(name, new Registry.TrafficChange(Optional.empty(), true, Optional.empty()));
        } catch (NotFoundException | gale.registry.InvalidTrafficException e) {
            org.slf4j.LoggerFactory.getLogger(AdminApi.class).warn("could not unpin {} after a refused deploy: {}", name, e.getMessage());
        }
    }

    /**
     * Makes (or updates) the keep-warm schedule a Zappa project's keep_warm asks for, or removes it for keep_warm
     * false (docs/schedules.md); answers what became of it, which the version's log says too.
     */
    private Map<String, Object> keepWarm(String function, int version, KeepWarm keepWarm) {
        String name = KeepWarm.scheduleName(function);
        Optional<Schedules.View> existing = schedules.find(name);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("schedule", name);
        String note;
        if (existing.isPresent() && !existing.get().row().function().equals(function)) {
            note = "keep_warm: schedule " + name + " belongs to function " + existing.get().row().function() + "; left as it is";
        } else if (!keepWarm.on()) {
            note = existing.isPresent() && schedules.delete(name) ? "keep_warm false: schedule " + name + " removed"
                    : "keep_warm false: no keep-warm schedule";
            out.put("schedule", null);
        } else {
            try {
                schedules.put(ScheduleSpec.of(name, function, keepWarm.cron(), keepWarm.every(), Optional.empty(),
                        Optional.of("none"), Optional.empty(), schedules.minInterval()));
                note = "keep_warm: schedule " + name + " warms it " + keepWarm.describe() + " (" + keepWarm.expression() + ")";
            } catch (InvalidScheduleException e) {
                note = "keep_warm: no schedule: " + e.getMessage();
                out.put("schedule", null);
            }
        }
        out.put("note", note);
        registry.note(function, version, note);
        return out;
    }

    private void oneVersion(Context ctx) {
        String name = existing(ctx);
        int v = intPath(ctx, "version");
        ctx.json(version(registry.version(name, v).orElseThrow(() ->
                new NotFoundResponse("function '" + name + "' has no version " + v))));
    }

    private void rollback(Context ctx) {
        String name = ctx.pathParam("name");
        OptionalInt target = OptionalInt.empty();
        if (!ctx.body().isBlank()) {
            JsonNode v = readJson(ctx).get("version");
            if (v != null && !v.isNull()) {
                if (!v.canConvertToInt()) throw new BadRequestResponse("version must be a number");
                target = OptionalInt.of(v.asInt());
            }
        }
        try {
            registry.rollback(name, target);
            FunctionRow rolledBack = registry.function(name).orElseThrow();
            rolledBack.activeVersion().ifPresent(v -> ApiAccess.auditDetail(ctx, "active version " + v));
            ctx.json(summary(rolledBack));
        } catch (NotFoundException e) {
            throw new NotFoundResponse(e.getMessage());
        } catch (DeployRejected e) {
            ctx.status(409).json(Map.of("error", e.getMessage(), "status", 409));
        }
    }

    private void logs(Context ctx) throws InterruptedException {
        String name = existing(ctx);
        int limit = intParam(ctx, "limit", 1000, 1, MAX_LOG_PAGE);
        int wait = intParam(ctx, "wait", 0, 0, MAX_WAIT_SECONDS);
        String afterParam = ctx.queryParam("after");
        List<LogEntry> entries;
        if (afterParam == null) {
            entries = store.tailLogs(name, limit);
        } else {
            long after = parseLong(afterParam, "after");
            long deadline = System.nanoTime() + Duration.ofSeconds(wait).toNanos();
            entries = store.readLogs(name, after, limit);
            while (entries.isEmpty() && System.nanoTime() < deadline) {
                logs.awaitWrite(Duration.ofNanos(deadline - System.nanoTime()));
                entries = store.readLogs(name, after, limit);
            }
        }
        long next = entries.isEmpty() ? (afterParam == null ? 0 : parseLong(afterParam, "after")) : entries.getLast().seq();
        ctx.json(Map.of("entries", entries.stream().map(AdminApi::logEntry).toList(), "next", next));
    }

    // ---- JSON shapes (docs/api.md)

    private Map<String, Object> summary(FunctionRow fn) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("name", fn.name());
        out.put("url", baseUrl.get() + "/fn/" + fn.name());
        out.put("activeVersion", fn.activeVersion().isPresent() ? fn.activeVersion().getAsInt() : null);
        List<VersionRow> versions = registry.versions(fn.name());
        out.put("latestVersion", versions.isEmpty() ? null : versions.getFirst().version());
        out.put("state", versions.isEmpty() ? "NEW" : fn.activeVersion().isPresent() ? "ACTIVE" : versions.getFirst().state().name());
        Map<Integer, Integer> pinned = store.traffic().find(fn.name()).split();
        Map<String, Object> traffic = new LinkedHashMap<>(); // docs/traffic.md; GET .../traffic has the tags and calls per version
        traffic.put("pinned", !pinned.isEmpty());
        Map<String, Integer> to = new LinkedHashMap<>();
        if (!pinned.isEmpty()) pinned.forEach((v, p) -> to.put(Integer.toString(v), p));
        else fn.activeVersion().ifPresent(v -> to.put(Integer.toString(v), 100));
        traffic.put("to", to);
        out.put("traffic", traffic);
        Optional<ActiveFunction> active = registry.active(fn.name());
        out.put("config", active.map(a -> (Object) a.config().toMap())
                .orElse(versions.isEmpty() ? Map.of() : Registry.configOf(versions.getFirst()).toMap()));
        PoolStats stats = active.map(a -> a.pool().stats()).orElse(new PoolStats(0, 0, 0, 0));
        out.put("instances", stats.instances());
        out.put("startingInstances", stats.starting());
        out.put("busy", stats.busy());
        out.put("waiting", stats.waiting());
        out.put("createdAt", fn.createdAt().toString());
        out.put("updatedAt", fn.updatedAt().toString());
        out.put("latestState", versions.isEmpty() ? null : versions.getFirst().state().name());
        out.put("latestReason", versions.isEmpty() ? null : versions.getFirst().reason().orElse(null));
        out.put("lastCall", history.lastCall(fn.name()).map(Object::toString).orElse(null));
        CallHistory.Totals hour = history.lastHour(fn.name());
        Map<String, Object> lastHour = new LinkedHashMap<>();
        lastHour.put("calls", hour.calls());
        lastHour.put("errors", hour.errors());
        lastHour.put("functionErrors", hour.functionErrors());
        lastHour.put("platformErrors", hour.platformErrors());
        out.put("lastHour", lastHour);
        return out;
    }

    /** The last hour in 10-second buckets, as columns (what a chart library takes); a percentile without calls is null. */
    private Map<String, Object> metrics(String name) {
        CallHistory.Window w = history.window(name);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("function", name);
        out.put("bucketSeconds", CallHistory.BUCKET.toSeconds());
        out.put("time", Arrays.stream(w.startMillis()).map(ms -> ms / 1000).toArray());
        out.put("calls", w.calls());
        out.put("functionErrors", w.functionErrors());
        out.put("platformErrors", w.platformErrors());
        out.put("p50Ms", milliseconds(w.p50Ms()));
        out.put("p99Ms", milliseconds(w.p99Ms()));
        out.put("coldStarts", w.coldStarts());
        out.put("instances", w.instances());
        return out;
    }

    private static List<Double> milliseconds(double[] values) {
        return Arrays.stream(values).mapToObj(v -> Double.isNaN(v) ? null : Math.round(v * 100) / 100.0).toList();
    }

    static Map<String, Object> version(VersionRow v) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("function", v.function());
        out.put("version", v.version());
        out.put("state", v.state().name());
        out.put("reason", v.reason().orElse(null));
        out.put("config", Registry.configOf(v).toMap());
        out.put("bundleDigest", v.bundleDigest());
        out.put("bundleBytes", v.bundleBytes());
        out.put("createdAt", v.createdAt().toString());
        out.put("readyAt", v.readyAt().map(Object::toString).orElse(null));
        return out;
    }

    static Map<String, Object> logEntry(LogEntry e) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("seq", e.seq());
        out.put("time", e.time().toString());
        out.put("function", e.function());
        out.put("version", e.version());
        out.put("instance", e.instance().orElse(null));
        out.put("requestId", e.requestId().orElse(null));
        out.put("stream", e.stream());
        out.put("level", LogLevel.of(e.stream(), e.message()).wire());
        out.put("message", e.message());
        return out;
    }

    private static Map<String, Object> invocation(InvocationRecord r) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("requestId", r.requestId());
        out.put("function", r.function());
        out.put("version", r.version());
        out.put("instance", r.instance().orElse(null));
        out.put("status", r.status());
        out.put("outcome", r.outcome().wire());
        out.put("durationMs", r.durationMs());
        out.put("coldStart", r.coldStart());
        out.put("memoryMb", r.memoryMb().orElse(null));
        out.put("time", r.time().toString());
        return out;
    }

    // ---- parameters

    private static JsonNode readJson(Context ctx) {
        try {
            JsonNode node = JSON.readTree(ctx.body());
            if (node == null || !node.isObject()) throw new BadRequestResponse("body must be a JSON object");
            return node;
        } catch (IOException e) {
            throw new BadRequestResponse("body is not valid JSON");
        }
    }

    private static int intParam(Context ctx, String name, int fallback, int min, int max) {
        String v = ctx.queryParam(name);
        if (v == null) return fallback;
        long n = parseLong(v, name);
        if (n < min || n > max) throw new BadRequestResponse(name + " must be between " + min + " and " + max + ", got " + v);
        return (int) n;
    }

    private static int intPath(Context ctx, String name) {
        return (int) parseLong(ctx.pathParam(name), name);
    }

    private static long parseLong(String v, String name) {
        try {
            return Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            throw new BadRequestResponse(name + " must be a number, got '" + v + "'");
        }
    }
}
