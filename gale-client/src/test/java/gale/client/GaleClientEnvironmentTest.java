package gale.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GaleClientEnvironmentTest {

    @TempDir
    Path home;

    @Test
    void prefersGaleUrlAndGaleTokenOverTheDataDir() throws IOException {
        writeDataDir("http://127.0.0.1:8080", "file-token");

        try (GaleClient client = GaleClient.fromEnvironment(Map.of(
                "GALE_URL", "http://gale.example:9000/", "GALE_TOKEN", "env-token", "GALE_HOME", home.toString()))) {
            assertThat(client.baseUrl()).isEqualTo(URI.create("http://gale.example:9000"));
        }
    }

    @Test
    void readsTheUrlAndTokenALocalServerWroteToGaleHome() throws IOException {
        writeDataDir("http://127.0.0.1:8081", "file-token");

        try (GaleClient client = GaleClient.fromEnvironment(Map.of("GALE_HOME", home.toString()))) {
            assertThat(client.baseUrl()).isEqualTo(URI.create("http://127.0.0.1:8081"));
        }
        GaleHome galeHome = GaleHome.resolve(Map.of("GALE_HOME", home.toString()));
        assertThat(galeHome.adminToken()).contains("file-token");
    }

    @Test
    void takesTheTokenFromTheDataDirWhenOnlyTheUrlIsSet() throws IOException {
        writeDataDir("http://127.0.0.1:8080", "file-token");

        try (GaleClient client = GaleClient.fromEnvironment(
                Map.of("GALE_URL", "http://10.0.0.5:8080", "GALE_HOME", home.toString()))) {
            assertThat(client.baseUrl()).isEqualTo(URI.create("http://10.0.0.5:8080"));
        }
    }

    @Test
    void explainsWhereItLookedWhenNoServerIsConfigured() {
        assertThatThrownBy(() -> GaleClient.fromEnvironment(Map.of("GALE_HOME", home.toString())))
                .isInstanceOf(NoGaleServerException.class)
                .hasMessage("no Gale server found: set GALE_URL and GALE_TOKEN, or run `gale server` (looked in "
                        + home.toAbsolutePath() + ")");
    }

    @Test
    void namesTheTokenFileWhenTheUrlIsKnownButNoTokenIs() {
        assertThatThrownBy(() -> GaleClient.fromEnvironment(
                Map.of("GALE_URL", "http://127.0.0.1:8080", "GALE_HOME", home.toString())))
                .isInstanceOf(NoGaleServerException.class)
                .hasMessageContaining("set GALE_TOKEN")
                .hasMessageContaining(home.resolve("admin-token").toString());
    }

    @Test
    void saysHowToRepairAnUnreadableServerFile() throws IOException {
        Files.writeString(home.resolve("server.json"), "{\"pid\": 12}");

        assertThatThrownBy(() -> GaleClient.fromEnvironment(Map.of("GALE_HOME", home.toString())))
                .isInstanceOf(NoGaleServerException.class)
                .hasMessageContaining("restart `gale server`");
    }

    @Test
    void usesDotGaleInTheWorkingDirectoryWhenGaleHomeIsUnset() {
        assertThat(GaleHome.resolve(Map.of()).dir()).isEqualTo(Path.of(".gale").toAbsolutePath());
        assertThat(GaleHome.resolve(Map.of("GALE_HOME", " ")).dir()).isEqualTo(Path.of(".gale").toAbsolutePath());
    }

    private void writeDataDir(String url, String token) throws IOException {
        Files.writeString(home.resolve("server.json"), "{\"url\": \"" + url + "\", \"pid\": 1234}");
        Files.writeString(home.resolve("admin-token"), token + "\n");
    }
}
