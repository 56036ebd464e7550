package gale.store;

import java.time.Instant;
import java.util.Optional;

/**
 * A map job as stored. Its context can be megabytes and only the job's execution reads it
 * ({@link JobStore#context}), so the row holds only the key it is stored under.
 *
 * @param optionsJson the job's options (parallelism, chunk size, retries...) as JSON
 * @param contextKey  the key of the value sent with every input, if any: its SHA-256, so jobs
 *                    with the same context share it
 */
public record JobRow(
        String id,
        String function,
        String state,
        String optionsJson,
        Optional<String> contextKey,
        int inputs,
        Optional<String> error,
        Instant createdAt,
        Optional<Instant> startedAt,
        Optional<Instant> finishedAt) {
}
