package gale.registry;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipInputStream;

/** Unpacks a bundle zip safely: no paths outside the target, bounded total size. */
final class BundleArchive {

    /** Largest unpacked bundle: models are big, but not this big. */
    static final long MAX_UNPACKED_BYTES = 4L << 30;

    private BundleArchive() {
    }

    /**
     * Unpacks {@code zip} into {@code target}. A zip whose only top-level entry is a
     * folder (what "compress folder" makes) is unpacked from inside that folder, so
     * main.py lands at the bundle root either way.
     */
    static void unpack(Path zip, Path target) throws IOException {
        Files.createDirectories(target);
        long total = 0;
        int files = 0;
        try (InputStream raw = Files.newInputStream(zip); ZipInputStream in = new ZipInputStream(raw)) {
            ZipEntry entry;
            while ((entry = in.getNextEntry()) != null) {
                Path out = target.resolve(entry.getName()).normalize();
                if (!out.startsWith(target)) {
                    throw new InvalidBundleException("bundle entry '" + entry.getName() + "' points outside the bundle");
                }
                if (entry.isDirectory()) {
                    Files.createDirectories(out);
                    continue;
                }
                Files.createDirectories(out.getParent());
                total += Files.copy(in, out);
                files++;
                if (total > MAX_UNPACKED_BYTES) {
                    throw new InvalidBundleException("bundle unpacks to more than " + (MAX_UNPACKED_BYTES >> 30) + " GB");
                }
            }
        } catch (ZipException e) {
            throw new InvalidBundleException("bundle is not a valid zip archive (" + e.getMessage() + "); "
                    + "pass a folder or a .zip to gale deploy --source");
        }
        if (files == 0) {
            throw new InvalidBundleException("bundle is empty or not a zip archive; pass a folder or a .zip with your main.py");
        }
        hoistSingleFolder(target);
    }

    private static void hoistSingleFolder(Path target) throws IOException {
        List<Path> top;
        try (var list = Files.list(target)) {
            top = list.toList();
        }
        if (top.size() != 1 || !Files.isDirectory(top.getFirst())) return;
        Path inner = top.getFirst();
        Path moved = target.resolveSibling(target.getFileName() + ".inner");
        Files.move(inner, moved);
        Files.delete(target);
        Files.move(moved, target);
    }

    /** The bundle cannot be used as given; nothing was created. */
    static final class InvalidBundleException extends IOException {
        InvalidBundleException(String message) {
            super(message);
        }
    }
}
