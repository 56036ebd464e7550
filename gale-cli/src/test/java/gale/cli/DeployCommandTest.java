package gale.cli;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class DeployCommandTest {

    static final String VERSION = """
            {"function": "scorer", "version": %d, "state": "%s", %s "config": {}, "bundleDigest": "sha256:ab",
             "bundleBytes": 10, "createdAt": "2026-11-25T11:40:00Z"}""";
    static final String SUMMARY = """
            {"name": "scorer", "url": "http://127.0.0.1:8080/fn/scorer", "activeVersion": 1, "latestVersion": 2,
             "state": "ACTIVE", "config": {}, "instances": 1, "createdAt": "2026-11-25T11:40:00Z",
             "updatedAt": "2026-11-25T11:40:00Z"}""";

    @TempDir
    Path source;

    @Test
    void sendsAnEmptyConfigWhenOnlyTheSourceIsGiven() {
        assertThat(parse("deploy", "scorer", "--source", "src").config()).isEmpty();
    }

    @Test
    void mapsEachGivenFlagToItsApiKeyAndPassesSizesAndDurationsThroughAsWritten() {
        DeployCommand deploy = parse("deploy", "scorer", "--source", "src", "--runtime", "python3",
                "--entry-point", "prediction", "--entry-module", "app.py", "--signature", "WSGI", "--memory", "1GiB",
                "--timeout", "500ms", "--concurrency", "4", "--min-instances", "1", "--max-instances", "8",
                "--max-queue", "50", "--idle-timeout", "5m", "--env", "MODEL=churn", "--env", "DEBUG=1",
                "--allow-unauthenticated", "--cors", "https://a.example,https://b.example");

        assertThat(deploy.config()).containsExactly(
                Map.entry("runtime", "python3"),
                Map.entry("entryPoint", "prediction"),
                Map.entry("entryModule", "app.py"),
                Map.entry("signature", "wsgi"),
                Map.entry("memory", "1GiB"),
                Map.entry("timeout", "500ms"),
                Map.entry("concurrency", 4),
                Map.entry("minInstances", 1),
                Map.entry("maxInstances", 8),
                Map.entry("maxQueue", 50),
                Map.entry("idleTimeout", "5m"),
                Map.entry("env", Map.of("MODEL", "churn", "DEBUG", "1")),
                Map.entry("allowUnauthenticated", true),
                Map.entry("cors", "https://a.example,https://b.example"));
    }

    @Test
    void mapsTheProcessCommandAndTheIsolationFlagsToTheirApiKeys() {
        DeployCommand deploy = parse("deploy", "plots", "--source", "src", "--runtime", "process",
                "--command", "Rscript serve.R --port $PORT", "--cpu", "0.5", "--sandbox", "on", "--network", "all");

        assertThat(deploy.config()).containsExactly(
                Map.entry("runtime", "process"),
                Map.entry("command", "Rscript serve.R --port $PORT"),
                Map.entry("cpu", 0.5),
                Map.entry("sandbox", "on"),
                Map.entry("network", "all"));
    }

    @Test
    void blobBucketsAreSentAsAListWhenGranted() {
        assertThat(parse("deploy", "scorer", "--source", "src").config()).doesNotContainKey("blobBuckets");
        assertThat(parse("deploy", "scorer", "--source", "src", "--blob-bucket", "models", "--blob-bucket", "data").config())
                .containsEntry("blobBuckets", java.util.List.of("models", "data"));
    }

    @Test
    void triggersAreSentAsSourcesOrWithTheirKindsWhenTriggerEventsIsGiven() {
        assertThat(parse("deploy", "scorer", "--source", "src").config()).doesNotContainKey("triggers");
        assertThat(parse("deploy", "scorer", "--source", "src", "--trigger", "state:scorer/in/", "--trigger", "blob:scorer/").config())
                .containsEntry("triggers", java.util.List.of("state:scorer/in/", "blob:scorer/"));
        assertThat(parse("deploy", "scorer", "--source", "src", "--trigger", "state:scorer/in/", "--trigger-events", "put,delete")
                .config()).containsEntry("triggers", java.util.List.of(Map.of("source", "state:scorer/in/", "events",
                java.util.List.of("put", "delete"))));
    }

    @Test
    void triggerEventsWithoutATriggerIsAUsageError() {
        DeployCommand deploy = parse("deploy", "scorer", "--source", "src", "--trigger-events", "put");
        org.assertj.core.api.Assertions.assertThatThrownBy(deploy::config).isInstanceOf(CommandLine.ParameterException.class)
                .hasMessageContaining("--trigger-events goes with --trigger SOURCE");
    }

    @Test
    void stateNamespacesAreSentAsAListWhenGranted() {
        assertThat(parse("deploy", "scorer", "--source", "src").config()).doesNotContainKey("stateNamespaces");
        assertThat(parse("deploy", "scorer", "--source", "src", "--state-namespace", "survey", "--state-namespace", "votes").config())
                .containsEntry("stateNamespaces", java.util.List.of("survey", "votes"));
    }

    @Test
    void prewarmIsSentOnlyWhenGivenEitherWay() {
        assertThat(parse("deploy", "scorer", "--source", "src").config()).doesNotContainKey("prewarm");
        assertThat(parse("deploy", "scorer", "--source", "src", "--no-prewarm").config()).containsEntry("prewarm", false);
        assertThat(parse("deploy", "scorer", "--source", "src", "--prewarm").config()).containsEntry("prewarm", true);
    }

    @Test
    void sendsTheSandboxAndNetworkModesInLowerCaseWhateverTheCaseWritten() {
        assertThat(parse("deploy", "scorer", "--source", "src", "--sandbox", "OFF", "--network", "None").config())
                .containsExactly(Map.entry("sandbox", "off"), Map.entry("network", "none"));
    }

    @Test
    void refusesAnUnknownSandboxOrNetworkModeAsAUsageError() {
        GaleCli.Result sandbox = GaleCli.run(Map.of(), "deploy", "scorer", "--source", "src", "--sandbox", "maybe");
        GaleCli.Result network = GaleCli.run(Map.of(), "deploy", "scorer", "--source", "src", "--network", "lan");

        assertThat(sandbox.exitCode()).isEqualTo(ExitCode.USAGE);
        assertThat(sandbox.err()).contains("--sandbox");
        assertThat(network.exitCode()).isEqualTo(ExitCode.USAGE);
        assertThat(network.err()).contains("--network");
    }

    @Test
    void refusesACpuShareThatIsNotANumberAsAUsageError() {
        GaleCli.Result result = GaleCli.run(Map.of(), "deploy", "scorer", "--source", "src", "--cpu", "half");

        assertThat(result.exitCode()).isEqualTo(ExitCode.USAGE);
        assertThat(result.err()).contains("--cpu");
    }

    @Test
    void sendsTheScheduleFlagsAsTheFunctionsScheduleObject() {
        Map<String, Object> config = parse("deploy", "report", "--source", "src", "--schedule", "*/5 * * * *",
                "--time-zone", "Europe/Berlin", "--catch-up", "none", "--schedule-payload", "{\"kind\": \"full\"}").config();

        assertThat(config).containsOnlyKeys("schedule");
        assertThat(config.get("schedule").toString())
                .isEqualTo("{cron=*/5 * * * *, timeZone=Europe/Berlin, catchUp=none, payload={\"kind\":\"full\"}}");
        assertThat(parse("deploy", "warm", "--source", "src", "--every", "4m").config())
                .containsEntry("schedule", Map.of("every", "4m"));
    }

    @Test
    void refusesScheduleSettingsWithoutASchedule() throws IOException {
        GaleCli.Result result;
        try (FakeApi api = new FakeApi()) { // nothing is sent
            result = GaleCli.run(api.env(), "deploy", "report", "--source", "src", "--time-zone", "Europe/Berlin");
            assertThat(api.requests()).isEmpty();
        }

        assertThat(result.exitCode()).isEqualTo(ExitCode.USAGE);
        assertThat(result.err()).contains("--time-zone, --catch-up and --schedule-payload go with --schedule CRON or --every DURATION");
    }

    @Test
    void refusesASchedulePayloadThatIsNotJson() throws IOException {
        GaleCli.Result result;
        try (FakeApi api = new FakeApi()) {
            result = GaleCli.run(api.env(), "deploy", "report", "--source", "src", "--every", "5m",
                    "--schedule-payload", "{kind: full}");
            assertThat(api.requests()).isEmpty();
        }

        assertThat(result.exitCode()).isEqualTo(ExitCode.USAGE);
        assertThat(result.err()).contains("--schedule-payload is not JSON");
    }

    @Test
    void theHelpListsTheIsolationFlagsWithTheirChoices() {
        GaleCli.Result result = GaleCli.run(Map.of(), "deploy", "--help");

        assertThat(result.out()).contains("--command=CMD", "--cpu=N", "--sandbox=MODE", "--network=MODE")
                .contains("bubblewrap");
    }

    @Test
    void requireKeyIsSentAsTheRequireKeySetting() {
        assertThat(parse("deploy", "scorer", "--source", "src", "--require-key").config())
                .containsExactly(Map.entry("requireKey", true));
    }

    @Test
    void sendsFalseWhenAFunctionIsMadePrivateAgain() {
        assertThat(parse("deploy", "scorer", "--source", "src", "--no-allow-unauthenticated").config())
                .containsExactly(Map.entry("allowUnauthenticated", false));
    }

    @Test
    void refusesAnUnknownSignatureAsAUsageError() {
        GaleCli.Result result = GaleCli.run(Map.of(), "deploy", "scorer", "--source", "src", "--signature", "grpc");

        assertThat(result.exitCode()).isEqualTo(ExitCode.USAGE);
        assertThat(result.err()).contains("--signature");
    }

    @Test
    void waitsForTheVersionAndPrintsItsUrlWhenItIsActive() throws IOException {
        Files.writeString(source.resolve("main.py"), "def scorer(request): return 'ok'");
        try (FakeApi api = new FakeApi()
                .on("POST /v1/functions/scorer/versions", 202, VERSION.formatted(2, "DEPLOYING", ""))
                .on("GET /v1/functions/scorer/versions/2", 200, VERSION.formatted(2, "ACTIVE", ""))
                .on("GET /v1/functions/scorer", 200, SUMMARY)) {
            GaleCli.Result result = GaleCli.run(api.env(), "deploy", "scorer", "--source", source.toString());

            assertThat(result.exitCode()).isEqualTo(ExitCode.OK);
            assertThat(result.out()).contains("Deployed scorer version 2: ACTIVE", "URL: http://127.0.0.1:8080/fn/scorer");
        }
    }

    @Test
    void explainsAFailedDeployOnStderrAndExitsOne() throws IOException {
        Files.writeString(source.resolve("main.py"), "import xgboost");
        try (FakeApi api = new FakeApi()
                .on("POST /v1/functions/scorer/versions", 202, VERSION.formatted(2, "DEPLOYING", ""))
                .on("GET /v1/functions/scorer/versions/2", 200,
                        VERSION.formatted(2, "FAILED", "\"reason\": \"import error: No module named 'xgboost'\","))
                .on("GET /v1/functions/scorer", 200, SUMMARY)) {
            GaleCli.Result result = GaleCli.run(api.env(), "deploy", "scorer", "--source", source.toString());

            assertThat(result.exitCode()).isEqualTo(ExitCode.FAILED);
            assertThat(result.err()).startsWith(
                    "ERROR: deploy of scorer version 2 failed: import error: No module named 'xgboost' (version 1 keeps serving)");
        }
    }

    @Test
    void returnsRightAfterTheUploadWithAsync() throws IOException {
        Files.writeString(source.resolve("main.py"), "x = 1");
        try (FakeApi api = new FakeApi().on("POST /v1/functions/scorer/versions", 202, VERSION.formatted(2, "DEPLOYING", ""))) {
            GaleCli.Result result = GaleCli.run(api.env(), "deploy", "scorer", "--source", source.toString(), "--async");

            assertThat(result.exitCode()).isEqualTo(ExitCode.OK);
            assertThat(result.out()).contains("Uploaded scorer version 2: DEPLOYING");
            assertThat(api.requests()).hasSize(1);
        }
    }

    private static DeployCommand parse(String... args) {
        Terminal quiet = new Terminal(new ByteArrayInputStream(new byte[0]), new PrintStream(new ByteArrayOutputStream(), true, UTF_8),
                new PrintStream(new ByteArrayOutputStream(), true, UTF_8), false, false);
        CommandLine.ParseResult parsed = GaleCommand.commandLine(quiet, Map.of()).parseArgs(args);
        return (DeployCommand) parsed.subcommand().commandSpec().userObject();
    }
}
