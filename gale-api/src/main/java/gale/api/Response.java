package gale.api;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The answer to one request: a status (200 unless set), headers and a body sent once.
 *
 * <pre>{@code
 * res.status(201).header("Location", "/items/7").contentType("application/json").send("{\"id\": 7}");
 * }</pre>
 *
 * <p>The body is sent exactly once: a second {@code send}, or changing the status or a
 * header after {@code send}, throws {@link IllegalStateException}, so a handler cannot
 * half-overwrite an answer it already gave. A handler that returns without sending
 * answers with its status and an empty body. In unit tests, create one with
 * {@code new Response()} and read back {@link #status()}, {@link #headers()} and {@link #bodyAsString()}.
 */
public final class Response {

    private static final byte[] EMPTY = new byte[0];

    private int status = 200;
    private final List<Map.Entry<String, String>> headers = new ArrayList<>(4);
    private byte[] body = EMPTY;
    private boolean sent;

    public Response() {
    }

    /** Sets the status code (100-599). */
    public synchronized Response status(int code) {
        checkNotSent("set the status");
        if (code < 100 || code > 599) throw new IllegalArgumentException("status must be 100-599, got " + code);
        this.status = code;
        return this;
    }

    public synchronized int status() {
        return status;
    }

    /** Sets a header, replacing any earlier value of the same name (names are case-insensitive). */
    public synchronized Response header(String name, String value) {
        checkNotSent("set header " + name);
        checkHeader(name, value);
        for (var it = headers.iterator(); it.hasNext(); ) {
            if (it.next().getKey().equalsIgnoreCase(name)) it.remove();
        }
        headers.add(Map.entry(name, value));
        return this;
    }

    /** Adds a header even if one of that name is set already (e.g. several {@code Set-Cookie}). */
    public synchronized Response addHeader(String name, String value) {
        checkNotSent("add header " + name);
        checkHeader(name, value);
        headers.add(Map.entry(name, value));
        return this;
    }

    /** The first value of a header set on this response. */
    public synchronized Optional<String> header(String name) {
        for (var h : headers) {
            if (h.getKey().equalsIgnoreCase(name)) return Optional.of(h.getValue());
        }
        return Optional.empty();
    }

    /** The headers in the order they were set. */
    public synchronized List<Map.Entry<String, String>> headers() {
        return List.copyOf(headers);
    }

    /** Sets Content-Type, e.g. {@code application/json}. */
    public Response contentType(String type) {
        return header("Content-Type", type);
    }

    public Optional<String> contentType() {
        return header("Content-Type");
    }

    /** Sends text as UTF-8; Content-Type is {@code text/plain; charset=utf-8} unless set before. */
    public void send(String text) {
        if (text == null) throw new IllegalArgumentException("send(null): send \"\" for an empty body");
        commit(text.getBytes(StandardCharsets.UTF_8), "text/plain; charset=utf-8");
    }

    /** Sends bytes as they are (not copied); Content-Type is {@code application/octet-stream} unless set before. */
    public void send(byte[] bytes) {
        if (bytes == null) throw new IllegalArgumentException("send(null): send new byte[0] for an empty body");
        commit(bytes, "application/octet-stream");
    }

    /** True once {@link #send} was called. */
    public synchronized boolean isSent() {
        return sent;
    }

    /** The body sent (empty before {@link #send}). */
    public synchronized byte[] body() {
        return body;
    }

    /** The body sent, as UTF-8 text. */
    public String bodyAsString() {
        return new String(body(), StandardCharsets.UTF_8);
    }

    private synchronized void commit(byte[] bytes, String defaultType) {
        checkNotSent("send again");
        if (header("Content-Type").isEmpty()) headers.add(Map.entry("Content-Type", defaultType));
        this.body = bytes;
        this.sent = true;
    }

    private void checkNotSent(String action) {
        if (sent) {
            throw new IllegalStateException("cannot " + action + ": the response was already sent (status " + status + ", "
                    + body.length + " bytes); a response is sent exactly once");
        }
    }

    private static void checkHeader(String name, String value) {
        if (name == null || name.isEmpty() || !isToken(name)) {
            throw new IllegalArgumentException("invalid header name '" + name + "'");
        }
        if (value == null) throw new IllegalArgumentException("header " + name + " has no value (null)");
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c == '\r' || c == '\n' || c == 0) {
                throw new IllegalArgumentException("header " + name + " must not contain CR, LF or NUL");
            }
        }
    }

    private static boolean isToken(String name) {
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            boolean ok = c > 32 && c < 127 && "()<>@,;:\\\"/[]?={}".indexOf(c) < 0;
            if (!ok) return false;
        }
        return true;
    }
}
