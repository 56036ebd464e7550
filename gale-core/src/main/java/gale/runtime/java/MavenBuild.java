package gale.runtime.java;

import gale.runtime.CleanEnvironment;
import gale.runtime.DeployFailure;
import gale.runtime.HelperProcess;
import gale.util.FileTrees;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Builds a function that was deployed as a Maven project (a folder with pom.xml): a copy of
 * the project is packaged with {@code -DskipTests}, its runtime dependencies copied into
 * target/lib, and the jars of both become the version's classpath. The build uses the
 * server user's ~/.m2, offline first; only when something is missing from it does Maven
 * go to the network. A failed build fails the deploy with Maven's last error lines.
 */
final class MavenBuild {

    private static final Logger LOG = LoggerFactory.getLogger(MavenBuild.class);
    static final String POM = "pom.xml";
    private static final Duration BUILD_TIMEOUT = Duration.ofMinutes(10);
    private static final int ERROR_LINES = 12;
    /** The install plugin used to put gale-api into ~/.m2 when it is not there (the version Gale itself builds with). */
    private static final String INSTALL_PLUGIN = "org.apache.maven.plugins:maven-install-plugin:3.1.4:install-file";
    /**
     * What a build needs beyond {@link CleanEnvironment}: HOME for ~/.m2 and Maven's own settings.
     * Nothing else of the server's environment (never GALE_TOKEN) reaches Maven and the user's plugins.
     */
    private static final List<String> MAVEN_VARIABLES = List.of("HOME", "USER",
            "MAVEN_OPTS", "MAVEN_ARGS", "MAVEN_USER_HOME", "MVNW_REPOURL", "MVNW_USERNAME", "MVNW_PASSWORD");

    private final List<String> maven;
    private final Path javaHome;
    private final Path apiJar;
    private final String apiVersion;

    /**
     * @param maven      how to run Maven (e.g. {@code [/opt/gale/mvnw]} or {@code [mvn]}); empty when none was found
     * @param javaHome   the JDK Maven runs on (Gale's own)
     * @param apiJar     the gale-api jar, installed into ~/.m2 when that lacks it
     * @param apiVersion its version (dev.gale:gale-api:VERSION)
     */
    MavenBuild(List<String> maven, Path javaHome, Path apiJar, String apiVersion) {
        this.maven = List.copyOf(maven);
        this.javaHome = javaHome;
        this.apiJar = apiJar;
        this.apiVersion = apiVersion;
    }

    static boolean isMavenProject(Path bundleDir) {
        return Files.isRegularFile(bundleDir.resolve(POM));
    }

    /**
     * Builds the project in {@code bundleDir} inside {@code javaDir/build}.
     *
     * @return the project's jar(s), then its runtime dependencies
     */
    FunctionClasspath build(Path bundleDir, Path javaDir) throws DeployFailure {
        List<String> command = command(bundleDir);
        Path project = javaDir.resolve("build");
        Path log = javaDir.resolve("maven.log");
        copyProject(bundleDir, project);
        ensureApiInstalled(command, javaDir);
        List<String> goals = List.of("-B", "-q", "package", "-DskipTests", "dependency:copy-dependencies",
                "-DincludeScope=runtime", "-DexcludeArtifactIds=gale-api", "-DoutputDirectory=target/lib");
        long started = System.nanoTime();
        var offline = run(concat(command, List.of("-o"), goals), project, log);
        var result = offline;
        if (offline.exitCode() != 0 && offline.output().contains("offline mode")) {
            LOG.info("Maven build of {} needs artifacts that are not in ~/.m2; building again online", bundleDir);
            result = run(concat(command, List.of(), goals), project, log);
        }
        if (result.exitCode() != 0) {
            throw new DeployFailure("the Maven build failed (" + describe(result) + "): " + errorLines(result.output())
                    + " (whole output: " + log + ")");
        }
        List<Path> jars = new ArrayList<>(FunctionClasspath.jarsIn(project.resolve("target")).stream()
                .filter(MavenBuild::isMainJar).toList());
        if (jars.isEmpty()) {
            throw new DeployFailure("the Maven build made no jar in target/: the pom.xml must build a jar (<packaging>jar</packaging>)");
        }
        jars.addAll(FunctionClasspath.jarsIn(project.resolve("target").resolve("lib")));
        LOG.info("built {} with Maven in {} ms: {}", bundleDir, Duration.ofNanos(System.nanoTime() - started).toMillis(),
                jars.stream().map(p -> p.getFileName().toString()).toList());
        return new FunctionClasspath(jars);
    }

    /** How to run Maven for this project: its own wrapper if it has one, else Gale's choice. */
    private List<String> command(Path bundleDir) throws DeployFailure {
        Path wrapper = bundleDir.resolve("mvnw");
        if (Files.isRegularFile(wrapper) && Files.isDirectory(bundleDir.resolve(".mvn").resolve("wrapper"))) {
            return List.of("sh", "mvnw"); // run from the copy; sh because a zip does not keep the executable bit
        }
        if (maven.isEmpty()) {
            throw new DeployFailure("the bundle is a Maven project but this server has no Maven: install Maven (mvn on PATH), "
                    + "set GALE_MAVEN to a Maven command, add the Maven wrapper (mvnw) to the project, or deploy the built jar instead");
        }
        return maven;
    }

    /** Functions compile against dev.gale:gale-api; a Gale that was not built on this machine puts its own copy into ~/.m2. */
    private void ensureApiInstalled(List<String> command, Path javaDir) throws DeployFailure {
        Path repo = Path.of(System.getProperty("user.home"), ".m2", "repository", "dev", "gale", "gale-api", apiVersion);
        if (Files.isRegularFile(repo.resolve("gale-api-" + apiVersion + ".jar"))) return;
        LOG.info("installing gale-api {} into the local Maven repository from {}", apiVersion, apiJar);
        var result = run(concat(command, List.of("-o", "-B", "-q"), List.of(INSTALL_PLUGIN, "-Dfile=" + apiJar,
                "-DgroupId=dev.gale", "-DartifactId=gale-api", "-Dversion=" + apiVersion, "-Dpackaging=jar")),
                javaDir, javaDir.resolve("maven-install-api.log"));
        if (result.exitCode() != 0) {
            LOG.warn("could not install gale-api into ~/.m2 ({}): {}", describe(result), errorLines(result.output()));
        }
    }

    private static boolean isMainJar(Path jar) {
        String name = jar.getFileName().toString();
        return !name.endsWith("-sources.jar") && !name.endsWith("-javadoc.jar") && !name.endsWith("-tests.jar")
                && !name.startsWith("original-");
    }

    private HelperProcess.Result run(List<String> command, Path dir, Path log) throws DeployFailure {
        Map<String, String> env = CleanEnvironment.create();
        Map<String, String> server = System.getenv();
        MAVEN_VARIABLES.stream().filter(server::containsKey).forEach(name -> env.put(name, server.get(name)));
        env.put("JAVA_HOME", javaHome.toString());
        try {
            return HelperProcess.run(command, dir, env, BUILD_TIMEOUT, Optional.of(log));
        } catch (IOException e) {
            throw new DeployFailure("could not run Maven (" + command.getFirst() + "): " + e.getMessage());
        }
    }

    private static String describe(HelperProcess.Result result) {
        return result.timedOut() ? "no result within " + BUILD_TIMEOUT.toMinutes() + " minutes" : "exit code " + result.exitCode();
    }

    /** Maven's [ERROR] lines without its boilerplate; the last lines of output if there are none. */
    static String errorLines(String output) {
        List<String> errors = new ArrayList<>();
        for (String line : output.lines().toList()) {
            if (!line.startsWith("[ERROR]")) continue;
            String text = line.substring(7).strip();
            if (text.isEmpty() || text.startsWith("-> [Help") || text.startsWith("To see the full stack trace")
                    || text.startsWith("Re-run Maven") || text.startsWith("For more information") || text.startsWith("[Help ")) {
                continue;
            }
            errors.add(text);
        }
        if (errors.isEmpty()) {
            String withoutWarnings = String.join("\n", output.lines().filter(l -> !l.startsWith("WARNING:")).toList());
            return new HelperProcess.Result(0, withoutWarnings, false).tail(ERROR_LINES);
        }
        return String.join(" | ", errors.subList(Math.max(0, errors.size() - ERROR_LINES), errors.size()));
    }

    /** Copies the project without its target/ folder (a local build uploaded with it) so the build starts clean. */
    private static void copyProject(Path from, Path to) throws DeployFailure {
        try {
            FileTrees.delete(to);
            Files.walkFileTree(from, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
                    Path rel = from.relativize(dir);
                    if (rel.toString().equals("target")) return FileVisitResult.SKIP_SUBTREE;
                    Files.createDirectories(to.resolve(rel.toString()));
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                    Files.copy(file, to.resolve(from.relativize(file).toString()), StandardCopyOption.REPLACE_EXISTING);
                    return FileVisitResult.CONTINUE;
                }
            });
        } catch (IOException | UncheckedIOException e) {
            throw new DeployFailure("cannot copy the Maven project for building: " + e.getMessage());
        }
    }

    private static List<String> concat(List<String> a, List<String> b, List<String> c) {
        List<String> all = new ArrayList<>(a);
        all.addAll(b);
        all.addAll(c);
        return all;
    }

    /**
     * Gale's Maven: GALE_MAVEN (a command), else the Maven wrapper of the Gale checkout this
     * server runs from, else mvn on PATH; empty if there is none.
     */
    static List<String> locate(Map<String, String> env, Optional<Path> galeCodeSource) {
        String configured = env.getOrDefault("GALE_MAVEN", "").trim();
        if (!configured.isEmpty()) return List.of(configured);
        Optional<Path> checkoutWrapper = galeCodeSource.flatMap(MavenBuild::wrapperAbove);
        if (checkoutWrapper.isPresent()) return List.of(checkoutWrapper.get().toString());
        for (String dir : env.getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
            if (dir.isEmpty()) continue;
            Path mvn = Path.of(dir, "mvn");
            if (Files.isExecutable(mvn)) return List.of(mvn.toString());
        }
        return List.of();
    }

    /** A Maven wrapper (mvnw with .mvn/wrapper) in one of the few folders above Gale's jar or classes. */
    private static Optional<Path> wrapperAbove(Path codeSource) {
        Path dir = codeSource.toAbsolutePath().getParent();
        for (int i = 0; i < 4 && dir != null; i++, dir = dir.getParent()) {
            Path mvnw = dir.resolve("mvnw");
            if (Files.isExecutable(mvnw) && Files.isDirectory(dir.resolve(".mvn").resolve("wrapper"))) return Optional.of(mvnw);
        }
        return Optional.empty();
    }
}
