package gale.client;

import static gale.client.ApiJson.integer;
import static gale.client.ApiJson.optionalInteger;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * How many of a job's inputs are in each state.
 *
 * @param failed    inputs that failed for good (after their retries)
 * @param cancelled inputs that never ran because the job was cancelled or stopped at an error
 */
public record JobCounts(int queued, int running, int done, int failed, int cancelled) {

    /** Inputs with an outcome: done, failed or cancelled. */
    public int finished() {
        return done + failed + cancelled;
    }

    static JobCounts fromJson(JsonNode json) {
        return new JobCounts(integer(json, "queued"), integer(json, "running"), integer(json, "done"),
                integer(json, "failed"), optionalInteger(json, "cancelled").orElse(0));
    }
}
