package gale.cli;

import gale.client.GaleClient;
import gale.client.GaleException;
import gale.client.Job;
import java.io.PrintStream;
import java.time.Duration;
import java.util.concurrent.CancellationException;

/**
 * How a running job gets on, from {@code GET /v1/jobs/{id}}, on stderr: for a person at a terminal a
 * bar redrawn in place, otherwise a plain line every few seconds (for logs). Close it before printing
 * the summary.
 */
final class JobProgress implements AutoCloseable {

    static final Duration BAR_REFRESH = Duration.ofMillis(500);
    static final Duration LINE_INTERVAL = Duration.ofSeconds(5);
    private static final int BAR_WIDTH = 24;

    private final GaleClient client;
    private final String jobId;
    private final PrintStream err;
    private final boolean bar;
    private final Duration interval;
    private final Thread thread;
    /** Characters of the bar now on screen; 0 when none is. */
    private int drawn;

    JobProgress(GaleClient client, String jobId, PrintStream err, boolean bar, Duration interval) {
        this.client = client;
        this.jobId = jobId;
        this.err = err;
        this.bar = bar;
        this.interval = interval;
        this.thread = Thread.ofVirtual().name("gale-progress-" + jobId).start(this::run);
    }

    static JobProgress start(GaleClient client, Job job, Terminal terminal) {
        boolean bar = terminal.interactive();
        return new JobProgress(client, job.id(), terminal.err(), bar, bar ? BAR_REFRESH : LINE_INTERVAL);
    }

    /** Takes the bar off the screen so that a line can be printed; the next refresh draws it again. */
    synchronized void clear() {
        if (drawn == 0) return;
        err.print("\r" + " ".repeat(drawn) + "\r");
        err.flush();
        drawn = 0;
    }

    @Override
    public void close() throws InterruptedException {
        thread.interrupt();
        thread.join();
        clear();
    }

    /** {@code [#####...................] 398/3000  2 failed  95/s  ETA 26.3 s} */
    static String bar(Job job) {
        int filled = job.inputs() == 0 ? 0 : (int) ((long) job.counts().finished() * BAR_WIDTH / job.inputs());
        return "[" + "#".repeat(filled) + ".".repeat(BAR_WIDTH - filled) + "] " + JobFormat.doneOfTotal(job)
                + "  " + job.counts().failed() + " failed  " + JobFormat.rate(job.throughputPerSec()) + eta(job, "  ");
    }

    /** {@code job-7f3a9c RUNNING: 398/3000 done, 2 failed, 95/s, ETA 26.3 s} */
    static String line(Job job) {
        return job.id() + " " + job.state() + ": " + JobFormat.doneOfTotal(job) + " done, " + job.counts().failed()
                + " failed, " + JobFormat.rate(job.throughputPerSec()) + eta(job, ", ");
    }

    private static String eta(Job job, String separator) {
        return job.eta().map(eta -> separator + "ETA " + JobFormat.duration(eta)).orElse("");
    }

    private void run() {
        while (true) {
            try {
                Thread.sleep(interval);
                show(client.job(jobId));
            } catch (InterruptedException | CancellationException stopped) {
                return;
            } catch (GaleException e) {
                // the results stream reports a server that went away; the progress just skips a beat
            }
        }
    }

    private synchronized void show(Job job) {
        if (Thread.currentThread().isInterrupted()) return;
        if (bar) {
            String text = bar(job);
            err.print("\r" + text + " ".repeat(Math.max(0, drawn - text.length())));
            drawn = Math.max(drawn, text.length());
        } else {
            err.println(line(job));
        }
        err.flush();
    }
}
