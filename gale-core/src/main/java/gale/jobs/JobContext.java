package gale.jobs;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * A job's context (docs/jobs.md), encoded once: it can be megabytes.
 *
 * @param json the context as JSON
 * @param utf8 the same as UTF-8, as calls send it
 * @param id   SHA-256 (hex) of those bytes: the same context has the same id in every job, so the
 *             store keeps it once and warm instances keep it across jobs (contextOnce)
 */
record JobContext(String json, byte[] utf8, String id) {

    static JobContext of(String json) {
        byte[] utf8 = json.getBytes(StandardCharsets.UTF_8);
        try {
            return new JobContext(json, utf8, HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(utf8)));
        } catch (NoSuchAlgorithmException impossible) {
            throw new IllegalStateException("every Java has SHA-256", impossible);
        }
    }
}
