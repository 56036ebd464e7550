package gale.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A Zappa project deploys as it is: its stage's settings become the function's, AWS-only ones are named. */
class ZappaSettingsTest {

    @TempDir
    Path bundle;

    @Test
    void theOnlyStagesAppFunctionEnvironmentTimeoutAndMemoryAreRead() throws IOException {
        settings("""
                {"dev": {"app_function": "app.app", "aws_region": "us-east-1", "s3_bucket": "zappa-x",
                         "environment_variables": {"MODEL": "churn", "THRESHOLD": 0.5},
                         "timeout_seconds": 120, "memory_size": 1024, "keep_warm": true}}""");

        ConfigResolver.Resolved r = ConfigResolver.resolveWithNotes("survey", bundle, Map.of());

        assertThat(r.config().entryModule()).isEqualTo("app.py");
        assertThat(r.config().entryPoint()).isEqualTo("app");
        assertThat(r.config().env()).containsEntry("MODEL", "churn").containsEntry("THRESHOLD", "0.5");
        assertThat(r.config().timeout()).isEqualTo(Duration.ofSeconds(120));
        assertThat(r.config().memory().megabytes()).isEqualTo(1024);
        assertThat(r.notes()).containsExactly(
                "read zappa_settings.json stage 'dev': app_function, environment_variables, timeout_seconds, memory_size",
                "keep_warm: not needed to stay warm on Gale (an instance stays up for idle-timeout after a call); "
                        + "--min-instances 1 keeps one always up",
                "ignored (AWS settings with nothing to steer here): aws_region, s3_bucket");
    }

    @Test
    void aStageExtendsAnotherAndGaleTomlAndFlagsWinOverIt() throws IOException {
        settings("""
                {"base": {"app_function": "app.app", "memory_size": 512, "environment_variables": {"A": "1"}},
                 "prod": {"extends": "base", "memory_size": 2048}}""");
        Files.writeString(bundle.resolve("gale.toml"), "timeout = \"10s\"\n");

        FunctionConfig c = ConfigResolver.resolve("survey", bundle, Map.of("zappaStage", "prod", "timeout", "20s"));

        assertThat(c.memory().megabytes()).isEqualTo(2048);
        assertThat(c.env()).containsEntry("A", "1");
        assertThat(c.entryPoint()).isEqualTo("app");
        assertThat(c.timeout()).isEqualTo(Duration.ofSeconds(20));
    }

    @Test
    void severalStagesNeedOneChosenAndTheMessageNamesThem() throws IOException {
        settings("{\"dev\": {\"app_function\": \"app.app\"}, \"prod\": {\"app_function\": \"app.app\"}}");

        assertThatThrownBy(() -> ConfigResolver.resolve("survey", bundle, Map.of()))
                .isInstanceOf(InvalidConfigException.class)
                .hasMessage("zappa_settings.json has the stages dev, prod; pick one with --zappa-stage (zappa-stage in gale.toml), "
                        + "as `zappa deploy STAGE` does");
        assertThatThrownBy(() -> ConfigResolver.resolve("survey", bundle, Map.of("zappaStage", "staging")))
                .hasMessage("zappa-stage 'staging' is not in zappa_settings.json; its stages: dev, prod");
    }

    @Test
    void brokenSettingsSayWhatIsWrong() throws IOException {
        settings("{\"dev\": {\"app_function\": \"app.app\",}}");
        assertThatThrownBy(() -> ConfigResolver.resolve("survey", bundle, Map.of()))
                .isInstanceOf(InvalidConfigException.class).hasMessageStartingWith("zappa_settings.json is not valid JSON at line 1");

        settings("{\"a\": {\"extends\": \"b\"}, \"b\": {\"extends\": \"a\"}}");
        assertThatThrownBy(() -> ConfigResolver.resolve("survey", bundle, Map.of("zappaStage", "a")))
                .hasMessageContaining("extends in a loop");

        settings("{\"dev\": {\"app_function\": \"app.app\", \"timeout_seconds\": \"long\"}}");
        assertThatThrownBy(() -> ConfigResolver.resolve("survey", bundle, Map.of()))
                .hasMessage("zappa_settings.json: timeout_seconds must be a whole number, got \"long\"");

        settings("[]");
        assertThatThrownBy(() -> ConfigResolver.resolve("survey", bundle, Map.of()))
                .hasMessageStartingWith("zappa_settings.json must be an object of stages");
    }

    @Test
    void aStageWithoutTheFileIsRefused() {
        assertThatThrownBy(() -> ConfigResolver.resolve("survey", bundle, Map.of("zappaStage", "dev")))
                .hasMessage("zappa-stage 'dev' was given but the bundle has no zappa_settings.json");
    }

    private void settings(String json) throws IOException {
        Files.writeString(bundle.resolve(ZappaSettings.FILE), json);
    }
}
