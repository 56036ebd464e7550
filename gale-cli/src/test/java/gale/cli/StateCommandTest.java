package gale.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class StateCommandTest {

    private static final String ENTRY = """
            {"namespace": "survey", "key": "user/1", "value": {"seen": [1, 2]}, "version": 7, "expiresAt": null}""";

    @RegisterExtension
    final FakeApi api = FakeApi.started();

    @Test
    void getPrintsTheValueAsJsonAndItsVersionWhenAsked() {
        api.on("GET /v1/state/survey/user/1", 200, ENTRY);

        GaleCli.Result result = GaleCli.run(api.env(), "state", "get", "survey", "user/1", "--with-version");

        assertThat(result.exitCode()).isEqualTo(ExitCode.OK);
        assertThat(result.out()).isEqualTo("{\"seen\":[1,2]}\nversion 7\n");
    }

    @Test
    void getOfAMissingKeyFailsSayingSo() {
        api.on("GET /v1/state/survey/nope", 404, "{\"error\": \"no key\", \"status\": 404}");

        GaleCli.Result result = GaleCli.run(api.env(), "state", "get", "survey", "nope");

        assertThat(result.exitCode()).isEqualTo(ExitCode.FAILED);
        assertThat(result.err()).contains("no key 'nope' in state namespace 'survey'");
    }

    @Test
    void putSendsTheJsonWithItsTtlAndVersionCondition() {
        api.on("PUT /v1/state/survey/user/1", 200, """
                {"namespace": "survey", "key": "user/1", "version": 8, "expiresAt": null}""");

        GaleCli.Result result = GaleCli.run(api.env(), "state", "put", "survey", "user/1", "{\"seen\": []}", "--ttl", "1h",
                "--if-version", "7");

        assertThat(result.exitCode()).isEqualTo(ExitCode.OK);
        assertThat(result.out()).contains("Stored survey/user/1 at version 8.");
        FakeApi.Request sent = api.requests().getFirst();
        assertThat(sent.uri()).isEqualTo("/v1/state/survey/user/1?ttl=3600000ms");
        assertThat(sent.body()).isEqualTo("{\"seen\": []}");
        assertThat(header(sent, "If-Match")).containsExactly("\"7\"");
    }

    @Test
    void aStaleVersionIsReportedWithTheServersMessage() {
        api.on("PUT /v1/state/survey/k", 412, "{\"error\": \"precondition failed: key 'k' is at version 9\", \"status\": 412}");

        GaleCli.Result result = GaleCli.run(api.env(), "state", "put", "survey", "k", "1", "--if-version", "7");

        assertThat(result.exitCode()).isEqualTo(ExitCode.FAILED);
        assertThat(result.err()).contains("precondition failed: key 'k' is at version 9 (HTTP 412)");
    }

    @Test
    void incrPrintsTheNewValue() {
        api.on("POST /v1/state/survey/hits", 200, """
                {"namespace": "survey", "key": "hits", "value": 12, "version": 9, "expiresAt": null}""");

        GaleCli.Result result = GaleCli.run(api.env(), "state", "incr", "survey", "hits", "--by", "2");

        assertThat(result.out()).isEqualTo("12\n");
        assertThat(api.requests().getFirst().uri()).isEqualTo("/v1/state/survey/hits?op=increment");
        assertThat(api.requests().getFirst().body()).isEqualTo("{\"by\":2}");
    }

    @Test
    void lsShowsAPageOfKeys() {
        api.on("GET /v1/state/survey", 200, "{\"namespace\": \"survey\", \"entries\": [" + ENTRY + "], \"next\": \"user/1\"}");

        GaleCli.Result result = GaleCli.run(api.env(), "state", "ls", "survey", "--prefix", "user/", "--limit", "1");

        assertThat(result.out()).contains("KEY").contains("user/1").contains("{\"seen\":[1,2]}");
        assertThat(result.err()).contains("more keys after user/1");
        assertThat(api.requests().getFirst().uri()).isEqualTo("/v1/state/survey?limit=1&prefix=user%2F");
    }

    @Test
    void rmDeletesAndSaysWhenThereWasNothing() {
        api.on("DELETE /v1/state/survey/k", 204, "");

        assertThat(GaleCli.run(api.env(), "state", "rm", "survey", "k").out()).isEqualTo("Deleted survey/k.\n");
        assertThat(GaleCli.run(api.env(), "state", "rm", "survey", "other").exitCode()).isEqualTo(ExitCode.FAILED);
    }

    @Test
    void stateAloneShowsItsSubcommands() {
        GaleCli.Result result = GaleCli.run(api.env(), "state");

        assertThat(result.exitCode()).isEqualTo(ExitCode.USAGE);
        assertThat(result.err()).contains("get").contains("put").contains("incr").contains("ls").contains("rm");
    }

    private static List<String> header(FakeApi.Request request, String name) {
        return request.headers().entrySet().stream().filter(e -> e.getKey().equalsIgnoreCase(name))
                .map(Map.Entry::getValue).findFirst().orElse(List.of());
    }
}
