package gale.blob;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * Content-addressed blobs in a directory: a blob's key is the SHA-256 of its bytes,
 * so storing the same bundle twice costs nothing and a stored blob never changes.
 *
 * <p>When several nodes share a store, the directory is this node's cache of {@link SharedBlobs}: what a node keeps is
 * published there too, and what it lacks is fetched from there on first use ({@link #fetch}), checked against its
 * digest, and cached.
 */
public final class BlobStore {

    private final Path root;
    private final SharedBlobs shared;
    /** One fetch of a digest at a time: a second caller waits and finds the file. */
    private final java.util.Map<String, java.util.concurrent.locks.ReentrantLock> fetching = new java.util.concurrent.ConcurrentHashMap<>();

    /** Blobs of one node: nothing is shared. */
    public BlobStore(Path root) {
        this(root, SharedBlobs.NONE);
    }

    public BlobStore(Path root, SharedBlobs shared) {
        this.root = root;
        this.shared = shared;
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

        /**
         * Moves the blob into the store (a no-op when the same bytes are there already), publishes it to the other
         * nodes, and returns it.
         */
        public Blob keep() throws IOException {
            Path target = BlobStore.this.path(blob.digest());
            if (!Files.exists(target)) Files.move(file, target, StandardCopyOption.ATOMIC_MOVE);
            shared.publish(blob.digest(), target);
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

    /**
     * The file holding a blob, fetched first when this node lacks it: from the shared store into incoming/, checked
     * against its digest, then moved into place, so a half-fetched or corrupt file is never seen under the digest.
     *
     * @throws NoSuchFileException when neither this node nor the shared store has the bytes
     */
    public Path fetch(String digest) throws IOException {
        Path target = path(digest);
        if (Files.exists(target) || shared == SharedBlobs.NONE) return target;
        var lock = fetching.computeIfAbsent(digest, d -> new java.util.concurrent.locks.ReentrantLock());
        lock.lock();
        try {
            if (Files.exists(target)) return target;
            Path tmp = Files.createTempFile(root.resolve("incoming"), "fetch-", ".part");
            try {
                MessageDigest sha = sha256();
                boolean found;
                try (OutputStream out = new java.security.DigestOutputStream(Files.newOutputStream(tmp), sha)) {
                    found = shared.copyTo(digest, out);
                }
                if (!found) {
                    throw new NoSuchFileException(target.toString(), null, "the bytes of " + digest
                            + " are neither in this node's data dir nor in the store");
                }
                String got = "sha256:" + HexFormat.of().formatHex(sha.digest());
                if (!got.equals(digest)) {
                    throw new IOException("the store's bytes of " + digest + " hash to " + got + "; they are corrupt");
                }
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
                return target;
            } finally {
                Files.deleteIfExists(tmp);
            }
        } finally {
            lock.unlock();
            fetching.remove(digest, lock);
        }
    }

    /**
     * Publishes a kept blob to the other nodes again, if a delete elsewhere took it away meanwhile: a writer calls this
     * once the row that names the digest is committed (see {@code BlobChunkStore}).
     */
    public void publish(String digest) throws IOException {
        if (shared == SharedBlobs.NONE) return;
        shared.publish(digest, path(digest));
    }

    /** Publishes the blob if this node has it (see {@link SharedBlobs#unpublished}); true when it did. */
    public boolean publishIfHere(String digest) throws IOException {
        if (shared == SharedBlobs.NONE || !Files.exists(path(digest))) return false;
        shared.publish(digest, path(digest));
        return true;
    }

    /** Deletes the blob here and, unless a bundle or blob version still names it, from the shared store. */
    public void delete(String digest) throws IOException {
        Files.deleteIfExists(path(digest));
        shared.deleteIfUnused(digest);
    }

    /** Deletes this node's copy only (another node deleted what named it; the shared store's copy is that node's to delete). */
    public void evict(String digest) throws IOException {
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
