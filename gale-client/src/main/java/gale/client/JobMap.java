package gale.client;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;

/** {@link GaleClient#map}: submit a job, follow its results on a virtual thread, cancel the job when the future is cancelled. */
final class JobMap {

    private final GaleClient client;
    private final JobRequest request;
    private final CompletableFuture<List<JobResult>> future = new CompletableFuture<>();
    private final AtomicReference<String> jobId = new AtomicReference<>();

    private JobMap(GaleClient client, JobRequest request) {
        this.client = client;
        this.request = request;
    }

    static CompletableFuture<List<JobResult>> start(GaleClient client, JobRequest request) {
        JobMap map = new JobMap(client, request);
        Thread worker = Thread.ofVirtual().name("gale-map-" + request.function()).unstarted(map::run);
        map.future.whenComplete((results, failure) -> {
            if (map.future.isCancelled()) Thread.ofVirtual().name("gale-map-cancel").start(() -> map.cancel(worker));
        });
        worker.start();
        return map.future;
    }

    private void run() {
        try {
            Job job = client.submitJob(request);
            jobId.set(job.id());
            if (future.isCancelled()) { // cancelled while submitting, before the id was known
                cancelJob(job.id());
                return;
            }
            List<JobResult> results = new ArrayList<>(job.inputs());
            try (Stream<JobResult> stream = client.results(job.id(), -1)) {
                stream.forEachOrdered(results::add);
            }
            if (results.size() < job.inputs()) throw new IncompleteJobException(client.job(job.id()), results.size());
            future.complete(List.copyOf(results));
        } catch (RuntimeException | Error e) {
            future.completeExceptionally(e);
        }
    }

    /** Cancels the job on the server, which ends its results stream, then stops the worker should it still wait. */
    private void cancel(Thread worker) {
        String id = jobId.get();
        if (id == null) return; // run() cancels it once submitted
        cancelJob(id);
        worker.interrupt();
    }

    private void cancelJob(String id) {
        try {
            client.cancelJob(id);
        } catch (GaleException e) {
            // the future is already cancelled; a job that cannot be reached will run to its end
        }
    }
}
