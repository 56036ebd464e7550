package gale.cli;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import gale.config.DataSize;
import gale.kubernetes.KubernetesSettings;
import gale.registry.BundleLimits;
import gale.runtime.python.ZygoteBudget;
import gale.server.ServerConfig;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class ServerOptionsTest {

    @Test
    void keepsDataInGaleHomeAndListensOnLocalhost8080ByDefault() {
        ServerConfig config = config(Map.of("GALE_HOME", "/srv/gale"), "server");

        assertThat(config.dataDir()).isEqualTo(Path.of("/srv/gale"));
        assertThat(config.host()).isEqualTo("127.0.0.1");
        assertThat(config.port()).isEqualTo(8080);
        assertThat(config.maxBodyBytes()).isEqualTo(ServerConfig.DEFAULT_MAX_BODY_BYTES);
        assertThat(config.bundleLimits()).isEqualTo(BundleLimits.DEFAULT);
    }

    @Test
    void appliesEveryFlag() {
        ServerConfig config = config(Map.of(), "server", "--host", "0.0.0.0", "--port", "0", "--data-dir", "/tmp/gale",
                "--python", "/opt/py/bin/python3", "--max-body", "1GiB", "--wheel-dir", "/wheels",
                "--pip-index-url", "http://pypi.internal/simple", "--max-bundle", "200MB", "--max-bundle-expanded", "2GB",
                "--max-bundle-files", "50000", "--max-zygotes", "12", "--zygote-idle-timeout", "90s", "--shutdown-grace", "3s",
                "--min-schedule-interval", "5s", "--max-blob-size", "300MB", "--store", "jdbc:postgresql://db:5432/gale?user=g");

        assertThat(config).isEqualTo(new ServerConfig("0.0.0.0", 0, Path.of("/tmp/gale"), Path.of("/opt/py/bin/python3"),
                1L << 30, new BundleLimits(DataSize.ofMegabytes(200), DataSize.ofMegabytes(2048), 50_000),
                Optional.of("http://pypi.internal/simple"), Optional.of(Path.of("/wheels")), config.drainTimeout(),
                new ZygoteBudget(12, Duration.ofSeconds(90)), Duration.ofSeconds(3), Duration.ofSeconds(5), 300L << 20,
                Optional.of("jdbc:postgresql://db:5432/gale?user=g"), Optional.empty(), gale.nodes.NodeSettings.DEFAULT));
    }

    @Test
    void takesTheNodeSettingsFromFlagsBeforeTheEnvironment() {
        var env = Map.of("GALE_ADVERTISE", "http://10.0.0.5:8080", "GALE_NODE_HEARTBEAT", "1s", "GALE_NODE_DEAD_AFTER", "5s");
        assertThat(config(env, "server").nodes()).isEqualTo(new gale.nodes.NodeSettings(Optional.of("http://10.0.0.5:8080"),
                Duration.ofSeconds(1), Duration.ofSeconds(5)));
        assertThat(config(env, "server", "--advertise", "http://gale-2:8080", "--node-heartbeat", "500ms",
                "--node-dead-after", "3s").nodes()).isEqualTo(new gale.nodes.NodeSettings(Optional.of("http://gale-2:8080"),
                Duration.ofMillis(500), Duration.ofSeconds(3)));

        GaleCli.Result tooSoon = GaleCli.run(Map.of(), "server", "--node-heartbeat", "5s", "--node-dead-after", "6s");
        assertThat(tooSoon.exitCode()).isNotZero();
        assertThat(tooSoon.err()).contains("--node-dead-after must be at least twice --node-heartbeat");
        GaleCli.Result notAUrl = GaleCli.run(Map.of(), "server", "--advertise", "gale-2:8080");
        assertThat(notAUrl.err()).contains("--advertise takes the URL");
    }

    @Test
    void takesTheStoreFromGaleStoreAndRefusesOneThatIsNotPostgresql() {
        assertThat(config(Map.of("GALE_STORE", "jdbc:postgresql://db/gale"), "server").store()).contains("jdbc:postgresql://db/gale");
        assertThat(config(Map.of(), "server").store()).isEmpty();

        GaleCli.Result result = GaleCli.run(Map.of(), "server", "--store", "mysql://db/gale");
        assertThat(result.exitCode()).isNotZero();
        assertThat(result.err()).contains("--store takes a PostgreSQL JDBC URL");
    }

    @Test
    void runsInstancesAsLocalProcessesUnlessToldKubernetes() {
        assertThat(config(Map.of(), "server").kubernetes()).isEmpty();
        assertThat(config(Map.of("GALE_INSTANCES", "local"), "server").kubernetes()).isEmpty();
    }

    @Test
    void takesThePodsSettingsFromFlagsBeforeGaleK8sVariables() {
        var env = Map.of("GALE_INSTANCES", "kubernetes", "GALE_K8S_NAMESPACE", "from-env", "GALE_K8S_IMAGE", "registry.example/fn:1",
                "GALE_K8S_ADVERTISE_ADDRESS", "10.1.2.3", "GALE_K8S_INSTANCE_PORT", "7171", "GALE_K8S_POD_START_TIMEOUT", "5m",
                "GALE_K8S_POD_NAME", "gale-7d9f8b6c5-x2x4z", "GALE_K8S_POD_UID", "uid-1");

        var fromEnv = config(env, "server").kubernetes().orElseThrow();
        var flagged = config(env, "server", "--namespace", "from-flag", "--image", "img:2", "--advertise-address", "10.9.9.9",
                "--instance-port", "7272", "--pod-start-timeout", "30s").kubernetes().orElseThrow();

        assertThat(fromEnv).isEqualTo(new KubernetesSettings("from-env", "registry.example/fn:1", "10.1.2.3", 7171, "gale-7d9f8b6c5-x2x4z",
                Optional.of(new KubernetesSettings.OwnerPod("gale-7d9f8b6c5-x2x4z", "uid-1")), Duration.ofMinutes(5)));
        assertThat(flagged).isEqualTo(new KubernetesSettings("from-flag", "img:2", "10.9.9.9", 7272, "gale-7d9f8b6c5-x2x4z",
                Optional.of(new KubernetesSettings.OwnerPod("gale-7d9f8b6c5-x2x4z", "uid-1")), Duration.ofSeconds(30)));
    }

    @Test
    void outsideAPodTheNodeIsNamedAfterTheDataDirAndOwnsNothing() {
        var settings = config(Map.of(), "server", "--data-dir", "/srv/gale", "--instances", "kubernetes", "--namespace", "gale",
                "--image", "img", "--advertise-address", "10.1.2.3").kubernetes().orElseThrow();

        assertThat(settings.node()).matches("gale-[0-9a-f]{12}");
        assertThat(settings.owner()).isEmpty();
        assertThat(settings.instancePort()).isEqualTo(KubernetesSettings.DEFAULT_INSTANCE_PORT);
        assertThat(settings.podStartTimeout()).isEqualTo(KubernetesSettings.DEFAULT_POD_START_TIMEOUT);
    }

    @Test
    void refusesKubernetesWithoutAnImageOrAnUnknownPlaceForInstances() {
        GaleCli.Result noImage = GaleCli.run(Map.of(), "server", "--instances", "kubernetes", "--namespace", "gale",
                "--advertise-address", "10.1.2.3");
        GaleCli.Result unknown = GaleCli.run(Map.of(), "server", "--instances", "nomad");

        assertThat(noImage.exitCode()).isNotZero();
        assertThat(noImage.err()).contains("--image must name the function image");
        assertThat(unknown.exitCode()).isNotZero();
        assertThat(unknown.err()).contains("--instances takes local or kubernetes, got 'nomad'");
    }

    @Test
    void refusesASizeItCannotRead() {
        GaleCli.Result result = GaleCli.run(Map.of(), "server", "--max-body", "ten megs");

        assertThat(result.exitCode()).isEqualTo(ExitCode.USAGE);
        assertThat(result.err()).contains("'ten megs' is not a size");
    }

    /** The server's config from {@code gale ARGS} with {@code env}, as the command line parses them. */
    static ServerConfig config(Map<String, String> env, String... args) {
        Terminal quiet = new Terminal(new ByteArrayInputStream(new byte[0]), new PrintStream(new ByteArrayOutputStream(), true, UTF_8),
                new PrintStream(new ByteArrayOutputStream(), true, UTF_8), false, false);
        CommandLine.ParseResult parsed = GaleCommand.commandLine(quiet, env).parseArgs(args);
        return ((ServerCommand) parsed.subcommand().commandSpec().userObject()).options.config(env);
    }
}
