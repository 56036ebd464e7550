package gale.runtime.process;

import gale.runtime.InvokeRequest;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * How a call is passed on to an instance's port: the request target as the client sent
 * it, and the client's headers minus hop-by-hop ones, plus the client's Host and the
 * usual X-Forwarded-* headers so the server can build its own public URLs.
 */
final class ForwardedRequest {

    /** Headers that describe one hop, not the message (RFC 9110 7.6.1), and those set here. */
    private static final Set<String> NOT_FORWARDED = Set.of("connection", "keep-alive", "proxy-connection", "te",
            "trailer", "transfer-encoding", "upgrade", "content-length", "expect", "proxy-authorization", "host",
            "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-prefix", "x-gale-request-id");

    private ForwardedRequest() {
    }

    /** Path and query as the client sent them; a byte that would break the request line is percent-encoded. */
    static String target(InvokeRequest request) {
        String raw = request.query().isEmpty() ? request.path() : request.path() + "?" + request.query();
        var out = new StringBuilder(raw.length());
        for (char c : raw.toCharArray()) {
            if (c <= 0x20 || c == 0x7f) {
                out.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
                        .append(Character.toUpperCase(Character.forDigit(c & 0xf, 16)));
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }

    /**
     * The headers to send. A private function's Authorization header can only hold Gale's
     * admin token or an access key (the gateway let the call through), so it never reaches user
     * code; the gateway has taken Gale's credentials out of a public or key-requiring function's call.
     *
     * @param urlPrefix the function's public path prefix, sent as X-Forwarded-Prefix
     * @param port      the instance's port, the Host when the client sent none
     */
    static List<Map.Entry<String, String>> headers(InvokeRequest request, boolean passAuthorization, String urlPrefix,
                                                   int port) {
        Set<String> dropped = new HashSet<>(NOT_FORWARDED);
        if (!passAuthorization) dropped.add("authorization");
        String forwardedFor = null;
        for (var h : request.headers()) {
            if (h.getKey().equalsIgnoreCase("connection")) {
                for (String token : h.getValue().split(",")) dropped.add(token.strip().toLowerCase());
            } else if (h.getKey().equalsIgnoreCase("x-forwarded-for")) {
                forwardedFor = forwardedFor == null ? h.getValue() : forwardedFor + ", " + h.getValue();
            }
        }
        List<Map.Entry<String, String>> out = new ArrayList<>(request.headers().size() + 6);
        out.add(Map.entry("Host", request.host().isEmpty() ? "127.0.0.1:" + port : request.host()));
        for (var h : request.headers()) {
            if (!dropped.contains(h.getKey().toLowerCase()) && fitsOnOneLine(h.getKey()) && fitsOnOneLine(h.getValue())) {
                out.add(h);
            }
        }
        String client = request.remoteAddr();
        out.add(Map.entry("X-Forwarded-For", forwardedFor == null ? client : forwardedFor + ", " + client));
        out.add(Map.entry("X-Forwarded-Proto", request.scheme()));
        if (!request.host().isEmpty()) out.add(Map.entry("X-Forwarded-Host", request.host()));
        out.add(Map.entry("X-Forwarded-Prefix", urlPrefix));
        out.add(Map.entry("X-Gale-Request-Id", request.requestId()));
        return out;
    }

    private static boolean fitsOnOneLine(String s) {
        return s.indexOf('\r') < 0 && s.indexOf('\n') < 0;
    }
}
