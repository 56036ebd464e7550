package gale.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import gale.registry.Registry;
import gale.store.AsyncInvocationRow;
import gale.store.AsyncStore;
import gale.triggers.AsyncQueue;
import io.javalin.config.RoutesConfig;
import io.javalin.http.BadRequestResponse;
import io.javalin.http.Context;
import io.javalin.http.NotFoundResponse;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Async calls' status and dead letters (docs/async.md): {@code GET /v1/invocations/{id}} for a call
 * accepted with {@code Prefer: respond-async}, and {@code /v1/functions/{name}/dead-letters} to list,
 * redrive and purge. {@link ApiAccess} guards them.
 */
public final class AsyncApi {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MAX_IDS = 10_000;

    private final AsyncQueue queue;
    private final Registry registry;

    public AsyncApi(AsyncQueue queue, Registry registry) {
        this.queue = queue;
        this.registry = registry;
    }

    public void register(RoutesConfig routes) {
        routes.get("/v1/functions/{name}/dead-letters", ctx -> {
            String function = existing(ctx);
            int limit = limit(ctx);
            ctx.json(queue.deadLetters(function, limit).stream().map(r -> json(r, true)).toList());
        });
        routes.post("/v1/functions/{name}/dead-letters:redrive", this::redrive);
        routes.post("/v1/functions/{name}/dead-letters/redrive", this::redrive);
        routes.delete("/v1/functions/{name}/dead-letters", ctx -> {
            String function = existing(ctx);
            ctx.json(Map.of("function", function, "purged", queue.purge(function)));
        });
    }

    /** The async call with this id, as the API shows it; empty when {@code id} is no async call's. */
    public Optional<Map<String, Object>> invocation(String id) {
        return queue.find(id).map(r -> json(r, false));
    }

    private void redrive(Context ctx) {
        String function = existing(ctx);
        Optional<List<String>> ids = ids(ctx);
        AsyncStore.Redriven done = queue.redrive(function, ids.map(List::copyOf));
        if (!done.unknown().isEmpty()) {
            throw new NotFoundResponse("no dead letter " + String.join(", ", done.unknown().stream().limit(10).toList())
                    + (done.unknown().size() > 10 ? " (and " + (done.unknown().size() - 10) + " more)" : "")
                    + " of function '" + function + "'; nothing was redriven. gale dead-letters " + function
                    + " lists them (a call redriven or purged before is no dead letter any more)");
        }
        ctx.json(Map.of("function", function, "redriven", done.queued().size(), "ids", done.queued()));
    }

    /** {@code {"ids": [...]}} for some; an empty body or {@code {}} for all. */
    private static Optional<List<String>> ids(Context ctx) {
        String body = ctx.body();
        if (body.isBlank()) return Optional.empty();
        JsonNode node;
        try {
            node = JSON.readTree(body);
        } catch (IOException e) {
            throw new BadRequestResponse("the body is not valid JSON; send {\"ids\": [\"ID\", ...]} to redrive some "
                    + "dead letters, or no body to redrive all");
        }
        if (node == null || !node.isObject()) {
            throw new BadRequestResponse("the body must be a JSON object like {\"ids\": [\"ID\", ...]}, or empty to redrive all");
        }
        var fields = node.fieldNames();
        while (fields.hasNext()) {
            String field = fields.next();
            if (!field.equals("ids")) throw new BadRequestResponse("unknown key '" + field + "'; the body holds only \"ids\"");
        }
        JsonNode ids = node.get("ids");
        if (ids == null) return Optional.empty();
        if (!ids.isArray() || ids.isEmpty()) {
            throw new BadRequestResponse("ids must be a non-empty array of invocation ids (leave it out to redrive all)");
        }
        if (ids.size() > MAX_IDS) throw new BadRequestResponse("at most " + MAX_IDS + " ids at once; leave ids out to redrive all");
        List<String> out = new ArrayList<>();
        for (JsonNode id : ids) {
            if (!id.isTextual()) throw new BadRequestResponse("ids must be strings (invocation ids), got " + id);
            out.add(id.asText());
        }
        return Optional.of(out);
    }

    private String existing(Context ctx) {
        String name = ctx.pathParam("name");
        if (registry.function(name).isEmpty()) {
            throw new NotFoundResponse("function '" + name + "' not found; gale ls lists the deployed functions");
        }
        return name;
    }

    private static int limit(Context ctx) {
        String v = ctx.queryParam("limit");
        if (v == null) return 100;
        try {
            int n = Integer.parseInt(v.trim());
            if (n >= 1 && n <= 1000) return n;
        } catch (NumberFormatException e) {
            // said below
        }
        throw new BadRequestResponse("limit must be a whole number between 1 and 1000, got '" + v + "'");
    }

    private static Map<String, Object> json(AsyncInvocationRow r, boolean withInput) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("invocationId", r.id());
        m.put("function", r.function());
        m.put("trigger", r.triggerId().orElse(null)); // a trigger event's delivery (docs/triggers.md)
        m.put("status", r.state());
        m.put("attempts", r.attempts());
        m.put("version", r.version().orElse(null));
        m.put("createdAt", r.createdAt().toString());
        m.put("updatedAt", r.updatedAt().toString());
        m.put("nextAttemptAt", r.state().equals("QUEUED") ? r.nextAttempt().toString() : null);
        m.put("finishedAt", r.finishedAt().map(Instant::toString).orElse(null));
        Map<String, Object> request = new LinkedHashMap<>();
        request.put("method", r.method());
        request.put("path", r.path());
        request.put("query", r.query());
        if (withInput) {
            request.put("headers", headers(r.headersJson()));
            body(request, r.body());
        }
        m.put("request", request);
        m.put("result", r.resultStatus().map(status -> {
            Map<String, Object> result = new LinkedHashMap<>();
            result.put("status", status);
            result.put("headers", headers(r.resultHeadersJson().orElse("[]")));
            body(result, r.resultBody().orElse(new byte[0]));
            return result;
        }).orElse(null));
        m.put("error", r.error().orElse(null));
        m.put("traceback", r.traceback().orElse(null));
        return m;
    }

    private static List<List<String>> headers(String json) {
        return AsyncQueue.headers(json).stream().map(h -> List.of(h.getKey(), h.getValue())).toList();
    }

    /** {@code body} as text when it is UTF-8, else base64, with {@code bodyEncoding} saying which. */
    private static void body(Map<String, Object> into, byte[] body) {
        try {
            String text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(body)).toString();
            into.put("body", text);
            into.put("bodyEncoding", "utf-8");
        } catch (CharacterCodingException e) {
            into.put("body", Base64.getEncoder().encodeToString(body));
            into.put("bodyEncoding", "base64");
        }
    }
}
