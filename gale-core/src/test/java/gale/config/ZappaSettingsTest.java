package gale.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;

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
        assertThat(r.keepWarm()).contains(new KeepWarm(true, Optional.empty(), Optional.of("4m"), "rate(4 minutes)"));
        assertThat(r.notes()).containsExactly(
                "read zappa_settings.json stage 'dev': app_function, environment_variables, timeout_seconds, memory_size",
                "keep_warm: a schedule calls the app every 4m (rate(4 minutes)), warming an instance without running a "
                        + "request through the app; --min-instances 1 keeps one always up instead",
                "ignored (AWS settings with nothing to steer here): aws_region, s3_bucket");
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource(delimiter = '|', value = {
            "rate(4 minutes)             | every 4m",
            "rate(1 minute)              | every 1m",
            "rate(2 hours)               | every 2h",
            "rate(1 day)                 | every 1d",
            "cron(0 9 ? * MON-FRI *)     | cron \"0 9 * * MON-FRI\" (UTC)",
            "cron(15 10 ? * 2-6 *)       | cron \"15 10 * * 1-5\" (UTC)",
            "cron(0/10 * * * ? *)        | cron \"0/10 * * * *\" (UTC)",
            "cron(0 0 1 * ? *)           | cron \"0 0 1 * *\" (UTC)"})
    void awsScheduleExpressionsBecomeGaleTimings(String expression, String timing) {
        assertThat(KeepWarm.on(expression).describe()).isEqualTo(timing);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "every 4 minutes        | 'write it as rate(N minutes|hours|days) or cron('",
            "rate(0 minutes)        | a rate is at least 1",
            "rate(5 seconds)        | 'write it as rate(N minutes|hours|days)'",
            "cron(0 9 * * *)        | has 6 fields",
            "cron(0 9 ? * MON 2027) | a year other than *",
            "cron(0 9 L * ? *)      | L, W and # are not supported",
            "cron(0 9 ? * 8 *)      | day-of-week numbers run 1-7"})
    void anExpressionThatCannotBeAScheduleIsRefusedSayingWhy(String expression, String message) {
        assertThatThrownBy(() -> KeepWarm.on(expression)).isInstanceOf(InvalidConfigException.class)
                .hasMessageContaining("keep_warm_expression '" + expression + "' cannot become a schedule").hasMessageContaining(message);
    }

    @Test
    void keepWarmFalseAsksForNoScheduleAndAnyNameGetsAValidScheduleName() throws IOException {
        settings("""
                {"dev": {"app_function": "app.app", "keep_warm": false, "keep_warm_expression": "rate(9 minutes)"}}""");

        assertThat(ConfigResolver.resolveWithNotes("survey", bundle, Map.of()).keepWarm()).contains(KeepWarm.off());
        assertThat(KeepWarm.scheduleName("survey")).isEqualTo("keep-warm-survey");
        String longest = "a".repeat(62) + "b";
        assertThat(gale.registry.FunctionName.isValid(KeepWarm.scheduleName(longest))).isTrue();
        assertThat(KeepWarm.scheduleName(longest)).startsWith("keep-warm-");
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
