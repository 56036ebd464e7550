package gale.server;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import gale.registry.FunctionName;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Answers the requests Jetty refuses before they reach a route (headers over the limit, a
 * malformed request line or URI) in the JSON shape of every other Gale error, saying what
 * to fix, instead of Jetty's HTML page.
 */
final class JettyErrors extends ErrorHandler {

    /** Every header line together, request line included; Jetty's default, also what nginx allows. */
    static final int MAX_REQUEST_HEADER_BYTES = 8 * 1024;

    private static final ObjectMapper JSON = new ObjectMapper();

    @Override
    public ByteBuffer badMessageError(int status, String reason, HttpFields.Mutable fields) {
        fields.put(HttpHeader.CONTENT_TYPE, "application/json");
        return ByteBuffer.wrap(body(status, reason));
    }

    @Override
    protected void generateResponse(Request request, Response response, int code, String message, Throwable cause,
                                    Callback callback) throws IOException {
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
        response.write(true, ByteBuffer.wrap(body(code, message)), callback);
    }

    static String explain(int status, String reason) {
        return switch (status) {
            case 431 -> "the request headers are over this server's limit of " + MAX_REQUEST_HEADER_BYTES / 1024
                    + " KB in total; send fewer or smaller headers, and data in the body";
            case 414 -> "the request URI is over this server's limit of " + MAX_REQUEST_HEADER_BYTES / 1024
                    + " KB; send long inputs in the body";
            case 400 -> reason != null && reason.contains("UTF-8")
                    ? "the URI's %-escapes do not decode to UTF-8 (" + reason + "): send paths as UTF-8; "
                            + FunctionName.RULE
                    : "the request cannot be parsed (" + reason + "): check the request line and headers, and that "
                            + "every %-escape in the URI is % and two hex digits (no %00)";
            default -> reason == null ? "HTTP " + status : reason;
        };
    }

    private static byte[] body(int status, String reason) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("error", explain(status, reason));
        body.put("status", status);
        try {
            return JSON.writeValueAsBytes(body);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
