package gale.blob;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Path;

/**
 * Content-addressed bytes that every node of a shared store can fetch (the store's blob_chunks on PostgreSQL,
 * docs/postgresql.md). A node's {@link BlobStore} is its cache of them. {@link #NONE} for one node on SQLite: the bytes
 * are in its data dir only, stored once.
 */
public interface SharedBlobs {

    /** Stores the bytes of {@code file} under {@code digest}, unless they are there already. */
    void publish(String digest, Path file) throws IOException;

    /** Writes the bytes of {@code digest} to {@code out} (not closed); false, having written nothing, when there are none. */
    boolean copyTo(String digest, OutputStream out) throws IOException;

    /** Deletes the bytes of {@code digest} unless a bundle or a blob version still names it. */
    void deleteIfUnused(String digest);

    /**
     * Digests a bundle or blob version names whose bytes are not shared (kept before the store shared them, or by a
     * node that went away before it published them): a node that has them publishes them at start.
     */
    java.util.List<String> unpublished();

    /** One node: nothing is shared. */
    SharedBlobs NONE = new SharedBlobs() {
        @Override
        public void publish(String digest, Path file) {
        }

        @Override
        public boolean copyTo(String digest, OutputStream out) {
            return false;
        }

        @Override
        public void deleteIfUnused(String digest) {
        }

        @Override
        public java.util.List<String> unpublished() {
            return java.util.List.of();
        }
    };
}
