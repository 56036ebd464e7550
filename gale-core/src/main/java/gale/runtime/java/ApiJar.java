package gale.runtime.java;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.LocalDateTime;
import java.util.Arrays;
import java.util.Optional;
import java.util.TreeMap;
import java.util.jar.JarFile;
import java.util.jar.Manifest;
import java.util.jar.JarOutputStream;
import java.util.zip.ZipEntry;

/**
 * The gale-api jar every Java instance runs with. Gale carries the gale-api classes
 * (module gale-api) on its own classpath, inside its jar; at start they are written out as
 * {@code <runtime dir>/java/gale-api.jar}, the way the Python bootstrap is unpacked.
 *
 * <p>The jar is written byte-for-byte the same for the same classes and only when its content
 * changed, because class-data archives made for a version record its size and time and
 * stop matching when it is rewritten.
 */
final class ApiJar {

    private static final Logger LOG = LoggerFactory.getLogger(ApiJar.class);
    /** Where the classes are taken from; the class every instance starts with. */
    static final String BOOTSTRAP_CLASS = "gale.api.internal.Bootstrap";
    /** Development override: a gale-api jar or classes folder to use instead of the classes on Gale's classpath. */
    static final String OVERRIDE_PROPERTY = "gale.api.jar";
    static final String FILE_NAME = "gale-api.jar";

    private static final String PACKAGE = "gale/api/";
    private static final String MARKER = BOOTSTRAP_CLASS.replace('.', '/') + ".class";
    private static final LocalDateTime ENTRY_TIME = LocalDateTime.of(2000, 1, 1, 0, 0);

    private ApiJar() {
    }

    /**
     * Writes the jar into {@code runtimeDir/java}.
     *
     * @return the jar, or empty when this Gale build carries no gale-api (Java deploys then fail saying so)
     */
    static Optional<Path> install(Path runtimeDir) {
        Optional<Path> source = locate();
        if (source.isEmpty()) {
            LOG.warn("the gale-api classes are not on Gale's classpath; Java functions cannot run (build Gale with its gale-api module)");
            return Optional.empty();
        }
        Path jar = runtimeDir.resolve("java").resolve(FILE_NAME);
        try {
            byte[] content = pack(source.get());
            Files.createDirectories(jar.getParent());
            if (Files.isRegularFile(jar) && Arrays.equals(Files.readAllBytes(jar), content)) return Optional.of(jar);
            Path tmp = Files.createTempFile(jar.getParent(), FILE_NAME, ".tmp");
            Files.write(tmp, content);
            Files.move(tmp, jar, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            LOG.debug("gale-api written to {} from {}", jar, source.get());
            return Optional.of(jar);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the gale-api jar " + jar + " from " + source.get(), e);
        }
    }

    /** A jar or a classes folder holding gale/api/**: the override, else wherever Gale loaded the bootstrap class from. */
    static Optional<Path> locate() {
        String override = System.getProperty(OVERRIDE_PROPERTY, "").trim();
        if (!override.isEmpty()) {
            Path p = Path.of(override).toAbsolutePath().normalize();
            if (!Files.exists(p)) throw new IllegalStateException(OVERRIDE_PROPERTY + " names " + p + ", which does not exist");
            return Optional.of(p);
        }
        URL url = ApiJar.class.getClassLoader().getResource(MARKER);
        if (url == null) return Optional.empty();
        try {
            return switch (url.getProtocol()) {
                case "file" -> { // .../classes/gale/api/internal/Bootstrap.class
                    Path cls = Path.of(url.toURI());
                    Path root = cls;
                    for (int i = 0; i < MARKER.split("/").length; i++) root = root.getParent();
                    yield Optional.of(root);
                }
                case "jar" -> { // jar:file:/.../gale.jar!/gale/api/internal/Bootstrap.class
                    String spec = url.getPath();
                    yield Optional.of(Path.of(new URI(spec.substring(0, spec.indexOf("!/")))));
                }
                default -> Optional.empty();
            };
        } catch (URISyntaxException | RuntimeException e) {
            LOG.warn("cannot tell where the gale-api classes come from ({}): {}", url, e.toString());
            return Optional.empty();
        }
    }

    /** A jar of everything under gale/api/ in {@code source}: sorted entries, fixed times, so equal input gives equal bytes. */
    static byte[] pack(Path source) throws IOException {
        TreeMap<String, byte[]> entries = new TreeMap<>();
        if (Files.isDirectory(source)) {
            Path base = source.resolve(PACKAGE);
            if (Files.isDirectory(base)) {
                try (var walk = Files.walk(base)) {
                    for (Path p : walk.filter(Files::isRegularFile).toList()) {
                        entries.put(source.relativize(p).toString().replace('\\', '/'), Files.readAllBytes(p));
                    }
                }
            }
        } else {
            try (JarFile jar = new JarFile(source.toFile())) {
                for (var e : jar.stream().filter(e -> !e.isDirectory() && e.getName().startsWith(PACKAGE)).toList()) {
                    try (InputStream in = jar.getInputStream(e)) {
                        entries.put(e.getName(), in.readAllBytes());
                    }
                }
            }
        }
        if (!entries.containsKey(MARKER)) throw new IOException(source + " holds no " + MARKER + "; it is not gale-api");
        Manifest manifest = new Manifest();
        manifest.getMainAttributes().putValue("Manifest-Version", "1.0");
        manifest.getMainAttributes().putValue("Automatic-Module-Name", "dev.gale.api");
        var bytes = new ByteArrayOutputStream();
        try (JarOutputStream out = new JarOutputStream(bytes)) {
            ZipEntry m = new ZipEntry(JarFile.MANIFEST_NAME);
            m.setTimeLocal(ENTRY_TIME);
            out.putNextEntry(m);
            manifest.write(out);
            out.closeEntry();
            for (var e : entries.entrySet()) {
                ZipEntry entry = new ZipEntry(e.getKey());
                entry.setTimeLocal(ENTRY_TIME);
                out.putNextEntry(entry);
                out.write(e.getValue());
                out.closeEntry();
            }
        }
        return bytes.toByteArray();
    }
}
