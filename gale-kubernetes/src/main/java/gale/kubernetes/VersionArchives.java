package gale.kubernetes;

import gale.runtime.DeployFailure;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * The files a version's pods need that their image does not hold, as zip archives made once per
 * version, in the version's folder: {@code task} (the unpacked bundle) and, when requirements.txt
 * had to be installed, {@code packages} (the site-packages of the version's virtual environment).
 * They reach each pod over its connection, with their SHA-256, which the pod checks before it
 * unpacks them (docs/protocol.md, "Over TCP"). A digest file is written last, so an archive
 * without one (a crash while making it) is made again.
 */
final class VersionArchives {

    /** One archive: its name in SETUP, its file, its "sha256:..." digest and its size. */
    record Archive(String name, Path file, String digest, long bytes) {
    }

    private VersionArchives() {
    }

    /**
     * The version's archives, made now unless a start before made them.
     *
     * @param environment the virtual environment {@code PythonRuntime.prepare} made, if any
     */
    static List<Archive> prepare(Path bundleDir, Optional<Path> environment, Path versionDir) throws DeployFailure {
        Path dir = versionDir.resolve("pod");
        List<Archive> archives = new ArrayList<>();
        try {
            Files.createDirectories(dir);
            archives.add(archive("task", bundleDir, dir));
            if (environment.isPresent()) archives.add(archive("packages", sitePackages(environment.get()), dir));
        } catch (IOException e) {
            throw new DeployFailure("could not pack the bundle for the version's pods: " + e.getMessage());
        }
        return List.copyOf(archives);
    }

    private static Archive archive(String name, Path from, Path dir) throws IOException {
        Path zip = dir.resolve(name + ".zip");
        Path digestFile = dir.resolve(name + ".sha256");
        if (Files.isRegularFile(digestFile) && Files.isRegularFile(zip)) {
            return new Archive(name, zip, Files.readString(digestFile, StandardCharsets.UTF_8).strip(), Files.size(zip));
        }
        Path partial = dir.resolve(name + ".zip.partial");
        MessageDigest sha256 = sha256();
        try (OutputStream out = new DigestOutputStream(new BufferedOutputStream(Files.newOutputStream(partial)), sha256);
             ZipOutputStream zipped = new ZipOutputStream(out);
             Stream<Path> files = Files.walk(from)) {
            for (Path file : (Iterable<Path>) files.filter(Files::isRegularFile).sorted()::iterator) {
                zipped.putNextEntry(new ZipEntry(from.relativize(file).toString().replace(java.io.File.separatorChar, '/')));
                Files.copy(file, zipped);
                zipped.closeEntry();
            }
        }
        Files.move(partial, zip, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        String digest = "sha256:" + HexFormat.of().formatHex(sha256.digest());
        Files.writeString(digestFile, digest + "\n", StandardCharsets.UTF_8);
        return new Archive(name, zip, digest, Files.size(zip));
    }

    /** The site-packages folder of a virtual environment: lib/python3.X/site-packages. */
    private static Path sitePackages(Path venv) throws IOException {
        try (Stream<Path> libs = Files.list(venv.resolve("lib"))) {
            return libs.map(lib -> lib.resolve("site-packages")).filter(Files::isDirectory).findFirst()
                    .orElseThrow(() -> new IOException("no lib/python3.*/site-packages in " + venv));
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
