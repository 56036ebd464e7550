package gale.e2e;

import javax.tools.DiagnosticCollector;
import javax.tools.JavaFileObject;
import javax.tools.ToolProvider;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;

import static org.assertj.core.api.Assertions.assertThat;

/** Java function bundles for tests: sources compiled here with the JDK's compiler against the gale-api jar the server ships. */
final class JavaBundles {

    private JavaBundles() {
    }

    /** A bundle holding app.jar, compiled from the given sources (relative path to content). */
    static Path jarBundle(GaleHarness gale, String name, Map<String, String> sources) {
        Path bundle = gale.bundle(name);
        Path src = gale.work.resolve(name + "-src-" + System.nanoTime());
        Path classes = src.resolve("classes");
        try {
            List<Path> files = new ArrayList<>();
            for (var e : sources.entrySet()) {
                Path file = src.resolve(e.getKey());
                Files.createDirectories(file.getParent());
                Files.writeString(file, e.getValue(), StandardCharsets.UTF_8);
                files.add(file);
            }
            Files.createDirectories(classes);
            compile(gale.dataDir.resolve("runtime/java/gale-api.jar"), files, classes);
            writeJar(classes, bundle.resolve("app.jar"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bundle;
    }

    private static void compile(Path apiJar, List<Path> sources, Path classes) throws IOException {
        var compiler = ToolProvider.getSystemJavaCompiler();
        var diagnostics = new DiagnosticCollector<JavaFileObject>();
        try (var files = compiler.getStandardFileManager(diagnostics, null, StandardCharsets.UTF_8)) {
            boolean ok = compiler.getTask(null, files, diagnostics,
                    List.of("--release", "21", "-cp", apiJar.toString(), "-d", classes.toString()), null,
                    files.getJavaFileObjectsFromPaths(sources)).call();
            assertThat(ok).as("compiles: %s", diagnostics.getDiagnostics()).isTrue();
        }
    }

    private static void writeJar(Path classes, Path jar) throws IOException {
        try (var out = new JarOutputStream(Files.newOutputStream(jar)); Stream<Path> walk = Files.walk(classes)) {
            for (Path file : walk.filter(Files::isRegularFile).sorted().toList()) {
                out.putNextEntry(new ZipEntry(classes.relativize(file).toString().replace('\\', '/')));
                Files.copy(file, out);
                out.closeEntry();
            }
        }
    }
}
