package gale.secrets;

import gale.store.TestStores;
import gale.store.Store;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SecretsTest {

    @TempDir
    Path dir;

    @Test
    void onlyTextThatAnEnvironmentVariableCanHoldIsTaken() {
        try (Store store = TestStores.open(dir)) {
            Secrets secrets = new Secrets(store.secrets(), SecretBox.inDataDir(dir), name -> true, Clock.systemUTC());

            assertThat(secrets.set("api-key", "tök€n".getBytes(StandardCharsets.UTF_8))).isEqualTo(1);
            assertThatThrownBy(() -> secrets.set("bin", new byte[] {(byte) 0xC3, 0x28}))
                    .isInstanceOfSatisfying(Secrets.Refused.class, e -> assertThat(e.status).isEqualTo(400))
                    .hasMessageContaining("not UTF-8 text");
            assertThatThrownBy(() -> secrets.set("nul", new byte[] {'a', 0, 'b'})).hasMessageContaining("NUL byte");
            assertThat(secrets.list()).extracting(Secrets.Listed::name).containsExactly("api-key");
        }
    }
}
