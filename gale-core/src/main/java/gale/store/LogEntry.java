package gale.store;

import java.time.Instant;
import java.util.Optional;

/** One line a function printed (or the platform said about it). {@code seq} is 0 until stored. */
public record LogEntry(
        long seq,
        Instant time,
        String function,
        int version,
        Optional<String> instance,
        Optional<String> requestId,
        String stream,
        String message) {
}
