package gale.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.util.RawValue;
import gale.config.Durations;
import gale.state.Sampler;
import gale.state.SamplerStore;
import io.javalin.config.RoutesConfig;
import io.javalin.http.BadRequestResponse;
import io.javalin.http.Context;
import io.javalin.http.NotFoundResponse;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Samplers under /v1/samplers (docs/state.md#samplers). A sampler's name is a namespace: a
 * function may use the sampler named after it and those its state-namespaces grant ({@link StateAccess}).
 */
public final class SamplerApi {

    static final String PREFIX = "/v1/samplers";

    private final SamplerStore samplers;
    private final StateAccess access;

    public SamplerApi(SamplerStore samplers, StateAccess access) {
        this.samplers = samplers;
        this.access = access;
    }

    public void register(RoutesConfig routes) {
        routes.post(PREFIX + "/{name}", this::create);
        routes.get(PREFIX + "/{name}", ctx -> ctx.json(stats(samplers.stats(allowed(ctx)))));
        routes.delete(PREFIX + "/{name}", ctx -> {
            if (!samplers.delete(allowed(ctx))) throw new NotFoundResponse("no sampler named '" + ctx.pathParam("name") + "'");
            ctx.status(204);
        });
        routes.post(PREFIX + "/{name}/draw", this::draw);
        routes.post(PREFIX + "/{name}/confirm", ctx -> {
            String name = allowed(ctx);
            Respondent r = respondent(ctx, "the confirmation");
            ctx.json(Map.of("respondent", r.id(), "confirmed", samplers.confirm(name, r.id(), r.items())));
        });
        routes.post(PREFIX + "/{name}/release", ctx -> {
            String name = allowed(ctx);
            Respondent r = respondent(ctx, "the release");
            ctx.json(Map.of("respondent", r.id(), "released", samplers.release(name, r.id(), r.items())));
        });
    }

    private String allowed(Context ctx) {
        String name = ctx.pathParam("name");
        access.allow(ctx, name, "sampler");
        return name;
    }

    /** Body: {"items": ["a", {"id": "b", ...}], "target": 3, "lease": "10m"}. */
    private void create(Context ctx) {
        String name = allowed(ctx);
        JsonNode body = StateAccess.body(ctx, "the sampler");
        if (!body.isObject()) throw new BadRequestResponse(CREATE_SHAPE);
        StateAccess.unknownFields(body, Set.of("items", "target", "lease"), "the sampler");
        JsonNode items = body.get("items");
        if (items == null || !items.isArray()) throw new BadRequestResponse("\"items\" must be a list: " + CREATE_SHAPE);
        List<Sampler.Item> parsed = new ArrayList<>();
        for (JsonNode item : items) parsed.add(item(item));
        JsonNode target = body.get("target");
        if (target == null || !target.isIntegralNumber() || !target.canConvertToInt()) {
            throw new BadRequestResponse("\"target\" must be a whole number: how often each item may be shown; got " + target);
        }
        Duration lease = StateAccess.duration(text(body.get("lease")), "lease").orElse(SamplerStore.DEFAULT_LEASE);
        Sampler.Spec spec = samplers.create(name, parsed, target.asInt(), lease);
        ctx.status(201).json(spec(spec));
    }

    private static final String CREATE_SHAPE = "a sampler is {\"items\": [\"item-1\", {\"id\": \"item-2\", \"text\": \"...\"}], "
            + "\"target\": 3, \"lease\": \"10m\"}: items are ids, or objects with an \"id\"";

    private static Sampler.Item item(JsonNode item) {
        if (item.isTextual()) return new Sampler.Item(item.asText(), item.toString());
        if (item.isObject() && (item.path("id").isTextual() || item.path("id").isIntegralNumber())) {
            return new Sampler.Item(item.get("id").asText(), item.toString());
        }
        throw new BadRequestResponse("each item is a string (its id) or an object with an \"id\"; got " + preview(item.toString()));
    }

    /** Body: {"respondent": "R_123", "k": 3, "lease": "5m"}. */
    private void draw(Context ctx) {
        String name = allowed(ctx);
        JsonNode body = StateAccess.body(ctx, "the draw");
        if (!body.isObject()) throw new BadRequestResponse("a draw is {\"respondent\": \"R_123\", \"k\": 3}");
        StateAccess.unknownFields(body, Set.of("respondent", "k", "lease"), "the draw");
        String respondent = respondentId(body);
        JsonNode k = body.get("k");
        if (k != null && (!k.isIntegralNumber() || !k.canConvertToInt())) {
            throw new BadRequestResponse("\"k\" must be a whole number: how many items to draw; got " + k);
        }
        Optional<Duration> lease = StateAccess.duration(text(body.get("lease")), "lease");
        Sampler.Draw draw = samplers.draw(name, respondent, k == null ? 1 : k.asInt(), lease);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("sampler", name);
        out.put("respondent", draw.respondent());
        out.put("items", draw.items().stream().map(i -> Map.of("id", i.id(), "item", new RawValue(i.json()))).toList());
        out.put("leaseExpiresAt", draw.leaseExpiresAt().map(Object::toString).orElse(null));
        ctx.json(out);
    }

    private record Respondent(String id, List<String> items) {
    }

    /** Body: {"respondent": "R_123", "items": ["a", "b"]} (items optional: all the respondent holds). */
    private static Respondent respondent(Context ctx, String what) {
        JsonNode body = StateAccess.body(ctx, what);
        if (!body.isObject()) throw new BadRequestResponse(what + " is {\"respondent\": \"R_123\", \"items\": [\"a\"]} (items optional)");
        StateAccess.unknownFields(body, Set.of("respondent", "items"), what);
        List<String> items = new ArrayList<>();
        JsonNode list = body.get("items");
        if (list != null && !list.isNull()) {
            if (!list.isArray()) throw new BadRequestResponse("\"items\" must be a list of item ids, got " + preview(list.toString()));
            for (JsonNode id : list) {
                if (!id.isTextual() && !id.isIntegralNumber()) throw new BadRequestResponse("item ids are strings, got " + id);
                items.add(id.asText());
            }
        }
        return new Respondent(respondentId(body), items);
    }

    private static String respondentId(JsonNode body) {
        JsonNode r = body.get("respondent");
        if (r == null || !(r.isTextual() || r.isIntegralNumber())) {
            throw new BadRequestResponse("\"respondent\" must be the respondent's id, e.g. a response id \"R_123\"; got " + r);
        }
        return r.asText();
    }

    private static Optional<String> text(JsonNode node) {
        if (node == null || node.isNull()) return Optional.empty();
        return Optional.of(node.asText());
    }

    private static Map<String, Object> spec(Sampler.Spec spec) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("name", spec.name());
        out.put("target", spec.target());
        out.put("lease", Durations.format(spec.lease()));
        out.put("items", spec.items());
        out.put("createdAt", spec.createdAt().toString());
        return out;
    }

    private static Map<String, Object> stats(Sampler.Stats stats) {
        Map<String, Object> out = spec(stats.spec());
        out.put("confirmed", stats.confirmed());
        out.put("leased", stats.leased());
        out.put("full", stats.full());
        out.put("respondents", stats.respondents());
        out.put("remaining", (long) stats.spec().target() * stats.spec().items() - stats.confirmed() - stats.leased());
        out.put("counts", stats.items().stream().map(i -> Map.of("id", i.id(), "confirmed", i.confirmed(), "leased", i.leased())).toList());
        return out;
    }

    private static String preview(String text) {
        return text.length() <= 80 ? text : text.substring(0, 77) + "...";
    }
}
