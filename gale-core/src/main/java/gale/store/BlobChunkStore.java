package gale.store;

import gale.blob.SharedBlobs;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Arrays;

/**
 * The bytes of bundles and blobs in the store's blob_chunks table, for the nodes of a shared PostgreSQL store
 * (docs/postgresql.md): 1 MB chunks, all of a digest written in one transaction (chunk 0 present means all are),
 * read one chunk at a time, so no file is ever whole in memory.
 *
 * <p>Publishing and deleting a digest take a lock on it (on PostgreSQL a transaction-scoped advisory lock; SQLite has
 * one writer anyway), so a delete that found no bundle or blob version naming the digest cannot interleave with a
 * publish of the same bytes: a writer publishes again after its row is committed ({@code BlobStore.publish}), and then
 * either the delete saw the row or the publish sees the chunks gone and writes them again.
 */
public final class BlobChunkStore implements SharedBlobs {

    /** The size of every chunk but a digest's last. */
    public static final int CHUNK_BYTES = 1024 * 1024;

    private final Jdbi jdbi;
    private final boolean postgresql;

    BlobChunkStore(Jdbi jdbi, boolean postgresql) {
        this.jdbi = jdbi;
        this.postgresql = postgresql;
    }

    @Override
    public void publish(String digest, Path file) throws IOException {
        try {
            jdbi.useTransaction(h -> {
                lock(h, digest);
                if (has(h, digest)) return;
                write(h, digest, file);
            });
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }

    /** True when the store holds the bytes of {@code digest}. */
    public boolean has(String digest) {
        return jdbi.withHandle(h -> has(h, digest));
    }

    private static boolean has(Handle h, String digest) {
        return h.createQuery("SELECT COUNT(*) FROM blob_chunks WHERE digest = :d AND chunk = 0")
                .bind("d", digest).mapTo(Long.class).one() > 0;
    }

    /** Streams the file in chunks of {@link #CHUNK_BYTES}; an empty file is one empty chunk, so chunk 0 always exists. */
    private static void write(Handle h, String digest, Path file) {
        try (InputStream in = Files.newInputStream(file);
             PreparedStatement ps = h.getConnection().prepareStatement("INSERT INTO blob_chunks (digest, chunk, bytes) VALUES (?, ?, ?)")) {
            byte[] buffer = new byte[CHUNK_BYTES];
            for (int chunk = 0; ; chunk++) {
                int n = in.readNBytes(buffer, 0, CHUNK_BYTES);
                if (n == 0 && chunk > 0) return;
                ps.setString(1, digest);
                ps.setInt(2, chunk);
                ps.setBytes(3, n == CHUNK_BYTES ? buffer : Arrays.copyOf(buffer, n));
                ps.executeUpdate();
                if (n < CHUNK_BYTES) return;
            }
        } catch (IOException e) {
            throw new UncheckedIOException("could not read " + file + " to store it as " + digest + ": " + e.getMessage(), e);
        } catch (SQLException e) {
            throw new IllegalStateException("could not store the bytes of " + digest + ": " + e.getMessage(), e);
        }
    }

    /** Reads chunk by chunk on one connection; a chunk shorter than {@link #CHUNK_BYTES}, or none, ends the bytes. */
    @Override
    public boolean copyTo(String digest, OutputStream out) throws IOException {
        try {
            return jdbi.withHandle(h -> {
                try (PreparedStatement ps = h.getConnection().prepareStatement(
                        "SELECT bytes FROM blob_chunks WHERE digest = ? AND chunk = ?")) {
                    for (int chunk = 0; ; chunk++) {
                        ps.setString(1, digest);
                        ps.setInt(2, chunk);
                        byte[] bytes;
                        try (ResultSet rs = ps.executeQuery()) {
                            if (!rs.next()) return chunk > 0;
                            bytes = rs.getBytes(1);
                        }
                        out.write(bytes);
                        if (bytes.length < CHUNK_BYTES) return true;
                    }
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                } catch (SQLException e) {
                    throw new IllegalStateException("could not read the bytes of " + digest + " from the store: " + e.getMessage(), e);
                }
            });
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }

    @Override
    public void deleteIfUnused(String digest) {
        jdbi.useTransaction(h -> {
            lock(h, digest);
            h.createUpdate("""
                            DELETE FROM blob_chunks WHERE digest = :d
                              AND NOT EXISTS (SELECT 1 FROM versions WHERE bundle_digest = :d)
                              AND NOT EXISTS (SELECT 1 FROM blob_versions WHERE digest = :d)""")
                    .bind("d", digest).execute();
        });
    }

    @Override
    public java.util.List<String> unpublished() {
        return jdbi.withHandle(h -> h.createQuery("""
                        SELECT bundle_digest AS digest FROM versions
                          WHERE NOT EXISTS (SELECT 1 FROM blob_chunks c WHERE c.digest = bundle_digest AND c.chunk = 0)
                        UNION
                        SELECT digest FROM blob_versions
                          WHERE NOT EXISTS (SELECT 1 FROM blob_chunks c WHERE c.digest = blob_versions.digest AND c.chunk = 0)""")
                .mapTo(String.class).list());
    }

    /** Until the transaction ends, no other publish or delete of this digest runs (the key: the digest's first 64 bits). */
    private void lock(Handle h, String digest) {
        if (!postgresql) return; // SQLite's transactions are IMMEDIATE: one writer at a time
        String hex = digest.substring(digest.indexOf(':') + 1);
        long key = Long.parseUnsignedLong(hex.substring(0, 16), 16);
        try (var statement = h.getConnection().createStatement()) {
            statement.execute("SELECT pg_advisory_xact_lock(" + key + ")");
        } catch (SQLException e) {
            throw new IllegalStateException("could not lock " + digest + " in the store: " + e.getMessage(), e);
        }
    }
}
