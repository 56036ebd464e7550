package gale.blob;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class BlobStoreTest {

    @TempDir
    Path root;

    @Test
    void aBlobIsInTheStoreOnlyOnceKept() throws IOException {
        BlobStore store = new BlobStore(root);
        BlobStore.Blob blob;
        try (BlobStore.Incoming in = store.receive(new ByteArrayInputStream("hello".getBytes()), 100)) {
            assertThat(files("sha256")).isZero();
            blob = in.keep();
        }

        assertThat(Files.readString(store.path(blob.digest()))).isEqualTo("hello");
        assertThat(blob.bytes()).isEqualTo(5);
        assertThat(files("incoming")).isZero();
    }

    @Test
    void aBlobNotKeptLeavesNothing() throws IOException {
        BlobStore store = new BlobStore(root);
        try (BlobStore.Incoming in = store.receive(new ByteArrayInputStream("hello".getBytes()), 100)) {
            assertThat(in.path()).exists();
        }

        assertThat(files("incoming") + files("sha256")).isZero();
    }

    @Test
    void anOversizedStreamIsCutOffAtTheLimitAndLeavesNothing() throws IOException {
        BlobStore store = new BlobStore(root);
        AtomicLong read = new AtomicLong();
        InputStream endless = new InputStream() {
            @Override
            public int read() {
                read.incrementAndGet();
                return 'x';
            }

            @Override
            public int read(byte[] b, int off, int len) {
                read.addAndGet(len);
                return len;
            }
        };

        assertThatThrownBy(() -> store.receive(endless, 1 << 20)).isInstanceOf(BlobStore.TooLargeException.class);
        assertThat(read.get()).isLessThanOrEqualTo((1 << 20) + 64 * 1024);
        assertThat(files("incoming") + files("sha256")).isZero();
    }

    private long files(String dir) throws IOException {
        try (var list = Files.list(root.resolve(dir))) {
            return list.count();
        }
    }
}
