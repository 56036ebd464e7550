package gale.cli;

/** Job and result JSON as the server writes them (docs/jobs.md), for the fakes. */
final class Jobs {

    static final String ID = "job-7f3a9c";

    private Jobs() {
    }

    /** A job of {@code square} with these counts; options are flattened into it, as the server writes them. */
    static String job(String state, int inputs, int done, int failed, int cancelled) {
        return """
                {"id": "job-7f3a9c", "function": "square", "state": "%s", "inputs": %d,
                 "counts": {"queued": %d, "running": 0, "done": %d, "failed": %d, "cancelled": %d},
                 "parallelism": 3, "chunkSize": 1, "taskTimeout": "60s", "retries": 2, "retryBackoff": "500ms",
                 "stopOnError": false, "retryFunctionErrors": false,
                 "createdAt": "2026-11-25T11:40:00Z", "startedAt": "2026-11-25T11:40:00.050Z", "finishedAt": null,
                 "elapsedMs": 4210, "throughputPerSec": 95.0, "etaMs": null, "error": null}"""
                .formatted(state, inputs, inputs - done - failed - cancelled, done, failed, cancelled);
    }

    static String ok(int index, String result) {
        return "{\"index\": " + index + ", \"ok\": true, \"result\": " + result
                + ", \"status\": 200, \"durationMs\": 12.1, \"attempts\": 1}\n";
    }

    static String failed(int index, String error) {
        return "{\"index\": " + index + ", \"ok\": false, \"error\": \"" + error
                + "\", \"traceback\": \"Traceback ...\", \"status\": 500, \"attempts\": 1}\n";
    }

    /** An input the job cancelled before it ran. */
    static String cancelled(int index) {
        return "{\"index\": " + index + ", \"ok\": false, \"error\": \"cancelled before it ran\", \"attempts\": 0}\n";
    }
}
