package gale.client;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalInt;

/**
 * How a job runs (docs/jobs.md); what is left empty takes the server's default, and the server
 * checks the ranges. Start from {@link #defaults()} and change what you need with the withers.
 *
 * @param context             sent with every input: each call's body becomes {@code {"context": C, "input": I}}
 * @param parallelism         most inputs running at once (default: the function's max-instances)
 * @param chunkSize           inputs per task, run one after another on one instance (default 1)
 * @param taskTimeout         limit for one call (default: the function's timeout)
 * @param retries             extra attempts for a call that crashed, timed out or was turned away (default 2)
 * @param retryBackoff        first wait before a retry, doubling per attempt (default 500ms)
 * @param stopOnError         cancel the rest at the first input that failed for good
 * @param retryFunctionErrors also retry calls whose function raised or answered 4xx
 * @param maxCpuSeconds       the job's CPU budget: once its tasks used this much CPU time it takes no new task and
 *                            ends {@link JobState#STOPPED_BUDGET}, with its results so far (docs/cost.md)
 */
public record JobOptions(
        Optional<JsonNode> context,
        OptionalInt parallelism,
        OptionalInt chunkSize,
        Optional<Duration> taskTimeout,
        OptionalInt retries,
        Optional<Duration> retryBackoff,
        boolean stopOnError,
        boolean retryFunctionErrors,
        OptionalDouble maxCpuSeconds) {

    private static final JobOptions DEFAULTS = new JobOptions(Optional.empty(), OptionalInt.empty(), OptionalInt.empty(),
            Optional.empty(), OptionalInt.empty(), Optional.empty(), false, false, OptionalDouble.empty());

    /** Every option at the server's default. */
    public static JobOptions defaults() {
        return DEFAULTS;
    }

    /** {@code context} is anything Jackson can write as JSON. */
    public JobOptions withContext(Object context) {
        JsonNode json = ApiJson.MAPPER.valueToTree(context);
        return new JobOptions(Optional.ofNullable(json), parallelism, chunkSize, taskTimeout, retries, retryBackoff,
                stopOnError, retryFunctionErrors, maxCpuSeconds);
    }

    public JobOptions withParallelism(int parallelism) {
        return new JobOptions(context, OptionalInt.of(parallelism), chunkSize, taskTimeout, retries, retryBackoff,
                stopOnError, retryFunctionErrors, maxCpuSeconds);
    }

    public JobOptions withChunkSize(int chunkSize) {
        return new JobOptions(context, parallelism, OptionalInt.of(chunkSize), taskTimeout, retries, retryBackoff,
                stopOnError, retryFunctionErrors, maxCpuSeconds);
    }

    public JobOptions withTaskTimeout(Duration taskTimeout) {
        return new JobOptions(context, parallelism, chunkSize, Optional.of(taskTimeout), retries, retryBackoff,
                stopOnError, retryFunctionErrors, maxCpuSeconds);
    }

    public JobOptions withRetries(int retries) {
        return new JobOptions(context, parallelism, chunkSize, taskTimeout, OptionalInt.of(retries), retryBackoff,
                stopOnError, retryFunctionErrors, maxCpuSeconds);
    }

    public JobOptions withRetryBackoff(Duration retryBackoff) {
        return new JobOptions(context, parallelism, chunkSize, taskTimeout, retries, Optional.of(retryBackoff),
                stopOnError, retryFunctionErrors, maxCpuSeconds);
    }

    public JobOptions withStopOnError(boolean stopOnError) {
        return new JobOptions(context, parallelism, chunkSize, taskTimeout, retries, retryBackoff,
                stopOnError, retryFunctionErrors, maxCpuSeconds);
    }

    public JobOptions withRetryFunctionErrors(boolean retryFunctionErrors) {
        return new JobOptions(context, parallelism, chunkSize, taskTimeout, retries, retryBackoff,
                stopOnError, retryFunctionErrors, maxCpuSeconds);
    }

    public JobOptions withMaxCpuSeconds(double maxCpuSeconds) {
        return new JobOptions(context, parallelism, chunkSize, taskTimeout, retries, retryBackoff,
                stopOnError, retryFunctionErrors, OptionalDouble.of(maxCpuSeconds));
    }

    /**
     * The options that are set, under the API's names, as JSON-ready values; durations in milliseconds
     * ({@code "1500ms"}) so nothing is rounded. Booleans are sent only when true, the server's default being false.
     */
    Map<String, Object> fields() {
        Map<String, Object> fields = new LinkedHashMap<>();
        context.ifPresent(value -> fields.put("context", value));
        parallelism.ifPresent(value -> fields.put("parallelism", value));
        chunkSize.ifPresent(value -> fields.put("chunkSize", value));
        taskTimeout.ifPresent(value -> fields.put("taskTimeout", value.toMillis() + "ms"));
        retries.ifPresent(value -> fields.put("retries", value));
        retryBackoff.ifPresent(value -> fields.put("retryBackoff", value.toMillis() + "ms"));
        if (stopOnError) fields.put("stopOnError", true);
        if (retryFunctionErrors) fields.put("retryFunctionErrors", true);
        maxCpuSeconds.ifPresent(value -> fields.put("maxCpuSeconds", value));
        return fields;
    }
}
