package gale.runtime.java;

import gale.runtime.DeployFailure;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The jars a Java function version runs with, in order; gale-api comes first and is not one
 * of them. Stored in the version's {@code java/classpath.txt} when the version is prepared, so
 * restarts and rollbacks reuse it. Only jars: class-data sharing cannot archive classes
 * from folders.
 */
record FunctionClasspath(List<Path> jars) {

    static final String FILE = "classpath.txt";

    FunctionClasspath {
        jars = List.copyOf(jars);
    }

    /** Every *.jar at the bundle root, then every *.jar in lib/, each sorted by name. */
    static FunctionClasspath ofBundle(Path bundleDir) throws DeployFailure {
        List<Path> jars = new ArrayList<>(jarsIn(bundleDir));
        jars.addAll(jarsIn(bundleDir.resolve("lib")));
        if (jars.isEmpty()) {
            throw new DeployFailure("the bundle has no jar: put your function's jar at the bundle root (its libraries in lib/), "
                    + "or deploy the folder of a Maven project (with its pom.xml) and Gale builds it");
        }
        return new FunctionClasspath(jars);
    }

    /** The *.jar files directly in {@code dir}, sorted; none if it does not exist. gale-api is Gale's to add, so a bundled copy is left out. */
    static List<Path> jarsIn(Path dir) throws DeployFailure {
        if (!Files.isDirectory(dir)) return List.of();
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(Files::isRegularFile)
                    .filter(p -> p.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".jar"))
                    .filter(p -> !p.getFileName().toString().startsWith("gale-api"))
                    .map(p -> p.toAbsolutePath().normalize())
                    .sorted()
                    .toList();
        } catch (IOException e) {
            throw new DeployFailure("cannot list the jars in " + dir + ": " + e.getMessage());
        }
    }

    /** Reads what {@link #save} wrote; empty when the version was not prepared yet or a jar has gone. */
    static Optional<FunctionClasspath> load(Path javaDir) {
        Path file = javaDir.resolve(FILE);
        if (!Files.isRegularFile(file)) return Optional.empty();
        try {
            List<Path> jars = Files.readAllLines(file, StandardCharsets.UTF_8).stream()
                    .filter(l -> !l.isBlank()).map(Path::of).toList();
            if (jars.isEmpty() || !jars.stream().allMatch(Files::isRegularFile)) return Optional.empty();
            return Optional.of(new FunctionClasspath(jars));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** Written last when preparing, atomically: its presence means the version is ready to start. */
    void save(Path javaDir) throws IOException {
        Files.createDirectories(javaDir);
        Path tmp = Files.createTempFile(javaDir, FILE, ".tmp");
        Files.write(tmp, jars.stream().map(Path::toString).toList(), StandardCharsets.UTF_8);
        Files.move(tmp, javaDir.resolve(FILE), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** The -cp value: gale-api first (its classes must win), then the function's jars. */
    String withApi(Path apiJar) {
        return withApi(apiJar, jar -> jar);
    }

    /** The -cp value with each jar's path as the JVM sees it ({@code seen}: in the sandbox, the bundle is elsewhere). */
    String withApi(Path apiJar, java.util.function.UnaryOperator<Path> seen) {
        StringBuilder cp = new StringBuilder(seen.apply(apiJar).toString());
        for (Path jar : jars) cp.append(File.pathSeparatorChar).append(seen.apply(jar));
        return cp.toString();
    }
}
