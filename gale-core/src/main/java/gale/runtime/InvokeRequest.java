package gale.runtime;

import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * A call as it crosses to an instance.
 *
 * @param requestId  X-Gale-Request-Id
 * @param method     HTTP method
 * @param path       the part after the function's prefix, always starting with "/"
 * @param query      raw query string without "?", possibly empty
 * @param headers    name/value pairs in arrival order; names may repeat
 * @param body       request body, passed through untouched
 * @param remoteAddr client address
 * @param scheme     "http" or "https"
 * @param host       the Host header the client used
 * @param deadline   when the gateway gives up on this call
 */
public record InvokeRequest(
        String requestId,
        String method,
        String path,
        String query,
        List<Map.Entry<String, String>> headers,
        byte[] body,
        String remoteAddr,
        String scheme,
        String host,
        Instant deadline) {
}
