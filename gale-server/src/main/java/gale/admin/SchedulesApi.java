package gale.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.util.RawValue;
import gale.config.Durations;
import gale.registry.Registry;
import gale.store.FiringRow;
import gale.triggers.InvalidScheduleException;
import gale.triggers.ScheduleSpec;
import gale.triggers.ScheduleTiming;
import gale.triggers.Schedules;
import io.javalin.config.RoutesConfig;
import io.javalin.http.BadRequestResponse;
import io.javalin.http.Context;
import io.javalin.http.NotFoundResponse;

import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/** Schedules under /v1/schedules and /v1/functions/{name}/schedules (docs/schedules.md); {@link ApiAccess} guards them. */
public final class SchedulesApi {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Set<String> KEYS = Set.of("function", "cron", "every", "timeZone", "catchUp", "payload");
    /** What the `schedule` object of a deploy may hold: the function is the one deployed. */
    private static final Set<String> DEPLOY_KEYS = Set.of("cron", "every", "timeZone", "catchUp", "payload");

    private final Schedules schedules;
    private final Registry registry;

    public SchedulesApi(Schedules schedules, Registry registry) {
        this.schedules = schedules;
        this.registry = registry;
    }

    public void register(RoutesConfig routes) {
        routes.get("/v1/schedules", ctx -> ctx.json(schedules.list(Optional.ofNullable(ctx.queryParam("function")))
                .stream().map(SchedulesApi::json).toList()));
        routes.get("/v1/schedules/{name}", ctx -> ctx.json(json(found(ctx, schedules.find(ctx.pathParam("name"))))));
        routes.put("/v1/schedules/{name}", this::put);
        routes.delete("/v1/schedules/{name}", ctx -> {
            if (!schedules.delete(ctx.pathParam("name"))) throw notFound(ctx);
            ctx.status(204);
        });
        routes.post("/v1/schedules/{name}/pause", ctx -> ctx.json(json(found(ctx, schedules.pause(ctx.pathParam("name"))))));
        routes.post("/v1/schedules/{name}/resume", ctx -> ctx.json(json(found(ctx, schedules.resume(ctx.pathParam("name"))))));
        routes.get("/v1/schedules/{name}/firings", ctx -> {
            found(ctx, schedules.find(ctx.pathParam("name")));
            int limit = limit(ctx);
            ctx.json(schedules.firings(ctx.pathParam("name"), limit).stream().map(SchedulesApi::firing).toList());
        });
        routes.get("/v1/functions/{name}/schedules", ctx -> {
            String function = ctx.pathParam("name");
            if (registry.function(function).isEmpty()) throw new NotFoundResponse("function '" + function + "' not found");
            ctx.json(schedules.list(Optional.of(function)).stream().map(SchedulesApi::json).toList());
        });
    }

    private void put(Context ctx) {
        JsonNode body;
        try {
            body = JSON.readTree(ctx.body());
        } catch (IOException e) {
            throw new BadRequestResponse("the body is not valid JSON; send {\"function\": \"NAME\", \"cron\": \"*/5 * * * *\"} "
                    + "or {\"function\": \"NAME\", \"every\": \"5m\"}");
        }
        if (body == null || !body.isObject()) throw new BadRequestResponse("the body must be a JSON object like {\"function\": \"NAME\", \"every\": \"5m\"}");
        ScheduleSpec spec = spec(ctx.pathParam("name"), text(body, "function").orElse(""), body, KEYS, schedules.minInterval());
        ApiAccess.auditFunction(ctx, spec.function());
        ApiAccess.auditDetail(ctx, "calls " + spec.function() + " " + spec.timing().describe());
        try {
            boolean existed = schedules.find(spec.name()).isPresent();
            ctx.status(existed ? 200 : 201).json(json(schedules.put(spec)));
        } catch (Schedules.FunctionNotFound e) {
            throw new NotFoundResponse(e.getMessage());
        }
    }

    /**
     * The schedule a deploy asked for (its config's {@code schedule} object), validated before anything
     * is stored: a bad one refuses the deploy. Named after the function.
     */
    static ScheduleSpec deploySpec(String function, Object schedule, Duration minInterval) {
        JsonNode node = JSON.valueToTree(schedule);
        if (!node.isObject()) {
            throw new InvalidScheduleException("the config key 'schedule' must be an object like {\"cron\": \"*/5 * * * *\"} "
                    + "or {\"every\": \"5m\"}");
        }
        return spec(function, function, node, DEPLOY_KEYS, minInterval);
    }

    private static ScheduleSpec spec(String name, String function, JsonNode body, Set<String> keys, Duration minInterval) {
        for (Iterator<String> it = body.fieldNames(); it.hasNext(); ) {
            String key = it.next();
            if (!keys.contains(key)) {
                throw new BadRequestResponse("unknown key '" + key + "' in the schedule; known keys: " + String.join(", ",
                        keys.stream().sorted().toList()));
            }
        }
        JsonNode payload = body.get("payload");
        try {
            return ScheduleSpec.of(name, function, text(body, "cron"), text(body, "every"), text(body, "timeZone"),
                    text(body, "catchUp"), payload == null || payload.isNull() ? Optional.empty() : Optional.of(payload.toString()),
                    minInterval);
        } catch (InvalidScheduleException e) {
            throw new BadRequestResponse(e.getMessage());
        }
    }

    private static Optional<String> text(JsonNode body, String key) {
        JsonNode v = body.get(key);
        if (v == null || v.isNull()) return Optional.empty();
        if (!v.isTextual()) throw new BadRequestResponse("the schedule's '" + key + "' must be a string, got " + v.getNodeType());
        return Optional.of(v.asText());
    }

    private static Schedules.View found(Context ctx, Optional<Schedules.View> view) {
        return view.orElseThrow(() -> notFound(ctx));
    }

    private static NotFoundResponse notFound(Context ctx) {
        return new NotFoundResponse("schedule '" + ctx.pathParam("name") + "' not found; gale schedules lists them");
    }

    private static int limit(Context ctx) {
        String v = ctx.queryParam("limit");
        if (v == null) return 20;
        try {
            int n = Integer.parseInt(v.trim());
            if (n >= 1 && n <= 1000) return n;
        } catch (NumberFormatException e) {
            // answered below
        }
        throw new BadRequestResponse("limit must be a number between 1 and 1000, got '" + v + "'");
    }

    static Map<String, Object> json(Schedules.View view) {
        var row = view.row();
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("name", row.name());
        out.put("function", row.function());
        out.put("cron", row.cron().orElse(null));
        out.put("every", row.everyMs().map(ms -> Durations.format(Duration.ofMillis(ms))).orElse(null));
        out.put("timeZone", view.timing() instanceof ScheduleTiming.Cron ? row.timeZone() : null);
        out.put("description", view.timing().describe());
        out.put("catchUp", row.catchUp());
        out.put("payload", row.payload().map(RawValue::new).orElse(null));
        out.put("paused", row.paused());
        out.put("nextFireAt", row.nextFire().map(Instant::toString).orElse(null));
        out.put("lastFiring", view.lastFiring().map(SchedulesApi::firing).orElse(null));
        out.put("createdAt", row.createdAt().toString());
        out.put("updatedAt", row.updatedAt().toString());
        return out;
    }

    static Map<String, Object> firing(FiringRow f) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("slot", f.slot().toString());
        out.put("firedAt", f.firedAt().toString());
        out.put("lateMs", Duration.between(f.slot(), f.firedAt()).toMillis());
        out.put("finishedAt", f.finishedAt().map(Instant::toString).orElse(null));
        out.put("status", f.status().orElse(null));
        out.put("outcome", f.outcome().orElse("running"));
        out.put("requestId", f.requestId().orElse(null));
        out.put("error", f.error().orElse(null));
        out.put("node", f.node().orElse(null));
        return out;
    }
}
