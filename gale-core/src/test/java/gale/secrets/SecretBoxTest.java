package gale.secrets;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Base64;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SecretBoxTest {

    @TempDir
    Path dataDir;

    @Test
    void aValueOpensUnderItsOwnNameWithTheSameDataDirsKeyOnly() throws Exception {
        SecretBox box = SecretBox.inDataDir(dataDir);
        String sealed = box.seal("db-password", "hunter2".getBytes(StandardCharsets.UTF_8));

        assertThat(new String(SecretBox.inDataDir(dataDir).open("db-password", sealed), StandardCharsets.UTF_8)).isEqualTo("hunter2");
        assertThat(sealed).doesNotContain("hunter2");
        assertThat(box.seal("db-password", "hunter2".getBytes(StandardCharsets.UTF_8))).as("a fresh nonce each time").isNotEqualTo(sealed);
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dataDir.resolve(SecretBox.KEY_FILE)))).isEqualTo("rw-------");
        assertThatThrownBy(() -> box.open("api-key", sealed)).hasMessageContaining("does not open");
    }

    @Test
    void anAlteredValueOrAnotherKeyIsRefusedWithWhatToDo(@TempDir Path otherDataDir) {
        SecretBox box = SecretBox.inDataDir(dataDir);
        byte[] sealed = Base64.getDecoder().decode(box.seal("token", "abc".getBytes(StandardCharsets.UTF_8)));
        sealed[sealed.length - 1] ^= 1;

        assertThatThrownBy(() -> box.open("token", Base64.getEncoder().encodeToString(sealed)))
                .hasMessageContaining("set it again with `gale secrets set token`");
        String good = box.seal("token", "abc".getBytes(StandardCharsets.UTF_8));
        assertThatThrownBy(() -> SecretBox.inDataDir(otherDataDir).open("token", good)).hasMessageContaining("does not open");
    }
}
