package gale.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class CallCommandTest {

    @TempDir
    Path dir;

    @RegisterExtension
    final FakeApi api = FakeApi.started();

    @ParameterizedTest(name = "HTTP {0} exits {1}")
    @CsvSource({"200, 0", "204, 0", "302, 0", "400, 1", "401, 1", "404, 1", "429, 1", "500, 1", "502, 1", "504, 1"})
    void exitsZeroForTwoAndThreeHundredsAndOneForAnythingElse(int status, int exitCode) {
        api.on("GET /fn/scorer", status, "", "Location", "/elsewhere");

        assertThat(GaleCli.run(api.env(), "call", "scorer").exitCode()).isEqualTo(exitCode);
    }

    @Test
    void printsTheBodyOfASuccessfulCall() {
        api.on("GET /fn/scorer", 200, "{\"score\": 0.93}");

        GaleCli.Result result = GaleCli.run(api.env(), "call", "scorer");

        assertThat(result.out()).isEqualTo("{\"score\": 0.93}");
        assertThat(result.err()).isEmpty();
    }

    @Test
    void explainsAGaleErrorOnStderrWithItsStatusAndRequestId() {
        api.on("GET /fn/scorer", 504, "{\"error\": \"scorer did not answer within 30s\", \"requestId\": \"r-1\"}",
                "X-Gale-Error", "platform", "X-Gale-Request-Id", "r-1");

        GaleCli.Result result = GaleCli.run(api.env(), "call", "scorer");

        assertThat(result.out()).isEmpty();
        assertThat(result.err()).isEqualTo(
                "ERROR: scorer failed with HTTP 504 (platform error): scorer did not answer within 30s (request r-1)\n");
    }

    @Test
    void printsTheFunctionsOwnErrorBodyAndNamesTheStatusOnStderr() {
        api.on("POST /fn/scorer", 400, "{\"message\": \"amount is required\"}");

        GaleCli.Result result = GaleCli.run(api.env(), "call", "scorer", "--data", "{}");

        assertThat(result.exitCode()).isEqualTo(ExitCode.FAILED);
        assertThat(result.out()).isEqualTo("{\"message\": \"amount is required\"}");
        assertThat(result.err()).isEqualTo("ERROR: scorer answered HTTP 400\n");
    }

    @Test
    void sendsDataQueryPathMethodAndHeaders() {
        api.on("PUT /fn/scorer/predict", 200, "ok");

        GaleCli.run(api.env(), "call", "scorer", "--path", "predict", "-X", "put", "--data", "{\"amount\": 1}",
                "--query", "threshold=0.5", "--query", "tag=a b", "--header", "X-Trace: abc");

        FakeApi.Request call = api.requests().getFirst();
        assertThat(call.method()).isEqualTo("PUT");
        assertThat(call.uri()).isEqualTo("/fn/scorer/predict?threshold=0.5&tag=a+b");
        assertThat(call.body()).isEqualTo("{\"amount\": 1}");
        assertThat(call.header("Content-Type")).isEqualTo("application/json");
        assertThat(call.header("X-Trace")).isEqualTo("abc");
        assertThat(call.header("Authorization")).isEqualTo("Bearer t0ken");
    }

    @Test
    void postsTheContentOfAFileGivenWithAt() throws IOException {
        Path data = Files.writeString(dir.resolve("input.json"), "{\"amount\": 420}");
        api.on("POST /fn/scorer", 200, "ok");

        GaleCli.run(api.env(), "call", "scorer", "--data", "@" + data);

        assertThat(api.requests().getFirst().body()).isEqualTo("{\"amount\": 420}");
    }

    @Test
    void printsTheStatusAndHeadersFirstWithInclude() {
        api.on("GET /fn/scorer", 200, "ok", "X-Gale-Request-Id", "r-7");

        GaleCli.Result result = GaleCli.run(api.env(), "call", "scorer", "-i");

        assertThat(result.out()).startsWith("HTTP/1.1 200\n").contains("x-gale-request-id: r-7\n").endsWith("\n\nok");
    }

    @Test
    void exitsThreeAndNamesTheUrlWhenNoServerAnswers() throws IOException {
        String closed;
        try (ServerSocket socket = new ServerSocket(0)) {
            closed = "http://127.0.0.1:" + socket.getLocalPort();
        }

        GaleCli.Result result = GaleCli.run(Map.of(), "call", "scorer", "--url", closed, "--token", "t0ken");

        assertThat(result.exitCode()).isEqualTo(ExitCode.UNREACHABLE);
        assertThat(result.err()).contains("cannot reach Gale at " + closed).contains("`gale server`");
    }

    @Test
    void exitsThreeWhenNoServerIsConfigured() {
        GaleCli.Result result = GaleCli.run(Map.of("GALE_HOME", dir.toString()), "call", "scorer");

        assertThat(result.exitCode()).isEqualTo(ExitCode.UNREACHABLE);
        assertThat(result.err()).startsWith("ERROR: no Gale server found");
    }

    @Test
    void letsUrlAndTokenOptionsOverrideTheEnvironment() {
        api.on("GET /fn/scorer", 200, "ok");
        Map<String, String> wrongEnv = Map.of("GALE_URL", "http://127.0.0.1:1", "GALE_TOKEN", "wrong");

        GaleCli.Result result = GaleCli.run(wrongEnv, "call", "scorer", "--url", api.url(), "--token", "t0ken");

        assertThat(result.exitCode()).isEqualTo(ExitCode.OK);
        assertThat(api.requests().getFirst().header("Authorization")).isEqualTo("Bearer t0ken");
    }
}
