package gale.store;

import java.util.Optional;

/**
 * One input of a job and, once finished, its outcome.
 *
 * @param state QUEUED, RUNNING, DONE, FAILED or CANCELLED
 * @param resultJson the function's answer as one line of JSON, UTF-8: the bytes the instance sent,
 *                   stored and streamed to the client as they are (a result may be megabytes)
 */
public record JobItem(
        String jobId,
        int index,
        String inputJson,
        String state,
        Optional<byte[]> resultJson,
        Optional<String> error,
        Optional<String> traceback,
        Optional<Integer> status,
        int attempts,
        Optional<Double> durationMs) {

    public boolean finished() {
        return !state.equals("QUEUED") && !state.equals("RUNNING");
    }
}
