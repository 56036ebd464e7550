package gale.api;

import java.net.URLDecoder;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * One HTTP request to a function. Immutable, so it may be handed to other threads.
 * Names of headers are case-insensitive; query parameters are decoded (UTF-8, {@code +} is a space).
 *
 * <p>In unit tests, build one with {@link #builder()}:
 * <pre>{@code
 * var req = Request.builder().method("POST").query("name=Ada").body("{\"x\": 1}").build();
 * }</pre>
 */
public final class Request {

    private static final byte[] EMPTY = new byte[0];

    private final String requestId;
    private final String method;
    private final String path;
    private final String queryString;
    private final Map<String, List<String>> queryParams;
    private final List<Map.Entry<String, String>> headerList;
    private final Map<String, List<String>> headers;
    private final byte[] body;
    private final String remoteAddr;
    private final String scheme;
    private final String host;
    private final Instant deadline;

    private Request(Builder b) {
        this.requestId = b.requestId;
        this.method = b.method;
        this.path = b.path;
        this.queryString = b.query;
        this.queryParams = parseQuery(b.query);
        this.headerList = List.copyOf(b.headers);
        this.headers = groupHeaders(headerList);
        this.body = b.body;
        this.remoteAddr = b.remoteAddr;
        this.scheme = b.scheme;
        this.host = b.host;
        this.deadline = b.deadline;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Gale's request id (the {@code X-Gale-Request-Id} response header); log lines carry it too. */
    public String requestId() {
        return requestId;
    }

    /** {@code GET}, {@code POST}, ... in upper case. */
    public String method() {
        return method;
    }

    /** The path after the function's URL, always starting with {@code /}: {@code /fn/hello/a/b} gives {@code /a/b}, {@code /fn/hello} gives {@code /}. */
    public String path() {
        return path;
    }

    /** The raw query string without {@code ?}, possibly empty. */
    public String queryString() {
        return queryString;
    }

    /** The first value of a query parameter: {@code ?name=Ada} gives {@code query("name")} = Ada. */
    public Optional<String> query(String name) {
        List<String> values = queryParams.get(name);
        return values == null ? Optional.empty() : Optional.of(values.getFirst());
    }

    /** Every value of a repeated query parameter ({@code ?tag=a&tag=b}), in order; empty if absent. */
    public List<String> queries(String name) {
        return queryParams.getOrDefault(name, List.of());
    }

    /** All query parameters in order of first appearance. */
    public Map<String, List<String>> queryParams() {
        return queryParams;
    }

    /** The first value of a header, whatever the case of its name. */
    public Optional<String> header(String name) {
        List<String> values = headers.get(name);
        return values == null ? Optional.empty() : Optional.of(values.getFirst());
    }

    /** All headers; lookups ignore the case of the name. */
    public Map<String, List<String>> headers() {
        return headers;
    }

    /** The headers as they arrived: name/value pairs in order, names in their original case, possibly repeated. */
    public List<Map.Entry<String, String>> headerList() {
        return headerList;
    }

    public Optional<String> contentType() {
        return header("Content-Type");
    }

    /** The raw body (empty, never null). The array is shared, not copied: do not modify it. */
    public byte[] body() {
        return body;
    }

    /** The body as text, in the charset of the Content-Type header (UTF-8 when it names none). */
    public String bodyAsString() {
        return new String(body, charset());
    }

    /** The address of the client that called Gale. */
    public String remoteAddr() {
        return remoteAddr;
    }

    /** {@code http} or {@code https}, as the client called Gale. */
    public String scheme() {
        return scheme;
    }

    /** The Host the client called, e.g. {@code 127.0.0.1:8080}. */
    public String host() {
        return host;
    }

    /** When Gale stops waiting for the answer (the function's --timeout, counted from the request's arrival). */
    public Instant deadline() {
        return deadline;
    }

    /** Time left until {@link #deadline()}; zero once it has passed. */
    public Duration remainingTime() {
        Duration left = Duration.between(Instant.now(), deadline);
        return left.isNegative() ? Duration.ZERO : left;
    }

    private Charset charset() {
        String type = contentType().orElse("");
        for (String param : type.split(";")) {
            String p = param.trim();
            if (p.regionMatches(true, 0, "charset=", 0, 8)) {
                try {
                    return Charset.forName(p.substring(8).replace("\"", "").trim());
                } catch (IllegalArgumentException unknown) {
                    return StandardCharsets.UTF_8;
                }
            }
        }
        return StandardCharsets.UTF_8;
    }

    @Override
    public String toString() {
        return method + " " + path + (queryString.isEmpty() ? "" : "?" + queryString) + " (" + body.length + " bytes, request " + requestId + ")";
    }

    static Map<String, List<String>> parseQuery(String query) {
        if (query.isEmpty()) return Map.of();
        Map<String, List<String>> params = new LinkedHashMap<>();
        for (String pair : query.split("&")) {
            if (pair.isEmpty()) continue;
            int eq = pair.indexOf('=');
            String name = decode(eq < 0 ? pair : pair.substring(0, eq));
            String value = eq < 0 ? "" : decode(pair.substring(eq + 1));
            add(params, name, value);
        }
        return freeze(params);
    }

    private static String decode(String s) {
        try {
            return URLDecoder.decode(s, StandardCharsets.UTF_8);
        } catch (IllegalArgumentException malformed) {
            return s; // a stray '%' is kept as sent rather than failing the request
        }
    }

    private static Map<String, List<String>> groupHeaders(List<Map.Entry<String, String>> pairs) {
        if (pairs.isEmpty()) return Collections.unmodifiableMap(new TreeMap<>(String.CASE_INSENSITIVE_ORDER));
        Map<String, List<String>> grouped = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
        for (var pair : pairs) add(grouped, pair.getKey(), pair.getValue());
        return freeze(grouped);
    }

    // Plain loops, no lambdas: this runs on every instance's first request, where bootstrapping a lambda costs milliseconds.
    private static void add(Map<String, List<String>> map, String key, String value) {
        List<String> values = map.get(key);
        if (values == null) {
            values = new ArrayList<>(1);
            map.put(key, values);
        }
        values.add(value);
    }

    private static Map<String, List<String>> freeze(Map<String, List<String>> map) {
        for (var e : map.entrySet()) e.setValue(List.copyOf(e.getValue()));
        return Collections.unmodifiableMap(map);
    }

    /** Builds requests for unit tests (Gale builds the real ones the same way). Defaults: GET /, no headers, empty body. */
    public static final class Builder {
        private String requestId = "local";
        private String method = "GET";
        private String path = "/";
        private String query = "";
        private final List<Map.Entry<String, String>> headers = new ArrayList<>();
        private byte[] body = EMPTY;
        private String remoteAddr = "127.0.0.1";
        private String scheme = "http";
        private String host = "localhost";
        private Instant deadline;

        private Builder() {
        }

        public Builder requestId(String id) {
            this.requestId = required(id, "requestId");
            return this;
        }

        public Builder method(String method) {
            this.method = required(method, "method").toUpperCase(Locale.ROOT);
            return this;
        }

        /** The path after the function's URL; must start with {@code /}. */
        public Builder path(String path) {
            if (path == null || !path.startsWith("/")) throw new IllegalArgumentException("path must start with '/', got " + path);
            this.path = path;
            return this;
        }

        /** The raw query string, without {@code ?}: {@code "name=Ada&tag=a"}. */
        public Builder query(String rawQuery) {
            String q = required(rawQuery, "query");
            this.query = q.startsWith("?") ? q.substring(1) : q;
            return this;
        }

        /** Adds a header; call again with the same name for a repeated header. */
        public Builder header(String name, String value) {
            headers.add(Map.entry(required(name, "header name"), required(value, "header value")));
            return this;
        }

        /** The body; not copied. */
        public Builder body(byte[] body) {
            this.body = body == null ? EMPTY : body;
            return this;
        }

        /** The body as UTF-8 text. */
        public Builder body(String text) {
            this.body = required(text, "body").getBytes(StandardCharsets.UTF_8);
            return this;
        }

        public Builder remoteAddr(String address) {
            this.remoteAddr = required(address, "remoteAddr");
            return this;
        }

        public Builder scheme(String scheme) {
            this.scheme = required(scheme, "scheme");
            return this;
        }

        public Builder host(String host) {
            this.host = required(host, "host");
            return this;
        }

        public Builder deadline(Instant deadline) {
            this.deadline = deadline;
            return this;
        }

        /** A request; without a deadline, it is a minute from now (Gale's default timeout). */
        public Request build() {
            if (deadline == null) deadline = Instant.now().plusSeconds(60);
            return new Request(this);
        }

        private static String required(String value, String what) {
            if (value == null) throw new IllegalArgumentException(what + " must not be null");
            return value;
        }
    }
}
