package gale.blob;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * Content-addressed blobs in a directory: a blob's key is the SHA-256 of its bytes,
 * so storing the same bundle twice costs nothing and a stored blob never changes.
 */
public final class BlobStore {

    private final Path root;

    public BlobStore(Path root) {
        this.root = root;
        try {
            Files.createDirectories(root.resolve("sha256"));
            Files.createDirectories(root.resolve("incoming"));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the blob directory " + root, e);
        }
    }

    /** A stored blob: its digest ("sha256:hex") and size. */
    public record Blob(String digest, long bytes) {
    }

    /** Streams {@code in} into the store (it is read to the end, not closed) and returns its digest. */
    public Blob put(InputStream in) throws IOException {
        Path tmp = Files.createTempFile(root.resolve("incoming"), "blob-", ".part");
        try {
            MessageDigest sha = sha256();
            long bytes;
            try (DigestInputStream digesting = new DigestInputStream(in, sha)) {
                bytes = Files.copy(digesting, tmp, StandardCopyOption.REPLACE_EXISTING);
            }
            String hex = HexFormat.of().formatHex(sha.digest());
            Path target = pathOf(hex);
            if (!Files.exists(target)) {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            }
            return new Blob("sha256:" + hex, bytes);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** The file holding a blob; it exists for every digest {@link #put} returned. */
    public Path path(String digest) {
        if (!digest.startsWith("sha256:")) throw new IllegalArgumentException("not a blob digest: " + digest);
        return pathOf(digest.substring("sha256:".length()));
    }

    public void delete(String digest) throws IOException {
        Files.deleteIfExists(path(digest));
    }

    private Path pathOf(String hex) {
        if (!hex.matches("[0-9a-f]{64}")) throw new IllegalArgumentException("not a sha256 digest: " + hex);
        return root.resolve("sha256").resolve(hex);
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
    }
}
