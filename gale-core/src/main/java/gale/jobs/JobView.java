package gale.jobs;

import java.time.Instant;
import java.util.Map;
import java.util.Optional;

/**
 * What `GET /v1/jobs/{id}` shows: state, counts per input state, speed and ETA.
 *
 * @param counts    queued, running, done, failed, cancelled
 * @param contextId the id the server keeps the job's context under: a later job may send it as
 *                  {@code contextRef} instead of the context itself
 * @param cpuSeconds CPU time the job's tasks used so far, for a job with a CPU budget (docs/cost.md)
 */
public record JobView(String id, String function, String state, int inputs, Map<String, Integer> counts,
                      Map<String, Object> options, Instant createdAt, Optional<Instant> startedAt,
                      Optional<Instant> finishedAt, long elapsedMs, double throughputPerSec, Optional<Long> etaMs,
                      Optional<String> error, Optional<String> contextId, java.util.OptionalDouble cpuSeconds) {
}
