package gale.store;

import java.time.Instant;
import java.util.Optional;

/**
 * One immutable deploy of a function; only its state, reason and timestamps change.
 *
 * @param deployingNode the node that runs (or ran) its deploy; empty for versions stored before nodes were recorded
 */
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
        Optional<Instant> activatedAt,
        Optional<String> deployingNode) {
}
