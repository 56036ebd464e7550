package gale.admin;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import gale.registry.BundleLimits;
import gale.registry.BundleTooLarge;
import gale.registry.DeployRejected;
import gale.registry.StorageFull;
import io.javalin.http.Context;
import io.javalin.http.UploadedFile;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;

/**
 * The two parts of a deploy request (docs/api.md), read so that a malformed request is
 * refused saying what a deploy looks like, and an oversized one is cut off with 413 while
 * it streams: Jetty's multipart parser stops at the upload limit GaleServer gives it.
 *
 * @param bundle the zip of the function folder
 * @param config the settings the user chose (JSON object), empty when the part is missing
 */
public record DeployUpload(UploadedFile bundle, Map<String, Object> config) {

    static final String SHAPE = "a deploy is a multipart/form-data POST with a part 'bundle' holding the zip of the "
            + "function folder (with a filename) and an optional part 'config' holding a JSON object of settings, "
            + "as gale deploy NAME --source DIR sends it (docs/api.md)";

    /** Room for the config part and the multipart framing around the bundle. */
    private static final long FRAMING_BYTES = 1L << 20;
    private static final ObjectMapper JSON = new ObjectMapper();

    /** The whole request may be this long: the bundle limit plus the config part and framing. */
    public static long maxRequestBytes(BundleLimits limits) {
        return limits.upload().bytes() + FRAMING_BYTES;
    }

    /** @param dataDir where Jetty spills a large upload (a full disk there is a 507, not a malformed request) */
    static DeployUpload read(Context ctx, BundleLimits limits, Path dataDir) throws DeployRejected {
        String type = ctx.contentType() == null ? "" : ctx.contentType().toLowerCase(Locale.ROOT);
        if (!type.startsWith("multipart/form-data") || !type.contains("boundary=")) {
            throw new DeployRejected("the deploy request has Content-Type '" + ctx.contentType() + "'; " + SHAPE);
        }
        if (ctx.req().getContentLengthLong() > maxRequestBytes(limits)) throw new BundleTooLarge(limits);
        UploadedFile bundle;
        String config;
        try {
            bundle = ctx.uploadedFile("bundle");
            config = ctx.formParam("config");
        } catch (Exception e) { // a missing boundary, a body cut short, a part over the limit, a full disk
            if (overLimit(e)) throw new BundleTooLarge(limits);
            if (StorageFull.isDiskFull(e)) throw new StorageFull(dataDir, "receiving the upload", e);
            throw malformed(e);
        }
        if (bundle == null) throw new DeployRejected("the deploy request has no file part 'bundle'; " + SHAPE);
        return new DeployUpload(bundle, parseConfig(config));
    }

    /**
     * True when the multipart parser stopped at a size limit. Jetty 12 reports it as a 400 "bad
     * multipart" whose cause says "max file size exceeded" or "max length exceeded"; other parse
     * failures (a missing boundary, a body cut short) say something else.
     */
    static boolean overLimit(Throwable error) {
        for (Throwable e = error; e != null; e = e.getCause() == e ? null : e.getCause()) {
            if (String.valueOf(e.getMessage()).contains("exceeded")) return true;
        }
        return false;
    }

    private static DeployRejected malformed(Exception e) {
        return new DeployRejected("the deploy request is not valid multipart/form-data (" + e.getMessage() + "); " + SHAPE);
    }

    InputStream content() throws IOException {
        return bundle.content();
    }

    private static Map<String, Object> parseConfig(String text) throws DeployRejected {
        if (text == null || text.isBlank()) return Map.of();
        try {
            JsonNode node = JSON.readTree(text);
            if (!node.isObject()) throw new DeployRejected("the part 'config' must be a JSON object of settings, got " + node.getNodeType());
            @SuppressWarnings("unchecked")
            Map<String, Object> map = JSON.convertValue(node, Map.class);
            return map;
        } catch (JsonProcessingException e) {
            throw new DeployRejected("the part 'config' is not valid JSON: " + e.getOriginalMessage());
        }
    }
}
