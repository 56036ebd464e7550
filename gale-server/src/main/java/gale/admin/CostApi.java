package gale.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import gale.cost.CostReport;
import gale.cost.InvalidPricesException;
import gale.cost.PriceTable;
import gale.cost.Since;
import gale.jobs.JobView;
import gale.jobs.JobService;
import gale.registry.Registry;
import gale.store.UsageRow;
import gale.store.UsageStore;
import gale.usage.UsageMeter;
import io.javalin.config.RoutesConfig;
import io.javalin.http.BadRequestResponse;
import io.javalin.http.Context;
import io.javalin.http.InternalServerErrorResponse;
import io.javalin.http.NotFoundResponse;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * The cost report under /v1/cost (docs/cost.md, docs/api.md): what functions or a map job used,
 * priced on each platform of the price table in use (Gale's defaults, under the data dir's prices
 * file, under the request's own prices for {@code POST}). The admin token check comes from {@link AdminApi}.
 */
public final class CostApi {

    private static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS);
    /** How long a report waits for the usage sampler to write what it holds. */
    private static final long FLUSH_WAIT_SECONDS = 5;

    private final UsageMeter meter;
    private final UsageStore usage;
    private final JobService jobs;
    private final Registry registry;
    private final Path dataDir;
    private final Clock clock;
    private final CostReport.Machine machine = CostReport.Machine.current();

    public CostApi(UsageMeter meter, UsageStore usage, JobService jobs, Registry registry, Path dataDir, Clock clock) {
        this.meter = meter;
        this.usage = usage;
        this.jobs = jobs;
        this.registry = registry;
        this.dataDir = dataDir;
        this.clock = clock;
    }

    public void register(RoutesConfig routes) {
        routes.get("/v1/cost", ctx -> report(ctx, Optional.empty()));
        routes.post("/v1/cost", ctx -> report(ctx, Optional.of(requestPrices(ctx))));
    }

    private void report(Context ctx, Optional<JsonNode> requestPrices) {
        Optional<String> function = param(ctx, "function");
        Optional<String> job = param(ctx, "job");
        Optional<String> since = param(ctx, "since");
        if (job.isPresent() && since.isPresent()) {
            throw new BadRequestResponse("since does not apply to a job: its report covers the job's own run; leave since out");
        }
        PriceTable prices = prices(requestPrices);
        awaitSampler();
        Instant now = clock.instant();
        ctx.json(job.isPresent() ? jobReport(job.get(), function, prices, now) : functionsReport(function, since.orElse("30d"), prices, now));
    }

    private ObjectNode functionsReport(Optional<String> function, String since, PriceTable prices, Instant now) {
        Instant from;
        try {
            from = Since.parse(since, now);
        } catch (IllegalArgumentException e) {
            throw new BadRequestResponse(e.getMessage());
        }
        List<UsageRow> rows = usage.functions(from.toEpochMilli(), function);
        if (function.isPresent() && rows.isEmpty() && registry.function(function.get()).isEmpty()) {
            throw new NotFoundResponse("function '" + function.get() + "' not found, and nothing of that name ran since " + from
                    + "; see gale ls");
        }
        ObjectNode scope = JsonNodeFactory.instance.objectNode();
        if (function.isPresent()) scope.put("function", function.get()); else scope.putNull("function");
        return CostReport.build(prices, scope, rows, new CostReport.Period(from, now), sources(rows), machine);
    }

    private ObjectNode jobReport(String id, Optional<String> function, PriceTable prices, Instant now) {
        JobView job = jobs.view(id).orElseThrow(() -> new NotFoundResponse("no job " + id + "; gale jobs lists them"));
        if (function.isPresent() && !function.get().equals(job.function())) {
            throw new BadRequestResponse("job " + id + " ran function '" + job.function() + "', not '" + function.get() + "'");
        }
        ObjectNode scope = JsonNodeFactory.instance.objectNode().put("job", job.id()).put("function", job.function())
                .put("state", job.state()).put("inputs", job.inputs());
        scope.set("counts", JSON.valueToTree(job.counts()));
        Object budget = job.options().get("maxCpuSeconds");
        if (budget instanceof Number n) scope.put("maxCpuSeconds", n.doubleValue()); else scope.putNull("maxCpuSeconds");
        List<UsageRow> rows = usage.job(id);
        Instant start = job.startedAt().orElse(job.createdAt());
        var period = new CostReport.Period(start, job.finishedAt().orElse(now));
        return CostReport.build(prices, scope, rows, period, sources(rows), machine);
    }

    /** Gale's defaults, the data dir's prices file over them, the request's prices over both. */
    private PriceTable prices(Optional<JsonNode> requestPrices) {
        List<JsonNode> layers = new ArrayList<>();
        Optional<Path> file = PriceTable.dataDirFile(dataDir);
        try {
            file.ifPresent(f -> layers.add(PriceTable.readFile(f)));
            if (requestPrices.isEmpty()) return PriceTable.withOverrides(layers);
            PriceTable.withOverrides(layers); // the server's own table must be sound before a request's prices are blamed
        } catch (InvalidPricesException e) {
            throw new InternalServerErrorResponse("the data dir's prices file " + file.map(Path::toString).orElse("")
                    + " cannot be used: " + e.getMessage() + "; fix it or remove it");
        }
        layers.add(requestPrices.get());
        try {
            return PriceTable.withOverrides(layers);
        } catch (InvalidPricesException e) {
            throw new BadRequestResponse("the prices sent cannot be used: " + e.getMessage());
        }
    }

    private static JsonNode requestPrices(Context ctx) {
        try {
            JsonNode body = JSON.readTree(ctx.bodyInputStream());
            if (body == null || !body.isObject()) {
                throw new BadRequestResponse("POST /v1/cost takes the prices to lay over the server's as a JSON object (the keys of "
                        + "a prices file, docs/cost.md); got " + (body == null ? "an empty body" : body.getNodeType().toString().toLowerCase()));
            }
            return body;
        } catch (IOException e) {
            throw new BadRequestResponse("the prices sent are not valid JSON: " + e.getMessage().lines().findFirst().orElse(""));
        }
    }

    /** The figures include what the sampler holds: it samples and writes now (a report waits a few seconds at most). */
    private void awaitSampler() {
        try {
            meter.flush().get(FLUSH_WAIT_SECONDS, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            // reported from what is stored; the sampler logs why it could not write
        }
    }

    private static List<String> sources(List<UsageRow> rows) {
        return rows.stream().map(UsageRow::source).distinct().sorted().toList();
    }

    private static Optional<String> param(Context ctx, String name) {
        return Optional.ofNullable(ctx.queryParam(name)).map(String::strip).filter(s -> !s.isEmpty());
    }
}
