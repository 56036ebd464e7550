package gale.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import gale.config.InvalidConfigException;
import gale.config.TriggerSpec;
import gale.registry.Registry;
import gale.store.TriggerRow;
import gale.triggers.Triggers;
import io.javalin.config.RoutesConfig;
import io.javalin.http.BadRequestResponse;
import io.javalin.http.Context;
import io.javalin.http.NotFoundResponse;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A function's triggers under /v1/functions/{name}/triggers (docs/triggers.md): list them with their events'
 * counts, add one, remove one. The token check comes from {@link AdminApi}.
 */
public final class TriggersApi {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String SHAPE = "send {\"source\": \"state:NAMESPACE/PREFIX\"} or {\"source\": \"blob:BUCKET/PREFIX\", "
            + "\"events\": [\"finalize\"]}";

    private final Triggers triggers;
    private final Registry registry;

    public TriggersApi(Triggers triggers, Registry registry) {
        this.triggers = triggers;
        this.registry = registry;
    }

    public void register(RoutesConfig routes) {
        routes.get("/v1/triggers", ctx -> ctx.json(triggers.all().stream().map(t -> json(new Triggers.View(t,
                gale.store.TriggerStore.Counts.NONE), false)).toList()));
        routes.get("/v1/functions/{name}/triggers", ctx -> ctx.json(list(existing(ctx))));
        routes.post("/v1/functions/{name}/triggers", this::add);
        routes.delete("/v1/functions/{name}/triggers/{id}", ctx -> {
            String function = existing(ctx);
            if (!triggers.remove(function, ctx.pathParam("id"))) {
                throw new NotFoundResponse("function '" + function + "' has no trigger '" + ctx.pathParam("id")
                        + "'; gale triggers ls " + function + " lists its triggers");
            }
            ctx.status(204);
        });
    }

    /** The function's triggers as the API shows them (also in `GET /v1/functions/{name}`). */
    public List<Map<String, Object>> list(String function) {
        return triggers.list(function).stream().map(v -> json(v, true)).toList();
    }

    private void add(Context ctx) {
        String function = ctx.pathParam("name");
        TriggerSpec spec = spec(ctx);
        try {
            Triggers.Added added = triggers.add(function, spec);
            ctx.status(added.created() ? 201 : 200).json(json(added.view(), true));
        } catch (Triggers.Refused e) {
            ctx.status(e.status()).json(Map.of("error", e.getMessage(), "status", e.status()));
        }
    }

    private static TriggerSpec spec(Context ctx) {
        JsonNode body;
        try {
            body = JSON.readTree(ctx.body());
        } catch (IOException e) {
            throw new BadRequestResponse("the body is not valid JSON; " + SHAPE);
        }
        if (body == null || !body.isObject()) throw new BadRequestResponse("the body must be a JSON object; " + SHAPE);
        for (Iterator<String> it = body.fieldNames(); it.hasNext(); ) {
            String key = it.next();
            if (!key.equals("source") && !key.equals("events")) {
                throw new BadRequestResponse("unknown key '" + key + "' in the trigger; known keys: source, events");
            }
        }
        JsonNode source = body.get("source");
        if (source == null || !source.isTextual()) throw new BadRequestResponse("the trigger has no \"source\" string; " + SHAPE);
        List<String> events = new ArrayList<>();
        JsonNode kinds = body.get("events");
        if (kinds != null && !kinds.isNull()) {
            if (!kinds.isArray()) throw new BadRequestResponse("\"events\" must be a list such as [\"put\", \"delete\"]");
            for (JsonNode k : kinds) {
                if (!k.isTextual()) throw new BadRequestResponse("\"events\" must be a list of strings, got " + k);
                events.add(k.asText());
            }
        }
        try {
            return TriggerSpec.parse(source.asText(), events);
        } catch (InvalidConfigException e) {
            throw new BadRequestResponse(e.getMessage());
        }
    }

    private String existing(Context ctx) {
        String name = ctx.pathParam("name");
        if (registry.function(name).isEmpty()) {
            throw new NotFoundResponse("function '" + name + "' not found; gale ls lists the deployed functions");
        }
        return name;
    }

    static Map<String, Object> json(Triggers.View view, boolean withCounts) {
        TriggerRow t = view.row();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", t.id());
        m.put("function", t.function());
        m.put("source", t.spec().sourceText());
        m.put("kind", t.spec().source());
        m.put("name", t.spec().name());
        m.put("prefix", t.spec().prefix());
        m.put("events", t.spec().events());
        m.put("createdAt", t.createdAt().toString());
        if (withCounts) {
            m.put("pending", view.counts().pending());
            m.put("delivered", view.counts().delivered());
            m.put("dead", view.counts().dead());
        }
        return m;
    }
}
