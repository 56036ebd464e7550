package gale.client;

import static gale.client.ApiJson.decimal;
import static gale.client.ApiJson.instant;
import static gale.client.ApiJson.integer;
import static gale.client.ApiJson.longInteger;
import static gale.client.ApiJson.optionalInstant;
import static gale.client.ApiJson.optionalDecimal;
import static gale.client.ApiJson.optionalLong;
import static gale.client.ApiJson.optionalText;
import static gale.client.ApiJson.required;
import static gale.client.ApiJson.text;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.OptionalDouble;

/**
 * A map job as {@code GET /v1/jobs/{id}} describes it (docs/jobs.md).
 *
 * @param inputs           how many inputs the job has
 * @param parallelism      most inputs running at once
 * @param chunkSize        inputs per task
 * @param elapsed          since it started; up to now while it runs
 * @param throughputPerSec finished inputs per second so far
 * @param eta              the time left at the current rate; empty once it ended or before the first result
 * @param error            why it FAILED (the first input that failed for good), was cancelled, or STOPPED_BUDGET
 * @param maxCpuSeconds    its CPU budget, if it has one (docs/cost.md)
 * @param cpuSeconds       CPU time its tasks used so far, for a job with a budget
 */
public record Job(
        String id,
        String function,
        JobState state,
        int inputs,
        JobCounts counts,
        int parallelism,
        int chunkSize,
        Instant createdAt,
        Optional<Instant> startedAt,
        Optional<Instant> finishedAt,
        Duration elapsed,
        double throughputPerSec,
        Optional<Duration> eta,
        Optional<String> error,
        OptionalDouble maxCpuSeconds,
        OptionalDouble cpuSeconds) {

    static Job fromJson(JsonNode json) {
        return new Job(
                text(json, "id"),
                text(json, "function"),
                JobState.valueOf(text(json, "state")),
                integer(json, "inputs"),
                JobCounts.fromJson(required(json, "counts")),
                integer(json, "parallelism"),
                integer(json, "chunkSize"),
                instant(json, "createdAt"),
                optionalInstant(json, "startedAt"),
                optionalInstant(json, "finishedAt"),
                Duration.ofMillis(longInteger(json, "elapsedMs")),
                decimal(json, "throughputPerSec"),
                optionalLong(json, "etaMs").stream().mapToObj(Duration::ofMillis).findFirst(),
                optionalText(json, "error"),
                optionalDecimal(json, "maxCpuSeconds"),
                optionalDecimal(json, "cpuSeconds"));
    }
}
