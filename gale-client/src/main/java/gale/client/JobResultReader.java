package gale.client;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.time.Duration;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Optional;

/**
 * Reads a job's results line by line from {@code GET /v1/jobs/{id}/results?wait=true}. The server
 * ends that stream after the last result; when it ends earlier (a restart, a proxy cutting a quiet
 * connection) this asks for the job and goes on after the last index read. Not thread-safe, except
 * {@link #close()}, which may be called from any thread to stop a blocked read.
 */
final class JobResultReader implements Iterator<JobResult>, AutoCloseable {

    /** Wait before reconnecting when the last connection brought nothing, so a server that keeps closing is not hammered. */
    private static final Duration QUIET_RECONNECT_PAUSE = Duration.ofMillis(500);
    /** A job is marked ended right after its last result is stored; only a server stopping meanwhile takes longer. */
    private static final Duration JOB_END_WAIT = Duration.ofSeconds(30);

    private final GaleClient client;
    private final String jobId;
    private int last;
    /** The current connection's body; closing it from another thread ends a blocked read. */
    private volatile InputStream body;
    private BufferedReader lines;
    private boolean progressed;
    private JobResult next;
    private boolean ended;
    private volatile boolean closed;

    JobResultReader(GaleClient client, String jobId, int after) {
        this.client = client;
        this.jobId = jobId;
        this.last = after;
    }

    @Override
    public boolean hasNext() {
        while (next == null && !ended) next = read();
        return next != null;
    }

    @Override
    public JobResult next() {
        if (!hasNext()) throw new NoSuchElementException("no more results of job " + jobId);
        JobResult result = next;
        next = null;
        return result;
    }

    @Override
    public void close() {
        closed = true;
        disconnect();
    }

    /** The next result, or empty-handed (null) when a line was blank or a connection ended. */
    private JobResult read() {
        if (closed) {
            ended = true;
            return null;
        }
        if (lines == null && !connect()) return null;
        String line;
        try {
            line = lines.readLine();
        } catch (IOException cutOff) {
            line = null;
        }
        if (line == null) {
            disconnect();
            lines = null;
            body = null;
            ended = closed || !worthReconnecting();
            return null;
        }
        if (line.isBlank()) return null;
        JobResult result = parse(line);
        last = result.index();
        progressed = true;
        return result;
    }

    private boolean connect() {
        Optional<InputStream> opened = client.openResults(jobId, last);
        progressed = false;
        if (opened.isEmpty()) { // no first line in time: the first inputs are slow
            ended = !worthReconnecting();
            return false;
        }
        body = opened.get();
        lines = new BufferedReader(new InputStreamReader(body, UTF_8));
        if (closed) disconnect(); // close() ran while connecting
        return true;
    }

    /**
     * More results can come: the job still runs, or it ended while this connection was still bringing results.
     * After the last result, waits for the job to end too, which follows within milliseconds.
     */
    private boolean worthReconnecting() {
        Job job = client.job(jobId);
        if (last >= job.inputs() - 1) {
            if (!job.state().isFinished()) client.awaitJob(jobId, JOB_END_WAIT);
            return false;
        }
        if (job.state().isFinished()) return progressed;
        if (!progressed) GaleClient.sleep(QUIET_RECONNECT_PAUSE.toNanos(), "waiting for results of job " + jobId);
        return true;
    }

    private JobResult parse(String line) {
        try {
            return JobResult.fromJson(ApiJson.MAPPER.readTree(line));
        } catch (IOException | IllegalStateException e) {
            throw new GaleApiException(200, "unexpected line in the results of job " + jobId + ": " + e.getMessage()
                    + "; is the server at " + client.baseUrl() + " a Gale of the same version as this client?");
        }
    }

    /** Closes the body, not the reader: a reader blocked in readLine holds the reader's lock. */
    private void disconnect() {
        InputStream current = body;
        if (current == null) return;
        try {
            current.close();
        } catch (IOException ignored) {
            // the connection is gone either way
        }
    }
}
