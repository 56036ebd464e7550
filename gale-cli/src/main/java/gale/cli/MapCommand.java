package gale.cli;

import static java.nio.charset.StandardCharsets.UTF_8;

import gale.client.GaleClient;
import gale.client.Job;
import gale.client.JobInputs;
import gale.client.JobOptions;
import gale.client.JobRequest;
import gale.client.JobResult;
import gale.client.JobState;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;

/** Mirrors {@code GaleClient.map} for files: one input per NDJSON line in, one result per line out, in input order. */
@Command(name = "map",
        description = {
                "Run a function over each line of an NDJSON file as a map job.",
                "Each input line is the JSON body of one call. Results are written in input",
                "order as they finish: line N of the output is the function's JSON answer to",
                "line N of the input, or null when that input failed (--full says why).",
                "Progress and a summary go to stderr. Ctrl-C cancels the job."},
        footer = {
                "",
                "Exit codes: 0 every input succeeded; 1 some input failed (the first ones are",
                "listed with their input index), the job was cancelled, stopped at its CPU",
                "budget, or the server refused it; 2 usage error; 3 no server."})
final class MapCommand extends ClientCommand {

    /** How many failed inputs the summary lists. */
    static final int ERRORS_SHOWN = 5;

    @Parameters(index = "0", paramLabel = "FUNCTION", description = "a deployed function with an ACTIVE version")
    String function;

    @Option(names = {"-i", "--input"}, required = true, paramLabel = "FILE|-",
            description = "inputs, one JSON value per line (NDJSON; blank lines skipped); - reads stdin")
    String input;

    @Option(names = {"-o", "--output"}, paramLabel = "FILE|-", defaultValue = "-",
            description = "where the result lines go (default: stdout)")
    String output;

    @Option(names = "--full", description = "write each whole result object (index, ok, result or error, traceback,"
            + " status, durationMs, attempts) instead of the result alone")
    boolean full;

    @Option(names = "--parallelism", paramLabel = "N",
            description = "most inputs running at once (default: the function's max-instances)")
    Optional<Integer> parallelism = Optional.empty();

    @Option(names = "--chunk-size", paramLabel = "N",
            description = "inputs per task, run one after another on one instance (default: 1)")
    Optional<Integer> chunkSize = Optional.empty();

    @Option(names = "--task-timeout", paramLabel = "DURATION",
            description = "limit for one call, e.g. 60s (default: the function's timeout)")
    Optional<Duration> taskTimeout = Optional.empty();

    @Option(names = "--retries", paramLabel = "N",
            description = "extra attempts for a call that crashed, timed out or was turned away (default: 2)")
    Optional<Integer> retries = Optional.empty();

    @Option(names = "--retry-backoff", paramLabel = "DURATION",
            description = "first wait before a retry, doubling per attempt (default: 500ms)")
    Optional<Duration> retryBackoff = Optional.empty();

    @Option(names = "--stop-on-error", description = "cancel the rest of the job at the first input that fails for good")
    boolean stopOnError;

    @Option(names = "--max-cpu-seconds", paramLabel = "N",
            description = "the job's CPU budget: once its tasks used N CPU-seconds it starts no more, and ends STOPPED_BUDGET"
                    + " with the results so far (the rest are null)")
    Optional<Double> maxCpuSeconds = Optional.empty();

    /** What came down the results stream: how many results, and the first inputs that failed. */
    private static final class Tally {
        int results;
        int failed;
        final List<JobResult> firstFailures = new ArrayList<>();

        void add(JobResult result) {
            results++;
            if (result.ok() || neverRan(result)) return;
            failed++;
            if (firstFailures.size() < ERRORS_SHOWN) firstFailures.add(result);
        }
    }

    @Override
    int run(GaleClient client, Terminal terminal) throws Exception {
        JobInputs inputs = inputs(terminal);
        PrintStream out = openOutput(terminal);
        try {
            Job job = client.submitJob(new JobRequest(function, inputs, options()));
            CancelJobOnExit cancelOnExit = CancelJobOnExit.install(client, job, terminal.err());
            Tally tally;
            try (JobProgress progress = JobProgress.start(client, job, terminal)) {
                tally = writeResults(client, job, out, sharesScreen(terminal) ? Optional.of(progress) : Optional.empty());
            } finally {
                cancelOnExit.remove();
            }
            return report(client.job(job.id()), tally, terminal.err());
        } finally {
            if (out == terminal.out()) out.flush();
            else out.close();
        }
    }

    JobOptions options() {
        JobOptions options = JobOptions.defaults().withStopOnError(stopOnError);
        if (parallelism.isPresent()) options = options.withParallelism(parallelism.get());
        if (chunkSize.isPresent()) options = options.withChunkSize(chunkSize.get());
        if (taskTimeout.isPresent()) options = options.withTaskTimeout(taskTimeout.get());
        if (retries.isPresent()) options = options.withRetries(retries.get());
        if (retryBackoff.isPresent()) options = options.withRetryBackoff(retryBackoff.get());
        if (maxCpuSeconds.isPresent()) options = options.withMaxCpuSeconds(maxCpuSeconds.get());
        return options;
    }

    /** The line written for one result: the function's JSON answer (null for a failure), or with --full the whole result. */
    String line(JobResult result) {
        return (full ? result.toJson() : result.result()).toString();
    }

    private JobInputs inputs(Terminal terminal) {
        if (input.equals("-")) {
            if (terminal.interactive()) {
                terminal.err().println("Reading inputs from stdin, one JSON value per line; end with Ctrl-D.");
            }
            return JobInputs.ndjson(terminal.in());
        }
        Path file = Path.of(input);
        if (!Files.isRegularFile(file)) {
            throw new ParameterException(spec.commandLine(), "--input " + input + ": "
                    + (Files.exists(file) ? "not a file" : "no such file") + "; give an NDJSON file, or - for stdin");
        }
        return JobInputs.ndjson(file);
    }

    /** The terminal's stdout, or a new file. */
    private PrintStream openOutput(Terminal terminal) {
        if (output.equals("-")) return terminal.out();
        if (!input.equals("-") && Path.of(output).toAbsolutePath().normalize().equals(Path.of(input).toAbsolutePath().normalize())) {
            throw new ParameterException(spec.commandLine(), "--output " + output + " is the input file; writing it would"
                    + " erase the inputs before they are sent");
        }
        try {
            return new PrintStream(new BufferedOutputStream(Files.newOutputStream(Path.of(output))), false, UTF_8);
        } catch (IOException e) {
            throw new ParameterException(spec.commandLine(), "--output " + output + ": cannot write: " + e.getMessage());
        }
    }

    /** Results and the progress bar share one screen: the bar is taken down for each result line. */
    private boolean sharesScreen(Terminal terminal) {
        return output.equals("-") && terminal.interactive();
    }

    private Tally writeResults(GaleClient client, Job job, PrintStream out, Optional<JobProgress> bar) {
        Tally tally = new Tally();
        try (Stream<JobResult> results = client.results(job.id(), -1)) {
            results.forEachOrdered(result -> {
                bar.ifPresent(JobProgress::clear);
                out.print(line(result) + "\n");
                out.flush();
                if (out.checkError()) throw cannotWrite(client, job);
                tally.add(result);
            });
        }
        return tally;
    }

    /** A closed pipe (`gale map ... | head`) or a full disk: nobody gets the rest, so the job stops. */
    private CommandFailedException cannotWrite(GaleClient client, Job job) {
        client.cancelJob(job.id());
        String where = output.equals("-") ? "stdout" : output;
        return new CommandFailedException("cannot write results to " + where + "; cancelled " + job.id(), null);
    }

    private int report(Job job, Tally tally, PrintStream err) {
        tally.firstFailures.forEach(result -> err.println("input " + result.index() + " failed: " + firstLine(result)));
        int unlisted = tally.failed - tally.firstFailures.size();
        if (unlisted > 0) {
            err.println("... and " + unlisted + " more failed inputs" + (full ? "" : "; --full writes every error"));
        }
        if ((tally.firstFailures.isEmpty() || job.state() == JobState.STOPPED_BUDGET) && job.state() != JobState.SUCCEEDED) {
            job.error().ifPresent(error -> err.println("ERROR: " + error));
        }
        err.println(JobFormat.summary(job));
        if (tally.results < job.inputs()) {
            err.println("ERROR: only " + tally.results + " of " + job.inputs() + " results arrived; see `gale jobs show "
                    + job.id() + "` and the server log");
            return ExitCode.FAILED;
        }
        return job.state() == JobState.SUCCEEDED ? ExitCode.OK : ExitCode.FAILED;
    }

    private static String firstLine(JobResult result) {
        String error = result.error().orElse("failed").strip();
        String first = error.lines().findFirst().orElse(error);
        String status = result.status().isPresent() ? " (HTTP " + result.status().getAsInt() + ")" : "";
        return (first.length() > 200 ? first.substring(0, 200) + "..." : first) + status;
    }

    /** The server marks inputs the job cancelled before they ran with no status and no attempt. */
    private static boolean neverRan(JobResult result) {
        return result.status().isEmpty() && result.attempts() == 0;
    }
}
