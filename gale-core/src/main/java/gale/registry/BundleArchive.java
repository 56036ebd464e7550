package gale.registry;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.List;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;

/**
 * Unpacks a bundle zip safely: no paths outside the target, and at most {@link BundleLimits}
 * entries and bytes. The bytes are counted as they are written, never taken from the zip's
 * own size fields, which a zip bomb can fake; those fields only serve to refuse early.
 */
final class BundleArchive {

    /** Longer paths hit the file system's limits (4096 bytes with the data dir in front, 255 per name). */
    static final int MAX_PATH_CHARS = 1024;
    static final int MAX_NAME_BYTES = 255;

    private BundleArchive() {
    }

    /**
     * Unpacks {@code zip} into {@code target}. A zip whose only top-level entry is a
     * folder (what "compress folder" makes) is unpacked from inside that folder, so
     * main.py lands at the bundle root either way, unless that folder is a Python package
     * (an {@code __init__.py}), which the entry point names as such. {@code target} must not exist; on failure
     * it is deleted with all that was written, so a half-unpacked bundle never looks unpacked.
     */
    static void unpack(Path zip, Path target, BundleLimits limits) throws IOException {
        try {
            unpackInto(zip, target, limits);
        } catch (IOException | RuntimeException e) {
            Registry.deleteTree(target);
            throw e;
        }
    }

    private static void unpackInto(Path zip, Path target, BundleLimits limits) throws IOException {
        int files = 0;
        // ZipFile reads the central directory, the zip's table of contents that unzip also trusts,
        // so the entry count is known before anything is written.
        try (ZipFile archive = new ZipFile(zip.toFile())) {
            if (archive.size() > limits.files()) throw new InvalidBundleException(limits.tooManyFiles(archive.size()));
            if (declaredBytes(archive) > limits.expanded().bytes()) {
                throw new InvalidBundleException(limits.expandedRefused("declares"));
            }
            Files.createDirectories(target);
            long written = 0;
            for (ZipEntry entry : Collections.list(archive.entries())) {
                Path out = resolve(target, entry.getName());
                try {
                    if (entry.isDirectory()) {
                        Files.createDirectories(out);
                        continue;
                    }
                    Files.createDirectories(out.getParent());
                    try (InputStream in = archive.getInputStream(entry);
                         OutputStream o = Files.newOutputStream(out, StandardOpenOption.CREATE_NEW)) {
                        written = copy(entry, in, o, written, limits);
                    }
                } catch (FileAlreadyExistsException e) {
                    throw new InvalidBundleException("bundle entry '" + entry.getName() + "' clashes with another entry "
                            + "(the same file twice, or a file and a folder of one name); zip the folder again");
                }
                files++;
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

    /** The sizes the zip claims: a bomb that tells the truth is refused before a byte is written. */
    private static long declaredBytes(ZipFile archive) {
        long sum = 0;
        for (ZipEntry entry : Collections.list(archive.entries())) {
            long size = Math.max(entry.getSize(), 0);
            sum = sum > Long.MAX_VALUE - size ? Long.MAX_VALUE : sum + size; // zip64 sizes can reach 2^63
        }
        return sum;
    }

    private static Path resolve(Path target, String name) throws InvalidBundleException {
        if (name.length() > MAX_PATH_CHARS) {
            throw new InvalidBundleException("bundle entry '" + name.substring(0, 80) + "...' has a path of " + name.length()
                    + " characters; paths in a bundle may have at most " + MAX_PATH_CHARS);
        }
        for (String part : name.split("/")) {
            if (part.getBytes(StandardCharsets.UTF_8).length > MAX_NAME_BYTES) {
                throw new InvalidBundleException("bundle entry '" + name + "' has a file or folder name over "
                        + MAX_NAME_BYTES + " bytes, more than file systems allow");
            }
        }
        Path out;
        try {
            out = target.resolve(name).normalize();
        } catch (InvalidPathException e) {
            throw new InvalidBundleException("bundle entry '" + name + "' is not a valid file name ("
                    + e.getReason() + "); zip the folder again");
        }
        if (!out.startsWith(target)) {
            throw new InvalidBundleException("bundle entry '" + name + "' points outside the bundle");
        }
        return out;
    }

    /** Copies one entry, stopping before the bundle's written bytes would pass the limit. */
    private static long copy(ZipEntry entry, InputStream in, OutputStream out, long written, BundleLimits limits)
            throws IOException {
        byte[] buffer = new byte[64 * 1024];
        while (true) {
            int n;
            try {
                n = in.read(buffer);
            } catch (IOException e) { // the zip lies on local disk: a failed read is a broken archive
                throw new InvalidBundleException("bundle entry '" + entry.getName() + "' cannot be unpacked (" + e.getMessage()
                        + "); zip the folder again");
            }
            if (n < 0) return written;
            written += n;
            if (written > limits.expanded().bytes()) throw new InvalidBundleException(limits.expandedRefused("unpacks to"));
            out.write(buffer, 0, n);
        }
    }

    private static void hoistSingleFolder(Path target) throws IOException {
        List<Path> top;
        try (var list = Files.list(target)) {
            top = list.toList();
        }
        if (top.size() != 1 || !Files.isDirectory(top.getFirst())) return;
        Path inner = top.getFirst();
        if (Files.isRegularFile(inner.resolve("__init__.py"))) return; // a Python package: `myapp.web:app` needs it as it is
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
