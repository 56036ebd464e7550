package gale.store;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Instant;

import static org.assertj.core.api.Assertions.assertThat;

/** A function's row on both dialects: other nodes read which version serves from it (Registry follows it). */
class FunctionRowTest {

    @TempDir
    Path dir;

    @Test
    void aFunctionWhoseFirstVersionIsStillDeployingHasNoActiveVersion() {
        try (Store store = TestStores.open(dir)) {
            store.createVersion("scorer", "{}", "sha256:" + "0".repeat(64), 1, Instant.now());

            assertThat(store.findFunction("scorer").orElseThrow().activeVersion()).isEmpty();
            assertThat(store.listFunctions().getFirst().activeVersion()).isEmpty();

            store.activateVersion("scorer", 1, Instant.now());
            assertThat(store.findFunction("scorer").orElseThrow().activeVersion()).hasValue(1);
        }
    }
}
