package gale.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class KeysCommandTest {

    private static final String KEY = "gk_AbCdEfGh0123456789012345678901234567890x";

    @RegisterExtension
    final FakeApi api = FakeApi.started();

    @Test
    void createSendsEveryScopeAndSettingAndPrintsTheKeyAloneOnStandardOutput() {
        api.on("POST /v1/keys", 201, "{\"name\": \"ci\", \"id\": \"gk_AbCdEfGh\", \"scopes\": [\"deploy\", \"invoke:a,b\"],"
                + " \"rate\": \"10/s\", \"burst\": 10, \"expiresAt\": \"2027-01-01T00:00:00Z\", \"secret\": \"" + KEY + "\"}");

        GaleCli.Result result = GaleCli.run(api.env(), "keys", "create", "ci", "--scope", "deploy", "--scope", "invoke:a,b",
                "--rate", "10/s", "--expires", "30d");

        assertThat(result.exitCode()).as(result.err()).isEqualTo(ExitCode.OK);
        assertThat(result.out()).isEqualTo(KEY + "\n"); // KEY=$(gale keys create ...) takes it as it is
        assertThat(result.err()).contains("Created access key ci (gk_AbCdEfGh) with deploy, invoke:a,b, rate 10/s (burst 10), "
                + "expires 2027-01-01T00:00:00Z").contains("only time it is shown");
        assertThat(api.requests().getFirst().body()).isEqualTo(
                "{\"name\":\"ci\",\"scopes\":[\"deploy\",\"invoke:a,b\"],\"rate\":\"10/s\",\"expiresIn\":\"30d\"}");
    }

    @Test
    void anExpiryThatIsNoDurationIsSentAsADate() {
        api.on("POST /v1/keys", 201, "{\"name\": \"ci\", \"id\": \"gk_AbCdEfGh\", \"scopes\": [\"logs\"], \"secret\": \"" + KEY + "\"}");

        GaleCli.run(api.env(), "keys", "create", "ci", "--scope", "logs", "--expires", "2027-01-31", "--rate", "5/m", "--burst", "2");

        assertThat(api.requests().getFirst().body()).contains("\"expiresAt\":\"2027-01-31\"").contains("\"burst\":2");
    }

    @Test
    void createWithoutAScopeIsAUsageError() {
        GaleCli.Result result = GaleCli.run(api.env(), "keys", "create", "ci");

        assertThat(result.exitCode()).isEqualTo(ExitCode.USAGE);
        assertThat(result.err()).contains("--scope");
        assertThat(api.requests()).isEmpty();
    }

    @Test
    void lsShowsIdsScopesAndUseNeverKeys() {
        api.on("GET /v1/keys", 200, "[{\"name\": \"ci\", \"id\": \"gk_AbCdEfGh\", \"scopes\": [\"deploy\", \"logs\"], \"rate\": null,"
                + " \"state\": \"active\", \"createdAt\": \"2026-12-06T02:00:00Z\", \"lastUsedAt\": \"2026-12-06T03:00:00Z\","
                + " \"expiresAt\": null}]");

        GaleCli.Result result = GaleCli.run(api.env(), "keys", "ls");

        assertThat(result.out()).contains("NAME", "ID", "SCOPES", "LAST USED", "EXPIRES")
                .contains("ci    gk_AbCdEfGh  deploy logs  -     active  2026-12-06T02:00:00Z  2026-12-06T03:00:00Z  never");
    }

    @Test
    void revokingAKeyThatIsNotThereFails() {
        api.on("DELETE /v1/keys/gone", 404, "{\"error\": \"no live key named 'gone'\", \"status\": 404}");

        GaleCli.Result result = GaleCli.run(api.env(), "keys", "revoke", "gone");

        assertThat(result.exitCode()).isEqualTo(ExitCode.FAILED);
        assertThat(result.err()).contains("no live key gone");
    }

    @Test
    void auditPassesItsFiltersAndShowsWhoDidWhat() {
        api.on("GET /v1/audit", 200, "[{\"at\": \"2026-12-06T02:00:00Z\", \"actor\": \"ci\", \"keyId\": \"gk_AbCdEfGh\","
                + " \"action\": \"function.deploy\", \"target\": \"functions/scorer/versions\", \"function\": \"scorer\","
                + " \"client\": \"10.0.0.7\", \"outcome\": \"ok\", \"status\": 202, \"detail\": \"version 4\"}]");

        GaleCli.Result result = GaleCli.run(api.env(), "audit", "--since", "1d", "--function", "scorer");

        assertThat(result.exitCode()).as(result.err()).isEqualTo(ExitCode.OK);
        assertThat(api.requests().getFirst().uri()).isEqualTo("/v1/audit?limit=100&since=1d&function=scorer");
        assertThat(result.out()).contains("ci (gk_AbCdEfGh)  function.deploy  functions/scorer/versions  ok 202   10.0.0.7  version 4");
    }
}
