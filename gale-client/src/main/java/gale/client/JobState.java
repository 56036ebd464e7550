package gale.client;

/**
 * Life of a map job: QUEUED → RUNNING → SUCCEEDED (every input done) | FAILED (some input failed for good) | CANCELLED
 * | STOPPED_BUDGET (its CPU budget was spent: the results so far are kept, the other inputs did not run).
 */
public enum JobState {
    QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED, STOPPED_BUDGET;

    /** True once the job has ended: no input will start or finish any more. */
    public boolean isFinished() {
        return this == SUCCEEDED || this == FAILED || this == CANCELLED || this == STOPPED_BUDGET;
    }
}
