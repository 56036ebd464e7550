package gale.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;

class MainTest {

    @Test
    void listsEveryCommandWithADescriptionInHelp() {
        GaleCli.Result result = GaleCli.run(Map.of(), "--help");

        assertThat(result.exitCode()).isEqualTo(ExitCode.OK);
        assertThat(result.out()).contains("server ", "demo ", "deploy ", "call ", "map ", "jobs ", "ls ", "describe ", "versions ",
                "logs ", "rollback ", "rm ", "help ");
    }

    @Test
    void explainsOneCommandWithHelpVerb() {
        GaleCli.Result result = GaleCli.run(Map.of(), "help", "deploy");

        assertThat(result.exitCode()).isEqualTo(ExitCode.OK);
        assertThat(result.out()).contains("Usage: gale deploy", "--[no-]allow-unauthenticated", "--env=K=V");
    }

    @Test
    void explainsEveryCommandWithHelpOption() {
        GaleCli.Result map = GaleCli.run(Map.of(), "map", "--help");
        GaleCli.Result cancel = GaleCli.run(Map.of(), "jobs", "cancel", "--help");

        assertThat(map.exitCode()).isEqualTo(ExitCode.OK);
        assertThat(map.out()).contains("Usage: gale map", "--input=FILE|-", "--stop-on-error", "Ctrl-C cancels the job");
        assertThat(cancel.out()).contains("Usage: gale jobs cancel", "ID");
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
