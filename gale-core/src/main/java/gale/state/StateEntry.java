package gale.state;

import java.time.Instant;
import java.util.Optional;

/**
 * One key as stored.
 *
 * @param valueJson the value as compact JSON text
 * @param version   grows with every write of any key and is never reused, even after a delete
 * @param expiresAt when the key disappears, if it was written with a TTL
 */
public record StateEntry(String namespace, String key, String valueJson, long version, Optional<Instant> expiresAt) {
}
