package gale.blob;

import java.time.Instant;
import java.util.Optional;

/**
 * One version of a key: v1, v2, ... in the order they were put, each naming the bytes by digest.
 *
 * @param metadata a JSON object given at put, as text
 */
public record BlobVersion(String bucket, String key, int version, String digest, long bytes, String contentType,
                          Optional<String> metadata, Instant createdAt) {
}
