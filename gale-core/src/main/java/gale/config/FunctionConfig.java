package gale.config;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The resolved, validated settings of one function version. Immutable: a version's
 * config never changes; a new deploy makes a new version.
 *
 * @param runtime              "python3"
 * @param entryPoint           callable in the entry module ("prediction", "lambda_handler", "app")
 * @param entryModule          file holding it, relative to the bundle root
 * @param signature            calling convention: auto, http (GCF), event (Lambda), wsgi, background (GCF's (data, context))
 * @param memory               limit per instance; an instance above it is killed
 * @param timeout              limit for one call, from arrival to response, queueing and cold start included
 * @param concurrency          calls one instance serves at once
 * @param minInstances         instances kept warm (0 = scale to zero)
 * @param maxInstances         instance limit
 * @param maxQueue             calls that may wait for a free instance; more are rejected with 429
 * @param idleTimeout          an instance idle this long is stopped, down to minInstances
 * @param env                  environment variables for user code
 * @param allowUnauthenticated public (true) or admin-token only (false)
 * @param requireKey           callable with an access key that has invoke scope for it (or the admin token), CORS
 *                             preflight answered without one: a public-but-keyed endpoint (docs/access.md)
 * @param cors                 origins Gale answers preflight for; empty = the function handles CORS itself
 * @param command              for the process runtime: the command that serves HTTP on $PORT (empty otherwise)
 * @param cpu                  CPU share of an instance relative to others (1 = a normal share, 0.5 = half)
 * @param sandbox              "auto" (sandbox when bubblewrap is installed), "on" (required) or "off"
 * @param network              "all", or "none" to run without network access (needs the sandbox)
 * @param prewarm              get ready for the first call at deploy and restart (a Python version's zygote
 *                             starts then); false leaves that to the first cold start
 * @param stateNamespaces      state namespaces the function's instances may use besides its own (docs/state.md)
 * @param blobBuckets          blob buckets the function's instances may use besides its own (docs/blobs.md)
 * @param asyncMaxAttempts     attempts an async call gets (Prefer: respond-async) before it is a dead letter
 * @param asyncBackoff         wait before an async call's second attempt, doubling for each one after
 * @param asyncMaxAge          an async call not succeeded this long after it was accepted is a dead letter
 * @param asyncOnSuccess       function sent a record of each async call that succeeded ("" for none)
 * @param asyncOnFailure       function sent a record of each async call that became a dead letter ("" for none)
 * @param triggers             state and blob changes the deploy subscribed the function to (docs/triggers.md); each must
 *                             be on the function's own namespace or bucket, or on one it was granted
 */
public record FunctionConfig(
        String runtime,
        String entryPoint,
        String entryModule,
        String signature,
        DataSize memory,
        Duration timeout,
        int concurrency,
        int minInstances,
        int maxInstances,
        int maxQueue,
        Duration idleTimeout,
        Map<String, String> env,
        boolean allowUnauthenticated,
        boolean requireKey,
        List<String> cors,
        String command,
        double cpu,
        String sandbox,
        String network,
        boolean prewarm,
        List<String> stateNamespaces,
        List<String> blobBuckets,
        int asyncMaxAttempts,
        Duration asyncBackoff,
        Duration asyncMaxAge,
        String asyncOnSuccess,
        String asyncOnFailure,
        List<TriggerSpec> triggers) {

    public static final List<String> RUNTIMES = List.of("python3", "java21", "process");
    public static final List<String> SIGNATURES = List.of("auto", "http", "event", "wsgi", "background");
    public static final List<String> SANDBOX_MODES = List.of("auto", "on", "off");
    public static final List<String> NETWORK_MODES = List.of("all", "none");
    /** As gale.registry.FunctionName's rule, which this package cannot see. */
    private static final String FUNCTION_NAME = "[a-z]([a-z0-9-]{0,61}[a-z0-9])?";

    public FunctionConfig {
        env = Map.copyOf(env);
        cors = List.copyOf(cors);
        stateNamespaces = List.copyOf(stateNamespaces);
        blobBuckets = List.copyOf(blobBuckets);
        triggers = List.copyOf(triggers);
        check(RUNTIMES.contains(runtime), "runtime must be one of " + RUNTIMES + ", got '" + runtime + "'");
        check(SIGNATURES.contains(signature), "signature must be one of " + SIGNATURES + ", got '" + signature + "'");
        switch (runtime) {
            case "python3" -> check(entryPoint.matches("[A-Za-z_][A-Za-z0-9_]*"),
                    "entry-point must be a Python identifier, got '" + entryPoint + "'");
            case "java21" -> check(entryPoint.matches("[A-Za-z_$][A-Za-z0-9_$]*(\\.[A-Za-z_$][A-Za-z0-9_$]*)*"),
                    "entry-point must be a Java class name like com.example.Hello, got '" + entryPoint + "'");
            case "process" -> check(!command.isBlank(), "the process runtime needs --command, the command that serves HTTP on $PORT");
            default -> { }
        }
        check(entryModule.endsWith(".py") && !entryModule.startsWith("/") && !entryModule.contains(".."),
                "entry-module must be a .py file inside the bundle, got '" + entryModule + "'");
        check(memory.megabytes() >= 32 && memory.megabytes() <= 65536, "memory must be between 32MB and 64GB, got " + memory);
        check(!timeout.isNegative() && timeout.toMillis() >= 1 && timeout.compareTo(Duration.ofHours(1)) <= 0,
                "timeout must be between 1ms and 1h, got " + Durations.format(timeout));
        check(concurrency >= 1 && concurrency <= 1000, "concurrency must be between 1 and 1000, got " + concurrency);
        check(maxInstances >= 1 && maxInstances <= 1000, "max-instances must be between 1 and 1000, got " + maxInstances);
        check(minInstances >= 0 && minInstances <= maxInstances,
                "min-instances must be between 0 and max-instances (" + maxInstances + "), got " + minInstances);
        check(maxQueue >= 0 && maxQueue <= 100_000, "max-queue must be between 0 and 100000, got " + maxQueue);
        check(idleTimeout.toMillis() >= 100, "idle-timeout must be at least 100ms, got " + Durations.format(idleTimeout));
        check(cpu >= 0.01 && cpu <= 64, "cpu must be between 0.01 and 64, got " + cpu);
        check(SANDBOX_MODES.contains(sandbox), "sandbox must be one of " + SANDBOX_MODES + ", got '" + sandbox + "'");
        check(NETWORK_MODES.contains(network), "network must be one of " + NETWORK_MODES + ", got '" + network + "'");
        check(!(allowUnauthenticated && requireKey), "allow-unauthenticated and require-key exclude each other: a public "
                + "function takes calls without a key; keep one of them");
        check(!(network.equals("none") && sandbox.equals("off")), "network none needs the sandbox; drop --sandbox off");
        for (String ns : stateNamespaces) {
            check(ns.matches("[a-z0-9][a-z0-9._-]{0,62}"), "state-namespaces: '" + ns + "' is not a namespace: "
                    + gale.state.StateLimits.NAMESPACE_RULE);
        }
        for (String bucket : blobBuckets) {
            check(bucket.matches("[a-z0-9][a-z0-9._-]{0,62}"), "blob-buckets: '" + bucket + "' is not a bucket: "
                    + gale.blob.BlobNames.BUCKET_RULE);
        }
        check(asyncMaxAttempts >= 1 && asyncMaxAttempts <= 100, "async-max-attempts must be between 1 and 100, got " + asyncMaxAttempts);
        check(asyncBackoff.toMillis() >= 10 && asyncBackoff.compareTo(Duration.ofHours(1)) <= 0,
                "async-backoff must be between 10ms and 1h, got " + Durations.format(asyncBackoff));
        check(asyncMaxAge.toMillis() >= 1000 && asyncMaxAge.compareTo(Duration.ofDays(14)) <= 0,
                "async-max-age must be between 1s and 14d, got " + Durations.format(asyncMaxAge));
        check(asyncOnSuccess.isEmpty() || asyncOnSuccess.matches(FUNCTION_NAME),
                "async-on-success must be a function name (1-63 lowercase letters, digits and dashes, starting with a letter), got '"
                        + asyncOnSuccess + "'");
        check(asyncOnFailure.isEmpty() || asyncOnFailure.matches(FUNCTION_NAME),
                "async-on-failure must be a function name (1-63 lowercase letters, digits and dashes, starting with a letter), got '"
                        + asyncOnFailure + "'");
        for (String key : env.keySet()) {
            check(key.matches("[A-Za-z_][A-Za-z0-9_]*"), "env name '" + key + "' is not a valid variable name");
            check(!key.startsWith("GALE_"), "env name '" + key + "' is reserved: GALE_* variables belong to the platform");
        }
    }

    private static void check(boolean ok, String message) {
        if (!ok) throw new InvalidConfigException(message);
    }

    public boolean isPublic() {
        return allowUnauthenticated;
    }

    /** The wire form (docs/api.md): camelCase keys, human units. */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("runtime", runtime);
        m.put("entryPoint", entryPoint);
        m.put("entryModule", entryModule);
        m.put("signature", signature);
        m.put("memory", memory.toString());
        m.put("timeout", Durations.format(timeout));
        m.put("concurrency", concurrency);
        m.put("minInstances", minInstances);
        m.put("maxInstances", maxInstances);
        m.put("maxQueue", maxQueue);
        m.put("idleTimeout", Durations.format(idleTimeout));
        m.put("env", env);
        m.put("allowUnauthenticated", allowUnauthenticated);
        m.put("requireKey", requireKey);
        m.put("cors", String.join(",", cors));
        m.put("command", command);
        m.put("cpu", cpu);
        m.put("sandbox", sandbox);
        m.put("network", network);
        m.put("prewarm", prewarm);
        m.put("stateNamespaces", String.join(",", stateNamespaces));
        m.put("blobBuckets", String.join(",", blobBuckets));
        m.put("asyncMaxAttempts", asyncMaxAttempts);
        m.put("asyncBackoff", Durations.format(asyncBackoff));
        m.put("asyncMaxAge", Durations.format(asyncMaxAge));
        m.put("asyncOnSuccess", asyncOnSuccess);
        m.put("asyncOnFailure", asyncOnFailure);
        m.put("triggers", triggers.stream().map(TriggerSpec::toMap).toList());
        return m;
    }
}
