package gale.client;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * The zip a deploy uploads: a given {@code .zip} as it is, or a folder zipped into a temporary
 * file that {@link #close()} deletes.
 */
final class SourceBundle implements AutoCloseable {

    /** Folders that never belong in a bundle: version control, caches, local environments, Gale's own data. */
    static final Set<String> SKIPPED_FOLDERS = Set.of(".git", "__pycache__", ".gale", ".venv", "venv", "node_modules");

    // A fixed timestamp makes the same folder zip to the same bytes, so its digest says "nothing changed".
    private static final LocalDateTime ENTRY_TIME = LocalDateTime.of(1980, 1, 1, 0, 0);

    private final Path zip;
    private final boolean temporary;

    private SourceBundle(Path zip, boolean temporary) {
        this.zip = zip;
        this.temporary = temporary;
    }

    static SourceBundle of(Path source) {
        if (Files.isDirectory(source)) return zipToTemporaryFile(source);
        if (Files.isRegularFile(source) && source.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".zip")) {
            return new SourceBundle(source, false);
        }
        throw new IllegalArgumentException("source " + source.toAbsolutePath()
                + (Files.exists(source) ? " is neither a folder nor a .zip file" : " does not exist")
                + ": pass the folder holding your main.py, or a .zip of it");
    }

    Path zip() {
        return zip;
    }

    /** Writes the bundle's files, sorted by path, with '/' separators, skipping {@link #SKIPPED_FOLDERS} and *.pyc. */
    static void zipFolder(Path folder, OutputStream out) throws IOException {
        List<Path> files = files(folder);
        if (files.isEmpty()) {
            throw new IllegalArgumentException("folder " + folder.toAbsolutePath() + " has no files to deploy"
                    + " (skipped: " + String.join(", ", SKIPPED_FOLDERS.stream().sorted().toList()) + ", *.pyc)");
        }
        try (ZipOutputStream zip = new ZipOutputStream(out)) {
            for (Path file : files) {
                ZipEntry entry = new ZipEntry(entryName(file));
                entry.setTimeLocal(ENTRY_TIME);
                zip.putNextEntry(entry);
                Files.copy(folder.resolve(file), zip);
                zip.closeEntry();
            }
        }
    }

    @Override
    public void close() {
        if (!temporary) return;
        try {
            Files.deleteIfExists(zip);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete temporary bundle " + zip, e);
        }
    }

    private static SourceBundle zipToTemporaryFile(Path folder) {
        SourceBundle bundle = new SourceBundle(temporaryFile(), true);
        try (OutputStream out = Files.newOutputStream(bundle.zip)) {
            zipFolder(folder, out);
            return bundle;
        } catch (IOException e) {
            bundle.close();
            throw new UncheckedIOException("cannot zip " + folder.toAbsolutePath() + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            bundle.close();
            throw e;
        }
    }

    private static Path temporaryFile() {
        try {
            return Files.createTempFile("gale-bundle-", ".zip");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a temporary file for the bundle: " + e.getMessage(), e);
        }
    }

    /** Regular files under {@code folder}, relative to it, sorted; without what its ignore file excludes. */
    private static List<Path> files(Path folder) throws IOException {
        List<Path> files = new ArrayList<>();
        IgnoreRules ignore = IgnoreRules.of(folder);
        Files.walkFileTree(folder, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) {
                if (dir.equals(folder)) return FileVisitResult.CONTINUE;
                boolean skipped = SKIPPED_FOLDERS.contains(dir.getFileName().toString())
                        || ignore.ignores(entryName(folder.relativize(dir)), true);
                return skipped ? FileVisitResult.SKIP_SUBTREE : FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
                if (Files.isRegularFile(file) && !file.getFileName().toString().endsWith(".pyc")
                        && !ignore.ignores(entryName(folder.relativize(file)), false)) {
                    files.add(folder.relativize(file));
                }
                return FileVisitResult.CONTINUE;
            }
        });
        files.sort(Comparator.comparing(SourceBundle::entryName));
        return files;
    }

    private static String entryName(Path relative) {
        return relative.toString().replace(relative.getFileSystem().getSeparator(), "/");
    }
}
