package gale.admin;

import gale.access.Scope;

import java.util.EnumSet;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import static gale.access.Scope.ADMIN;
import static gale.access.Scope.DEPLOY;
import static gale.access.Scope.LOGS;

/**
 * What each /v1 route needs from an access key, and which routes change something and so go into the
 * audit log (docs/access.md has this table). A route missing here needs {@code admin}, and is audited
 * when its method changes something: a route added later is closed to keys until it is listed.
 */
final class ApiRoutes {

    /** How a route is guarded. */
    enum Guard {
        /** A key needs one of the rule's scopes. */
        SCOPES,
        /** The handler checks, once it knows the function involved (map jobs, async results). */
        HANDLER,
        /** As {@link #SCOPES}, or a function's own state token, which the API checks itself (state, samplers, blobs). */
        SCOPES_OR_FUNCTION_TOKEN
    }

    /**
     * @param anyOf  scopes of which a key needs one (for {@link Guard#SCOPES} and {@link Guard#SCOPES_OR_FUNCTION_TOKEN})
     * @param action the audit log's name for what the route does; empty when it is not audited
     */
    record Rule(Guard guard, Set<Scope> anyOf, Optional<String> action) {
    }

    private static final Map<String, Rule> RULES = new HashMap<>();

    static {
        scoped("GET /v1/functions", DEPLOY);
        scoped("GET /v1/functions/{name}", DEPLOY);
        audited("DELETE /v1/functions/{name}", "function.delete", DEPLOY);
        audited("POST /v1/functions/{name}/versions", "function.deploy", DEPLOY);
        scoped("POST /v1/functions//versions", DEPLOY);
        scoped("GET /v1/functions/{name}/versions", DEPLOY);
        scoped("GET /v1/functions/{name}/versions/{version}", DEPLOY);
        audited("POST /v1/functions/{name}/rollback", "function.rollback", DEPLOY);
        scoped("GET /v1/functions/{name}/traffic", DEPLOY, LOGS); // the split and each version's calls: what a canary is judged by
        audited("PUT /v1/functions/{name}/traffic", "function.traffic", DEPLOY);
        scoped("GET /v1/functions/{name}/logs", LOGS);
        scoped("GET /v1/functions/{name}/invocations", LOGS);
        scoped("GET /v1/functions/{name}/logs/stream", LOGS);
        scoped("GET /v1/functions/{name}/metrics", DEPLOY, LOGS); // the console's charts
        scoped("GET /v1/cost", DEPLOY, LOGS);
        scoped("POST /v1/cost", DEPLOY, LOGS); // the same report, priced with the body's prices: changes nothing

        scoped("GET /v1/functions/{name}/triggers", DEPLOY);
        scoped("GET /v1/triggers", DEPLOY);
        audited("POST /v1/functions/{name}/triggers", "trigger.add", DEPLOY);
        audited("DELETE /v1/functions/{name}/triggers/{id}", "trigger.remove", DEPLOY);
        RULES.put("GET /v1/invocations/{id}", new Rule(Guard.HANDLER, Set.of(), Optional.empty()));
        scoped("GET /v1/functions/{name}/dead-letters", LOGS);
        audited("POST /v1/functions/{name}/dead-letters:redrive", "dead-letters.redrive", DEPLOY);
        audited("POST /v1/functions/{name}/dead-letters/redrive", "dead-letters.redrive", DEPLOY);
        audited("DELETE /v1/functions/{name}/dead-letters", "dead-letters.purge", DEPLOY);

        scoped("GET /v1/functions/{name}/schedules", DEPLOY);
        scoped("GET /v1/schedules", DEPLOY);
        scoped("GET /v1/schedules/{name}", DEPLOY);
        audited("PUT /v1/schedules/{name}", "schedule.put", DEPLOY);
        audited("DELETE /v1/schedules/{name}", "schedule.delete", DEPLOY);
        audited("POST /v1/schedules/{name}/pause", "schedule.pause", DEPLOY);
        audited("POST /v1/schedules/{name}/resume", "schedule.resume", DEPLOY);
        scoped("GET /v1/schedules/{name}/firings", DEPLOY, LOGS);

        handler("POST /v1/jobs", Optional.empty());
        handler("GET /v1/jobs", Optional.empty());
        handler("GET /v1/jobs/{id}", Optional.empty());
        handler("GET /v1/jobs/{id}/results", Optional.empty());
        handler("GET /v1/jobs/{id}/failures", Optional.empty());
        handler("POST /v1/jobs/{id}/redrive", Optional.of("job.redrive"));
        handler("DELETE /v1/jobs/{id}", Optional.of("job.cancel"));

        scoped("GET /v1/secrets", ADMIN);
        audited("PUT /v1/secrets/{name}", "secret.set", ADMIN);
        audited("DELETE /v1/secrets/{name}", "secret.delete", ADMIN);
        scoped("GET /v1/functions/{name}/secrets", ADMIN);
        audited("PUT /v1/functions/{name}/secrets/{env}", "secret.grant", ADMIN);
        audited("DELETE /v1/functions/{name}/secrets/{env}", "secret.revoke", ADMIN);
        audited("POST /v1/functions/{name}/secret-files", "secret.grant", ADMIN);
        audited("DELETE /v1/functions/{name}/secret-files/{file}", "secret.revoke", ADMIN);

        scoped("GET /v1/keys", ADMIN);
        audited("POST /v1/keys", "key.create", ADMIN);
        audited("DELETE /v1/keys/{name}", "key.revoke", ADMIN);
        scoped("GET /v1/audit", ADMIN);
        scoped("GET /v1/nodes", ADMIN);

        // Values and draws are data, written by functions many times a second: not administration, not audited.
        for (String method : new String[] {"GET", "PUT", "DELETE", "POST"}) dataRoute(method + " " + StateApi.PREFIX + "/<path>", ADMIN);
        dataRoute("GET " + StateApi.PREFIX, ADMIN);
        dataRoute("GET " + SamplerApi.PREFIX + "/{name}", ADMIN);
        for (String step : new String[] {"draw", "confirm", "release"}) dataRoute("POST " + SamplerApi.PREFIX + "/{name}/" + step, ADMIN);
        RULES.put("POST " + SamplerApi.PREFIX + "/{name}", new Rule(Guard.SCOPES_OR_FUNCTION_TOKEN, Set.of(ADMIN), Optional.of("sampler.create")));
        RULES.put("DELETE " + SamplerApi.PREFIX + "/{name}", new Rule(Guard.SCOPES_OR_FUNCTION_TOKEN, Set.of(ADMIN), Optional.of("sampler.delete")));
        // Blobs (models) are deployed like code: deploy scope. Puts, deletes and alias changes are audited (see actionOf).
        for (String method : new String[] {"GET", "HEAD", "PUT", "DELETE", "POST"}) dataRoute(method + " " + BlobsApi.PREFIX + "/<path>", DEPLOY);
        dataRoute("GET " + BlobsApi.PREFIX, DEPLOY);
    }

    private ApiRoutes() {
    }

    /** The rule of the route {@code template} answered by {@code method}. */
    static Rule of(String method, String template) {
        Rule rule = RULES.get(method + " " + template);
        if (rule != null) return rule;
        boolean changes = !method.equals("GET") && !method.equals("HEAD") && !method.equals("OPTIONS");
        return new Rule(Guard.SCOPES, Set.of(ADMIN), changes ? Optional.of(method + " " + template) : Optional.empty());
    }

    /**
     * The audit action of a request to a route with this rule, or empty when the request is not audited.
     * Blob routes are one template for several actions; the path says which.
     */
    static Optional<String> actionOf(Rule rule, String method, String template, String path) {
        if (!template.equals(BlobsApi.PREFIX + "/<path>")) return rule.action();
        boolean alias = path.contains(":aliases/");
        return switch (method) {
            case "PUT" -> Optional.of(alias ? "blob.alias.set" : "blob.put");
            case "DELETE" -> Optional.of(alias ? "blob.alias.delete" : "blob.delete");
            default -> Optional.empty(); // reads, and the call counts functions report
        };
    }

    private static void scoped(String route, Scope first, Scope... more) {
        RULES.put(route, new Rule(Guard.SCOPES, EnumSet.of(first, more), Optional.empty()));
    }

    private static void audited(String route, String action, Scope scope) {
        RULES.put(route, new Rule(Guard.SCOPES, Set.of(scope), Optional.of(action)));
    }

    private static void handler(String route, Optional<String> action) {
        RULES.put(route, new Rule(Guard.HANDLER, Set.of(), action));
    }

    private static void dataRoute(String route, Scope scope) {
        RULES.put(route, new Rule(Guard.SCOPES_OR_FUNCTION_TOKEN, Set.of(scope), Optional.empty()));
    }
}
