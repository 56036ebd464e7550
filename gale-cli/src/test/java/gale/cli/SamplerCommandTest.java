package gale.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

class SamplerCommandTest {

    @RegisterExtension
    final FakeApi api = FakeApi.started();

    @Test
    void createSendsTheItemsFileWithTheTargetAndLease(@TempDir Path dir) throws IOException {
        Path items = Files.writeString(dir.resolve("items.json"), "[\"a\", {\"id\": \"b\"}]");
        api.on("POST /v1/samplers/slogans", 201, "{\"name\": \"slogans\", \"target\": 5, \"lease\": \"15m\", \"items\": 2}");

        GaleCli.Result result = GaleCli.run(api.env(), "sampler", "create", "slogans", "--items", items.toString(), "--target", "5",
                "--lease", "15m");

        assertThat(result.exitCode()).as(result.err()).isEqualTo(ExitCode.OK);
        assertThat(result.out()).contains("Created sampler slogans: 2 items, each shown at most 5 times, draws leased for 15m.");
        assertThat(api.requests().getFirst().body()).isEqualTo("{\"items\":[\"a\", {\"id\": \"b\"}],\"target\":5,\"lease\":\"900000ms\"}");
    }

    @Test
    void drawPrintsOneItemALineAndHowToConfirm() {
        api.on("POST /v1/samplers/slogans/draw", 200, """
                {"sampler": "slogans", "respondent": "R_1", "items": [{"id": "a", "item": "a"}, {"id": "b", "item": {"id": "b"}}],
                 "leaseExpiresAt": "2026-01-01T00:10:00Z"}""");

        GaleCli.Result result = GaleCli.run(api.env(), "sampler", "draw", "slogans", "R_1", "-k", "2");

        assertThat(result.out()).isEqualTo("\"a\"\n{\"id\":\"b\"}\n");
        assertThat(result.err()).contains("gale sampler confirm slogans R_1");
        assertThat(api.requests().getFirst().body()).isEqualTo("{\"respondent\":\"R_1\",\"k\":2}");
    }

    @Test
    void confirmSendsTheItemsGiven() {
        api.on("POST /v1/samplers/slogans/confirm", 200, "{\"respondent\": \"R_1\", \"confirmed\": [\"a\"]}");

        GaleCli.Result result = GaleCli.run(api.env(), "sampler", "confirm", "slogans", "R_1", "a");

        assertThat(result.out()).isEqualTo("Confirmed a.\n");
        assertThat(api.requests().getFirst().body()).isEqualTo("{\"respondent\":\"R_1\",\"items\":[\"a\"]}");
    }

    @Test
    void releaseOfEverythingTheRespondentHoldsSaysWhenThereWasNothing() {
        api.on("POST /v1/samplers/slogans/release", 200, "{\"respondent\": \"R_1\", \"released\": []}");

        GaleCli.Result result = GaleCli.run(api.env(), "sampler", "release", "slogans", "R_1");

        assertThat(result.out()).isEqualTo("Nothing to release.\n");
        assertThat(api.requests().getFirst().body()).contains("\"respondent\":\"R_1\"");
    }

    @Test
    void statsShowsTheCountsOfEveryItem() {
        api.on("GET /v1/samplers/slogans", 200, """
                {"name": "slogans", "target": 2, "items": 2, "confirmed": 3, "leased": 1, "full": 1, "respondents": 3, "remaining": 0,
                 "counts": [{"id": "a", "confirmed": 2, "leased": 0}, {"id": "b", "confirmed": 1, "leased": 1}]}""");

        GaleCli.Result result = GaleCli.run(api.env(), "sampler", "stats", "slogans");

        assertThat(result.out()).contains("slogans: 2 items, target 2, 3 confirmed, 1 leased, 0 remaining, 1 items full, 3 respondents")
                .contains("ITEM").contains("CONFIRMED");
    }

    @Test
    void aMissingSamplerIsReportedWithTheServersMessage() {
        api.on("GET /v1/samplers/nope", 404, "{\"error\": \"no sampler named 'nope'\", \"status\": 404}");

        GaleCli.Result result = GaleCli.run(api.env(), "sampler", "stats", "nope");

        assertThat(result.exitCode()).isEqualTo(ExitCode.FAILED);
        assertThat(result.err()).contains("no sampler named 'nope' (HTTP 404)");
    }
}
