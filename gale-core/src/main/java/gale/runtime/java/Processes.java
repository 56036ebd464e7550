package gale.runtime.java;

import gale.runtime.DeployFailure;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Running the helper processes of preparing a Java version (Maven, training runs) with a clean environment. */
final class Processes {

    private Processes() {
    }

    /** How a helper process ended; {@code output} is stdout and stderr together. */
    record Result(int exitCode, String output, boolean timedOut) {
    }

    /** Only the named variables of the server's environment; never the admin token or anything else of the server's. */
    static Map<String, String> cleanEnvironment(List<String> passedThrough) {
        Map<String, String> server = System.getenv();
        Map<String, String> env = new HashMap<>();
        for (String name : passedThrough) {
            String value = server.get(name);
            if (value != null) env.put(name, value);
        }
        env.putIfAbsent("PATH", "/usr/local/bin:/usr/bin:/bin");
        env.putIfAbsent("LANG", "C.UTF-8");
        return env;
    }

    /** Runs to the end or the timeout (then the process and its children are killed); the output is also written to {@code log}. */
    static Result run(List<String> command, Path dir, Map<String, String> env, Duration timeout, Path log) throws DeployFailure {
        ProcessBuilder pb = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true);
        pb.environment().clear();
        pb.environment().putAll(env);
        Process p;
        try {
            p = pb.start();
            p.getOutputStream().close();
        } catch (IOException e) {
            throw new DeployFailure("could not run " + command.getFirst() + ": " + e.getMessage());
        }
        var output = new ByteArrayOutputStream();
        // A platform thread: a virtual one blocked in a pipe read for minutes holds a carrier of the whole server.
        Thread reader = Thread.ofPlatform().daemon().name("gale-helper-output").start(() -> {
            try {
                p.getInputStream().transferTo(output);
            } catch (IOException ignored) {
                // the process was killed
            }
        });
        try {
            boolean finished = p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
            if (!finished) kill(p);
            reader.join(2_000);
            String text = output.toString(StandardCharsets.UTF_8);
            Files.writeString(log, "$ " + String.join(" ", command) + "\n" + text, StandardCharsets.UTF_8);
            return new Result(finished ? p.exitValue() : -1, text, !finished);
        } catch (IOException e) {
            throw new DeployFailure("could not write " + log + ": " + e.getMessage());
        } catch (InterruptedException e) {
            kill(p);
            Thread.currentThread().interrupt();
            throw new DeployFailure("interrupted while running " + command.getFirst());
        }
    }

    private static void kill(Process p) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
        try {
            p.waitFor(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The last {@code n} non-blank lines, joined with " | " (for one-line reasons). */
    static String tail(String output, int n) {
        List<String> lines = output.lines().filter(l -> !l.isBlank()).toList();
        return String.join(" | ", lines.subList(Math.max(0, lines.size() - n), lines.size()));
    }

    /** Best effort, for scratch folders (they are also cleared when the server starts). */
    static void deleteQuietly(Path dir) {
        try {
            deleteTree(dir);
        } catch (UncheckedIOException ignored) {
            // left for the next server start
        }
    }

    static void deleteTree(Path dir) {
        if (!Files.exists(dir)) return;
        try (var walk = Files.walk(dir)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete " + dir, e);
        }
    }
}
