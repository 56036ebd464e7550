package gale.store;

import java.time.Instant;
import java.util.Optional;

/**
 * A map job as stored.
 *
 * @param optionsJson the job's options (parallelism, chunk size, retries...) as JSON
 * @param contextJson the value sent with every input, if any
 */
public record JobRow(
        String id,
        String function,
        String state,
        String optionsJson,
        Optional<String> contextJson,
        int inputs,
        Optional<String> error,
        Instant createdAt,
        Optional<Instant> startedAt,
        Optional<Instant> finishedAt) {
}
