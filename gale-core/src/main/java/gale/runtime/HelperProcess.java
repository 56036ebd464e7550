package gale.runtime;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Runs a helper process to its end: pip and venv for requirements, Maven builds, class-data
 * training runs, probes. The one way Gale runs such a command: started by
 * {@link ProcessLauncher} (it dies with Gale), with exactly the environment given (callers
 * build it from {@link CleanEnvironment}, never the server's), its output read by
 * {@link ProcessOutput}, and on timeout it is killed with everything it started. Waiting
 * parks the calling thread; it never blocks a carrier in {@code waitFor}.
 */
public final class HelperProcess {

    /** Output kept in memory; a chattier helper keeps its last part (all of it goes to the log file). */
    private static final int MAX_KEPT_CHARS = 1 << 20;
    private static final Duration OUTPUT_DRAIN = Duration.ofSeconds(2);

    /**
     * How a helper ended.
     *
     * @param exitCode its exit status (-1 when it timed out)
     * @param output   stdout and stderr together, at most the last {@value #MAX_KEPT_CHARS} characters
     * @param timedOut true when it was killed at the timeout
     */
    public record Result(int exitCode, String output, boolean timedOut) {

        /** The last {@code n} non-blank lines, joined with " | " (for one-line reasons). */
        public String tail(int n) {
            List<String> lines = output.lines().filter(l -> !l.isBlank()).toList();
            return String.join(" | ", lines.subList(Math.max(0, lines.size() - n), lines.size()));
        }
    }

    private HelperProcess() {
    }

    /**
     * Runs {@code command} in {@code dir} with exactly {@code env}, until it exits or
     * {@code timeout} passes.
     *
     * @param log where to write the command line and its whole output, if anywhere
     * @throws IOException when it cannot be started or the log cannot be written
     */
    public static Result run(List<String> command, Path dir, Map<String, String> env, Duration timeout, Optional<Path> log)
            throws IOException {
        ProcessBuilder builder = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true);
        builder.environment().clear();
        builder.environment().putAll(env);
        Process process = ProcessLauncher.start(builder);
        process.getOutputStream().close(); // stdin is empty
        var kept = new StringBuilder();
        ProcessOutput output = ProcessOutput.read(process.getInputStream(), "gale-helper-" + process.pid(), line -> {
            synchronized (kept) {
                kept.append(line).append('\n');
                if (kept.length() > 2 * MAX_KEPT_CHARS) kept.delete(0, kept.length() - MAX_KEPT_CHARS);
            }
        });
        boolean finished = awaitExit(process, timeout);
        if (!finished) killTree(process);
        output.drained().completeOnTimeout(null, OUTPUT_DRAIN.toMillis(), TimeUnit.MILLISECONDS).join();
        String text;
        synchronized (kept) {
            text = kept.length() > MAX_KEPT_CHARS ? kept.substring(kept.length() - MAX_KEPT_CHARS) : kept.toString();
        }
        if (log.isPresent()) {
            Files.writeString(log.get(), "$ " + String.join(" ", command) + "\n" + text, StandardCharsets.UTF_8);
        }
        return new Result(finished ? process.exitValue() : -1, text, !finished);
    }

    private static boolean awaitExit(Process process, Duration timeout) throws IOException {
        try {
            process.onExit().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            return true;
        } catch (TimeoutException e) {
            return false;
        } catch (InterruptedException e) {
            killTree(process);
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while running " + process.info().command().orElse("a helper process"));
        } catch (ExecutionException e) {
            throw new IOException(e.getCause());
        }
    }

    /** Kills the process and everything it started, and waits (parked) a little for it to go. */
    static void killTree(Process process) {
        ProcessTree.descendants(process.pid()).forEach(pid -> ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly));
        process.destroyForcibly();
        process.onExit().completeOnTimeout(process, 5, TimeUnit.SECONDS).join();
    }
}
