package gale.admin;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.util.RawValue;
import gale.state.OpResult;
import gale.state.StateCheck;
import gale.state.StateEntry;
import gale.state.StateLimits;
import gale.state.StateOp;
import gale.state.StateRefused;
import gale.state.StateStore;
import io.javalin.config.RoutesConfig;
import io.javalin.http.BadRequestResponse;
import io.javalin.http.Context;
import io.javalin.http.NotFoundResponse;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/** Shared state under /v1/state (docs/state.md); who may call it is {@link StateAccess}'s to say. */
public final class StateApi {

    static final String PREFIX = "/v1/state";

    private static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    private static final int DEFAULT_LIST_LIMIT = 100;

    private final StateStore state;
    private final StateAccess access;

    public StateApi(StateStore state, StateAccess access) {
        this.state = state;
        this.access = access;
    }

    private void allow(Context ctx, String namespace) {
        access.allow(ctx, namespace, "state namespace");
    }

    public void register(RoutesConfig routes) {
        routes.get(PREFIX + "/<path>", ctx -> {
            Target t = target(ctx);
            if (t.key().isEmpty()) list(ctx, t.namespace()); else get(ctx, t.namespace(), t.key().get());
        });
        routes.put(PREFIX + "/<path>", ctx -> {
            Target t = target(ctx);
            put(ctx, t.namespace(), t.keyOrExplain("PUT"));
        });
        routes.delete(PREFIX + "/<path>", ctx -> {
            Target t = target(ctx);
            delete(ctx, t.namespace(), t.keyOrExplain("DELETE"));
        });
        routes.post(PREFIX + "/<path>", this::post);
        routes.get(PREFIX, ctx -> {
            throw new BadRequestResponse("name a namespace: GET " + PREFIX + "/NAMESPACE lists its keys, GET "
                    + PREFIX + "/NAMESPACE/KEY reads one");
        });
    }

    // ---- single keys

    private void get(Context ctx, String namespace, String key) {
        allow(ctx, namespace);
        StateEntry entry = state.get(namespace, key).orElseThrow(() -> new NotFoundResponse(
                "no key '" + key + "' in state namespace '" + namespace + "' (never written, deleted, or expired)"));
        ctx.header("ETag", etag(entry.version())).json(entry(entry, true));
    }

    private void put(Context ctx, String namespace, String key) {
        allow(ctx, namespace);
        JsonNode value = StateAccess.body(ctx, "the value");
        Optional<Duration> ttl = ttl(ctx.queryParam("ttl"));
        List<StateCheck> checks = new ArrayList<>();
        condition(ctx, key).ifPresent(checks::add);
        OpResult result = write(ctx, namespace, checks, List.of(new StateOp.Put(key, value, ttl)));
        StateEntry written = result.entry().orElseThrow();
        ctx.status(result.existed() ? 200 : 201).header("ETag", etag(written.version())).json(entry(written, false));
    }

    private void delete(Context ctx, String namespace, String key) {
        allow(ctx, namespace);
        List<StateCheck> checks = new ArrayList<>();
        condition(ctx, key).ifPresent(checks::add);
        if (!write(ctx, namespace, checks, List.of(new StateOp.Delete(key))).existed()) {
            throw new NotFoundResponse("no key '" + key + "' in state namespace '" + namespace + "' to delete");
        }
        ctx.status(204);
    }

    private void post(Context ctx) {
        Target t = target(ctx);
        if (t.key().isEmpty() && t.action().equals(Optional.of("transaction"))) {
            allow(ctx, t.namespace());
            transaction(ctx, t.namespace());
            return;
        }
        if (t.key().isEmpty()) {
            throw new BadRequestResponse("POST " + PREFIX + "/NAMESPACE:transaction runs a transaction; POST "
                    + PREFIX + "/NAMESPACE/KEY?op=increment increments a key");
        }
        String op = Optional.ofNullable(ctx.queryParam("op")).orElse("");
        if (!op.equals("increment")) {
            throw new BadRequestResponse(op.isEmpty()
                    ? "POST on a key needs ?op=increment (to set a value, PUT it)"
                    : "unknown op '" + op + "': POST on a key supports ?op=increment (to set a value, PUT it)");
        }
        allow(ctx, t.namespace());
        JsonNode args = ctx.bodyAsBytes().length == 0 ? JSON.createObjectNode() : StateAccess.body(ctx, "the increment");
        if (!args.isObject()) throw new BadRequestResponse("the increment's body is a JSON object like {\"by\": 5}, or empty to add 1");
        StateAccess.unknownFields(args, Set.of("by", "ttl"), "the increment");
        StateOp.Increment increment = new StateOp.Increment(t.key().get(), by(args.get("by")), ttl(text(args.get("ttl"), "ttl")));
        StateEntry written = write(ctx, t.namespace(), List.of(), List.of(increment)).entry().orElseThrow();
        ctx.header("ETag", etag(written.version())).json(entry(written, true));
    }

    /** A single conditional write: If-Match: VERSION (the ETag of a read), or If-None-Match: * (create only). */
    private static Optional<StateCheck> condition(Context ctx, String key) {
        String ifMatch = ctx.header("If-Match");
        String ifNoneMatch = ctx.header("If-None-Match");
        if (ifMatch != null && ifNoneMatch != null) throw new BadRequestResponse("send If-Match or If-None-Match, not both");
        if (ifNoneMatch != null) {
            if (!ifNoneMatch.trim().equals("*")) throw new BadRequestResponse("If-None-Match takes only *: write only if the key does not exist");
            return Optional.of(StateCheck.absent(key));
        }
        if (ifMatch == null) return Optional.empty();
        String v = ifMatch.trim();
        if (v.startsWith("W/")) v = v.substring(2);
        if (v.length() >= 2 && v.startsWith("\"") && v.endsWith("\"")) v = v.substring(1, v.length() - 1);
        try {
            long version = Long.parseLong(v);
            if (version < 1) throw new NumberFormatException();
            return Optional.of(new StateCheck(key, version));
        } catch (NumberFormatException e) {
            throw new BadRequestResponse("If-Match must be a version (the ETag a read returned, e.g. \"7\"), got '" + ifMatch + "'");
        }
    }

    private OpResult write(Context ctx, String namespace, List<StateCheck> checks, List<StateOp> ops) {
        try {
            return state.transact(namespace, checks, ops).getFirst();
        } catch (StateRefused e) {
            if (e.reason() == StateRefused.Reason.CHECK_FAILED) { // a conditional single write: 412, as HTTP has it
                throw new StateAccess.Refusal(412, e.getMessage().replaceFirst("^check 0 failed: ", "precondition failed: "),
                        Map.of("currentVersion", e.actualVersion()));
            }
            throw StateAccess.refusal(e);
        }
    }

    // ---- namespaces

    private void list(Context ctx, String namespace) {
        allow(ctx, namespace);
        String prefix = Optional.ofNullable(ctx.queryParam("prefix")).orElse("");
        Optional<String> after = Optional.ofNullable(ctx.queryParam("after"));
        int limit = DEFAULT_LIST_LIMIT;
        String limitText = ctx.queryParam("limit");
        if (limitText != null) {
            try {
                limit = Integer.parseInt(limitText.trim());
            } catch (NumberFormatException e) {
                throw new BadRequestResponse("limit must be a number between 1 and " + StateLimits.MAX_LIST_LIMIT + ", got '" + limitText + "'");
            }
        }
        boolean values = !"false".equalsIgnoreCase(ctx.queryParam("values"));
        StateStore.Page page;
        try {
            page = state.list(namespace, prefix, after, limit);
        } catch (StateRefused e) {
            throw StateAccess.refusal(e);
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("namespace", namespace);
        out.put("entries", page.entries().stream().map(e -> entry(e, values)).toList());
        out.put("next", page.next().orElse(null));
        ctx.json(out);
    }

    private void transaction(Context ctx, String namespace) {
        JsonNode body = StateAccess.body(ctx, "the transaction");
        if (!body.isObject()) throw new BadRequestResponse(TRANSACTION_SHAPE);
        StateAccess.unknownFields(body, Set.of("checks", "ops"), "the transaction");
        List<StateCheck> checks = new ArrayList<>();
        for (JsonNode c : array(body, "checks")) {
            if (!c.isObject() || !c.path("key").isTextual() || !c.path("version").canConvertToLong() || !c.path("version").isIntegralNumber()) {
                throw new BadRequestResponse("each check is {\"key\": \"k\", \"version\": 7} (version 0: the key must not exist); got " + c);
            }
            checks.add(new StateCheck(c.get("key").asText(), c.get("version").asLong()));
        }
        List<StateOp> ops = new ArrayList<>();
        for (JsonNode o : array(body, "ops")) ops.add(op(o));
        List<OpResult> results;
        try {
            results = state.transact(namespace, checks, ops);
        } catch (StateRefused e) {
            if (e.reason() == StateRefused.Reason.CHECK_FAILED) {
                throw new StateAccess.Refusal(409, e.getMessage(), Map.of("failedCheck", e.failedCheck(), "currentVersion", e.actualVersion()));
            }
            throw StateAccess.refusal(e);
        }
        List<Map<String, Object>> out = new ArrayList<>();
        for (OpResult r : results) {
            Map<String, Object> m = r.entry().map(e -> entry(e, true)).orElseGet(LinkedHashMap::new);
            if (r.entry().isEmpty()) m.put("key", r.key());
            m.put("existed", r.existed());
            out.add(m);
        }
        ctx.json(Map.of("results", out));
    }

    private static final String TRANSACTION_SHAPE = "a transaction is {\"checks\": [{\"key\": \"k\", \"version\": 7}], \"ops\": "
            + "[{\"op\": \"put\", \"key\": \"k\", \"value\": 1}, {\"op\": \"increment\", \"key\": \"n\", \"by\": 1}, "
            + "{\"op\": \"delete\", \"key\": \"old\"}]}";

    private static StateOp op(JsonNode o) {
        if (!o.isObject() || !o.path("key").isTextual()) throw new BadRequestResponse("each op has an \"op\" and a \"key\": " + TRANSACTION_SHAPE + "; got " + o);
        String key = o.get("key").asText();
        return switch (o.path("op").asText("")) {
            case "put" -> {
                StateAccess.unknownFields(o, Set.of("op", "key", "value", "ttl"), "a put");
                if (!o.has("value")) throw new BadRequestResponse("the put of '" + key + "' has no \"value\"");
                yield new StateOp.Put(key, o.get("value"), ttl(text(o.get("ttl"), "ttl")));
            }
            case "increment" -> {
                StateAccess.unknownFields(o, Set.of("op", "key", "by", "ttl"), "an increment");
                yield new StateOp.Increment(key, by(o.get("by")), ttl(text(o.get("ttl"), "ttl")));
            }
            case "delete" -> {
                StateAccess.unknownFields(o, Set.of("op", "key"), "a delete");
                yield new StateOp.Delete(key);
            }
            default -> throw new BadRequestResponse("op must be put, increment or delete, got " + o.path("op"));
        };
    }

    // ---- parsing

    /** A namespace and, after a slash, a key, percent-decoded from the raw path; or "NAMESPACE:ACTION". */
    record Target(String namespace, Optional<String> key, Optional<String> action) {
        String keyOrExplain(String method) {
            if (action.isPresent()) throw new BadRequestResponse(method + " takes a key: " + PREFIX + "/" + namespace + "/KEY");
            return key.orElseThrow(() -> new BadRequestResponse(method + " needs a key: " + PREFIX + "/" + namespace + "/KEY"));
        }
    }

    private static Target target(Context ctx) {
        String raw = ctx.req().getRequestURI().substring(PREFIX.length() + 1);
        int slash = raw.indexOf('/');
        String namespace = decode(slash < 0 ? raw : raw.substring(0, slash));
        Optional<String> action = Optional.empty();
        int colon = namespace.indexOf(':');
        if (slash < 0 && colon >= 0) {
            action = Optional.of(namespace.substring(colon + 1));
            namespace = namespace.substring(0, colon);
            if (!action.get().equals("transaction")) {
                throw new BadRequestResponse("unknown action ':" + action.get() + "': POST " + PREFIX + "/NAMESPACE:transaction runs a transaction");
            }
        }
        try {
            StateLimits.checkNamespace(namespace);
            Optional<String> key = slash < 0 ? Optional.empty() : Optional.of(decode(raw.substring(slash + 1)));
            if (key.isPresent()) StateLimits.checkKey(key.get());
            return new Target(namespace, key, action);
        } catch (StateRefused e) {
            throw StateAccess.refusal(e);
        }
    }

    /** Percent-decoding of a path (a '+' stays a '+'), as UTF-8. */
    static String decode(String raw) {
        if (raw.indexOf('%') < 0) return raw;
        ByteArrayOutputStream out = new ByteArrayOutputStream(raw.length());
        for (int i = 0; i < raw.length(); i++) {
            char c = raw.charAt(i);
            if (c == '%') {
                if (i + 2 >= raw.length()) throw new BadRequestResponse("the path has a '%' not followed by two hex digits: '" + raw + "'");
                int hi = Character.digit(raw.charAt(i + 1), 16);
                int lo = Character.digit(raw.charAt(i + 2), 16);
                if (hi < 0 || lo < 0) throw new BadRequestResponse("the path has a '%' not followed by two hex digits: '" + raw + "'");
                out.write(hi * 16 + lo);
                i += 2;
            } else {
                out.writeBytes(String.valueOf(c).getBytes(StandardCharsets.UTF_8));
            }
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    private static long by(JsonNode by) {
        if (by == null || by.isNull()) return 1;
        if (!by.isIntegralNumber() || !by.canConvertToLong()) {
            throw new BadRequestResponse("by must be a whole number (64-bit), e.g. {\"by\": 5} or {\"by\": -1}, got " + by);
        }
        return by.asLong();
    }

    private static Optional<String> text(JsonNode node, String name) {
        if (node == null || node.isNull()) return Optional.empty();
        if (node.isNumber()) return Optional.of(node.asText()); // seconds
        if (!node.isTextual()) throw new BadRequestResponse(name + " must be a duration like \"30s\" or \"1h\", got " + node);
        return Optional.of(node.asText());
    }

    private static Optional<Duration> ttl(String text) {
        return ttl(Optional.ofNullable(text));
    }

    private static Optional<Duration> ttl(Optional<String> text) {
        Optional<Duration> ttl = StateAccess.duration(text, "ttl");
        ttl.ifPresent(StateLimits::checkTtl);
        return ttl;
    }

    private static Iterable<JsonNode> array(JsonNode body, String field) {
        JsonNode node = body.get(field);
        if (node == null || node.isNull()) return List.of();
        if (!node.isArray()) throw new BadRequestResponse("\"" + field + "\" must be a list: " + TRANSACTION_SHAPE);
        return node;
    }

    // ---- answers

    private static String etag(long version) {
        return "\"" + version + "\"";
    }

    private static Map<String, Object> entry(StateEntry e, boolean withValue) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("namespace", e.namespace());
        out.put("key", e.key());
        if (withValue) out.put("value", new RawValue(e.valueJson())); // stored as compact JSON: no re-parse
        out.put("version", e.version());
        out.put("expiresAt", e.expiresAt().map(Object::toString).orElse(null));
        return out;
    }
}
