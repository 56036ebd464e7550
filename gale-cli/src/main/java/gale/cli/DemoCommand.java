package gale.cli;

import gale.client.FunctionSummary;
import gale.client.GaleApiException;
import gale.client.GaleClient;
import gale.client.Version;
import gale.client.VersionState;
import gale.server.GaleServer;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.CodeSource;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

@Command(name = "demo", description = "Start a server, deploy every example and print how to call each one.")
final class DemoCommand implements Callable<Integer> {

    private static final Duration DEPLOY_WAIT = Duration.ofMinutes(10);

    @ParentCommand
    GaleCommand gale;

    @Spec
    CommandSpec spec;

    @Mixin
    ServerOptions options;

    @Option(names = "--examples", paramLabel = "DIR",
            description = "folder of examples, one sub-folder with a gale.toml each"
                    + " (default: $GALE_EXAMPLES, else ./examples, else the examples beside the gale jar)")
    Optional<Path> examples = Optional.empty();

    /** How one example's deploy ended; {@code summary} is there once it is ACTIVE. */
    record Outcome(String name, Path folder, String state, Optional<FunctionSummary> summary, Optional<String> reason) {
    }

    @Override
    public Integer call() throws Exception {
        options.applyLogLevels();
        Path examplesDir = examplesDir();
        List<Path> folders = exampleFolders(examplesDir);
        if (folders.isEmpty()) {
            throw new ParameterException(spec.commandLine(), "no examples in " + examplesDir.toAbsolutePath()
                    + ": each example is a sub-folder with a gale.toml and a main.py");
        }
        // Asking R which packages it has takes a second or two: do it while the server starts.
        CompletableFuture<Map<Path, String>> leftOut = CompletableFuture.supplyAsync(() -> leftOut(folders, gale.env()));
        GaleServer server = LocalServer.start(options.config(gale.env()), gale.env(), gale.terminal().out());
        try (GaleClient client = new GaleClient(URI.create(server.url()), server.adminToken())) {
            List<Outcome> outcomes = deployAll(client, folders, leftOut.join());
            print(outcomes, gale.terminal());
        }
        gale.terminal().out().println(LocalServer.STOP_HINT);
        server.join();
        return ExitCode.OK;
    }

    /**
     * The examples this machine cannot run (R without plumber, a program not on PATH), each with the line
     * that says how to enable it: a new user sees that line rather than a failed deploy.
     */
    static Map<Path, String> leftOut(List<Path> folders, Map<String, String> env) {
        Map<Path, String> lines = new LinkedHashMap<>();
        for (Path folder : folders) {
            ExamplePrerequisites.unmet(folder, env).ifPresent(need -> lines.put(folder, name(folder) + ": left out (" + need + ")"));
        }
        return lines;
    }

    private List<Outcome> deployAll(GaleClient client, List<Path> examples, Map<Path, String> leftOut)
            throws InterruptedException {
        Terminal terminal = gale.terminal();
        List<Path> folders = examples.stream().filter(folder -> !leftOut.containsKey(folder)).toList();
        terminal.out().println();
        terminal.out().println("Deploying " + folders.size() + " examples: "
                + String.join(", ", folders.stream().map(DemoCommand::name).toList()));
        leftOut.values().forEach(terminal.out()::println);
        // Upload all first so the server installs and starts them side by side, then collect the results.
        Map<Path, Version> uploaded = new LinkedHashMap<>();
        Map<Path, String> rejected = new LinkedHashMap<>();
        for (Path folder : folders) {
            try {
                uploaded.put(folder, client.deploy(name(folder), folder, Map.of()));
            } catch (GaleApiException | IllegalArgumentException | UncheckedIOException e) {
                rejected.put(folder, e.getMessage());
            }
        }
        List<Outcome> outcomes = new ArrayList<>();
        try (Spinner spinner = Spinner.start(terminal, "waiting for " + uploaded.size() + " deploys")) {
            for (Path folder : folders) {
                outcomes.add(uploaded.containsKey(folder)
                        ? await(client, folder, uploaded.get(folder))
                        : failed(folder, rejected.get(folder)));
            }
        }
        return outcomes;
    }

    private static Outcome await(GaleClient client, Path folder, Version uploaded) {
        try {
            Version settled = client.awaitVersion(name(folder), uploaded.version(), DEPLOY_WAIT);
            Optional<FunctionSummary> summary = settled.state() == VersionState.ACTIVE
                    ? Optional.of(client.function(name(folder))) : Optional.empty();
            return new Outcome(name(folder), folder, settled.state().name(), summary, settled.reason());
        } catch (GaleApiException e) {
            return failed(folder, e.getMessage());
        }
    }

    private static Outcome failed(Path folder, String reason) {
        return new Outcome(name(folder), folder, "FAILED", Optional.empty(), Optional.of(reason));
    }

    private static void print(List<Outcome> outcomes, Terminal terminal) throws IOException {
        PrintStream out = terminal.out();
        Table table = new Table("NAME", "STATE", "URL");
        outcomes.forEach(o -> table.row(o.name(), o.state(), o.summary().map(FunctionSummary::url).map(URI::toString).orElse("-")));
        out.println();
        table.print(out, terminal.colour());
        for (Outcome outcome : outcomes) {
            outcome.reason().ifPresent(reason -> out.println("\n" + outcome.name() + " " + outcome.state() + ": " + reason));
        }
        out.println();
        if (outcomes.stream().allMatch(outcome -> outcome.summary().isEmpty())) return;
        out.println("Try them:");
        for (Outcome outcome : outcomes) {
            if (outcome.summary().isEmpty() || isCompanion(outcome.folder())) continue; // a companion is called by Gale (a trigger)
            FunctionSummary function = outcome.summary().get();
            out.println("  " + DemoCall.read(outcome.folder()).curl(function.url(), function.isPublic()));
        }
        out.println();
    }

    /** --examples, else $GALE_EXAMPLES, else ./examples, else {@code <jar dir>/../../examples} (the jar is in gale-cli/target). */
    private Path examplesDir() {
        Optional<Path> chosen = examples.or(() -> Optional.ofNullable(gale.env().get("GALE_EXAMPLES"))
                .filter(dir -> !dir.isBlank())
                .map(Path::of));
        if (chosen.isPresent()) {
            if (Files.isDirectory(chosen.get())) return chosen.get();
            throw new ParameterException(spec.commandLine(), "examples folder " + chosen.get().toAbsolutePath() + " does not exist");
        }
        List<Path> candidates = Stream.concat(Stream.of(Path.of("examples")), besideJar().stream())
                .map(path -> path.toAbsolutePath().normalize())
                .toList();
        return candidates.stream().filter(Files::isDirectory).findFirst().orElseThrow(() -> new ParameterException(
                spec.commandLine(), "no examples folder found: pass --examples DIR or set GALE_EXAMPLES (looked in "
                        + String.join(", ", candidates.stream().map(Path::toString).toList()) + ")"));
    }

    private static Optional<Path> besideJar() {
        CodeSource code = DemoCommand.class.getProtectionDomain().getCodeSource();
        if (code == null) return Optional.empty();
        try {
            Path location = Path.of(code.getLocation().toURI());
            return Files.isRegularFile(location) ? Optional.of(location.getParent().resolve("../../examples")) : Optional.empty();
        } catch (URISyntaxException | IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    /**
     * Sub-folders holding a gale.toml, by name, each followed by its companions: its own sub-folders with a
     * gale.toml, further functions of the same example (active-learning/retrain is active-learning-retrain).
     */
    static List<Path> exampleFolders(Path dir) throws IOException {
        List<Path> out = new ArrayList<>();
        for (Path example : functionFolders(dir)) {
            out.add(example);
            out.addAll(functionFolders(example));
        }
        return out;
    }

    private static List<Path> functionFolders(Path dir) throws IOException {
        try (Stream<Path> children = Files.list(dir)) {
            return children.filter(child -> Files.isRegularFile(child.resolve("gale.toml")))
                    .sorted(Comparator.comparing(child -> child.getFileName().toString()))
                    .toList();
        }
    }

    private static boolean isCompanion(Path folder) {
        return Files.isRegularFile(folder.getParent().resolve("gale.toml"));
    }

    /** The function an example folder deploys as: its name, or a companion's EXAMPLE-FOLDER. */
    static String name(Path folder) {
        String own = folder.getFileName().toString();
        return isCompanion(folder) ? folder.getParent().getFileName() + "-" + own : own;
    }
}
