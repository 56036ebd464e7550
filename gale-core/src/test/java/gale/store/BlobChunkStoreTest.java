package gale.store;

import gale.blob.BlobCatalog;
import gale.blob.BlobStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.Optional;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The bytes of bundles and blobs in blob_chunks (V15), where every node of a shared store fetches them: on SQLite and,
 * in the store-on-postgresql run, on PostgreSQL (where {@link Store#sharedBlobs} answers this table).
 */
class BlobChunkStoreTest {

    @TempDir
    Path dir;

    @Test
    void bytesOfEverySizeComeBackAsTheyWentInInChunksOfOneMegabyte() throws IOException {
        try (Store store = TestStores.open(dir)) {
            BlobChunkStore chunks = store.chunks();
            int mb = BlobChunkStore.CHUNK_BYTES;
            for (int size : new int[] {0, 1, mb - 1, mb, mb + 1, 2 * mb + mb / 2}) {
                byte[] bytes = random(size);
                String digest = "sha256:%064x".formatted(size);
                chunks.publish(digest, file(bytes));

                var out = new ByteArrayOutputStream();
                assertThat(chunks.copyTo(digest, out)).as("size %d", size).isTrue();
                assertThat(out.toByteArray()).as("size %d", size).isEqualTo(bytes);
                assertThat(chunkRows(store, digest)).as("size %d", size).isEqualTo(Math.max(1, (size + mb - 1) / mb));
            }
        }
    }

    @Test
    void theSameDigestIsStoredOnce() throws IOException {
        try (Store store = TestStores.open(dir)) {
            byte[] bytes = random(BlobChunkStore.CHUNK_BYTES + 10);
            String digest = "sha256:" + "a".repeat(64);
            store.chunks().publish(digest, file(bytes));
            store.chunks().publish(digest, file(random(3))); // the digest says these are the same bytes: not read again

            var out = new ByteArrayOutputStream();
            store.chunks().copyTo(digest, out);
            assertThat(out.toByteArray()).isEqualTo(bytes);
            assertThat(chunkRows(store, digest)).isEqualTo(2);
        }
    }

    @Test
    void aDigestNotStoredIsNotFoundAndNothingIsWritten() throws IOException {
        try (Store store = TestStores.open(dir)) {
            var out = new ByteArrayOutputStream();
            assertThat(store.chunks().copyTo("sha256:" + "b".repeat(64), out)).isFalse();
            assertThat(out.size()).isZero();
        }
    }

    @Test
    void bytesAreDeletedOnlyOnceNoBundleAndNoBlobVersionNamesThem() throws IOException {
        try (Store store = TestStores.open(dir)) {
            BlobChunkStore chunks = store.chunks();
            String bundle = "sha256:" + "c".repeat(64);
            String loose = "sha256:" + "d".repeat(64);
            chunks.publish(bundle, file(random(10)));
            chunks.publish(loose, file(random(10)));
            store.createVersion("scorer", "{}", bundle, 10, Instant.now());

            chunks.deleteIfUnused(bundle);
            chunks.deleteIfUnused(loose);
            assertThat(chunks.has(bundle)).isTrue();
            assertThat(chunks.has(loose)).isFalse();

            BlobCatalog catalog = store.blobCatalog(new BlobStore(dir.resolve("buckets"), chunks));
            var put = catalog.put("models", "m.bin", new ByteArrayInputStream("model".getBytes()), 100, Optional.empty(), Optional.empty());
            String model = put.version().digest();
            store.deleteFunction("scorer");
            chunks.deleteIfUnused(bundle);
            chunks.deleteIfUnused(model);
            assertThat(chunks.has(bundle)).isFalse();
            assertThat(chunks.has(model)).as("a blob version names it").isTrue();

            catalog.deleteKey("models", "m.bin");
            assertThat(chunks.has(model)).as("deleting the key's last version deletes the shared bytes").isFalse();
        }
    }

    @Test
    void digestsNamedByABundleOrABlobVersionWithoutSharedBytesAreUnpublished() throws IOException {
        try (Store store = TestStores.open(dir)) {
            String bundle = "sha256:" + "1".repeat(64);
            store.createVersion("scorer", "{}", bundle, 10, Instant.now());
            BlobStore local = new BlobStore(dir.resolve("buckets")); // kept by a node that shared nothing
            store.blobCatalog(local).put("models", "m.bin", new ByteArrayInputStream("model".getBytes()), 100, Optional.empty(), Optional.empty());
            String model = store.blobCatalog(local).latest("models", "m.bin").orElseThrow().digest();

            assertThat(store.chunks().unpublished()).containsExactlyInAnyOrder(bundle, model);

            BlobStore sharing = new BlobStore(dir.resolve("buckets"), store.chunks());
            assertThat(sharing.publishIfHere(model)).isTrue();
            assertThat(sharing.publishIfHere(bundle)).as("not in this dir").isFalse();
            assertThat(store.chunks().unpublished()).containsExactly(bundle);
        }
    }

    @Test
    void aNodeFetchesWhatAnotherKeptChecksItAndCachesItInItsOwnDir() throws IOException {
        try (Store store = TestStores.open(dir)) {
            BlobStore nodeA = new BlobStore(dir.resolve("a"), store.chunks());
            BlobStore nodeB = new BlobStore(dir.resolve("b"), store.chunks());
            byte[] bytes = random(BlobChunkStore.CHUNK_BYTES * 2 + 7);
            BlobStore.Blob blob;
            try (var in = nodeA.receive(new ByteArrayInputStream(bytes), Long.MAX_VALUE)) {
                blob = in.keep();
            }
            assertThat(Files.exists(nodeB.path(blob.digest()))).isFalse();

            Path fetched = nodeB.fetch(blob.digest());

            assertThat(fetched).isEqualTo(nodeB.path(blob.digest()));
            assertThat(Files.readAllBytes(fetched)).isEqualTo(bytes);
            try (var files = Files.list(dir.resolve("b").resolve("incoming"))) {
                assertThat(files).isEmpty();
            }
        }
    }

    @Test
    void corruptBytesInTheStoreAreRefusedAndNotCached() throws IOException {
        try (Store store = TestStores.open(dir)) {
            BlobStore nodeB = new BlobStore(dir.resolve("b"), store.chunks());
            String claimed = "sha256:" + "e".repeat(64);
            store.chunks().publish(claimed, file("not what the digest says".getBytes()));

            assertThatThrownBy(() -> nodeB.fetch(claimed)).hasMessageContaining("corrupt");
            assertThat(Files.exists(nodeB.path(claimed))).isFalse();
            assertThatThrownBy(() -> nodeB.fetch("sha256:" + "f".repeat(64))).isInstanceOf(NoSuchFileException.class)
                    .hasMessageContaining("neither in this node's data dir nor in the store");
        }
    }

    @Test
    void onSqliteTheStoreSharesNothingAndBytesAreStoredOnce() throws IOException {
        if (TestStores.postgresql()) {
            try (Store store = TestStores.open(dir)) {
                assertThat(store.sharedBlobs()).isSameAs(store.chunks());
            }
            return;
        }
        try (Store store = Store.openSqlite(dir.resolve("gale.db"), Clock.systemUTC())) {
            BlobStore blobs = new BlobStore(dir.resolve("blobs"), store.sharedBlobs());
            try (var in = blobs.receive(new ByteArrayInputStream("hello".getBytes()), 100)) {
                in.keep();
            }
            long rows = store.jdbi().withHandle(h -> h.createQuery("SELECT COUNT(*) FROM blob_chunks").mapTo(Long.class).one());
            assertThat(rows).isZero();
        }
    }

    private long chunkRows(Store store, String digest) {
        return store.jdbi().withHandle(h -> h.createQuery("SELECT COUNT(*) FROM blob_chunks WHERE digest = :d")
                .bind("d", digest).mapTo(Long.class).one());
    }

    private Path file(byte[] bytes) throws IOException {
        Path f = Files.createTempFile(dir, "bytes-", ".bin");
        Files.write(f, bytes);
        return f;
    }

    private static byte[] random(int size) {
        byte[] b = new byte[size];
        new Random(size).nextBytes(b);
        return b;
    }
}
