package gale.blob;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
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

    /**
     * Streams {@code in} (read to the end, not closed) into a file under incoming/, hashing it on
     * the way. Nothing is in the store until {@link Incoming#keep}; closing the result without
     * keeping it deletes the file.
     *
     * @throws TooLargeException after {@code maxBytes} bytes, having read no further and kept nothing
     */
    public Incoming receive(InputStream in, long maxBytes) throws IOException {
        Path tmp = Files.createTempFile(root.resolve("incoming"), "blob-", ".part");
        try {
            MessageDigest sha = sha256();
            long bytes = 0;
            try (OutputStream out = Files.newOutputStream(tmp)) {
                byte[] buffer = new byte[64 * 1024];
                for (int n; (n = in.read(buffer)) > 0; ) {
                    bytes += n;
                    if (bytes > maxBytes) throw new TooLargeException(maxBytes);
                    sha.update(buffer, 0, n);
                    out.write(buffer, 0, n);
                }
            }
            return new Incoming(tmp, "sha256:" + HexFormat.of().formatHex(sha.digest()), bytes);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
    }

    /** A received blob not yet in the store: readable at {@link #path}, kept by {@link #keep}, else deleted on close. */
    public final class Incoming implements AutoCloseable {

        private final Path file;
        private final Blob blob;

        private Incoming(Path file, String digest, long bytes) {
            this.file = file;
            this.blob = new Blob(digest, bytes);
        }

        public Path path() {
            return file;
        }

        /** The digest and size it will be kept under. */
        public Blob blob() {
            return blob;
        }

        /** Moves the blob into the store (a no-op when the same bytes are there already) and returns it. */
        public Blob keep() throws IOException {
            Path target = BlobStore.this.path(blob.digest());
            if (!Files.exists(target)) Files.move(file, target, StandardCopyOption.ATOMIC_MOVE);
            return blob;
        }

        @Override
        public void close() throws IOException {
            Files.deleteIfExists(file);
        }
    }

    /** More bytes arrived than the caller allowed. */
    public static final class TooLargeException extends IOException {
        TooLargeException(long maxBytes) {
            super("more than " + maxBytes + " bytes");
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
