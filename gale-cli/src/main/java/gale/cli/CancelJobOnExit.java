package gale.cli;

import gale.client.GaleClient;
import gale.client.Job;
import java.io.PrintStream;

/**
 * Cancels a job when the JVM stops before the job ended (Ctrl-C, SIGTERM): a map the user walked away
 * from should not keep the function's instances busy. Remove it once the job has ended.
 */
final class CancelJobOnExit {

    private final GaleClient client;
    private final String jobId;
    private final PrintStream err;
    private final Thread hook;
    private volatile boolean removed;

    private CancelJobOnExit(GaleClient client, String jobId, PrintStream err) {
        this.client = client;
        this.jobId = jobId;
        this.err = err;
        this.hook = new Thread(this::cancel, "gale-cancel-" + jobId);
    }

    static CancelJobOnExit install(GaleClient client, Job job, PrintStream err) {
        CancelJobOnExit guard = new CancelJobOnExit(client, job.id(), err);
        Runtime.getRuntime().addShutdownHook(guard.hook);
        return guard;
    }

    void remove() {
        removed = true;
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // the hook runs, or ran, and sees it was removed only if that happened first
        }
    }

    private void cancel() {
        if (removed) return;
        try {
            Job cancelled = client.cancelJob(jobId);
            err.println();
            err.println("Cancelled " + jobId + ": " + cancelled.counts().done() + " of " + cancelled.inputs() + " inputs done.");
        } catch (RuntimeException e) {
            err.println();
            err.println("ERROR: could not cancel " + jobId + " (" + e.getMessage() + "); it runs on:"
                    + " cancel it with `gale jobs cancel " + jobId + "`");
        }
        err.flush();
    }
}
