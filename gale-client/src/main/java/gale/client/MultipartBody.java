package gale.client;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.FileNotFoundException;
import java.io.UncheckedIOException;
import java.net.http.HttpRequest.BodyPublisher;
import java.net.http.HttpRequest.BodyPublishers;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * A {@code multipart/form-data} request body (RFC 7578). File parts are streamed from disk, and the
 * total length is known up front, so the request carries a Content-Length instead of chunks.
 */
final class MultipartBody {

    private static final String CRLF = "\r\n";

    private final String boundary;
    private final List<BodyPublisher> pieces = new ArrayList<>();

    MultipartBody() {
        this("gale-" + UUID.randomUUID().toString().replace("-", ""));
    }

    MultipartBody(String boundary) {
        this.boundary = boundary;
    }

    MultipartBody add(String name, String contentType, byte[] content) {
        pieces.add(BodyPublishers.ofByteArray(header(name, "", contentType)));
        pieces.add(BodyPublishers.ofByteArray(content));
        pieces.add(BodyPublishers.ofString(CRLF, UTF_8));
        return this;
    }

    MultipartBody addFile(String name, String filename, String contentType, Path file) {
        pieces.add(BodyPublishers.ofByteArray(header(name, "; filename=\"" + escape(filename) + "\"", contentType)));
        try {
            pieces.add(BodyPublishers.ofFile(file));
        } catch (FileNotFoundException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
        pieces.add(BodyPublishers.ofString(CRLF, UTF_8));
        return this;
    }

    /** The value of the request's Content-Type header. */
    String contentType() {
        return "multipart/form-data; boundary=" + boundary;
    }

    BodyPublisher publisher() {
        List<BodyPublisher> all = new ArrayList<>(pieces);
        all.add(BodyPublishers.ofString("--" + boundary + "--" + CRLF, UTF_8));
        return BodyPublishers.concat(all.toArray(BodyPublisher[]::new));
    }

    private byte[] header(String name, String filenameParameter, String contentType) {
        return ("--" + boundary + CRLF
                + "Content-Disposition: form-data; name=\"" + escape(name) + "\"" + filenameParameter + CRLF
                + "Content-Type: " + contentType + CRLF
                + CRLF).getBytes(UTF_8);
    }

    /** Percent-encodes the characters that would end a quoted parameter, as browsers do (WHATWG). */
    private static String escape(String value) {
        return value.replace("\"", "%22").replace("\r", "%0D").replace("\n", "%0A");
    }
}
