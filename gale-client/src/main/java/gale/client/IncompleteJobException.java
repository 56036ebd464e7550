package gale.client;

/** A job ended without a result for every input: the server lost some, which its log should explain. */
public final class IncompleteJobException extends GaleException {

    private final Job job;

    public IncompleteJobException(Job job, int results) {
        super("job " + job.id() + " on " + job.function() + " ended " + job.state() + " with " + results + " of "
                + job.inputs() + " results" + job.error().map(error -> ": " + error).orElse("")
                + "; see the server log for " + job.id(), null);
        this.job = job;
    }

    /** The job as it ended. */
    public Job job() {
        return job;
    }
}
