package gale.gateway;

import gale.config.FunctionConfig;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * CORS for functions deployed with {@code --cors ORIGINS}. Functions deployed without it
 * handle CORS themselves (as Cloud Functions code does) and get their own headers back
 * untouched, preflight included.
 */
final class Cors {

    private Cors() {
    }

    /** True for a CORS preflight to a function that asked Gale to answer them. */
    static boolean isPreflight(Request request, FunctionConfig config) {
        return !config.cors().isEmpty() && "OPTIONS".equals(request.getMethod())
                && request.getHeaders().get(HttpHeader.ORIGIN) != null
                && request.getHeaders().get(HttpHeader.ACCESS_CONTROL_REQUEST_METHOD) != null;
    }

    /** Answers a preflight for a function that asked Gale to; true when the response is written. */
    static boolean handlePreflight(Request request, Response response, Callback callback, FunctionConfig config) {
        if (!isPreflight(request, config)) return false;
        String origin = request.getHeaders().get(HttpHeader.ORIGIN);
        var headers = response.getHeaders();
        if (!allowed(config, origin)) {
            response.setStatus(403);
            headers.put(HttpHeader.CONTENT_TYPE, "text/plain;charset=utf-8");
            response.write(true, ByteBuffer.wrap(("origin " + origin + " is not allowed by this function's --cors setting")
                    .getBytes(StandardCharsets.UTF_8)), callback);
            return true;
        }
        response.setStatus(204);
        headers.put(HttpHeader.ACCESS_CONTROL_ALLOW_ORIGIN, config.cors().contains("*") ? "*" : origin);
        headers.put(HttpHeader.ACCESS_CONTROL_ALLOW_METHODS, "GET, POST, PUT, PATCH, DELETE, OPTIONS");
        String requested = request.getHeaders().get(HttpHeader.ACCESS_CONTROL_REQUEST_HEADERS);
        if (requested != null) headers.put(HttpHeader.ACCESS_CONTROL_ALLOW_HEADERS, requested);
        headers.put(HttpHeader.ACCESS_CONTROL_MAX_AGE, "3600");
        if (!config.cors().contains("*")) headers.put(HttpHeader.VARY, "Origin");
        response.write(true, null, callback);
        return true;
    }

    /** Adds Access-Control-Allow-Origin to a simple request; the function's own header, if any, wins. */
    static void allowOrigin(Request request, Response response, FunctionConfig config) {
        if (config.cors().isEmpty()) return;
        String origin = request.getHeaders().get(HttpHeader.ORIGIN);
        if (origin == null || !allowed(config, origin)) return;
        var headers = response.getHeaders();
        headers.put(HttpHeader.ACCESS_CONTROL_ALLOW_ORIGIN, config.cors().contains("*") ? "*" : origin);
        headers.put(HttpHeader.ACCESS_CONTROL_EXPOSE_HEADERS, "X-Gale-Request-Id, X-Gale-Cold-Start, X-Gale-Error");
        if (!config.cors().contains("*")) headers.put(HttpHeader.VARY, "Origin");
    }

    private static boolean allowed(FunctionConfig config, String origin) {
        return config.cors().contains("*") || config.cors().contains(origin);
    }
}
