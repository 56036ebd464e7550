package gale.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

class SecretsCommandTest {

    @RegisterExtension
    final FakeApi api = FakeApi.started();

    @Test
    void setReadsTheValueFromAFileNeverFromTheCommandLine(@TempDir Path dir) throws IOException {
        Path file = Files.writeString(dir.resolve("pw"), "hunter2\n");
        api.on("PUT /v1/secrets/db-password", 201, "{\"name\": \"db-password\", \"version\": 1}");

        GaleCli.Result result = GaleCli.run(api.env(), "secrets", "set", "db-password", "--from-file", file.toString());

        assertThat(result.exitCode()).as(result.err()).isEqualTo(ExitCode.OK);
        assertThat(result.out()).contains("Stored secret db-password version 1.");
        assertThat(api.requests().getFirst().body()).isEqualTo("hunter2\n"); // a file is sent as it is
    }

    @Test
    void grantNamesTheVariableAndSaysWhenItTakesEffect() {
        api.on("PUT /v1/functions/scorer/secrets/DB_PASSWORD", 200, "{}");

        GaleCli.Result result = GaleCli.run(api.env(), "secrets", "grant", "db-password", "scorer", "--env", "DB_PASSWORD");

        assertThat(result.exitCode()).as(result.err()).isEqualTo(ExitCode.OK);
        assertThat(api.requests().getFirst().body()).isEqualTo("{\"secret\":\"db-password\"}");
        assertThat(result.out()).contains("started from now on get db-password as $DB_PASSWORD; redeploy to restart running ones");
    }

    @Test
    void grantWithFileMountsTheSecretAsAFileOfTheFunction() {
        api.on("POST /v1/functions/scorer/secret-files", 200, "{}");

        GaleCli.Result result = GaleCli.run(api.env(), "secrets", "grant", "api-key", "--function", "scorer", "--file", "key.json");

        assertThat(result.exitCode()).as(result.err()).isEqualTo(ExitCode.OK);
        assertThat(api.requests().getFirst().body()).contains("\"secret\":\"api-key\"", "\"file\":\"key.json\"");
        assertThat(result.out()).contains("started from now on find api-key in $GALE_SECRETS_DIR/key.json");
    }

    @Test
    void grantWithBothEnvAndFileIsAUsageError() {
        GaleCli.Result result = GaleCli.run(api.env(), "secrets", "grant", "api-key", "scorer", "--env", "KEY", "--file", "key.json");

        assertThat(result.exitCode()).isEqualTo(ExitCode.USAGE);
        assertThat(result.err()).contains("one of --env VARIABLE or --file FILE");
        assertThat(api.requests()).isEmpty();
    }

    @Test
    void revokeWithFileTakesTheFileAway() {
        api.on("DELETE /v1/functions/scorer/secret-files/key.json", 204, "");

        GaleCli.Result result = GaleCli.run(api.env(), "secrets", "revoke", "scorer", "--file", "key.json");

        assertThat(result.exitCode()).as(result.err()).isEqualTo(ExitCode.OK);
        assertThat(result.out()).contains("do not get $GALE_SECRETS_DIR/key.json");
    }

    @Test
    void lsShowsGrantsAndNoValues() {
        api.on("GET /v1/secrets", 200, "[{\"name\": \"db-password\", \"version\": 2, \"bytes\": 7, \"updatedAt\": \"2026-12-06T02:00:00Z\","
                + " \"grants\": [{\"function\": \"scorer\", \"env\": \"DB_PASSWORD\"}]}]");

        GaleCli.Result result = GaleCli.run(api.env(), "secrets", "ls");

        assertThat(result.out()).contains("db-password").contains("scorer:DB_PASSWORD").contains("GRANTED TO");
    }
}
