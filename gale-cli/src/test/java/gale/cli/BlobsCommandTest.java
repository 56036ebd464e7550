package gale.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

class BlobsCommandTest {

    private static final String VERSION = """
            {"bucket": "models", "key": "churn.pkl", "version": 3, "digest": "sha256:%s", "bytes": 5,
             "contentType": "application/octet-stream", "metadata": null, "createdAt": "2026-12-06T02:00:00Z", "created": true}"""
            .formatted("ab".repeat(32));
    private static final String ALIAS = """
            {"bucket": "models", "key": "churn.pkl", "alias": "prod", "targets": [{"version": 7, "weight": 90}, {"version": 8, "weight": 10}],
             "calls": {"7": 1204, "8": 131}, "updatedAt": "2026-12-06T02:00:00Z"}""";

    @TempDir
    Path dir;
    @RegisterExtension
    final FakeApi api = FakeApi.started();

    @Test
    void putStreamsTheFileToTheKeyAndSaysWhichVersionItBecame() throws IOException {
        api.on("PUT /v1/blobs/models/churn.pkl", 201, VERSION);
        Path file = Files.writeString(dir.resolve("churn.pkl"), "bytes");

        GaleCli.Result result = GaleCli.run(api.env(), "blobs", "put", "models/churn.pkl", file.toString());

        assertThat(result.exitCode()).as(result.err()).isEqualTo(ExitCode.OK);
        assertThat(result.out()).contains("Stored models/churn.pkl version 3 (5 bytes, sha256:abab");
        assertThat(api.requests().getFirst().body()).isEqualTo("bytes");
    }

    @Test
    void getOfAnAliasWritesTheBytesToTheOutputFile() throws IOException {
        api.on("GET /v1/blobs/models/churn.pkl@prod", 200, "model", "X-Gale-Blob-Version", "7");
        Path out = dir.resolve("model.pkl");

        GaleCli.Result result = GaleCli.run(api.env(), "blobs", "get", "models/churn.pkl@prod", "-o", out.toString());

        assertThat(result.exitCode()).as(result.err()).isEqualTo(ExitCode.OK);
        assertThat(Files.readString(out)).isEqualTo("model");
        assertThat(result.err()).contains("Wrote models/churn.pkl@prod version 7");
    }

    @Test
    void aFailedGetLeavesNoFileAndSaysWhy() {
        api.on("GET /v1/blobs/models/churn.pkl@staging", 404, "{\"error\": \"models/churn.pkl has no alias 'staging'\", \"status\": 404}");
        Path out = dir.resolve("model.pkl");

        GaleCli.Result result = GaleCli.run(api.env(), "blobs", "get", "models/churn.pkl@staging", "-o", out.toString());

        assertThat(result.exitCode()).isEqualTo(ExitCode.FAILED);
        assertThat(result.err()).contains("has no alias 'staging'");
        assertThat(out).doesNotExist();
        assertThat(dir).isEmptyDirectory();
    }

    @Test
    void aliasSplitSendsTheWeightsAndShowsCallsPerVersion() {
        api.on("PUT /v1/blobs/models/churn.pkl:aliases/prod", 200, ALIAS);

        GaleCli.Result result = GaleCli.run(api.env(), "blobs", "alias", "models/churn.pkl", "prod", "--split", "7=90,8=10");

        assertThat(result.exitCode()).as(result.err()).isEqualTo(ExitCode.OK);
        assertThat(api.requests().getFirst().body()).isEqualTo("{\"split\":{\"7\":90,\"8\":10}}");
        assertThat(result.out()).contains("models/churn.pkl@prod -> v7 90% (1204 calls), v8 10% (131 calls)");
    }

    @Test
    void aReferenceWithoutABucketIsAUsageError() {
        GaleCli.Result result = GaleCli.run(api.env(), "blobs", "versions", "churn.pkl");

        assertThat(result.exitCode()).isEqualTo(ExitCode.USAGE);
        assertThat(result.err()).contains("'churn.pkl' is no blob reference: write BUCKET/KEY");
    }
}
