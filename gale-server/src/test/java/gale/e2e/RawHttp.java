package gale.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * HTTP/1.1 over a plain socket, for the requests a well-behaved client will not send: broken
 * multipart, header floods, bodies that stop halfway or never end. The request is written on
 * another thread, so the server may answer (and hang up) before the request is complete.
 */
final class RawHttp {

    private static final ObjectMapper JSON = new ObjectMapper();
    /** Guards against a server that never answers; no test relies on how fast it answers. */
    private static final int READ_TIMEOUT_MS = 60_000;

    private final String host;
    private final int port;

    RawHttp(String url) {
        URI uri = URI.create(url);
        this.host = uri.getHost();
        this.port = uri.getPort();
    }

    /** Writes some or all of a request body; may stop early or never end. */
    interface Body {
        void writeTo(OutputStream out) throws IOException;
    }

    record Response(int status, Map<String, String> headers, byte[] body) {

        String text() {
            return new String(body, StandardCharsets.UTF_8);
        }

        /** The {@code "error"} of a JSON error body; fails the test when the body is not Gale's JSON error. */
        String error() {
            try {
                JsonNode node = JSON.readTree(body);
                if (node == null || !node.path("error").isTextual() || node.path("status").asInt() != status) {
                    throw new AssertionError("not a JSON error with status " + status + ": " + text());
                }
                return node.get("error").asText();
            } catch (IOException e) {
                throw new AssertionError("not JSON: " + text(), e);
            }
        }

        @Override
        public String toString() {
            return status + " " + text();
        }
    }

    /** A complete request: {@code head} is the request line and headers without the blank line. */
    Response send(String head, byte[] body) {
        return send(head, out -> out.write(body), false);
    }

    /**
     * @param endAfterBody half-close the connection after the body, so the server sees the request end there
     */
    Response send(String head, Body body, boolean endAfterBody) {
        try (Socket socket = new Socket(host, port)) {
            socket.setSoTimeout(READ_TIMEOUT_MS);
            Thread.ofPlatform().daemon().name("raw-http-writer").start(() -> {
                try {
                    OutputStream out = socket.getOutputStream();
                    out.write((head + "\r\n\r\n").getBytes(StandardCharsets.UTF_8));
                    body.writeTo(out);
                    out.flush();
                    if (endAfterBody) socket.shutdownOutput();
                } catch (IOException e) {
                    // the server may stop reading once it has answered; that is what some tests check
                }
            });
            return read(new BufferedInputStream(socket.getInputStream()));
        } catch (IOException e) {
            throw new UncheckedIOException("no answer from " + host + ":" + port, e);
        }
    }

    /**
     * Writes the whole request, and only then reads the answer, as Python's http.client and
     * other simple clients do: a server that answered early and closed with the body still
     * arriving has reset the connection by then, and the answer is lost.
     */
    Response sendAllThenRead(String head, byte[] body) {
        try (Socket socket = new Socket(host, port)) {
            socket.setSoTimeout(READ_TIMEOUT_MS);
            OutputStream out = socket.getOutputStream();
            out.write((head + "\r\n\r\n").getBytes(StandardCharsets.UTF_8));
            out.write(body);
            out.flush();
            return read(new BufferedInputStream(socket.getInputStream()));
        } catch (IOException e) {
            throw new UncheckedIOException("no answer from " + host + ":" + port, e);
        }
    }

    private static Response read(InputStream in) throws IOException {
        String statusLine = line(in);
        if (!statusLine.startsWith("HTTP/1.1 ")) throw new IOException("not an HTTP response: '" + statusLine + "'");
        int status = Integer.parseInt(statusLine.substring(9, 12));
        Map<String, String> headers = new LinkedHashMap<>();
        for (String h = line(in); !h.isEmpty(); h = line(in)) {
            int colon = h.indexOf(':');
            headers.put(h.substring(0, colon).trim().toLowerCase(), h.substring(colon + 1).trim());
        }
        String length = headers.get("content-length");
        byte[] body = length != null ? in.readNBytes(Integer.parseInt(length)) : in.readAllBytes();
        return new Response(status, headers, body);
    }

    private static String line(InputStream in) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        for (int c = in.read(); c != '\n'; c = in.read()) {
            if (c < 0) throw new IOException("connection closed in the response head after '" + line + "'");
            if (c != '\r') line.write(c);
        }
        return line.toString(StandardCharsets.ISO_8859_1);
    }
}
