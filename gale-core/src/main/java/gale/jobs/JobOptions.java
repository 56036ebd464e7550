package gale.jobs;

import gale.config.Durations;
import gale.config.FunctionConfig;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.OptionalDouble;

/**
 * How a job runs (docs/jobs.md). Unset options take the function's settings.
 *
 * @param parallelism         most inputs of this job running at once
 * @param chunkSize           inputs per task, run one after another on one instance
 * @param taskTimeout         limit for one call
 * @param retries             extra attempts for a call that crashed, timed out or was turned away
 * @param retryBackoff        first wait before a retry, doubling per attempt
 * @param stopOnError         cancel the rest at the first input that failed for good
 * @param retryFunctionErrors also retry calls whose function raised or answered 5xx itself
 * @param contextOnce         send the context to each instance once, by id ({@link CallBodies})
 * @param maxCpuSeconds       the job's CPU budget: it takes no new task once its tasks used this much CPU time
 *                            (docs/cost.md), and ends STOPPED_BUDGET with the results so far
 */
public record JobOptions(int parallelism, int chunkSize, Duration taskTimeout, int retries, Duration retryBackoff,
                         boolean stopOnError, boolean retryFunctionErrors, boolean contextOnce, OptionalDouble maxCpuSeconds) {

    /** The largest CPU budget a job may have: about 30 CPU-years, beyond any job and any rounding. */
    static final double MAX_CPU_SECONDS = 1e9;

    public JobOptions {
        require(parallelism >= 1 && parallelism <= 10_000, "parallelism must be between 1 and 10000, got " + parallelism);
        require(chunkSize >= 1 && chunkSize <= 100_000, "chunkSize must be between 1 and 100000, got " + chunkSize);
        require(retries >= 0 && retries <= 20, "retries must be between 0 and 20, got " + retries);
        require(taskTimeout.toMillis() >= 1 && taskTimeout.compareTo(Duration.ofHours(1)) <= 0,
                "taskTimeout must be between 1ms and 1h, got " + Durations.format(taskTimeout));
        require(!retryBackoff.isNegative() && retryBackoff.compareTo(Duration.ofMinutes(5)) <= 0,
                "retryBackoff must be between 0 and 5m, got " + Durations.format(retryBackoff));
        maxCpuSeconds.ifPresent(max -> require(max > 0 && max <= MAX_CPU_SECONDS,
                "maxCpuSeconds must be a number of CPU-seconds above 0 and at most 1e9, got " + max));
    }

    /** Reads options given as JSON fields or query parameters; missing ones come from the function. */
    public static JobOptions from(Map<String, ?> given, FunctionConfig function) {
        try {
            return new JobOptions(
                    integer(given, "parallelism", function.maxInstances() * function.concurrency()),
                    integer(given, "chunkSize", 1),
                    duration(given, "taskTimeout", function.timeout()),
                    integer(given, "retries", 2),
                    duration(given, "retryBackoff", Duration.ofMillis(500)),
                    bool(given, "stopOnError"),
                    bool(given, "retryFunctionErrors"),
                    bool(given, "contextOnce"),
                    cpuSeconds(given, "maxCpuSeconds"));
        } catch (IllegalArgumentException e) {
            throw new InvalidJobException(e.getMessage());
        }
    }

    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("parallelism", parallelism);
        m.put("chunkSize", chunkSize);
        m.put("taskTimeout", Durations.format(taskTimeout));
        m.put("retries", retries);
        m.put("retryBackoff", Durations.format(retryBackoff));
        m.put("stopOnError", stopOnError);
        m.put("retryFunctionErrors", retryFunctionErrors);
        m.put("contextOnce", contextOnce);
        m.put("maxCpuSeconds", maxCpuSeconds.isPresent() ? maxCpuSeconds.getAsDouble() : null);
        return m;
    }

    private static int integer(Map<String, ?> m, String key, int fallback) {
        Object v = m.get(key);
        if (v == null) return fallback;
        if (v instanceof Number n) return n.intValue();
        try {
            return Integer.parseInt(v.toString().trim());
        } catch (NumberFormatException e) {
            throw new InvalidJobException(key + " must be a whole number, got '" + v + "'");
        }
    }

    private static Duration duration(Map<String, ?> m, String key, Duration fallback) {
        Object v = m.get(key);
        if (v == null) return fallback;
        try {
            return Durations.parse(v.toString());
        } catch (IllegalArgumentException e) {
            throw new InvalidJobException(key + ": " + e.getMessage());
        }
    }

    private static OptionalDouble cpuSeconds(Map<String, ?> m, String key) {
        Object v = m.get(key);
        if (v == null) return OptionalDouble.empty();
        double value;
        if (v instanceof Number n) {
            value = n.doubleValue();
        } else {
            try {
                value = Double.parseDouble(v.toString().trim());
            } catch (NumberFormatException e) {
                throw new InvalidJobException(key + " must be a number of CPU-seconds, e.g. 30 or 2.5, got '" + v + "'");
            }
        }
        if (!Double.isFinite(value)) throw new InvalidJobException(key + " must be a finite number of CPU-seconds, got '" + v + "'");
        return OptionalDouble.of(value);
    }

    private static boolean bool(Map<String, ?> m, String key) {
        Object v = m.get(key);
        if (v == null) return false;
        if (v instanceof Boolean b) return b;
        return switch (v.toString().trim().toLowerCase()) {
            case "true", "1", "yes" -> true;
            case "false", "0", "no" -> false;
            default -> throw new InvalidJobException(key + " must be true or false, got '" + v + "'");
        };
    }

    private static void require(boolean ok, String message) {
        if (!ok) throw new InvalidJobException(message);
    }
}
