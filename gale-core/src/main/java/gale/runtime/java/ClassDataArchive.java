package gale.runtime.java;

import gale.runtime.HelperProcess;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A version's class-data archive: the classes an instance loads at start (the JDK's, gale-api's,
 * the function's), parsed and laid out once by a training run ({@code Bootstrap --train}), then
 * mapped by every instance instead of being loaded from jars again.
 *
 * <p>On JDK 25 and later it is an AOT cache (JEP 483/514), which also keeps classes linked;
 * before, a dynamic AppCDS archive. An archive is made for one JVM, one set of flags and one
 * classpath, so its file name carries a digest of all three: change any and a new archive is
 * trained, while the JVM ignores (-Xshare:auto) an archive that does not match.
 */
final class ClassDataArchive {

    private static final Logger LOG = LoggerFactory.getLogger(ClassDataArchive.class);
    private static final Duration TRAINING_TIMEOUT = Duration.ofMinutes(2);

    enum Kind {
        AOT_CACHE("-XX:AOTCacheOutput=", "-XX:AOTCache=", ".aot"),
        APP_CDS("-XX:ArchiveClassesAtExit=", "-XX:SharedArchiveFile=", ".jsa");

        private final String createFlag;
        private final String useFlag;
        private final String extension;

        Kind(String createFlag, String useFlag, String extension) {
            this.createFlag = createFlag;
            this.useFlag = useFlag;
            this.extension = extension;
        }

        /** AOT caches made in one training run exist from JDK 25 (JEP 514); dynamic AppCDS archives from JDK 13. */
        static Kind forJava(int feature) {
            return feature >= 25 ? AOT_CACHE : APP_CDS;
        }
    }

    private final Kind kind;
    private final Path file;
    private final Path failedMarker;

    private ClassDataArchive(Kind kind, Path file) {
        this.kind = kind;
        this.file = file;
        this.failedMarker = file.resolveSibling(file.getFileName() + ".failed");
    }

    /**
     * The archive in {@code javaDir} for this JVM, these flags and this classpath (it may not exist yet).
     *
     * @param jarsStamp identifies the content of a jar that can change under the same path (gale-api.jar after an upgrade)
     */
    static ClassDataArchive of(Path javaDir, Kind kind, String java, List<String> jvmOptions, String classpath, String jarsStamp) {
        String key = String.join("\n", java, Runtime.version().toString(), kind.name(), String.join(" ", jvmOptions), classpath,
                jarsStamp);
        return new ClassDataArchive(kind, javaDir.resolve("classes-" + digest(key) + kind.extension));
    }

    Path file() {
        return file;
    }

    Kind kind() {
        return kind;
    }

    boolean exists() {
        return Files.isRegularFile(file);
    }

    /** A training run failed for this archive before; instances start without one rather than train on every start. */
    boolean failedBefore() {
        return Files.exists(failedMarker);
    }

    /** The flag that makes an instance map this archive. */
    String useFlag() {
        return kind.useFlag + file;
    }

    /**
     * Runs {@code java <jvmOptions> -XX:...=archive -cp <classpath> Bootstrap --train} and keeps
     * the archive when it succeeded; otherwise leaves a marker with the reason.
     *
     * @param java      the command that starts java: the binary, behind the sandbox's prefix when sandboxed
     * @param outputDir where the training run writes the archive (and the JVM its temporary files): the one folder
     *                  a sandboxed run may write; the archive is moved into place from there
     */
    void train(List<String> java, List<String> jvmOptions, String classpath, Path workDir, Path outputDir, Map<String, String> env) {
        Path partial = outputDir.resolve(file.getFileName() + ".partial");
        Path staged = file.resolveSibling(file.getFileName() + ".partial");
        List<String> command = new ArrayList<>(java);
        command.addAll(jvmOptions);
        command.add(kind.createFlag + partial);
        command.addAll(List.of("-cp", classpath, ApiJar.BOOTSTRAP_CLASS, "--train"));
        long started = System.nanoTime();
        Path log = file.resolveSibling(file.getFileName() + ".log");
        try {
            Files.deleteIfExists(partial);
            var result = HelperProcess.run(command, workDir, env, TRAINING_TIMEOUT, Optional.of(log));
            if (result.exitCode() == 0 && Files.isRegularFile(partial)) {
                Files.move(partial, staged, StandardCopyOption.REPLACE_EXISTING); // a copy when on another file system
                Files.move(staged, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                LOG.info("class-data archive {} made in {} ms ({} KB)", file, Duration.ofNanos(System.nanoTime() - started).toMillis(),
                        Files.size(file) >> 10);
                return;
            }
            String why = result.timedOut() ? "no result within " + TRAINING_TIMEOUT.toSeconds() + " s"
                    : "exit code " + result.exitCode() + ": " + result.tail(5);
            LOG.warn("no class-data archive for {}: the training run failed ({}); instances start without one", file.getParent(), why);
            Files.writeString(failedMarker, why + "\n", StandardCharsets.UTF_8);
        } catch (IOException e) {
            LOG.warn("no class-data archive for {}: {}", file.getParent(), e.getMessage());
        } finally {
            try {
                Files.deleteIfExists(partial);
                Files.deleteIfExists(staged);
            } catch (IOException ignored) {
                // a leftover partial file is never used
            }
        }
    }

    private static String digest(String key) {
        try {
            byte[] hash = MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(hash, 0, 6);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
