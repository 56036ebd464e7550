package gale.admin;

import com.fasterxml.jackson.databind.JsonNode;
import gale.access.AccessKey;
import gale.access.AccessKeys;
import gale.access.AuditEntry;
import gale.access.AuditLog;
import gale.access.RateLimit;
import gale.access.Scopes;
import gale.config.Durations;
import gale.gateway.Caller;
import io.javalin.config.RoutesConfig;
import io.javalin.http.BadRequestResponse;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import io.javalin.http.NotFoundResponse;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Access keys under /v1/keys and the audit log under /v1/audit (docs/access.md), for the admin scope
 * only ({@link ApiRoutes}). A key itself appears in one answer only: the one that creates it.
 */
public final class KeysApi {

    private static final Set<String> CREATE_FIELDS = Set.of("name", "scopes", "rate", "burst", "expiresIn", "expiresAt");
    private static final String CREATE_SHAPE = "a key is {\"name\": \"ci-deploy\", \"scopes\": [\"deploy\", \"invoke:scorer\"], "
            + "\"rate\": \"10/s\", \"burst\": 20, \"expiresIn\": \"30d\"} (rate, burst and expiresIn or expiresAt optional)";
    private static final int MAX_AUDIT_PAGE = 10_000;

    private final AccessKeys keys;
    private final AuditLog audit;
    private final Clock clock;

    public KeysApi(AccessKeys keys, AuditLog audit, Clock clock) {
        this.keys = keys;
        this.audit = audit;
        this.clock = clock;
    }

    public void register(RoutesConfig routes) {
        routes.get("/v1/keys", ctx -> ctx.json(keys.list("true".equals(ctx.queryParam("all"))).stream().map(this::json).toList()));
        routes.post("/v1/keys", this::create);
        routes.delete("/v1/keys/{name}", ctx -> {
            AccessKey revoked = keys.revoke(ctx.pathParam("name")).orElseThrow(() -> new NotFoundResponse("no live key named '"
                    + gale.registry.FunctionName.shown(ctx.pathParam("name")) + "'; gale keys ls lists them (a revoked key stays revoked)"));
            ApiAccess.auditDetail(ctx, "revoked " + revoked.label());
            ctx.json(json(revoked));
        });
        routes.get("/v1/audit", this::auditLog);
    }

    private void create(Context ctx) {
        if (ctx.bodyAsBytes().length == 0) throw new BadRequestResponse("the body is empty: " + CREATE_SHAPE);
        JsonNode body = StateAccess.body(ctx, "the key");
        if (!body.isObject()) throw new BadRequestResponse(CREATE_SHAPE);
        StateAccess.unknownFields(body, CREATE_FIELDS, "the key");
        if (!body.path("name").isTextual()) throw new BadRequestResponse("\"name\" is missing: " + CREATE_SHAPE);
        Scopes scopes = scopes(body.get("scopes"));
        Optional<RateLimit> rate = rate(body);
        Optional<Instant> expiresAt = expiry(body);
        Caller caller = ApiAccess.caller(ctx);
        String createdBy = caller instanceof Caller.Key key ? "key " + key.held().key().label() : caller.actor();
        AccessKeys.Created created;
        try {
            created = keys.create(body.get("name").asText(), scopes, rate, expiresAt, createdBy);
        } catch (AccessKeys.Refused e) {
            throw new HttpResponseException(e.status, e.getMessage());
        }
        AccessKey key = created.key();
        ApiAccess.auditDetail(ctx, "created " + key.label() + " with scopes " + key.scopes()
                + key.rate().map(r -> ", rate " + r).orElse("") + key.expiresAt().map(at -> ", expires " + at).orElse(""));
        Map<String, Object> out = json(key);
        out.put("secret", created.secret());
        out.put("note", "this is the only time the key is shown: Gale keeps its SHA-256 only. Send it as "
                + "'Authorization: Bearer <key>' (or set GALE_TOKEN)");
        ctx.status(201).json(out);
    }

    private static Scopes scopes(JsonNode node) {
        List<String> given = new ArrayList<>();
        if (node != null && node.isTextual()) {
            given.add(node.asText());
        } else if (node != null && node.isArray()) {
            for (JsonNode scope : node) {
                if (!scope.isTextual()) throw new BadRequestResponse("\"scopes\" holds " + scope + ", not a scope; scopes are " + Scopes.FORMS);
                given.add(scope.asText());
            }
        } else {
            throw new BadRequestResponse("\"scopes\" must be a list of scopes (" + Scopes.FORMS + "), got " + node);
        }
        try {
            return Scopes.parse(given);
        } catch (IllegalArgumentException e) {
            throw new BadRequestResponse(e.getMessage());
        }
    }

    private static Optional<RateLimit> rate(JsonNode body) {
        JsonNode rate = body.get("rate");
        JsonNode burst = body.get("burst");
        if (rate == null || rate.isNull()) {
            if (burst != null && !burst.isNull()) throw new BadRequestResponse("\"burst\" goes with a \"rate\" (" + RateLimit.FORM + ")");
            return Optional.empty();
        }
        if (burst != null && !burst.isNull() && !burst.canConvertToLong()) {
            throw new BadRequestResponse("\"burst\" must be a whole number of requests, got " + burst);
        }
        try {
            return Optional.of(RateLimit.parse(rate.asText(), burst == null || burst.isNull() ? null : burst.asLong()));
        } catch (IllegalArgumentException e) {
            throw new BadRequestResponse(e.getMessage());
        }
    }

    private Optional<Instant> expiry(JsonNode body) {
        JsonNode in = body.get("expiresIn");
        JsonNode at = body.get("expiresAt");
        boolean hasIn = in != null && !in.isNull();
        boolean hasAt = at != null && !at.isNull();
        if (hasIn && hasAt) throw new BadRequestResponse("give \"expiresIn\" (30d) or \"expiresAt\" (2027-01-31), not both");
        if (hasIn) {
            try {
                Duration d = Durations.parse(in.asText());
                return Optional.of(clock.instant().plus(d));
            } catch (IllegalArgumentException e) {
                throw new BadRequestResponse("expiresIn: " + e.getMessage() + " (or 30d for days)");
            }
        }
        return hasAt ? Optional.of(instant(at.asText(), "expiresAt")) : Optional.empty();
    }

    private void auditLog(Context ctx) {
        Instant since = Optional.ofNullable(ctx.queryParam("since")).map(s -> since(s)).orElse(Instant.EPOCH);
        int limit = 100;
        String limitParam = ctx.queryParam("limit");
        if (limitParam != null) {
            try {
                limit = Integer.parseInt(limitParam.strip());
            } catch (NumberFormatException e) {
                limit = -1;
            }
            if (limit < 1 || limit > MAX_AUDIT_PAGE) {
                throw new BadRequestResponse("limit must be between 1 and " + MAX_AUDIT_PAGE + ", got '" + limitParam + "'");
            }
        }
        Optional<String> function = Optional.ofNullable(ctx.queryParam("function")).filter(f -> !f.isBlank());
        ctx.json(audit.list(since, function, limit).stream().map(KeysApi::json).toList());
    }

    /** {@code 1d}, {@code 12h} back from now, or a date or time. */
    private Instant since(String text) {
        try {
            return clock.instant().minus(Durations.parse(text));
        } catch (IllegalArgumentException notADuration) {
            return instant(text, "since");
        }
    }

    private static Instant instant(String text, String field) {
        try {
            return text.length() == 10 ? LocalDate.parse(text).atStartOfDay(ZoneOffset.UTC).toInstant() : Instant.parse(text);
        } catch (DateTimeParseException e) {
            throw new BadRequestResponse(field + " '" + gale.registry.FunctionName.shown(text) + "' is neither a duration (30d, 12h) "
                    + "nor a date (2027-01-31) or time (2027-01-31T12:00:00Z)");
        }
    }

    private Map<String, Object> json(AccessKey key) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("name", key.name());
        out.put("id", key.id());
        out.put("scopes", key.scopes().wire());
        out.put("rate", key.rate().map(RateLimit::rate).orElse(null));
        out.put("burst", key.rate().map(RateLimit::burst).orElse(null));
        out.put("state", key.isRevoked() ? "revoked" : key.isExpired(clock.instant()) ? "expired" : "active");
        out.put("createdAt", key.createdAt().toString());
        out.put("createdBy", key.createdBy());
        out.put("expiresAt", key.expiresAt().map(Instant::toString).orElse(null));
        out.put("lastUsedAt", key.lastUsedAt().map(Instant::toString).orElse(null));
        out.put("revokedAt", key.revokedAt().map(Instant::toString).orElse(null));
        return out;
    }

    private static Map<String, Object> json(AuditEntry e) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("id", e.id());
        out.put("at", e.at().toString());
        out.put("actor", e.actor());
        out.put("keyId", e.keyId().orElse(null));
        out.put("action", e.action());
        out.put("target", e.target());
        out.put("function", e.function().orElse(null));
        out.put("client", e.client());
        out.put("outcome", e.outcome().wire());
        out.put("status", e.status().isPresent() ? e.status().getAsInt() : null);
        out.put("detail", e.detail().orElse(null));
        out.put("finishedAt", e.finishedAt().map(Instant::toString).orElse(null));
        return out;
    }
}
