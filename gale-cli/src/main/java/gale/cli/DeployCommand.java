package gale.cli;

import gale.client.FunctionSummary;
import gale.client.GaleClient;
import gale.client.Version;
import gale.client.VersionState;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import picocli.CommandLine.Command;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Mirrors {@code gcloud functions deploy}. Only the flags given go into the config, so gale.toml in the
 * bundle and the server's defaults fill in the rest; sizes and durations are passed on as written.
 */
@Command(name = "deploy", description = "Deploy a folder or .zip as a new version of a function.")
final class DeployCommand extends ClientCommand {

    /** Installing requirements can take minutes; past this, `gale versions` tells the rest. */
    private static final Duration DEPLOY_WAIT = Duration.ofMinutes(15);

    enum Signature { AUTO, HTTP, EVENT, WSGI, BACKGROUND }

    enum Sandbox { AUTO, ON, OFF }

    enum Network { ALL, NONE }

    @Parameters(index = "0", paramLabel = "NAME", description = "function name: lowercase letters, digits and -")
    String name;

    @Option(names = "--source", required = true, paramLabel = "DIR|ZIP", description = "folder with main.py (or a .zip of it)")
    Path source;

    @Option(names = "--runtime", paramLabel = "RUNTIME", description = "python3, java21 or process (default: python3)")
    Optional<String> runtime = Optional.empty();

    @Option(names = "--entry-point", paramLabel = "FN", description = "callable to serve (default: NAME with - as _); with its module as gunicorn and Zappa write it: myapp.web:app, app.app")
    Optional<String> entryPoint = Optional.empty();

    @Option(names = "--entry-module", paramLabel = "FILE", description = "file holding the entry point (default: main.py)")
    Optional<String> entryModule = Optional.empty();

    @Option(names = "--zappa-stage", paramLabel = "STAGE",
            description = "the stage of the bundle's zappa_settings.json to read (app_function, environment_variables, "
                    + "timeout_seconds, memory_size); needed when it has several")
    Optional<String> zappaStage = Optional.empty();

    @Option(names = "--signature", paramLabel = "KIND", description = "auto, http, event (Lambda), wsgi or background (Cloud Functions' def f(data, context) for triggers) (default: auto)")
    Optional<Signature> signature = Optional.empty();

    @Option(names = "--command", paramLabel = "CMD",
            description = "process runtime: the command that serves HTTP on $PORT, e.g. \"Rscript serve.R\"")
    Optional<String> command = Optional.empty();

    @Option(names = "--memory", paramLabel = "SIZE", description = "memory per instance, e.g. 512MB (default: 256MB)")
    Optional<String> memory = Optional.empty();

    @Option(names = "--timeout", paramLabel = "DURATION", description = "limit for one call, e.g. 60s (default: 60s)")
    Optional<String> timeout = Optional.empty();

    @Option(names = "--cpu", paramLabel = "N", description = "CPU share of an instance, 1 = a normal share, e.g. 0.5 (default: 1)")
    Optional<Double> cpu = Optional.empty();

    @Option(names = "--sandbox", paramLabel = "MODE",
            description = "auto (sandboxed when bubblewrap is installed), on (fail the deploy without it) or off (default: auto)")
    Optional<Sandbox> sandbox = Optional.empty();

    @Option(names = "--network", paramLabel = "MODE",
            description = "all, or none: no network at all (needs the sandbox; not possible with the process runtime) (default: all)")
    Optional<Network> network = Optional.empty();

    @Option(names = "--concurrency", paramLabel = "N", description = "requests one instance serves at once (default: 1)")
    Optional<Integer> concurrency = Optional.empty();

    @Option(names = "--min-instances", paramLabel = "N", description = "instances kept warm (default: 0)")
    Optional<Integer> minInstances = Optional.empty();

    @Option(names = "--max-instances", paramLabel = "N", description = "instance limit (default: 10)")
    Optional<Integer> maxInstances = Optional.empty();

    @Option(names = "--max-queue", paramLabel = "N", description = "requests that may wait for an instance (default: 100)")
    Optional<Integer> maxQueue = Optional.empty();

    @Option(names = "--idle-timeout", paramLabel = "DURATION", description = "idle instances stop after this (default: 300s)")
    Optional<String> idleTimeout = Optional.empty();

    @Option(names = "--env", paramLabel = "K=V", description = "environment variable, repeatable")
    Map<String, String> env = new LinkedHashMap<>();

    @Option(names = "--allow-unauthenticated", negatable = true,
            description = "anyone may call the function without the token (default: no)")
    Optional<Boolean> allowUnauthenticated = Optional.empty();

    @Option(names = "--require-key", negatable = true,
            description = "callers need an access key with scope invoke:NAME (gale keys create), not the admin token; "
                    + "a public-but-keyed endpoint, browser preflight included (default: no)")
    Optional<Boolean> requireKey = Optional.empty();

    @Option(names = "--prewarm", negatable = true,
            description = "start a Python version's zygote (its dependencies imported) at deploy and restart, so the first call "
                    + "is a fast cold start; --no-prewarm leaves that to the first call (default: yes)")
    Optional<Boolean> prewarm = Optional.empty();

    @Option(names = "--async-max-attempts", paramLabel = "N",
            description = "attempts an async call (gale call --async) gets before it becomes a dead letter (default: 3)")
    Optional<Integer> asyncMaxAttempts = Optional.empty();

    @Option(names = "--async-backoff", paramLabel = "DURATION",
            description = "wait before an async call's second attempt, doubling after each (default: 1s)")
    Optional<String> asyncBackoff = Optional.empty();

    @Option(names = "--async-max-age", paramLabel = "DURATION",
            description = "an async call not succeeded this long after it was accepted becomes a dead letter (default: 6h)")
    Optional<String> asyncMaxAge = Optional.empty();

    @Option(names = "--async-on-success", paramLabel = "FUNCTION",
            description = "send a record of each async call that succeeded (its input and result) to this function, as an async call")
    Optional<String> asyncOnSuccess = Optional.empty();

    @Option(names = "--async-on-failure", paramLabel = "FUNCTION",
            description = "send a record of each async call that became a dead letter (its input, error and traceback) to this function")
    Optional<String> asyncOnFailure = Optional.empty();

    @Option(names = "--cors", paramLabel = "ORIGINS", description = "comma-separated allowed origins, * for any")
    Optional<String> cors = Optional.empty();

    @Option(names = "--schedule", paramLabel = "CRON",
            description = "also call the function on this cron schedule, e.g. \"*/5 * * * *\" or \"0 9 * * MON-FRI\" "
                    + "(5 fields; the schedule is named after the function; see `gale schedules`)")
    Optional<String> schedule = Optional.empty();

    @Option(names = "--every", paramLabel = "DURATION",
            description = "also call the function every DURATION, e.g. 4m (keep-warm; 1m at least), instead of --schedule")
    Optional<String> every = Optional.empty();

    @Option(names = "--time-zone", paramLabel = "TZ", description = "time zone of --schedule, e.g. Europe/Berlin (default: UTC)")
    Optional<String> timeZone = Optional.empty();

    @Option(names = "--catch-up", paramLabel = "MODE",
            description = "after a downtime: last (run the most recent missed slot once) or none (skip missed slots) (default: last)")
    Optional<String> catchUp = Optional.empty();

    @Option(names = "--schedule-payload", paramLabel = "JSON",
            description = "JSON body of each scheduled call (a Lambda handler gets it as its event)")
    Optional<String> schedulePayload = Optional.empty();

    @Option(names = "--state-namespace", paramLabel = "NS",
            description = "a state namespace the function may use besides its own (its name); repeatable")
    List<String> stateNamespaces = new ArrayList<>();

    @Option(names = "--blob-bucket", paramLabel = "BUCKET",
            description = "a blob bucket the function may use besides its own (its name); repeatable")
    List<String> blobBuckets = new ArrayList<>();

    @Option(names = "--trigger", paramLabel = "SOURCE",
            description = "also call the function with each change under a prefix: state:NAMESPACE/PREFIX or blob:BUCKET/PREFIX "
                    + "(its own namespace or bucket, or one granted with --state-namespace / --blob-bucket); repeatable; "
                    + "see `gale triggers`")
    List<String> triggers = new ArrayList<>();

    @Option(names = "--trigger-events", paramLabel = "KINDS", split = ",",
            description = "the kinds of change the --trigger sources follow: put,delete for state, finalize,delete for blobs "
                    + "(default: all)")
    List<String> triggerEvents = new ArrayList<>();

    @Option(names = "--async", description = "return once uploaded, without waiting for the version to become ACTIVE")
    boolean async;

    @Option(names = "--no-traffic", description = "the new version takes no calls (as Cloud Run's --no-traffic): the traffic "
            + "split is pinned to the version serving now; give the new one a share with `gale traffic NAME --to ...`")
    boolean noTraffic;

    @Override
    int run(GaleClient client, Terminal terminal) throws Exception {
        Version uploaded = client.deploy(name, source, config());
        if (async) {
            terminal.out().println("Uploaded " + name + " version " + uploaded.version() + ": "
                    + uploaded.state() + ". Follow it with `gale versions " + name + "`.");
            return ExitCode.OK;
        }
        Version settled;
        try (Spinner spinner = Spinner.start(terminal, "deploying " + name + " version " + uploaded.version())) {
            settled = client.awaitVersion(name, uploaded.version(), DEPLOY_WAIT);
        }
        return report(settled, client.function(name), terminal);
    }

    /** The admin API's config keys for exactly the flags given. */
    Map<String, Object> config() {
        Map<String, Object> config = new LinkedHashMap<>();
        runtime.ifPresent(value -> config.put("runtime", value));
        entryPoint.ifPresent(value -> config.put("entryPoint", value));
        entryModule.ifPresent(value -> config.put("entryModule", value));
        zappaStage.ifPresent(value -> config.put("zappaStage", value));
        signature.ifPresent(value -> config.put("signature", value.name().toLowerCase(Locale.ROOT)));
        command.ifPresent(value -> config.put("command", value));
        memory.ifPresent(value -> config.put("memory", value));
        timeout.ifPresent(value -> config.put("timeout", value));
        cpu.ifPresent(value -> config.put("cpu", value));
        sandbox.ifPresent(value -> config.put("sandbox", value.name().toLowerCase(Locale.ROOT)));
        network.ifPresent(value -> config.put("network", value.name().toLowerCase(Locale.ROOT)));
        concurrency.ifPresent(value -> config.put("concurrency", value));
        minInstances.ifPresent(value -> config.put("minInstances", value));
        maxInstances.ifPresent(value -> config.put("maxInstances", value));
        maxQueue.ifPresent(value -> config.put("maxQueue", value));
        idleTimeout.ifPresent(value -> config.put("idleTimeout", value));
        if (!env.isEmpty()) config.put("env", env);
        allowUnauthenticated.ifPresent(value -> config.put("allowUnauthenticated", value));
        requireKey.ifPresent(value -> config.put("requireKey", value));
        prewarm.ifPresent(value -> config.put("prewarm", value));
        cors.ifPresent(value -> config.put("cors", value));
        asyncMaxAttempts.ifPresent(value -> config.put("asyncMaxAttempts", value));
        asyncBackoff.ifPresent(value -> config.put("asyncBackoff", value));
        asyncMaxAge.ifPresent(value -> config.put("asyncMaxAge", value));
        asyncOnSuccess.ifPresent(value -> config.put("asyncOnSuccess", value));
        asyncOnFailure.ifPresent(value -> config.put("asyncOnFailure", value));
        scheduleConfig().ifPresent(value -> config.put("schedule", value));
        if (noTraffic) config.put("noTraffic", true);
        if (!stateNamespaces.isEmpty()) config.put("stateNamespaces", List.copyOf(stateNamespaces));
        if (!blobBuckets.isEmpty()) config.put("blobBuckets", List.copyOf(blobBuckets));
        if (!triggers.isEmpty()) {
            config.put("triggers", triggers.stream().map(source -> triggerEvents.isEmpty() ? (Object) source
                    : Map.of("source", source, "events", List.copyOf(triggerEvents))).toList());
        } else if (!triggerEvents.isEmpty()) {
            throw new ParameterException(spec.commandLine(), "--trigger-events goes with --trigger SOURCE");
        }
        return config;
    }

    /** The function's schedule, when --schedule or --every is given; the server checks it before storing anything. */
    private Optional<Map<String, Object>> scheduleConfig() {
        if (schedule.isEmpty() && every.isEmpty()) {
            if (timeZone.isPresent() || catchUp.isPresent() || schedulePayload.isPresent()) {
                throw new ParameterException(spec.commandLine(),
                        "--time-zone, --catch-up and --schedule-payload go with --schedule CRON or --every DURATION");
            }
            return Optional.empty();
        }
        Map<String, Object> s = new LinkedHashMap<>();
        schedule.ifPresent(value -> s.put("cron", value));
        every.ifPresent(value -> s.put("every", value));
        timeZone.ifPresent(value -> s.put("timeZone", value));
        catchUp.ifPresent(value -> s.put("catchUp", value));
        if (schedulePayload.isPresent()) {
            try {
                s.put("payload", new ObjectMapper().readTree(schedulePayload.get()));
            } catch (JsonProcessingException e) {
                throw new ParameterException(spec.commandLine(), "--schedule-payload is not JSON (" + e.getOriginalMessage()
                        + "); quote it for the shell, e.g. --schedule-payload '{\"kind\": \"full\"}'");
            }
        }
        return Optional.of(s);
    }

    private int report(Version version, FunctionSummary function, Terminal terminal) {
        String which = name + " version " + version.version();
        if (version.state() == VersionState.ACTIVE) {
            terminal.out().println("Deployed " + which + ": ACTIVE");
            terminal.out().println("URL: " + function.url());
            if (!function.pinnedSplit().isEmpty()) { // Cloud Run's rule: a pinned split holds across deploys (docs/traffic.md)
                terminal.out().println("The traffic split is pinned (" + function.pinnedSplit().entrySet().stream()
                        .map(e -> "v" + e.getKey() + "=" + e.getValue()).collect(java.util.stream.Collectors.joining(","))
                        + "): version " + version.version() + " takes no calls until you give it some (gale traffic " + name
                        + " --to ... or --to-latest); it answers at " + function.url() + "@v" + version.version());
            }
            return ExitCode.OK;
        }
        String serving = function.activeVersion().isPresent()
                ? " (version " + function.activeVersion().getAsInt() + " keeps serving)" : "";
        terminal.err().println(switch (version.state()) {
            case FAILED -> "ERROR: deploy of " + which + " failed: " + version.reason().orElse("no reason given") + serving;
            case DEPLOYING -> "ERROR: " + which + " is still DEPLOYING after " + DEPLOY_WAIT.toMinutes()
                    + " minutes; follow it with `gale versions " + name + "`" + serving;
            default -> "ERROR: " + which + " is " + version.state() + ": a newer deploy replaced it";
        });
        return ExitCode.FAILED;
    }
}
