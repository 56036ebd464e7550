package gale.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class TriggersCommandTest {

    private static final String TRIGGER = """
            {"id": "tr-3f2a9c1b7d4e", "function": "retrain", "source": "state:survey/responses/", "kind": "state",
             "name": "survey", "prefix": "responses/", "events": ["put"], "createdAt": "2026-12-06T01:00:00Z",
             "pending": 2, "delivered": 120, "dead": 1}""";

    @RegisterExtension
    final FakeApi api = FakeApi.started();

    @Test
    void listsAFunctionsTriggersWithTheirEventsCountsEitherWay() {
        api.on("GET /v1/functions/retrain/triggers", 200, "[" + TRIGGER + "]");

        for (String[] args : new String[][] {{"triggers", "retrain"}, {"triggers", "ls", "retrain"}}) {
            GaleCli.Result result = GaleCli.run(api.env(), args);
            assertThat(result.exitCode()).isEqualTo(ExitCode.OK);
            assertThat(result.out()).isEqualTo("""
                    ID               SOURCE                   EVENTS  PENDING  DELIVERED  DEAD
                    tr-3f2a9c1b7d4e  state:survey/responses/  put     2        120        1
                    """);
        }
    }

    @Test
    void saysHowToAddOneWhenThereAreNone() {
        api.on("GET /v1/functions/retrain/triggers", 200, "[]");

        assertThat(GaleCli.run(api.env(), "triggers", "retrain").out())
                .contains("retrain has no triggers: add one with `gale triggers add retrain state:NAMESPACE/PREFIX`");
    }

    @Test
    void addSendsTheSourceAndKindsAndRmDeletesById() {
        api.on("POST /v1/functions/retrain/triggers", 201, TRIGGER);
        api.on("DELETE /v1/functions/retrain/triggers/tr-3f2a9c1b7d4e", 204, "");

        GaleCli.Result added = GaleCli.run(api.env(), "triggers", "add", "retrain", "state:survey/responses/", "--events", "put");
        assertThat(added.out()).isEqualTo("Trigger tr-3f2a9c1b7d4e: retrain is called with each put under state:survey/responses/.\n");
        assertThat(api.requests().getFirst().body()).isEqualTo("{\"source\":\"state:survey/responses/\",\"events\":[\"put\"]}");

        GaleCli.Result removed = GaleCli.run(api.env(), "triggers", "rm", "retrain", "tr-3f2a9c1b7d4e");
        assertThat(removed.out()).isEqualTo("Removed trigger tr-3f2a9c1b7d4e of retrain.\n");
    }

    @Test
    void describeShowsTheConfigsTriggersOnOneLineAndEachTriggerWithItsCounts() {
        api.on("GET /v1/functions/retrain", 200, """
                {"name": "retrain", "url": "http://127.0.0.1:8080/fn/retrain", "activeVersion": 1, "latestVersion": 1,
                 "state": "ACTIVE", "instances": 0, "createdAt": "2026-12-06T01:00:00Z", "updatedAt": "2026-12-06T01:00:00Z",
                 "config": {"runtime": "python3", "triggers": [{"source": "state:survey/responses/", "events": ["put", "delete"]}]},
                 "versions": [], "triggers": [%s]}""".formatted(TRIGGER));

        GaleCli.Result result = GaleCli.run(api.env(), "describe", "retrain");

        assertThat(result.exitCode()).as(result.err()).isEqualTo(ExitCode.OK);
        assertThat(result.out()).contains("  triggers: state:survey/responses/ (put, delete)\n")
                .endsWith("""
                        triggers:
                        ID               SOURCE                   EVENTS  PENDING  DELIVERED  DEAD
                        tr-3f2a9c1b7d4e  state:survey/responses/  put     2        120        1
                        """);
    }

    @Test
    void aRefusalIsPrintedAsTheServerSaidIt() {
        api.on("POST /v1/functions/retrain/triggers", 403, "{\"error\": \"trigger state:secret/: function 'retrain' may not read "
                + "state namespace 'secret'\", \"status\": 403}");

        GaleCli.Result result = GaleCli.run(api.env(), "triggers", "add", "retrain", "state:secret/");

        assertThat(result.exitCode()).isEqualTo(ExitCode.FAILED);
        assertThat(result.err()).contains("may not read state namespace 'secret'");
    }
}
