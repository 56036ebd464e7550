package gale.cli;

import static org.assertj.core.api.Assertions.assertThat;

import gale.client.GaleClient;
import gale.server.GaleServer;
import gale.server.ServerConfig;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `gale traffic`, `gale deploy` and `gale rollback` against a real server with real Python versions (docs/traffic.md). */
class TrafficCommandTest {

    @TempDir
    static Path tmp;
    static GaleServer server;
    static Map<String, String> env;
    static GaleClient client;

    @BeforeAll
    static void startAndDeployTwoVersions() throws IOException {
        server = GaleServer.start(ServerConfig.defaults(tmp.resolve("data")).withPort(0));
        env = Map.of("GALE_URL", server.url(), "GALE_TOKEN", server.adminToken());
        client = new GaleClient(URI.create(server.url()), server.adminToken());
        for (int v = 1; v <= 2; v++) deploy(v);
    }

    static GaleCli.Result deploy(int version) throws IOException {
        Path source = Files.createDirectories(tmp.resolve("scorer-v" + version));
        Files.writeString(source.resolve("main.py"), "def scorer(request):\n    return 'v" + version + "'\n");
        GaleCli.Result deploy = GaleCli.run(env, "deploy", "scorer", "--source", source.toString());
        assertThat(deploy.exitCode()).as(deploy.err()).isEqualTo(ExitCode.OK);
        return deploy;
    }

    @AfterAll
    static void stop() {
        if (client != null) client.close();
        if (server != null) server.close();
    }

    private static String call(String target) {
        return new String(client.call(target, "GET", "", new byte[0], Map.of()).body(), StandardCharsets.UTF_8);
    }

    @Test
    void aCanaryIsSetShownAndRolledBackFromTheCommandLine() throws IOException {
        GaleCli.Result set = GaleCli.run(env, "traffic", "scorer", "--to", "v1=90,v2=10", "--tag", "canary=v2");

        assertThat(set.exitCode()).as(set.err()).isEqualTo(ExitCode.OK);
        assertThat(set.out()).contains("scorer: split pinned")
                .containsPattern("(?m)^v1 +INACTIVE +90% +\\d+ +\\d+.* +- +" + server.url() + "/fn/scorer@v1$")
                .containsPattern("(?m)^v2 +ACTIVE +10% +\\d+ +\\d+.* +canary +" + server.url() + "/fn/scorer@v2$")
                .contains("  canary  " + server.url() + "/fn/scorer@canary");
        assertThat(call("scorer@canary")).isEqualTo("v2");

        // A new deploy takes no calls while the split is pinned, and says so.
        GaleCli.Result third = deploy(3);
        assertThat(third.out()).contains("The traffic split is pinned (v1=90,v2=10): version 3 takes no calls",
                server.url() + "/fn/scorer@v3");
        assertThat(GaleCli.run(env, "describe", "scorer").out()).contains("v1 90%, v2 10% (pinned; gale traffic scorer)");

        GaleCli.Result rollback = GaleCli.run(env, "rollback", "scorer", "2");
        assertThat(rollback.exitCode()).as(rollback.err()).isEqualTo(ExitCode.OK);
        for (int i = 0; i < 20; i++) assertThat(call("scorer")).isEqualTo("v2");

        GaleCli.Result shown = GaleCli.run(env, "traffic", "scorer");
        assertThat(shown.out()).contains("scorer: all calls to the ACTIVE version")
                .containsPattern("(?m)^v2 +ACTIVE +100% ");

        GaleCli.Result untagged = GaleCli.run(env, "traffic", "scorer", "--remove-tag", "canary");
        assertThat(untagged.exitCode()).as(untagged.err()).isEqualTo(ExitCode.OK);
        assertThat(client.traffic("scorer").path("tags").size()).isZero();

        GaleCli.Result latest = GaleCli.run(env, "traffic", "scorer", "--to-latest");
        assertThat(latest.exitCode()).as(latest.err()).isEqualTo(ExitCode.OK);
        assertThat(call("scorer")).isEqualTo("v2");

        // --no-traffic: the new version is ACTIVE, the calls stay where they were.
        Path v4 = Files.createDirectories(tmp.resolve("scorer-v4"));
        Files.writeString(v4.resolve("main.py"), "def scorer(request):\n    return 'v4'\n");
        GaleCli.Result quiet = GaleCli.run(env, "deploy", "scorer", "--source", v4.toString(), "--no-traffic");
        assertThat(quiet.exitCode()).as(quiet.err()).isEqualTo(ExitCode.OK);
        assertThat(quiet.out()).contains("The traffic split is pinned (v2=100): version 4 takes no calls");
        assertThat(call("scorer")).isEqualTo("v2");
        assertThat(call("scorer@v4")).isEqualTo("v4");
    }

    @Test
    void aSplitThatDoesNotParseIsAUsageErrorAndOneTheServerRefusesFailsWithItsReason() {
        String before = splitAndTags();

        for (String[] args : new String[][] {{"--to", "v1=90,v2"}, {"--to", "v1=ninety,v2=10"}, {"--to", "x1=100"},
                {"--to", "v1=100", "--to-latest"}, {"--tag", "canary"}, {"--remove-tag", "nope"}}) {
            String[] full = new String[args.length + 2];
            full[0] = "traffic";
            full[1] = "scorer";
            System.arraycopy(args, 0, full, 2, args.length);
            GaleCli.Result r = GaleCli.run(env, full);
            assertThat(r.exitCode()).as(String.join(" ", args) + ": " + r.err()).isEqualTo(ExitCode.USAGE);
        }
        GaleCli.Result refused = GaleCli.run(env, "traffic", "scorer", "--to", "v1=90");

        assertThat(refused.exitCode()).isEqualTo(ExitCode.FAILED);
        assertThat(refused.err()).contains("the split v1=90 adds up to 90%, not 100%", "(HTTP 400)");
        assertThat(splitAndTags()).isEqualTo(before);
    }

    private static String splitAndTags() {
        var traffic = client.traffic("scorer");
        return traffic.path("pinned") + " " + traffic.path("to") + " " + traffic.path("tags");
    }
}
