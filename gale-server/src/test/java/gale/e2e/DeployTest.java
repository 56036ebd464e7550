package gale.e2e;

import gale.client.Version;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.time.Duration;
import java.util.Map;
import java.util.OptionalInt;
import java.util.concurrent.CompletableFuture;

import static gale.e2e.GaleHarness.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Deploys make immutable versions; only one that loads replaces the serving version. */
class DeployTest extends GaleE2E {

    private static final String V1 = """
            def api(request):
                return "v1"
            """;

    @Test
    void aBrokenDeployFailsWithTheReasonAndThePreviousVersionKeepsServing() {
        gale.deployActive("api", gale.bundle("api", "main.py", V1));

        Version syntax = gale.deploy("api", gale.bundle("api", "main.py", "def api(request)\n    return 'v2'\n"));
        Version imports = gale.deploy("api", gale.bundle("api", "main.py", "import xgboost_not_here\ndef api(r):\n    return 1\n"));
        Version entry = gale.deploy("api", gale.bundle("api", "main.py", "def apii(request):\n    return 'typo'\n"));

        assertThat(syntax.state().name()).isEqualTo("FAILED");
        assertThat(syntax.reason()).hasValueSatisfying(r -> assertThat(r).contains("syntax error").contains("line 1"));
        assertThat(imports.reason()).hasValueSatisfying(r -> assertThat(r).contains("import error").contains("xgboost_not_here"));
        assertThat(entry.reason()).hasValueSatisfying(r -> assertThat(r).contains("api").contains("apii"));
        assertThat(text(gale.get("api", ""))).isEqualTo("v1");
        assertThat(gale.client.function("api").activeVersion()).hasValue(1);
    }

    @Test
    void anUnsatisfiableRequirementFailsTheDeployNamingThePackage() {
        gale.deployActive("reqs", gale.bundle("reqs", "main.py", V1.replace("api", "reqs")));

        Version v = gale.deploy("reqs", gale.bundle("reqs", "main.py", V1.replace("api", "reqs"),
                "requirements.txt", "scikit-learn>=1.0\nnumpy\ndefinitely-not-a-package==9.9\n"));

        assertThat(v.state().name()).isEqualTo("FAILED");
        assertThat(v.reason()).hasValueSatisfying(r -> assertThat(r).contains("definitely-not-a-package")
                .contains("GALE_WHEEL_DIR").doesNotContain("scikit-learn"));
        assertThat(text(gale.get("reqs", ""))).isEqualTo("v1");
    }

    @Test
    void requirementsThatDebianAlreadySatisfiesNeedNoNetwork() {
        Version v = gale.deployActive("sk", gale.bundle("sk", "main.py", """
                import sklearn
                def sk(request):
                    return sklearn.__version__
                """, "requirements.txt", "# from Debian\nscikit-learn>=1.0\nflask\n"));

        assertThat(v.state().name()).isEqualTo("ACTIVE");
        assertThat(text(gale.get("sk", ""))).matches("\\d+\\.\\d+.*");
    }

    @Test
    void galeTomlInTheBundleSetsTheConfigAndFlagsWin() {
        Version v = gale.deployActive("toml", gale.bundle("toml", "main.py", """
                def handle(request):
                    import os
                    return os.environ["GREETING"]
                """, "gale.toml", """
                entry-point = "handle"
                memory = "512MB"
                timeout = "20s"
                max-instances = 3

                [env]
                GREETING = "from toml"
                """), "maxInstances", 2);

        assertThat(v.config()).containsEntry("memory", "512MB").containsEntry("timeout", "20s").containsEntry("maxInstances", 2);
        assertThat(text(gale.get("toml", ""))).isEqualTo("from toml");
    }

    @Test
    void rollbackServesThePreviousVersionAgain() {
        gale.deployActive("roll", gale.bundle("roll", "main.py", V1.replace("api", "roll")));
        gale.deployActive("roll", gale.bundle("roll", "main.py", V1.replace("api", "roll").replace("v1", "v2")));
        assertThat(text(gale.get("roll", ""))).isEqualTo("v2");

        gale.client.rollback("roll", OptionalInt.empty());
        assertThat(text(gale.get("roll", ""))).isEqualTo("v1");

        gale.client.rollback("roll", OptionalInt.of(2));
        assertThat(text(gale.get("roll", ""))).isEqualTo("v2");
        assertThat(gale.client.versions("roll")).extracting(x -> x.state().name()).containsExactly("ACTIVE", "INACTIVE");
    }

    @Test
    void aRedeployDrainsOldInstancesWithoutFailingInFlightCalls() {
        String slow = """
                import time
                def drain(request):
                    time.sleep(float(request.args.get("s", "0")))
                    return "VERSION"
                """;
        gale.deployActive("drain", gale.bundle("drain", "main.py", slow.replace("VERSION", "old")), "maxInstances", 2);
        var inFlight = gale.client.callAsync("drain", "GET", "?s=2", new byte[0], Map.of());

        gale.deployActive("drain", gale.bundle("drain", "main.py", slow.replace("VERSION", "new")));

        assertThat(text(inFlight.join())).isEqualTo("old");
        assertThat(text(gale.get("drain", ""))).isEqualTo("new");
    }

    @Test
    void aBundleThatIsNotAZipIsRejectedAndNothingIsCreated() throws IOException {
        var notZip = Files.writeString(gale.work.resolve("not-a.zip"), "this is not a zip");

        assertThatThrownBy(() -> gale.client.deploy("junk", notZip, Map.of()))
                .hasMessageContaining("zip");
        assertThat(gale.client.functions()).noneMatch(f -> f.name().equals("junk"));
    }

    @Test
    void invalidSettingsAreRejectedWithTheKeyNamed() {
        assertThatThrownBy(() -> gale.client.deploy("bad", gale.bundle("bad", "main.py", V1), Map.of("memory", "lots")))
                .hasMessageContaining("lots");
        assertThatThrownBy(() -> gale.client.deploy("bad", gale.bundle("bad", "main.py", V1),
                Map.of("minInstances", 5, "maxInstances", 2))).hasMessageContaining("min-instances");
    }

    @Test
    void deletingAFunctionStopsServingIt() {
        gale.deployActive("gone", gale.bundle("gone", "main.py", V1.replace("api", "gone")));

        gale.client.delete("gone");

        assertThat(gale.get("gone", "").statusCode()).isEqualTo(404);
    }

    static <T> T join(CompletableFuture<T> f) {
        return f.orTimeout(Duration.ofSeconds(30).toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS).join();
    }
}
