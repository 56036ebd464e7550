package gale.gateway;

import gale.config.FunctionConfig;
import io.javalin.http.Context;

/**
 * CORS for functions deployed with {@code --cors ORIGINS}. Functions deployed without it
 * handle CORS themselves (as Cloud Functions code does) and get their own headers back
 * untouched, preflight included.
 */
final class Cors {

    private Cors() {
    }

    /** Answers a preflight for a function that asked Gale to; true when the response is written. */
    static boolean handlePreflight(Context ctx, FunctionConfig config) {
        if (config.cors().isEmpty() || !"OPTIONS".equals(ctx.method().name())) return false;
        String origin = ctx.header("Origin");
        if (origin == null || ctx.header("Access-Control-Request-Method") == null) return false;
        if (!allowed(config, origin)) {
            ctx.status(403).result("origin " + origin + " is not allowed by this function's --cors setting");
            return true;
        }
        ctx.status(204);
        ctx.header("Access-Control-Allow-Origin", config.cors().contains("*") ? "*" : origin);
        ctx.header("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS");
        String requested = ctx.header("Access-Control-Request-Headers");
        if (requested != null) ctx.header("Access-Control-Allow-Headers", requested);
        ctx.header("Access-Control-Max-Age", "3600");
        if (!config.cors().contains("*")) ctx.header("Vary", "Origin");
        return true;
    }

    /** Adds Access-Control-Allow-Origin to a simple request; the function's own header, if any, wins. */
    static void allowOrigin(Context ctx, FunctionConfig config) {
        if (config.cors().isEmpty()) return;
        String origin = ctx.header("Origin");
        if (origin == null || !allowed(config, origin)) return;
        ctx.header("Access-Control-Allow-Origin", config.cors().contains("*") ? "*" : origin);
        ctx.header("Access-Control-Expose-Headers", "X-Gale-Request-Id, X-Gale-Cold-Start, X-Gale-Error");
        if (!config.cors().contains("*")) ctx.header("Vary", "Origin");
    }

    private static boolean allowed(FunctionConfig config, String origin) {
        return config.cors().contains("*") || config.cors().contains(origin);
    }
}
