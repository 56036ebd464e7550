package gale.admin;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import gale.config.Durations;
import gale.config.FunctionConfig;
import gale.gateway.Caller;
import gale.registry.ActiveFunction;
import gale.registry.Registry;
import gale.state.StateRefused;
import gale.state.StateTokens;
import io.javalin.config.RoutesConfig;
import io.javalin.http.BadRequestResponse;
import io.javalin.http.Context;
import io.javalin.http.ForbiddenResponse;
import io.javalin.http.UnauthorizedResponse;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Who may use a state namespace, a sampler or a blob bucket, for {@link StateApi}, {@link SamplerApi}
 * and {@link BlobsApi}: the admin token or an access key with the scope {@link ApiRoutes} asks (all of
 * them), or a function's instance with its GALE_STATE_TOKEN (the one named after the function and those
 * its config grants with state-namespaces or blob-buckets). These APIs check function tokens
 * themselves, which is why {@link ApiAccess} lets requests without an admin credential through to them. Also what
 * both answer a refusal with, and how they read JSON bodies.
 */
public final class StateAccess {

    private static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    private static final Set<String> PREFIXES = Set.of(StateApi.PREFIX, SamplerApi.PREFIX, BlobsApi.PREFIX);

    private final StateTokens tokens;
    private final Registry registry;

    public StateAccess(StateTokens tokens, Registry registry) {
        this.tokens = tokens;
        this.registry = registry;
    }

    /** True for the requests of the APIs that authenticate callers themselves. */
    static boolean handles(Context ctx) {
        String path = ctx.path();
        for (String prefix : PREFIXES) {
            if (path.equals(prefix) || path.startsWith(prefix + "/")) return true;
        }
        return false;
    }

    /** How both APIs answer a {@link StateRefused} or a {@link Refusal}. */
    public static void registerErrors(RoutesConfig routes) {
        routes.exception(Refusal.class, (e, ctx) -> ctx.status(e.status).json(e.json()));
        routes.exception(StateRefused.class, (e, ctx) -> {
            Refusal r = refusal(e);
            ctx.status(r.status).json(r.json());
        });
    }

    /**
     * Lets the admin use any namespace and a function's token its own and those it was granted; 401
     * or 403 otherwise. {@code what} names the thing in the message ("state namespace", "sampler").
     */
    void allow(Context ctx, String namespace, String what) {
        allow(ctx, namespace, what, FunctionConfig::stateNamespaces, "state-namespace", "state-namespaces");
    }

    /** As {@link #allow}, for a blob bucket: a function's own and those its blob-buckets grant. */
    void allowBucket(Context ctx, String bucket) {
        allow(ctx, bucket, "blob bucket", FunctionConfig::blobBuckets, "blob-bucket", "blob-buckets");
    }

    private void allow(Context ctx, String namespace, String what, java.util.function.Function<FunctionConfig, List<String>> granted,
                       String flag, String tomlKey) {
        if (!(ApiAccess.caller(ctx) instanceof Caller.Anonymous)) return; // the admin token, or a key ApiAccess let through
        String header = ctx.header("Authorization");
        String token = header != null && header.regionMatches(true, 0, "Bearer ", 0, 7) ? header.substring(7).trim() : null;
        Optional<StateTokens.Holder> holder = tokens.verify(token);
        Optional<FunctionConfig> config = holder.flatMap(this::configOf);
        if (config.isEmpty()) {
            ctx.header("WWW-Authenticate", "Bearer");
            throw new UnauthorizedResponse(holder.isPresent()
                    ? "this state token belongs to " + holder.get().function() + " version " + holder.get().version()
                            + ", which no longer exists"
                    : "this API needs 'Authorization: Bearer <token>': the admin token, or inside a function its "
                            + "GALE_STATE_TOKEN (gale.state and gale.blobs use it by themselves)");
        }
        Set<String> allowed = new LinkedHashSet<>();
        allowed.add(holder.get().function());
        allowed.addAll(granted.apply(config.get()));
        if (!allowed.contains(namespace)) {
            String fn = holder.get().function();
            throw new ForbiddenResponse("function '" + fn + "' may not use " + what + " '" + namespace + "'; it may use "
                    + String.join(", ", allowed) + ". To grant it, deploy with `gale deploy " + fn + " --" + flag + " "
                    + namespace + "` (or " + tomlKey + " = [\"" + namespace + "\"] in gale.toml)");
        }
    }

    /** The config of the version a token names: the active one from memory, any other from the store. */
    private Optional<FunctionConfig> configOf(StateTokens.Holder holder) {
        Optional<ActiveFunction> active = registry.active(holder.function());
        if (active.isPresent() && active.get().version() == holder.version()) return Optional.of(active.get().config());
        return registry.version(holder.function(), holder.version()).map(Registry::configOf);
    }

    // ---- bodies

    static JsonNode body(Context ctx, String what) {
        byte[] bytes = ctx.bodyAsBytes();
        if (bytes.length == 0) {
            throw new BadRequestResponse("the body is empty: send " + what + " as JSON, e.g. \"hello\" (with the quotes), 42 or {\"a\": 1}");
        }
        try {
            return JSON.readTree(bytes);
        } catch (JsonProcessingException e) {
            throw new BadRequestResponse("the body is not JSON (" + e.getOriginalMessage().lines().findFirst().orElse("") + "): send "
                    + what + " as JSON, e.g. \"hello\" (text needs the quotes), 42 or {\"a\": 1}");
        } catch (java.io.IOException e) {
            throw new BadRequestResponse("the body could not be read: " + e.getMessage());
        }
    }

    static void unknownFields(JsonNode node, Set<String> known, String what) {
        node.fieldNames().forEachRemaining(name -> {
            if (!known.contains(name)) throw new BadRequestResponse(what + " has an unknown field '" + name + "'; known: " + String.join(", ", known));
        });
    }


    /** A duration given as text ("30s") or a number of seconds; 400 naming {@code name} otherwise. */
    static Optional<Duration> duration(Optional<String> text, String name) {
        if (text.isEmpty()) return Optional.empty();
        try {
            return Optional.of(Durations.parse(text.get()));
        } catch (IllegalArgumentException e) {
            throw new BadRequestResponse(name + ": " + e.getMessage());
        }
    }

    // ---- refusals

    static Refusal refusal(StateRefused e) {
        int status = switch (e.reason()) {
            case TOO_LARGE -> 413;
            case NOT_FOUND -> 404;
            case CONFLICT, CHECK_FAILED -> 409;
            case INVALID -> 400;
        };
        return new Refusal(status, e.getMessage(), Map.of());
    }

    /** An error answer with fields beside {"error", "status"}. */
    static final class Refusal extends RuntimeException {
        private final int status;
        private final Map<String, Object> fields;

        Refusal(int status, String message, Map<String, Object> fields) {
            super(message, null, false, false);
            this.status = status;
            this.fields = fields;
        }

        Map<String, Object> json() {
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("error", getMessage());
            out.put("status", status);
            out.putAll(fields);
            return out;
        }
    }
}
