package gale.runtime;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;

/**
 * The one place an instance's secret files are written (docs/secrets.md): a folder inside the
 * instance's own scratch folder, so the sandbox that lets the instance write its scratch lets it read
 * them, no other instance's sandbox shows them, and they go when the scratch folder goes at exit.
 */
public final class SecretFiles {

    /** The variable naming the folder; set only when the function has file grants. */
    public static final String VARIABLE = "GALE_SECRETS_DIR";
    static final String FOLDER = ".gale-secrets";

    private SecretFiles() {
    }

    /**
     * Writes {@code files} into {@code scratch}/.gale-secrets (folder 0700, files 0400) and adds
     * {@link #VARIABLE} to {@code env}; does nothing when there are none.
     */
    public static void write(Path scratch, Map<String, byte[]> files, Map<String, String> env) {
        if (files.isEmpty()) return;
        Path dir = scratch.resolve(FOLDER);
        try {
            Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            for (Map.Entry<String, byte[]> file : files.entrySet()) {
                Path path = dir.resolve(file.getKey());
                if (!path.getParent().equals(dir)) throw new IllegalArgumentException("secret file " + file.getKey() + " is not a plain name");
                Files.write(Files.createFile(path, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"))),
                        file.getValue());
                Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("r--------"));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the secret files into " + dir + ": " + e.getMessage(), e);
        }
        env.put(VARIABLE, dir.toString());
    }
}
