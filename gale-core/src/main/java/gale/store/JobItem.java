package gale.store;

import java.util.Optional;

/**
 * One input of a job and, once finished, its outcome.
 *
 * @param state QUEUED, RUNNING, DONE, FAILED or CANCELLED
 */
public record JobItem(
        String jobId,
        int index,
        String inputJson,
        String state,
        Optional<String> resultJson,
        Optional<String> error,
        Optional<String> traceback,
        Optional<Integer> status,
        int attempts,
        Optional<Double> durationMs) {

    public boolean finished() {
        return !state.equals("QUEUED") && !state.equals("RUNNING");
    }
}
