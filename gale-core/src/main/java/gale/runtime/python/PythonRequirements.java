package gale.runtime.python;

import gale.runtime.CleanEnvironment;
import gale.runtime.DeployFailure;
import gale.runtime.HelperProcess;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Honours a bundle's requirements.txt without assuming network access. Requirements the
 * interpreter already satisfies (say scikit-learn from Debian's python3-sklearn) cost
 * nothing. The rest are installed into a per-version virtual environment that still
 * sees the system packages, from the configured wheel folder or package index. With
 * neither configured, the deploy fails naming each missing requirement.
 */
public final class PythonRequirements {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration CHECK_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration INSTALL_TIMEOUT = Duration.ofMinutes(10);
    /** Written last into a version's virtualenv: its presence means the install completed. */
    private static final String READY_MARKER = ".gale-ready";

    private final Path python;
    private final Path checker;
    private final Optional<String> indexUrl;
    private final Optional<Path> wheelDir;

    public PythonRequirements(Path python, Path checker, Optional<String> indexUrl, Optional<Path> wheelDir) {
        this.python = python;
        this.checker = checker;
        this.indexUrl = indexUrl;
        this.wheelDir = wheelDir;
    }

    /** One requirement line the interpreter does not satisfy. */
    public record Missing(int line, String text, String installed) {
        String describe() {
            return "line " + line + ": " + text + " (installed: " + (installed.isEmpty() ? "none" : installed) + ")";
        }
    }

    /**
     * Makes the bundle's requirements importable.
     *
     * @param bundleDir  the unpacked bundle
     * @param versionDir a directory owned by this version, for the environment
     * @return the virtual environment to run in, or empty when the system interpreter suffices
     * @throws DeployFailure naming what could not be satisfied and what to do
     */
    public Optional<Path> prepare(Path bundleDir, Path versionDir) throws DeployFailure {
        Path requirements = bundleDir.resolve("requirements.txt");
        if (!Files.isRegularFile(requirements)) return Optional.empty();
        Path venv = versionDir.resolve("venv");
        if (Files.exists(venv.resolve(READY_MARKER))) return Optional.of(venv); // prepared before a restart or rollback
        List<Missing> missing = check(requirements);
        if (missing.isEmpty()) return Optional.empty();
        if (indexUrl.isEmpty() && wheelDir.isEmpty()) {
            throw new DeployFailure("requirements.txt is not satisfied: "
                    + String.join("; ", missing.stream().map(Missing::describe).toList())
                    + ". Gale installs packages offline only: set GALE_WHEEL_DIR to a folder of wheels or "
                    + "GALE_PIP_INDEX_URL to a package index, or install them for " + python
                    + " (for example with apt-get install python3-<name>)");
        }
        return Optional.of(install(missing, versionDir));
    }

    List<Missing> check(Path requirements) throws DeployFailure {
        HelperProcess.Result result = run(List.of(python.toString(), checker.toString(), "check", requirements.toString()),
                requirements.getParent(), CHECK_TIMEOUT);
        if (result.exitCode() != 0) {
            throw new DeployFailure("could not read requirements.txt: " + result.tail(3));
        }
        try {
            JsonNode report = JSON.readTree(result.output().substring(result.output().indexOf('{')));
            List<Missing> missing = new ArrayList<>();
            for (JsonNode r : report.path("requirements")) {
                if (!r.path("satisfied").asBoolean(true)) {
                    missing.add(new Missing(r.path("line").asInt(), r.path("text").asText(),
                            r.path("installed").isNull() ? "" : r.path("installed").asText()));
                }
            }
            return missing;
        } catch (IOException | RuntimeException e) {
            throw new DeployFailure("could not understand the requirements check: " + result.tail(3));
        }
    }

    private Path install(List<Missing> missing, Path versionDir) throws DeployFailure {
        Path venv = versionDir.resolve("venv");
        HelperProcess.Result created = run(List.of(python.toString(), "-m", "venv", "--without-pip", "--system-site-packages",
                venv.toString()), versionDir, CHECK_TIMEOUT);
        if (created.exitCode() != 0) {
            throw new DeployFailure("could not create a virtual environment for requirements.txt: " + created.tail(3));
        }
        Path wanted = versionDir.resolve("requirements-missing.txt");
        try {
            Files.write(wanted, missing.stream().map(Missing::text).toList(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new DeployFailure("could not write " + wanted + ": " + e.getMessage());
        }
        List<String> pip = new ArrayList<>(List.of(python.toString(), "-m", "pip", "--isolated", "--disable-pip-version-check",
                "--python", venv.resolve("bin").resolve("python").toString(), "install", "--no-input"));
        if (indexUrl.isPresent()) {
            pip.addAll(List.of("--index-url", indexUrl.get()));
        } else {
            pip.add("--no-index");
        }
        wheelDir.ifPresent(dir -> pip.addAll(List.of("--find-links", dir.toString())));
        pip.addAll(List.of("-r", wanted.toString()));
        HelperProcess.Result installed = run(pip, versionDir, INSTALL_TIMEOUT);
        if (installed.exitCode() != 0) {
            throw new DeployFailure("requirements.txt could not be installed ("
                    + String.join(", ", missing.stream().map(Missing::text).toList()) + ") from "
                    + indexUrl.map(u -> "index " + u).orElse("wheel folder " + wheelDir.map(Path::toString).orElse(""))
                    + ": " + installed.tail(2));
        }
        try {
            Files.writeString(venv.resolve(READY_MARKER), "installed: " + missing.stream().map(Missing::text).toList() + "\n");
        } catch (IOException e) {
            throw new DeployFailure("could not finish the environment " + venv + ": " + e.getMessage());
        }
        return venv;
    }

    /** Runs pip, venv or the checker with a clean environment: no variable of the server's reaches them. */
    private static HelperProcess.Result run(List<String> command, Path dir, Duration timeout) throws DeployFailure {
        HelperProcess.Result result;
        try {
            result = HelperProcess.run(command, dir, CleanEnvironment.create(), timeout, Optional.empty());
        } catch (IOException e) {
            throw new DeployFailure("could not run " + command.getFirst() + ": " + e.getMessage());
        }
        if (result.timedOut()) {
            throw new DeployFailure("'" + String.join(" ", command) + "' did not finish within " + timeout.toSeconds() + "s");
        }
        return result;
    }
}
