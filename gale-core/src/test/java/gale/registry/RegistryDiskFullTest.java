package gale.registry;

import gale.blob.BlobStore;
import gale.logs.LogSink;
import gale.store.Store;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/**
 * A deploy that the store's disk cannot take leaves nothing behind. The SQLite file lies on a
 * small tmpfs (mounted here: the test runs as root) filled to the last byte, while the blobs and
 * function folders have room, so the bundle is received and unpacked and only the version row
 * fails: the blob and the unpacked folder must go with it.
 */
class RegistryDiskFullTest {

    @TempDir
    Path tmp;
    private Path mount;
    private Store store;
    private LogSink logs;
    private Registry registry;

    @AfterEach
    void close() throws Exception {
        if (registry != null) registry.close();
        if (logs != null) logs.close();
        if (store != null) store.close();
        if (mount != null && run("umount", mount.toString()) != 0) run("umount", "-l", mount.toString());
    }

    @Test
    void aVersionTheStoreCannotTakeKeepsNeitherItsBlobNorItsFolderNorTheFunction() throws Exception {
        mount = Files.createDirectories(tmp.resolve("db"));
        if (run("mount", "-t", "tmpfs", "-o", "size=8m", "gale-test-full", mount.toString()) != 0) {
            throw new AssertionError("this test mounts a tmpfs and needs root");
        }
        store = Store.openSqlite(mount.resolve("gale.db"));
        logs = new LogSink(store);
        BlobStore blobs = new BlobStore(tmp.resolve("blobs"));
        registry = new Registry(store, blobs, tmp.resolve("functions"), BundleLimits.DEFAULT, List.of(), logs, Duration.ofSeconds(5),
                gale.usage.UsageMeter.DISABLED, "node-a");
        fill(mount);

        StorageFull full = catchThrowableOfType(StorageFull.class, () -> registry.deploy("hello", zipOfMain(), Map.of()));

        assertThat(full).as("the deploy is refused as a full disk").isNotNull();
        assertThat(full.getMessage()).contains("no space left on the disk of Gale's data dir", "nothing of this deploy was kept");
        assertThat(list(tmp.resolve("blobs/sha256"))).as("blobs").isEmpty();
        assertThat(list(tmp.resolve("blobs/incoming"))).as("uploads").isEmpty();
        assertThat(list(tmp.resolve("functions"))).as("function and staging folders").isEmpty();
        assertThat(store.listFunctions()).as("functions").isEmpty();
    }

    private static ByteArrayInputStream zipOfMain() throws IOException {
        var bytes = new ByteArrayOutputStream();
        try (var zip = new ZipOutputStream(bytes)) {
            zip.putNextEntry(new ZipEntry("main.py"));
            zip.write("def hello(request):\n    return 'hi'\n".getBytes(StandardCharsets.UTF_8));
            zip.closeEntry();
        }
        return new ByteArrayInputStream(bytes.toByteArray());
    }

    private static void fill(Path dir) {
        try (OutputStream out = Files.newOutputStream(dir.resolve("filler"))) {
            byte[] page = new byte[4096];
            while (true) out.write(page);
        } catch (IOException full) {
            assertThat(full).hasMessageContaining("No space left on device");
        }
    }

    private static List<String> list(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) return List.of();
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString()).toList();
        }
    }

    private static int run(String... command) throws Exception {
        return new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start().waitFor();
    }
}
