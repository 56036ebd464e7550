package gale.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import gale.access.AuditEntry;
import gale.access.AuditLog;
import gale.access.Scope;
import gale.registry.FunctionName;
import gale.registry.StorageFull;
import gale.gateway.Auth;
import gale.gateway.Caller;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.javalin.http.ForbiddenResponse;
import io.javalin.http.HttpResponseException;
import io.javalin.http.UnauthorizedResponse;
import io.javalin.router.Endpoint;

import java.io.IOException;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * Guards every /v1 route (docs/access.md): finds the caller (the admin token, an access key, or a
 * function's state token for the APIs that check those themselves), holds a key to its rate limit and
 * to the scopes {@link ApiRoutes} asks of the route, and writes the audit log of routes that change
 * something: the entry is durable before the handler runs, its outcome follows the answer.
 */
public final class ApiAccess {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String CALLER = "gale.access.caller";
    private static final String AUDIT_ID = "gale.access.audit-id";
    private static final String DETAIL = "gale.access.detail";
    private static final String FUNCTION = "gale.access.function";
    private static final int MAX_TARGET_CHARS = 1_100;

    private final Auth auth;
    private final AuditLog audit;
    private final java.nio.file.Path dataDir;

    /** @param dataDir named when a full disk keeps the audit log from recording an action (507) */
    public ApiAccess(Auth auth, AuditLog audit, java.nio.file.Path dataDir) {
        this.auth = auth;
        this.audit = audit;
        this.dataDir = dataDir;
    }

    public void register(RoutesConfig routes) {
        routes.before("/v1/*", this::authenticate);
        routes.beforeMatched("/v1/*", this::authorize);
        routes.afterMatched("/v1/*", this::recordOutcome);
    }

    /** Who sent this /v1 request: set for every request that got past authentication. */
    static Caller caller(Context ctx) {
        Caller caller = ctx.attribute(CALLER);
        return caller == null ? Caller.ANONYMOUS : caller;
    }

    /** For handlers that guard themselves ({@link ApiRoutes.Guard#HANDLER}): 403 unless the caller may call {@code function}. */
    static void requireInvoke(Context ctx, String function, String action) {
        Caller caller = caller(ctx);
        if (caller.mayInvoke(function)) return;
        if (caller instanceof Caller.Key key) throw new ForbiddenResponse(Auth.missingScope(key, action, "invoke:" + function));
        throw new ForbiddenResponse("only the admin token or an access key may " + action);
    }

    /** As {@link #requireInvoke}, but {@code logs} scope also does (reading what a call did). */
    static void requireInvokeOrLogs(Context ctx, String function, String action) {
        if (!caller(ctx).allows(Scope.LOGS)) requireInvoke(ctx, function, action);
    }

    /** What the audit entry of this request should say the action did ({@code version 4}). */
    static void auditDetail(Context ctx, String detail) {
        ctx.attribute(DETAIL, detail);
    }

    /** The function this request acted on, when its path does not name it (a job, a schedule). */
    static void auditFunction(Context ctx, String function) {
        ctx.attribute(FUNCTION, function);
    }

    private void authenticate(Context ctx) {
        Caller caller = auth.caller(ctx.header("Authorization"), null);
        if (caller instanceof Caller.Invalid invalid) unauthorized(ctx, invalid.message());
        if (caller instanceof Caller.Anonymous && !StateAccess.handles(ctx)) { // state APIs also take functions' own tokens
            unauthorized(ctx, "the admin API needs 'Authorization: Bearer <token>': the admin token (in the data dir's "
                    + "admin-token file: export GALE_TOKEN=$(cat .gale/admin-token)) or an access key (gale keys create)");
        }
        Optional<Auth.Refusal> limited = auth.admit(caller);
        if (limited.isPresent()) {
            ctx.header("Retry-After", Long.toString(limited.get().retryAfterSeconds()));
            throw new HttpResponseException(429, limited.get().message());
        }
        ctx.attribute(CALLER, caller);
    }

    private void authorize(Context ctx) {
        Caller caller = caller(ctx);
        if (caller instanceof Caller.Anonymous) return; // a function's token: StateAccess checks it
        Endpoint endpoint = ctx.endpoints().matchedHttpEndpoint();
        String method = ctx.method().name();
        String template = endpoint == null ? ctx.path() : endpoint.path; // none for HEAD of a GET route: needs admin
        ApiRoutes.Rule rule = ApiRoutes.of(method, template);
        Optional<String> action = ApiRoutes.actionOf(rule, method, template, ctx.path());
        AuditEntry.Action audited = new AuditEntry.Action(caller.actor(),
                caller instanceof Caller.Key key ? Optional.of(key.held().key().id()) : Optional.empty(),
                action.orElse(""), target(ctx), functionOf(ctx, template), ctx.req().getRemoteAddr());
        if (rule.guard() != ApiRoutes.Guard.HANDLER && rule.anyOf().stream().noneMatch(caller::allows)) {
            String message = Auth.missingScope((Caller.Key) caller, method + " " + ctx.path(),
                    rule.anyOf().stream().map(Scope::wire).sorted().collect(Collectors.joining(" or ")));
            if (action.isPresent()) audit.refused(audited, 403, message);
            throw new ForbiddenResponse(message);
        }
        if (action.isEmpty()) return;
        try {
            ctx.attribute(AUDIT_ID, audit.begin(audited));
        } catch (IllegalStateException e) {
            if (StorageFull.isDiskFull(e)) { // the same 507 the action itself would meet, not a 503 to retry at once
                String doing = "recording " + audited.action() + " in the audit log";
                throw new HttpResponseException(507, audited.action().equals("function.deploy")
                        ? new StorageFull(dataDir, doing, e).getMessage() : StorageFull.nothingDone(dataDir, doing, e));
            }
            ctx.header("Retry-After", "5");
            throw new HttpResponseException(503, e.getMessage() + "; nothing was done: an action is not taken unrecorded. "
                    + "Retry in a moment; the server log says more");
        }
    }

    private void recordOutcome(Context ctx) {
        String id = ctx.attribute(AUDIT_ID);
        if (id == null) return;
        int status = ctx.statusCode();
        Optional<String> detail = Optional.ofNullable(ctx.<String>attribute(DETAIL));
        if (status >= 400) detail = errorOf(ctx).or(() -> Optional.ofNullable(ctx.<String>attribute(DETAIL)));
        audit.end(id, status, detail, Optional.ofNullable(ctx.<String>attribute(FUNCTION)).filter(FunctionName::isValid));
    }

    private static Optional<String> errorOf(Context ctx) {
        try {
            JsonNode body = JSON.readTree(Optional.ofNullable(ctx.result()).orElse(""));
            return body != null && body.path("error").isTextual() ? Optional.of(body.path("error").asText()) : Optional.empty();
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    /**
     * The function a route under /v1/functions/{name} acts on; none when the name is not a valid one (the
     * request is refused with 400 and its target still records the path), since audit_log.function_name
     * holds at most 63 characters and PostgreSQL refuses a longer value where SQLite would keep it.
     */
    private static Optional<String> functionOf(Context ctx, String template) {
        if (!template.startsWith("/v1/functions/{name}")) return Optional.empty();
        String[] parts = ctx.path().split("/", 5);
        return parts.length > 3 && FunctionName.isValid(parts[3]) ? Optional.of(parts[3]) : Optional.empty();
    }

    private static String target(Context ctx) {
        String path = ctx.path().startsWith("/v1/") ? ctx.path().substring(4) : ctx.path();
        return path.length() <= MAX_TARGET_CHARS ? path : path.substring(0, MAX_TARGET_CHARS) + "...";
    }

    private static void unauthorized(Context ctx, String message) {
        ctx.header("WWW-Authenticate", "Bearer");
        throw new UnauthorizedResponse(message);
    }
}
