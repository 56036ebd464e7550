package gale.store;

import java.time.Instant;
import java.util.Optional;

/** One immutable deploy of a function; only its state, reason and timestamps change. */
public record VersionRow(
        String function,
        int version,
        VersionState state,
        Optional<String> reason,
        String configJson,
        String bundleDigest,
        long bundleBytes,
        Instant createdAt,
        Optional<Instant> readyAt,
        Optional<Instant> activatedAt) {
}
