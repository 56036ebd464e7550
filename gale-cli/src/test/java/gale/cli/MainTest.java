package gale.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;

class MainTest {

    @Test
    void listsEveryCommandWithADescriptionInHelp() {
        GaleCli.Result result = GaleCli.run(Map.of(), "--help");

        assertThat(result.exitCode()).isEqualTo(ExitCode.OK);
        assertThat(result.out()).contains("server ", "demo ", "deploy ", "call ", "ls ", "describe ", "versions ",
                "logs ", "rollback ", "rm ", "help ");
    }

    @Test
    void explainsOneCommandWithHelpVerb() {
        GaleCli.Result result = GaleCli.run(Map.of(), "help", "deploy");

        assertThat(result.exitCode()).isEqualTo(ExitCode.OK);
        assertThat(result.out()).contains("Usage: gale deploy", "--[no-]allow-unauthenticated", "--env=K=V");
    }

    @Test
    void printsItsVersion() {
        assertThat(GaleCli.run(Map.of(), "--version").out()).startsWith("gale ");
    }

    @Test
    void showsUsageAndExitsTwoWithoutACommand() {
        GaleCli.Result result = GaleCli.run(Map.of());

        assertThat(result.exitCode()).isEqualTo(ExitCode.USAGE);
        assertThat(result.err()).contains("Usage: gale");
    }
}
