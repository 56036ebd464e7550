package gale.registry;

import gale.store.TestStores;
import gale.blob.BlobStore;
import gale.logs.LogSink;
import gale.runtime.DeployFailure;
import gale.runtime.Instance;
import gale.runtime.InstanceSpec;
import gale.runtime.Runtime;
import gale.store.Store;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** After a restart the registry answers at once and brings functions back in the background. */
class RegistryRestoreTest {

    @TempDir
    Path tmp;
    Store store;
    LogSink logs;
    Registry registry;
    final CountDownLatch preparing = new CountDownLatch(1);

    /** A runtime whose prepare() waits until the test lets it go, as a slow requirements check would. */
    final Runtime slowRuntime = new Runtime() {
        @Override
        public String name() {
            return "python3";
        }

        @Override
        public Optional<Path> prepare(Path bundleDir, Path versionDir) throws DeployFailure {
            try {
                preparing.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return Optional.empty();
        }

        @Override
        public Instance start(InstanceSpec spec) {
            throw new UnsupportedOperationException("no instance starts in this test");
        }
    };

    @BeforeEach
    void storeWithAnActiveFunction() throws Exception {
        store = TestStores.open(tmp);
        logs = new LogSink(store);
        logs.start();
        Instant now = Instant.now();
        store.createVersion("slow", "{\"runtime\": \"python3\", \"prewarm\": false}", "sha256:none", 0, now);
        store.activateVersion("slow", 1, now);
        Files.createDirectories(tmp.resolve("functions/slow/1/bundle"));
        registry = new Registry(store, new BlobStore(tmp.resolve("blobs")), tmp.resolve("functions"), BundleLimits.DEFAULT, List.of(slowRuntime), logs,
                Duration.ofSeconds(5), gale.usage.UsageMeter.DISABLED, "node-a");
        registry.start();
    }

    @AfterEach
    void close() {
        preparing.countDown();
        registry.close();
        logs.close();
        store.close();
    }

    @Test
    void aFunctionIsRestoringUntilItsVersionIsPreparedThenItServes() throws Exception {
        var restored = registry.restore();

        assertThat(registry.isRestoring("slow")).isTrue();
        assertThat(registry.restoringCount()).isEqualTo(1);
        assertThat(registry.active("slow")).isEmpty();
        assertThat(registry.isRestoring("never-deployed")).isFalse();

        preparing.countDown();
        restored.get(30, TimeUnit.SECONDS);

        assertThat(registry.isRestoring("slow")).isFalse();
        assertThat(registry.restoringCount()).isZero();
        assertThat(registry.active("slow")).hasValueSatisfying(f -> assertThat(f.version()).isEqualTo(1));
    }
}
