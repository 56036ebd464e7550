package gale.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class AsyncCommandsTest {

    private static final String LETTER = """
            {"invocationId": "inv-1", "function": "scorer", "status": "DEAD", "attempts": 3, "version": 2,
             "finishedAt": "2026-12-06T01:00:00Z", "request": {"method": "POST", "path": "/", "query": "", "headers": [],
             "body": "{\\"k\\": 1}", "bodyEncoding": "utf-8"}, "result": null,
             "error": "function 'scorer' v2 raised ValueError: bad (attempt 3 of 3)", "traceback": "Traceback (most recent call last): ..."}""";

    FakeApi api;

    @BeforeEach
    void start() throws IOException {
        api = new FakeApi();
    }

    @AfterEach
    void stop() {
        api.close();
    }

    @Test
    void callAsyncSendsPreferRespondAsyncAndPrintsTheInvocationId() {
        api.on("POST /fn/scorer", 202, "{\"invocationId\": \"inv-1\", \"function\": \"scorer\", \"status\": \"queued\"}");

        GaleCli.Result result = GaleCli.run(api.env(), "call", "scorer", "--async", "--data", "{\"k\": 1}");

        assertThat(result.exitCode()).isEqualTo(ExitCode.OK);
        assertThat(result.out()).isEqualTo("inv-1\n");
        assertThat(api.requests().getFirst().header("Prefer")).isEqualTo("respond-async");
    }

    @Test
    void callAsyncWaitPrintsTheResultOnceTheCallSucceeded() {
        api.on("GET /fn/scorer", 202, "{\"invocationId\": \"inv-1\", \"status\": \"queued\"}");
        api.on("GET /v1/invocations/inv-1", 200, """
                {"invocationId": "inv-1", "status": "SUCCEEDED", "attempts": 1,
                 "result": {"status": 200, "headers": [], "body": "{\\"score\\": 1}", "bodyEncoding": "utf-8"}}""");

        GaleCli.Result result = GaleCli.run(api.env(), "call", "scorer", "--async", "--wait");

        assertThat(result.exitCode()).isEqualTo(ExitCode.OK);
        assertThat(result.out()).isEqualTo("{\"score\": 1}");
    }

    @Test
    void callAsyncWaitFailsWithTheErrorOfADeadLetter() {
        api.on("GET /fn/scorer", 202, "{\"invocationId\": \"inv-1\", \"status\": \"queued\"}");
        api.on("GET /v1/invocations/inv-1", 200, LETTER);

        GaleCli.Result result = GaleCli.run(api.env(), "call", "scorer", "--async", "--wait");

        assertThat(result.exitCode()).isEqualTo(ExitCode.FAILED);
        assertThat(result.err()).contains("async call inv-1 of scorer is a dead letter after 3 attempts: function 'scorer' v2 raised ValueError")
                .contains("gale dead-letters scorer --traceback");
    }

    @Test
    void deadLettersListsRedrivesAndPurges() {
        api.on("GET /v1/functions/scorer/dead-letters", 200, "[" + LETTER + "]");
        api.on("POST /v1/functions/scorer/dead-letters:redrive", 200, "{\"function\": \"scorer\", \"redriven\": 2, \"ids\": [\"a\", \"b\"]}");
        api.on("DELETE /v1/functions/scorer/dead-letters", 200, "{\"function\": \"scorer\", \"purged\": 1}");

        GaleCli.Result list = GaleCli.run(api.env(), "dead-letters", "scorer", "--traceback");
        assertThat(list.out()).startsWith("""
                ID     TRIGGER  ATTEMPTS  FAILED AT             ERROR
                inv-1  -        3         2026-12-06T01:00:00Z  function 'scorer' v2 raised ValueError: bad (attempt 3 of 3)
                """).contains("inv-1 input (utf-8): {\"k\": 1}").contains("Traceback (most recent call last)");

        GaleCli.Result redrive = GaleCli.run(api.env(), "dead-letters", "scorer", "redrive", "a", "b");
        assertThat(redrive.out()).startsWith("Queued 2 dead letters of scorer again");
        assertThat(api.requests().get(1).body()).isEqualTo("{\"ids\":[\"a\",\"b\"]}");

        assertThat(GaleCli.run(api.env(), "dead-letters", "scorer", "purge").out()).isEqualTo("Deleted 1 dead letter of scorer.\n");
        assertThat(GaleCli.run(api.env(), "dead-letters", "scorer", "explode").exitCode()).isEqualTo(ExitCode.USAGE);
    }
}
