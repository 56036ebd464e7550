package gale.runtime.process;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * One HTTP/1.1 request and its response over a fresh loopback connection, closed
 * afterwards ({@code Connection: close}). A connection per call keeps failures
 * unambiguous: there is no pooled socket the server closed while idle, so a reset or an
 * early end of stream always belongs to this call and means the server broke it.
 *
 * <p>Not thread-safe, except {@link #abort()}, which another thread calls to end a call
 * whose deadline passed (Java sockets have no write timeout, so closing is the one way
 * to stop a blocked write as well as a blocked read).
 */
final class Http1Exchange implements AutoCloseable {

    /** Same ceiling as a frame of the instance protocol: a bigger response is a bug, not a result. */
    static final long MAX_BODY_BYTES = 1L << 30;
    private static final int MAX_LINE_BYTES = 64 * 1024;
    private static final int MAX_HEADERS = 1000;

    /** The server answered with something that is not HTTP/1.x, or too much of it. */
    static final class MalformedResponse extends IOException {
        MalformedResponse(String message) {
            super(message);
        }
    }

    record Response(int status, List<Map.Entry<String, String>> headers, byte[] body) {
    }

    private final Socket socket = new Socket();
    private volatile boolean aborted;
    private IOException unsent;
    private InputStream in;
    private OutputStream out;

    /** Connects to 127.0.0.1:{@code port}; a {@link java.net.ConnectException} means nothing listens there. */
    void connect(int port, Duration timeout) throws IOException {
        long millis = Math.max(1, Math.min(Integer.MAX_VALUE, timeout.toMillis()));
        socket.setTcpNoDelay(true);
        socket.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), (int) millis);
        in = new BufferedInputStream(socket.getInputStream(), 64 * 1024);
        out = socket.getOutputStream();
    }

    /** Sends the request. {@code headers} are sent as given: the caller adds Host and drops hop-by-hop ones. */
    void send(String method, String target, List<Map.Entry<String, String>> headers, byte[] body) throws IOException {
        var head = new ByteArrayOutputStream(256 + 64 * headers.size());
        writeAscii(head, method + " " + target + " HTTP/1.1\r\n");
        for (var h : headers) {
            writeText(head, h.getKey());
            writeAscii(head, ": ");
            writeText(head, h.getValue());
            writeAscii(head, "\r\n");
        }
        if (body.length > 0 || !method.equals("GET") && !method.equals("HEAD") && !method.equals("OPTIONS")) {
            writeAscii(head, "Content-Length: " + body.length + "\r\n");
        }
        writeAscii(head, "Connection: close\r\n\r\n");
        head.writeTo(out);
        try {
            out.write(body);
            out.flush();
        } catch (IOException e) {
            unsent = e; // a server may answer (413, 400) and close before reading the whole body
        }
    }

    /** Reads the whole response; interim 1xx responses are skipped. */
    Response receive(boolean headRequest) throws IOException {
        try {
            return receiveResponse(headRequest);
        } catch (IOException e) {
            if (unsent != null) throw unsent; // no answer either: the body's failure is the cause
            throw e;
        }
    }

    private Response receiveResponse(boolean headRequest) throws IOException {
        while (true) {
            int status = statusLine();
            List<Map.Entry<String, String>> headers = headerLines();
            if (status >= 100 && status < 200 && status != 101) continue;
            byte[] body = headRequest || status == 204 || status == 304 || status < 200 ? new byte[0] : body(headers);
            return new Response(status, headers, body);
        }
    }

    /** Reads the status line only: all the startup probe needs. */
    int status() throws IOException {
        return statusLine();
    }

    /** Ends the exchange from another thread; the blocked call fails with an IOException. */
    void abort() {
        aborted = true;
        close();
    }

    boolean aborted() {
        return aborted;
    }

    @Override
    public void close() {
        try {
            socket.close();
        } catch (IOException ignored) {
            // closing is all we wanted
        }
    }

    private int statusLine() throws IOException {
        String line = readLine();
        if (line == null) throw new EOFException("the server closed the connection without answering");
        // "HTTP/1.1 200 OK"; the reason phrase may be missing
        if (!line.startsWith("HTTP/1.") || line.length() < 12 || line.charAt(8) != ' ') {
            throw new MalformedResponse("the server did not answer with HTTP/1.x: '" + abbreviate(line) + "'");
        }
        try {
            int status = Integer.parseInt(line.substring(9, 12));
            if (status < 100 || status > 999) throw new NumberFormatException();
            return status;
        } catch (NumberFormatException e) {
            throw new MalformedResponse("the server answered with a bad status line: '" + abbreviate(line) + "'");
        }
    }

    private List<Map.Entry<String, String>> headerLines() throws IOException {
        List<Map.Entry<String, String>> headers = new ArrayList<>();
        while (true) {
            String line = readLine();
            if (line == null) throw new EOFException("the server closed the connection within the headers");
            if (line.isEmpty()) return headers;
            int colon = line.indexOf(':');
            if (colon <= 0) throw new MalformedResponse("the server sent a bad header line: '" + abbreviate(line) + "'");
            if (headers.size() == MAX_HEADERS) throw new MalformedResponse("the server sent over " + MAX_HEADERS + " headers");
            headers.add(Map.entry(line.substring(0, colon).strip(), line.substring(colon + 1).strip()));
        }
    }

    private byte[] body(List<Map.Entry<String, String>> headers) throws IOException {
        String encoding = value(headers, "Transfer-Encoding");
        if (encoding != null && encoding.toLowerCase().contains("chunked")) return chunked();
        String length = value(headers, "Content-Length");
        if (length == null) return untilClosed();
        long n;
        try {
            n = Long.parseLong(length.strip());
        } catch (NumberFormatException e) {
            throw new MalformedResponse("the server sent a bad Content-Length: '" + abbreviate(length) + "'");
        }
        if (n < 0 || n > MAX_BODY_BYTES) throw new MalformedResponse("the response body of " + n + " bytes is over 1 GiB");
        byte[] body = in.readNBytes((int) n);
        if (body.length < n) {
            throw new EOFException("the server closed the connection after " + body.length + " of " + n + " bytes");
        }
        return body;
    }

    private byte[] chunked() throws IOException {
        var body = new ByteArrayOutputStream();
        while (true) {
            String line = readLine();
            if (line == null) throw new EOFException("the server closed the connection within a chunked body");
            int semicolon = line.indexOf(';');
            long size;
            try {
                size = Long.parseLong((semicolon < 0 ? line : line.substring(0, semicolon)).strip(), 16);
            } catch (NumberFormatException e) {
                throw new MalformedResponse("the server sent a bad chunk size: '" + abbreviate(line) + "'");
            }
            if (size < 0 || body.size() + size > MAX_BODY_BYTES) throw new MalformedResponse("the response is over 1 GiB");
            if (size == 0) {
                while (true) { // trailers, then the empty line
                    String trailer = readLine();
                    if (trailer == null || trailer.isEmpty()) return body.toByteArray();
                }
            }
            byte[] chunk = in.readNBytes((int) size);
            if (chunk.length < size) throw new EOFException("the server closed the connection within a chunk");
            body.write(chunk);
            readLine(); // the CRLF after the chunk
        }
    }

    private byte[] untilClosed() throws IOException {
        byte[] body = in.readNBytes((int) MAX_BODY_BYTES + 1);
        if (body.length > MAX_BODY_BYTES) throw new MalformedResponse("the response body is over 1 GiB");
        return body;
    }

    /** One line without its CRLF (a bare LF is accepted); null at end of stream before any byte. */
    private String readLine() throws IOException {
        var line = new ByteArrayOutputStream(80);
        int b;
        while ((b = in.read()) != -1) {
            if (b == '\n') break;
            if (line.size() == MAX_LINE_BYTES) throw new MalformedResponse("the server sent a line over 64 KiB");
            line.write(b);
        }
        if (b == -1 && line.size() == 0) return null;
        byte[] bytes = line.toByteArray();
        int length = bytes.length > 0 && bytes[bytes.length - 1] == '\r' ? bytes.length - 1 : bytes.length;
        return new String(bytes, 0, length, StandardCharsets.ISO_8859_1);
    }

    private static String value(List<Map.Entry<String, String>> headers, String name) {
        String found = null;
        for (var h : headers) {
            if (h.getKey().equalsIgnoreCase(name)) found = found == null ? h.getValue() : found + "," + h.getValue();
        }
        return found;
    }

    private static void writeAscii(ByteArrayOutputStream out, String s) {
        out.writeBytes(s.getBytes(StandardCharsets.ISO_8859_1));
    }

    /** Latin-1 when every character fits (the bytes the client sent), UTF-8 otherwise. */
    private static void writeText(ByteArrayOutputStream out, String s) {
        boolean latin1 = s.chars().allMatch(c -> c <= 0xff);
        out.writeBytes(s.getBytes(latin1 ? StandardCharsets.ISO_8859_1 : StandardCharsets.UTF_8));
    }

    private static String abbreviate(String s) {
        return s.length() > 100 ? s.substring(0, 100) + "…" : s;
    }
}
