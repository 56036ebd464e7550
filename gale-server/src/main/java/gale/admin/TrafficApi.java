package gale.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import gale.registry.InvalidTrafficException;
import gale.registry.NotFoundException;
import gale.registry.Registry;
import gale.registry.TrafficSplit;
import gale.registry.TrafficTag;
import gale.store.FunctionRow;
import gale.store.Store;
import gale.store.TrafficStore.TrafficRow;
import gale.store.TrafficStore.VersionCalls;
import gale.store.VersionRow;
import io.javalin.config.RoutesConfig;
import io.javalin.http.BadRequestResponse;
import io.javalin.http.ConflictResponse;
import io.javalin.http.Context;
import io.javalin.http.NotFoundResponse;

import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Supplier;
import java.util.stream.Collectors;

/**
 * A function's traffic under /v1/functions/{name}/traffic (docs/traffic.md): how its calls are shared between its
 * versions, its tags with their URLs, and each version's calls and errors in the last hour, by which a canary is judged.
 */
public final class TrafficApi {

    private static final ObjectMapper JSON = new ObjectMapper();
    /** What a canary is judged over. */
    static final Duration WINDOW = Duration.ofHours(1);
    /** A split or a tag list longer than this is not a mistake a person makes; refused before any version is read. */
    static final int MAX_ENTRIES = 100;
    private static final String SHAPE = "a traffic change is a JSON object with \"to\" (like {\"3\": 90, \"4\": 10}), or "
            + "\"toLatest\": true, and/or \"tags\" (like {\"canary\": 4})";

    private final Registry registry;
    private final Store store;
    private final Supplier<String> baseUrl;

    public TrafficApi(Registry registry, Store store, Supplier<String> baseUrl) {
        this.registry = registry;
        this.store = store;
        this.baseUrl = baseUrl;
    }

    public void register(RoutesConfig routes) {
        routes.get("/v1/functions/{name}/traffic", ctx -> ctx.json(view(existing(ctx))));
        routes.put("/v1/functions/{name}/traffic", this::put);
    }

    private String existing(Context ctx) {
        String name = ctx.pathParam("name");
        if (registry.function(name).isEmpty()) throw new NotFoundResponse("function '" + name + "' not found");
        return name;
    }

    private void put(Context ctx) {
        String name = existing(ctx);
        Registry.TrafficChange change = change(ctx.body());
        try {
            TrafficRow now = registry.setTraffic(name, change);
            ApiAccess.auditDetail(ctx, (now.split().isEmpty() ? "to latest" : "to " + TrafficSplit.describe(now.split()))
                    + (now.tags().isEmpty() ? "" : "; tags " + tags(now.tags())));
            ctx.json(view(name));
        } catch (NotFoundException e) {
            throw new NotFoundResponse(e.getMessage());
        } catch (InvalidTrafficException e) {
            if (e.isConflict()) throw new ConflictResponse(e.getMessage());
            throw new BadRequestResponse(e.getMessage());
        }
    }

    /** The body as a change: its shape, percents and tag names checked; whether the versions can serve is the registry's to say. */
    static Registry.TrafficChange change(String body) {
        JsonNode json;
        try {
            json = JSON.readTree(body);
        } catch (IOException e) {
            throw new BadRequestResponse("the body is not valid JSON; " + SHAPE);
        }
        if (json == null || !json.isObject()) throw new BadRequestResponse(SHAPE);
        for (Iterator<String> fields = json.fieldNames(); fields.hasNext(); ) {
            String field = fields.next();
            if (!Set.of("to", "toLatest", "tags").contains(field)) {
                throw new BadRequestResponse("unknown field '" + shown(field) + "'; " + SHAPE);
            }
        }
        JsonNode latest = json.path("toLatest");
        if (!latest.isMissingNode() && !latest.isBoolean()) throw new BadRequestResponse("toLatest must be true or false");
        boolean toLatest = latest.asBoolean(false);
        Optional<TrafficSplit> pin = Optional.empty();
        if (json.has("to")) {
            if (toLatest) throw new BadRequestResponse("give \"to\" or \"toLatest\": true, not both");
            pin = Optional.of(split(json.get("to")));
        }
        Optional<Map<String, Integer>> tags = json.has("tags") ? Optional.of(tags(json.get("tags"))) : Optional.empty();
        if (!toLatest && pin.isEmpty() && tags.isEmpty()) throw new BadRequestResponse("nothing to change; " + SHAPE);
        return new Registry.TrafficChange(pin, toLatest, tags);
    }

    private static TrafficSplit split(JsonNode to) {
        if (!to.isObject()) throw new BadRequestResponse("\"to\" must be an object of version to percent, like {\"3\": 90, \"4\": 10}");
        if (to.size() > MAX_ENTRIES) throw new BadRequestResponse("\"to\" names " + to.size() + " versions; at most " + MAX_ENTRIES);
        Map<Integer, Integer> percents = new TreeMap<>();
        for (var it = to.fields(); it.hasNext(); ) {
            var e = it.next();
            int version = version(e.getKey(), "in \"to\"");
            JsonNode p = e.getValue();
            if (!p.isIntegralNumber() || !p.canConvertToInt()) {
                throw new BadRequestResponse("the percent of v" + version + " must be a whole number from 0 to 100, got " + shown(p.toString()));
            }
            if (percents.put(version, p.asInt()) != null) throw new BadRequestResponse("v" + version + " is named twice in \"to\"");
        }
        try {
            return TrafficSplit.of(percents);
        } catch (InvalidTrafficException e) {
            throw new BadRequestResponse(e.getMessage());
        }
    }

    private static Map<String, Integer> tags(JsonNode tags) {
        if (!tags.isObject()) throw new BadRequestResponse("\"tags\" must be an object of tag to version, like {\"canary\": 4}");
        if (tags.size() > MAX_ENTRIES) throw new BadRequestResponse("\"tags\" has " + tags.size() + " tags; at most " + MAX_ENTRIES);
        Map<String, Integer> out = new TreeMap<>();
        for (var it = tags.fields(); it.hasNext(); ) {
            var e = it.next();
            try {
                TrafficTag.check(e.getKey());
            } catch (InvalidTrafficException ex) {
                throw new BadRequestResponse(ex.getMessage());
            }
            JsonNode v = e.getValue();
            String text = v.isIntegralNumber() ? v.asText() : v.isTextual() ? v.asText() : "";
            out.put(e.getKey(), version(text.isEmpty() ? shown(v.toString()) : text, "for tag " + e.getKey()));
        }
        return out;
    }

    /** "4" or "v4" as a version number; a 400 naming where it was for anything else. */
    private static int version(String text, String where) {
        String digits = text.startsWith("v") ? text.substring(1) : text;
        if (!digits.matches("[1-9][0-9]{0,8}")) {
            throw new BadRequestResponse("'" + shown(text) + "' " + where + " is not a version; name versions like 4 or v4 (gale versions lists them)");
        }
        return Integer.parseInt(digits);
    }

    // ---- the answer (docs/api.md)

    /** The function's split, tags and URLs, and each version's calls in the last hour. */
    Map<String, Object> view(String name) {
        FunctionRow fn = registry.function(name).orElseThrow(() -> new NotFoundResponse("function '" + name + "' not found"));
        TrafficRow traffic = store.traffic().find(name);
        Map<Integer, Integer> split = !traffic.split().isEmpty() ? traffic.split()
                : fn.activeVersion().isPresent() ? Map.of(fn.activeVersion().getAsInt(), 100) : Map.of();
        Instant since = Instant.now().minus(WINDOW);
        Map<Integer, VersionCalls> calls = store.traffic().callsSince(name, since).stream()
                .collect(Collectors.toMap(VersionCalls::version, c -> c));
        Set<Integer> shown = new TreeSet<>(split.keySet());
        shown.addAll(traffic.tags().values());
        shown.addAll(calls.keySet());
        fn.activeVersion().ifPresent(shown::add);
        String url = baseUrl.get() + "/fn/" + name;

        Map<String, Object> out = new LinkedHashMap<>();
        out.put("function", name);
        out.put("url", url);
        out.put("activeVersion", fn.activeVersion().isPresent() ? fn.activeVersion().getAsInt() : null);
        out.put("pinned", !traffic.split().isEmpty());
        out.put("to", byVersion(split));
        out.put("tags", traffic.tags());
        Map<String, String> tagUrls = new LinkedHashMap<>();
        traffic.tags().keySet().forEach(tag -> tagUrls.put(tag, url + "@" + tag));
        out.put("tagUrls", tagUrls);
        out.put("since", since.toString());
        List<Map<String, Object>> versions = new ArrayList<>();
        for (int v : shown) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("version", v);
            row.put("state", registry.version(name, v).map(VersionRow::state).map(Enum::name).orElse("DELETED"));
            row.put("percent", split.getOrDefault(v, 0));
            row.put("tags", traffic.tags().entrySet().stream().filter(e -> e.getValue() == v).map(Map.Entry::getKey).toList());
            row.put("url", url + "@v" + v);
            VersionCalls c = calls.getOrDefault(v, new VersionCalls(v, 0, 0));
            row.put("lastHour", Map.of("calls", c.calls(), "errors", c.errors()));
            versions.add(row);
        }
        out.put("versions", versions);
        return out;
    }

    private static Map<String, Integer> byVersion(Map<Integer, Integer> split) {
        Map<String, Integer> out = new LinkedHashMap<>();
        new TreeMap<>(split).forEach((v, p) -> out.put(Integer.toString(v), p));
        return out;
    }

    private static String tags(Map<String, Integer> tags) {
        return tags.entrySet().stream().map(e -> e.getKey() + "=v" + e.getValue()).collect(Collectors.joining(","));
    }

    private static String shown(String text) {
        return gale.registry.FunctionName.shown(text);
    }
}
