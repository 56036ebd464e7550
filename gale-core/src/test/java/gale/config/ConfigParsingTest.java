package gale.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ConfigParsingTest {

    @ParameterizedTest(name = "{0} is {1} bytes")
    @CsvSource({"512MB, 536870912", "512M, 536870912", "1GB, 1073741824", "1GiB, 1073741824", "1.5GB, 1610612736",
            "1024, 1024", "64kb, 65536"})
    void sizesAreReadTheWayGcloudWritesThem(String text, long bytes) {
        assertThat(DataSize.parse(text).bytes()).isEqualTo(bytes);
    }

    @ParameterizedTest(name = "{0} is {1} ms")
    @CsvSource({"500ms, 500", "60s, 60000", "60, 60000", "5m, 300000", "1h, 3600000", "1.5s, 1500"})
    void durationsAreReadTheWayGcloudWritesThem(String text, long millis) {
        assertThat(Durations.parse(text).toMillis()).isEqualTo(millis);
    }

    @Test
    void durationsAndSizesPrintInTheirShortestExactForm() {
        assertThat(Durations.format(Duration.ofSeconds(300))).isEqualTo("5m");
        assertThat(Durations.format(Duration.ofMillis(1500))).isEqualTo("1500ms");
        assertThat(DataSize.ofMegabytes(2048).toString()).isEqualTo("2GB");
    }

    @Test
    void garbageSizesAndDurationsSayHowToWriteThem() {
        assertThatThrownBy(() -> DataSize.parse("lots")).hasMessageContaining("256MB");
        assertThatThrownBy(() -> Durations.parse("soon")).hasMessageContaining("60s");
    }

    @Test
    void defaultsMatchCloudFunctions(@TempDir Path bundle) {
        FunctionConfig c = ConfigResolver.resolve("survey-scorer", bundle, Map.of());

        assertThat(c.entryPoint()).isEqualTo("survey_scorer");
        assertThat(c.memory().megabytes()).isEqualTo(256);
        assertThat(c.timeout()).isEqualTo(Duration.ofSeconds(60));
        assertThat(c.concurrency()).isEqualTo(1);
        assertThat(c.minInstances()).isZero();
        assertThat(c.idleTimeout()).isEqualTo(Duration.ofMinutes(5));
        assertThat(c.isPublic()).isFalse();
    }

    @ParameterizedTest(name = "{0} is {2} in {1}")
    @CsvSource({"app.app, app.py, app", "myapp.api:app, myapp/api.py, app", "myapp.api.app, myapp/api.py, app",
            "main:handler, main.py, handler", "handler, main.py, handler"})
    void aPythonEntryPointMayNameItsModuleAsZappaAndGunicornDo(String entryPoint, String module, String callable,
                                                               @TempDir Path bundle) {
        FunctionConfig c = ConfigResolver.resolve("app", bundle, Map.of("entryPoint", entryPoint));

        assertThat(c.entryModule()).isEqualTo(module);
        assertThat(c.entryPoint()).isEqualTo(callable);
    }

    @Test
    void aPackagesEntryPointIsItsInitWhenThereIsNoModuleFile(@TempDir Path bundle) throws IOException {
        Files.createDirectories(bundle.resolve("myapp"));
        Files.writeString(bundle.resolve("myapp/__init__.py"), "def create_app(): ...\n");

        FunctionConfig c = ConfigResolver.resolve("app", bundle, Map.of("entryPoint", "myapp:create_app"));

        assertThat(c.entryModule()).isEqualTo("myapp/__init__.py");
        assertThat(c.entryPoint()).isEqualTo("create_app");
    }

    @Test
    void anEntryPointWithAModuleAndAnotherEntryModuleIsRefusedWithBothWaysToWriteIt(@TempDir Path bundle) {
        assertThatThrownBy(() -> ConfigResolver.resolve("app", bundle, Map.of("entryPoint", "app.app", "entryModule", "web.py")))
                .isInstanceOf(InvalidConfigException.class)
                .hasMessage("entry-point 'app.app' names its module (app.py) and entry-module says 'web.py'; give the module "
                        + "in one of them: entry-point app with entry-module web.py, or entry-point app.app alone");
        assertThat(ConfigResolver.resolve("app", bundle, Map.of("entryPoint", "app.app", "entryModule", "app.py")).entryPoint())
                .isEqualTo("app");
    }

    @Test
    void aJavaEntryPointKeepsItsDots(@TempDir Path bundle) {
        FunctionConfig c = ConfigResolver.resolve("hello", bundle, Map.of("runtime", "java21", "entryPoint", "com.example.Hello"));

        assertThat(c.entryPoint()).isEqualTo("com.example.Hello");
    }

    @Test
    void flagsWinOverGaleTomlWhichWinsOverDefaults(@TempDir Path bundle) throws IOException {
        Files.writeString(bundle.resolve("gale.toml"), """
                entry-point = "prediction"
                memory = "1GB"
                max-instances = 4
                allow-unauthenticated = true
                cors = "*"
                [env]
                MODEL = "model-obj/a.pkl"
                """);

        FunctionConfig c = ConfigResolver.resolve("scorer", bundle, Map.of("max-instances", 8, "timeout", "2m"));

        assertThat(c.entryPoint()).isEqualTo("prediction");
        assertThat(c.memory().megabytes()).isEqualTo(1024);
        assertThat(c.maxInstances()).isEqualTo(8);
        assertThat(c.timeout()).isEqualTo(Duration.ofMinutes(2));
        assertThat(c.isPublic()).isTrue();
        assertThat(c.cors()).containsExactly("*");
        assertThat(c.env()).containsEntry("MODEL", "model-obj/a.pkl");
    }

    @Test
    void stateNamespacesComeFromTheBundleOrFlagsAndMustBeNamespaces(@TempDir Path bundle) throws Exception {
        assertThat(ConfigResolver.resolve("fn", bundle, Map.of()).stateNamespaces()).isEmpty();
        Files.writeString(bundle.resolve("gale.toml"), "state-namespaces = [\"survey\", \"votes\"]\n");

        FunctionConfig c = ConfigResolver.resolve("fn", bundle, Map.of());
        assertThat(c.stateNamespaces()).containsExactly("survey", "votes");
        assertThat(ConfigResolver.fromMap("fn", c.toMap()).stateNamespaces()).containsExactly("survey", "votes");
        assertThatThrownBy(() -> ConfigResolver.resolve("fn", bundle, Map.of("stateNamespaces", List.of("Survey Results"))))
                .isInstanceOf(InvalidConfigException.class).hasMessageContaining("state-namespaces: 'Survey Results' is not a namespace");
    }

    @Test
    void blobBucketsComeFromTheBundleOrFlagsAndMustBeBuckets(@TempDir Path bundle) throws Exception {
        assertThat(ConfigResolver.resolve("fn", bundle, Map.of()).blobBuckets()).isEmpty();
        Files.writeString(bundle.resolve("gale.toml"), "blob-buckets = [\"models\", \"data\"]\n");

        FunctionConfig c = ConfigResolver.resolve("fn", bundle, Map.of());
        assertThat(c.blobBuckets()).containsExactly("models", "data");
        assertThat(ConfigResolver.fromMap("fn", c.toMap()).blobBuckets()).containsExactly("models", "data");
        assertThatThrownBy(() -> ConfigResolver.resolve("fn", bundle, Map.of("blobBuckets", List.of("../models"))))
                .isInstanceOf(InvalidConfigException.class).hasMessageContaining("blob-buckets: '../models' is not a bucket");
    }

    @Test
    void prewarmIsOnUnlessTurnedOff(@TempDir Path bundle) throws Exception {
        assertThat(ConfigResolver.resolve("fn", bundle, Map.of()).prewarm()).isTrue();

        Files.writeString(bundle.resolve("gale.toml"), "prewarm = false\n");

        assertThat(ConfigResolver.resolve("fn", bundle, Map.of()).prewarm()).isFalse();
        assertThat(ConfigResolver.resolve("fn", bundle, Map.of("prewarm", true)).prewarm()).isTrue();
        assertThat(ConfigResolver.fromMap("fn", Map.of()).prewarm()).as("versions stored before the setting existed").isTrue();
    }

    @Test
    void asyncCallsGetThreeAttemptsOneSecondDoublingAndSixHoursUnlessSetOtherwise(@TempDir Path bundle) throws Exception {
        FunctionConfig defaults = ConfigResolver.fromMap("fn", Map.of());
        assertThat(defaults.asyncMaxAttempts()).isEqualTo(3);
        assertThat(defaults.asyncBackoff()).isEqualTo(Duration.ofSeconds(1));
        assertThat(defaults.asyncMaxAge()).isEqualTo(Duration.ofHours(6));

        Files.writeString(bundle.resolve("gale.toml"), "async-max-attempts = 5\nasync-backoff = \"200ms\"\n");
        FunctionConfig c = ConfigResolver.resolve("fn", bundle, Map.of("asyncMaxAge", "10m", "asyncOnFailure", "alerts"));
        assertThat(defaults.asyncOnSuccess()).isEmpty();
        assertThat(c.asyncOnFailure()).isEqualTo("alerts");

        assertThat(c.asyncMaxAttempts()).isEqualTo(5);
        assertThat(c.asyncBackoff()).isEqualTo(Duration.ofMillis(200));
        assertThat(c.asyncMaxAge()).isEqualTo(Duration.ofMinutes(10));
        assertThat(ConfigResolver.fromMap("fn", c.toMap())).isEqualTo(c);
    }

    @Test
    void theWireFormRoundTrips(@TempDir Path bundle) {
        FunctionConfig c = ConfigResolver.resolve("fn", bundle, Map.of("memory", "768MB", "env", Map.of("A", "1"),
                "cors", "https://a.example,https://b.example"));

        assertThat(ConfigResolver.fromMap("fn", c.toMap())).isEqualTo(c);
    }

    @ParameterizedTest(name = "{0}={1} is rejected naming {2}")
    @CsvSource({"concurrency, 0, concurrency", "maxInstances, 0, max-instances", "memory, 1MB, memory",
            "timeout, 2h, timeout", "runtime, cobol, runtime", "signature, soap, signature", "entryPoint, 1abc, entry-point",
            "entryModule, ../main.py, entry-module", "colour, blue, colour", "asyncMaxAttempts, 0, async-max-attempts",
            "asyncMaxAttempts, 101, async-max-attempts", "asyncBackoff, 1ms, async-backoff", "asyncBackoff, 2h, async-backoff",
            "asyncMaxAge, 500ms, async-max-age", "asyncMaxAge, soon, async-max-age",
            "asyncOnSuccess, Not_A_Name, async-on-success", "asyncOnFailure, -x, async-on-failure"})
    void invalidSettingsNameTheKey(String key, String value, String named, @TempDir Path bundle) {
        assertThatThrownBy(() -> ConfigResolver.resolve("fn", bundle, Map.of(key, value)))
                .isInstanceOf(InvalidConfigException.class).hasMessageContaining(named);
    }

    @Test
    void reservedEnvNamesAreRejected(@TempDir Path bundle) {
        assertThatThrownBy(() -> ConfigResolver.resolve("fn", bundle, Map.of("env", Map.of("GALE_TOKEN", "x"))))
                .hasMessageContaining("reserved");
    }

    @Test
    void minInstancesAboveMaxIsRejected(@TempDir Path bundle) {
        assertThatThrownBy(() -> ConfigResolver.resolve("fn", bundle, Map.of("minInstances", 3, "maxInstances", 2)))
                .hasMessageContaining("min-instances");
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource(delimiter = '|', value = {
            "memory = \"512MB                 | not valid TOML at line 1",
            "memory = 512MB                    | strings need quotes",
            "memroy = \"512MB\"              | unknown key 'memroy' in gale.toml; known keys: runtime",
            "concurrency = 1.5                 | concurrency must be a whole number, got '1.5'",
            "concurrency = \"lots\"          | concurrency must be a whole number, got 'lots'",
            "max-instances = 3000000000        | max-instances is out of range, got 3000000000",
            "memory = 0                        | memory must be between 32MB and 64GB, got 0B",
            "concurrency = -1                  | concurrency must be between 1 and 1000, got -1",
            "timeout = 0                       | timeout must be between 1ms and 1h",
            "runtime = [\"python3\"]         | runtime must be a single value, got a list",
            "allow-unauthenticated = \"maybe\" | allow-unauthenticated must be true or false, got 'maybe'"})
    void aBrokenGaleTomlIsRefusedNamingTheKeyAndWhatIsAllowed(String toml, String message, @TempDir Path bundle) throws IOException {
        Files.writeString(bundle.resolve("gale.toml"), toml);

        assertThatThrownBy(() -> ConfigResolver.resolve("scorer", bundle, Map.of()))
                .isInstanceOf(InvalidConfigException.class).hasMessageContaining(message);
    }

    @Test
    void anEnvValueMustBeAString(@TempDir Path bundle) throws IOException {
        Files.writeString(bundle.resolve("gale.toml"), "[env]\nMODEL = { path = \"a.pkl\" }\n");

        assertThatThrownBy(() -> ConfigResolver.resolve("scorer", bundle, Map.of()))
                .hasMessageContaining("env MODEL must be a string");
    }
}
