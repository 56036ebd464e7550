package gale.cli;

import static java.nio.charset.StandardCharsets.UTF_8;

import gale.config.ConfigResolver;
import gale.config.FunctionConfig;
import gale.config.InvalidConfigException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * What an example needs that Gale does not install: a {@code process} example runs its command's program,
 * and an R one also loads R packages. `gale demo` leaves an example out when this machine lacks them,
 * with one line saying how to enable it, instead of showing a new user a failed deploy.
 */
final class ExamplePrerequisites {

    /** Instances get the server's PATH, else this one (ProcessRuntime). */
    static final String DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin";

    /** Leading words of a command that come before its program: {@code exec}, {@code NAME=value}. */
    private static final Pattern PREFIX_WORD = Pattern.compile("exec|[A-Za-z_][A-Za-z0-9_]*=\\S*");
    private static final Pattern R_LIBRARY = Pattern.compile(
            "\\b(?:library|require|requireNamespace)\\(\\s*[\"']?([A-Za-z][A-Za-z0-9.]*)");
    /** Packages that come with R itself (r-base-core). */
    private static final Set<String> R_BASE = Set.of("base", "compiler", "datasets", "graphics", "grDevices", "grid",
            "methods", "parallel", "splines", "stats", "stats4", "tcltk", "tools", "utils");
    private static final String R_MISSING = "for (p in commandArgs(TRUE)) if (!requireNamespace(p, quietly = TRUE)) cat(p, '\\n', sep = '')";
    private static final long R_CHECK_SECONDS = 30;

    private ExamplePrerequisites() {
    }

    /** What the example needs and this machine lacks, as "needs ...: how to install it"; empty when it can run. */
    static Optional<String> unmet(Path example, Map<String, String> env) {
        FunctionConfig config;
        try {
            config = ConfigResolver.resolve(example.getFileName().toString(), example, Map.of());
        } catch (InvalidConfigException e) {
            return Optional.empty(); // the deploy reports it
        }
        if (!config.runtime().equals("process")) return Optional.empty();
        Optional<String> program = program(config.command());
        if (program.isEmpty()) return Optional.empty();
        String path = env.getOrDefault("PATH", DEFAULT_PATH);
        Optional<String> found = locate(program.get(), example, path);
        boolean isR = Path.of(program.get()).getFileName().toString().matches("Rscript|R");
        if (!isR) {
            return found.isPresent() ? Optional.empty()
                    : Optional.of("needs " + program.get() + (program.get().contains("/") ? "" : " on PATH"));
        }
        List<String> libraries = rLibraries(example);
        if (found.isEmpty()) {
            return Optional.of("needs R" + (libraries.isEmpty() ? "" : " with " + and(libraries)) + ": apt-get install "
                    + String.join(" ", Stream.concat(Stream.of("r-base-core"), libraries.stream().map(ExamplePrerequisites::debianName)).toList()));
        }
        List<String> missing = missingRLibraries(found.get(), libraries, example, path);
        if (missing.isEmpty()) return Optional.empty();
        return Optional.of("needs the R package" + (missing.size() > 1 ? "s " : " ") + and(missing) + ": apt-get install "
                + String.join(" ", missing.stream().map(ExamplePrerequisites::debianName).toList()));
    }

    /** The program a shell command starts: its first word after {@code exec} and variable assignments. */
    static Optional<String> program(String command) {
        for (String word : command.strip().split("\\s+")) {
            if (!PREFIX_WORD.matcher(word).matches()) return word.isEmpty() ? Optional.empty() : Optional.of(word);
        }
        return Optional.empty();
    }

    /** Where sh finds the program with this PATH, from the example's folder (as the instance's shell would). */
    private static Optional<String> locate(String program, Path example, String path) {
        return run(List.of("/bin/sh", "-c", "command -v \"$1\"", "sh", program), example, path, 10)
                .flatMap(lines -> lines.stream().findFirst());
    }

    /** The R packages the example's .R files load, other than R's own, sorted. */
    static List<String> rLibraries(Path example) {
        Set<String> found = new TreeSet<>();
        try (Stream<Path> files = Files.walk(example)) {
            for (Path file : files.filter(f -> f.toString().endsWith(".R")).toList()) {
                Matcher m = R_LIBRARY.matcher(Files.readString(file, UTF_8));
                while (m.find()) {
                    if (!R_BASE.contains(m.group(1))) found.add(m.group(1));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the R files of " + example, e);
        }
        return List.copyOf(found);
    }

    /** The libraries R cannot load; all of them when R itself fails. */
    private static List<String> missingRLibraries(String rscript, List<String> libraries, Path example, String path) {
        if (libraries.isEmpty()) return List.of();
        List<String> command = new ArrayList<>(List.of(rscript, "-e", R_MISSING));
        command.addAll(libraries);
        return run(command, example, path, R_CHECK_SECONDS)
                .map(lines -> lines.stream().filter(libraries::contains).toList())
                .orElse(libraries);
    }

    /** The lines a command prints; empty when it cannot start, fails or takes longer than {@code seconds}. */
    private static Optional<List<String>> run(List<String> command, Path dir, String path, long seconds) {
        ProcessBuilder builder = new ProcessBuilder(command).directory(dir.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                .redirectError(ProcessBuilder.Redirect.DISCARD);
        builder.environment().put("PATH", path);
        try {
            Process process = builder.start();
            // A few short lines fit in the pipe, so the command never blocks writing before we read.
            if (!process.waitFor(seconds, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                return Optional.empty();
            }
            if (process.exitValue() != 0) return Optional.empty();
            return Optional.of(new String(process.getInputStream().readAllBytes(), UTF_8).lines()
                    .map(String::strip).filter(line -> !line.isEmpty()).toList());
        } catch (IOException e) {
            return Optional.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        }
    }

    private static String debianName(String rPackage) {
        return "r-cran-" + rPackage.toLowerCase(Locale.ROOT);
    }

    private static String and(List<String> words) {
        return words.size() == 1 ? words.getFirst()
                : String.join(", ", words.subList(0, words.size() - 1)) + " and " + words.getLast();
    }
}
