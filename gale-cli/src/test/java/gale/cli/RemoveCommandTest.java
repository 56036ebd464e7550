package gale.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class RemoveCommandTest {

    FakeApi api;

    @BeforeEach
    void start() throws IOException {
        api = new FakeApi().on("DELETE /v1/functions/scorer", 204, "");
    }

    @AfterEach
    void stop() {
        api.close();
    }

    @Test
    void refusesToDeleteWithoutYesWhenThereIsNoTerminalToAskOn() {
        GaleCli.Result result = GaleCli.run(api.env(), "rm", "scorer");

        assertThat(result.exitCode()).isEqualTo(ExitCode.USAGE);
        assertThat(result.err()).contains("without --yes");
        assertThat(api.requests()).isEmpty();
    }

    @Test
    void deletesWithYes() {
        GaleCli.Result result = GaleCli.run(api.env(), "rm", "scorer", "--yes");

        assertThat(result.exitCode()).isEqualTo(ExitCode.OK);
        assertThat(api.requests()).extracting(FakeApi.Request::method).containsExactly("DELETE");
    }

    @Test
    void asksOnATerminalAndDeletesOnlyAfterYes() {
        GaleCli.Result declined = GaleCli.run(api.env(), true, "n\n", "rm", "scorer");
        assertThat(declined.exitCode()).isEqualTo(ExitCode.FAILED);
        assertThat(api.requests()).isEmpty();

        GaleCli.Result confirmed = GaleCli.run(api.env(), true, "y\n", "rm", "scorer");
        assertThat(confirmed.out()).contains("Delete scorer with all its versions and bundles? [y/N]");
        assertThat(confirmed.exitCode()).isEqualTo(ExitCode.OK);
        assertThat(api.requests()).hasSize(1);
    }

    @Test
    void reportsAnApiErrorWithExitOne() {
        api.on("DELETE /v1/functions/ghost", 404, "{\"error\": \"function 'ghost' not found\", \"status\": 404}");

        GaleCli.Result result = GaleCli.run(api.env(), "rm", "ghost", "--yes");

        assertThat(result.exitCode()).isEqualTo(ExitCode.FAILED);
        assertThat(result.err()).isEqualTo("ERROR: function 'ghost' not found (HTTP 404)\n");
    }
}
