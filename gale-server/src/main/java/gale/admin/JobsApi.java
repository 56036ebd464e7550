package gale.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import gale.jobs.InvalidJobException;
import gale.jobs.JobService;
import gale.jobs.JobView;
import gale.store.JobItem;
import io.javalin.config.RoutesConfig;
import io.javalin.http.BadRequestResponse;
import io.javalin.http.Context;
import io.javalin.http.NotFoundResponse;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** The map-job API under /v1/jobs (docs/jobs.md); a key needs invoke scope for the job's function (docs/access.md). */
public final class JobsApi {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final JobService jobs;

    public JobsApi(JobService jobs) {
        this.jobs = jobs;
    }

    public void register(RoutesConfig routes) {
        routes.post("/v1/jobs", this::submit);
        routes.get("/v1/jobs", ctx -> ctx.json(jobs.list(Optional.ofNullable(ctx.queryParam("function")),
                limit(ctx, 50, 1000)).stream()
                .filter(job -> ApiAccess.caller(ctx).mayInvoke(job.function())) // a key sees the jobs of functions it may call
                .map(JobsApi::json).toList()));
        routes.get("/v1/jobs/{id}", ctx -> ctx.json(json(find(ctx))));
        routes.get("/v1/jobs/{id}/results", this::results);
        routes.get("/v1/jobs/{id}/failures", ctx -> { // the console's list of failures with tracebacks
            find(ctx);
            ctx.json(jobs.failures(ctx.pathParam("id"), limit(ctx, 20, 100)).stream().map(JobsApi::failure).toList());
        });
        routes.post("/v1/jobs/{id}/redrive", ctx -> {
            find(ctx);
            try {
                ctx.json(json(jobs.redrive(ctx.pathParam("id")).orElseThrow()));
            } catch (InvalidJobException e) {
                throw new io.javalin.http.ConflictResponse(e.getMessage());
            }
        });
        routes.delete("/v1/jobs/{id}", ctx -> {
            find(ctx);
            ctx.json(json(jobs.cancel(ctx.pathParam("id")).orElseThrow()));
        });
    }

    private void submit(Context ctx) throws IOException, InterruptedException {
        String type = Optional.ofNullable(ctx.contentType()).orElse("");
        boolean waiting = "true".equalsIgnoreCase(ctx.queryParam("wait"));
        try {
            JobService.Submitted submitted;
            if (type.startsWith("application/x-ndjson") || type.startsWith("application/jsonl")) {
                Map<String, Object> options = new LinkedHashMap<>();
                ctx.queryParamMap().forEach((k, v) -> options.put(k, v.getFirst()));
                options.remove("wait"); // how to answer, not a job option
                String function = ctx.queryParam("function") == null ? "" : ctx.queryParam("function");
                ApiAccess.requireInvoke(ctx, function, "run a map job of function '" + function + "'");
                submitted = jobs.submitNdjson(function, ctx.req().getInputStream(), options, waiting);
            } else {
                JsonNode body;
                try {
                    body = JSON.readTree(ctx.bodyInputStream());
                } catch (IOException e) {
                    throw new InvalidJobException("the job is not valid JSON: " + e.getMessage().lines().findFirst().orElse(""));
                }
                String function = body == null ? "" : body.path("function").asText("");
                ApiAccess.requireInvoke(ctx, function, "run a map job of function '" + function + "'");
                submitted = jobs.submit(body, waiting);
            }
            JobView job = submitted.job();
            if (!waiting) {
                ctx.status(201).json(json(job));
            } else if (submitted.results().isPresent()) { // it ran while we waited: the job and its results in one write
                var out = new java.io.ByteArrayOutputStream();
                out.write(JSON.writeValueAsBytes(json(job)));
                out.write('\n');
                writeLines(out, submitted.results().get(), false);
                ctx.status(201).contentType("application/x-ndjson").result(out.toByteArray());
            } else {
                ctx.status(201);
                streamResults(ctx, job.id(), -1, true, Optional.of(job));
            }
        } catch (InvalidJobException e) {
            if (e.conflict()) throw new io.javalin.http.ConflictResponse(e.getMessage());
            throw new BadRequestResponse(e.getMessage());
        }
    }

    private void results(Context ctx) throws InterruptedException, IOException {
        find(ctx);
        int after;
        try {
            after = Integer.parseInt(Optional.ofNullable(ctx.queryParam("after")).orElse("-1"));
        } catch (NumberFormatException e) {
            throw new BadRequestResponse("after must be a number (the last index you have)");
        }
        ctx.status(200);
        streamResults(ctx, ctx.pathParam("id"), after, "true".equalsIgnoreCase(ctx.queryParam("wait")), Optional.empty());
    }

    /**
     * NDJSON: the job first when given (a submit that waits), then its results after {@code after};
     * each run of finished results goes out in one write, flushed at once when following.
     */
    private void streamResults(Context ctx, String id, int after, boolean follow, Optional<JobView> job)
            throws InterruptedException, IOException {
        ctx.contentType("application/x-ndjson");
        OutputStream out = ctx.res().getOutputStream();
        if (job.isPresent()) {
            out.write(JSON.writeValueAsBytes(json(job.get())));
            out.write('\n');
            out.flush(); // the client learns the job id before the first result
        }
        jobs.results(id, after, follow, items -> writeLines(out, items, follow));
        out.flush();
    }

    private static void writeLines(OutputStream out, List<JobItem> items, boolean flush) {
        try {
            for (JobItem item : items) writeLine(out, item);
            if (flush) out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException("the client went away", e);
        }
    }

    /**
     * One result as a line of JSON. A stored result is one line of JSON already and goes out as
     * the bytes read from the store, between the fields before it and those after it: a model of a
     * megabyte is neither parsed nor copied on its way to the client.
     */
    static void writeLine(OutputStream out, JobItem item) throws IOException {
        Map<String, Object> fields = result(item);
        if (item.state().equals("DONE")) {
            out.write(("{\"index\":" + item.index() + ",\"ok\":true,\"result\":").getBytes(StandardCharsets.US_ASCII));
            out.write(item.resultJson().orElse(NULL_JSON));
            byte[] tail = JSON.writeValueAsBytes(fields); // {"status":200,...,"attempts":1}: never empty
            out.write(',');
            out.write(tail, 1, tail.length - 1);
        } else {
            out.write(JSON.writeValueAsBytes(fields));
        }
        out.write('\n');
    }

    private static final byte[] NULL_JSON = "null".getBytes(StandardCharsets.US_ASCII);

    /** A result's fields but the ones {@link #writeLine} writes itself for a success (index, ok, result). */
    static Map<String, Object> result(JobItem item) {
        Map<String, Object> out = new LinkedHashMap<>();
        boolean ok = item.state().equals("DONE");
        if (!ok) {
            out.put("index", item.index());
            out.put("ok", false);
            out.put("error", item.error().orElse(item.state().equals("CANCELLED") ? "cancelled before it ran" : "failed"));
            item.traceback().ifPresent(t -> out.put("traceback", t));
        }
        item.status().ifPresent(s -> out.put("status", s));
        item.durationMs().ifPresent(d -> out.put("durationMs", d));
        out.put("attempts", item.attempts());
        return out;
    }

    /** The job of the path; 403 for a key that may not call its function (a job is calls of it). */
    private JobView find(Context ctx) {
        JobView job = jobs.view(ctx.pathParam("id")).orElseThrow(() -> new NotFoundResponse("no job " + ctx.pathParam("id")));
        ApiAccess.auditFunction(ctx, job.function());
        ApiAccess.requireInvoke(ctx, job.function(), "use map job " + job.id() + " of function '" + job.function() + "'");
        return job;
    }

    /** One input that failed: its result line's fields and the start of its input. */
    private static Map<String, Object> failure(JobItem item) {
        Map<String, Object> out = result(item);
        String input = item.inputJson();
        out.put("input", input.length() <= MAX_INPUT_SHOWN ? input : input.substring(0, MAX_INPUT_SHOWN) + "...");
        return out;
    }

    private static final int MAX_INPUT_SHOWN = 1000;

    private static int limit(Context ctx, int fallback, int max) {
        try {
            return Math.clamp(Integer.parseInt(Optional.ofNullable(ctx.queryParam("limit")).orElse(Integer.toString(fallback))), 1, max);
        } catch (NumberFormatException e) {
            throw new BadRequestResponse("limit must be a number");
        }
    }

    static Map<String, Object> json(JobView j) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("id", j.id());
        out.put("function", j.function());
        out.put("state", j.state());
        out.put("inputs", j.inputs());
        out.put("counts", j.counts());
        out.putAll(j.options());
        out.put("createdAt", j.createdAt().toString());
        out.put("startedAt", j.startedAt().map(Object::toString).orElse(null));
        out.put("finishedAt", j.finishedAt().map(Object::toString).orElse(null));
        out.put("elapsedMs", j.elapsedMs());
        out.put("throughputPerSec", Math.round(j.throughputPerSec() * 10) / 10.0);
        out.put("etaMs", j.etaMs().orElse(null));
        out.put("error", j.error().orElse(null));
        out.put("contextId", j.contextId().orElse(null));
        out.put("cpuSeconds", j.cpuSeconds().isPresent() ? Math.round(j.cpuSeconds().getAsDouble() * 1000) / 1000.0 : null);
        return out;
    }
}
