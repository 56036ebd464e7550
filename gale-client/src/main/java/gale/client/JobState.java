package gale.client;

/** Life of a map job: QUEUED → RUNNING → SUCCEEDED (every input done) | FAILED (some input failed for good) | CANCELLED. */
public enum JobState {
    QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED;

    /** True once the job has ended: no input will start or finish any more. */
    public boolean isFinished() {
        return this == SUCCEEDED || this == FAILED || this == CANCELLED;
    }
}
