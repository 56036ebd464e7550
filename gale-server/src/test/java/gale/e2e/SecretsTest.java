package gale.e2e;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import static gale.e2e.GaleHarness.text;
import static org.assertj.core.api.Assertions.assertThat;

/** Secrets reach the instances of the functions they are granted to, and nothing else: not the API, not the disk. */
class SecretsTest extends GaleE2E {

    private static final String VALUE = "pg-pass-7f3a9c1e-never-in-clear";
    private static final String READER = """
            import os
            def reader(request):
                return {"db": os.environ.get("DB_PASSWORD"), "gale": sorted(k for k in os.environ if k.startswith("GALE_"))}
            """;

    @Test
    void aGrantedSecretIsAnEnvironmentVariableOfNewInstancesOnlyAndIsStoredSealed() throws IOException {
        var api = new JobsHttp(gale);
        assertThat(api.send("PUT", "/v1/secrets/db-password", "text/plain", "first").status()).isEqualTo(201);
        var second = api.send("PUT", "/v1/secrets/db-password", "text/plain", VALUE);
        assertThat(second.status()).isEqualTo(200);
        assertThat(second.json().path("version").asInt()).isEqualTo(2);
        gale.deployActive("reader", gale.bundle("reader", "main.py", READER));
        gale.deployActive("other", gale.bundle("other", "main.py", READER.replace("def reader", "def other")));

        var granted = api.send("PUT", "/v1/functions/reader/secrets/DB_PASSWORD", "application/json", "{\"secret\": \"db-password\"}");
        assertThat(granted.status()).as(granted.text()).isEqualTo(200);
        assertThat(text(gale.get("reader", "/"))).contains("\"db\":null"); // its running instance started before the grant
        gale.deployActive("reader", gale.bundle("reader", "main.py", READER)); // a new version: new instances

        assertThat(text(gale.get("reader", "/"))).contains("\"db\":\"" + VALUE + "\"");
        assertThat(text(gale.get("other", "/"))).contains("\"db\":null");
        String listed = api.send("GET", "/v1/secrets", null, null).text();
        assertThat(listed).contains("\"name\":\"db-password\"").contains("\"env\":\"DB_PASSWORD\"").doesNotContain(VALUE).doesNotContain("first");
        assertThat(api.send("GET", "/v1/functions/reader", null, null).text()).doesNotContain(VALUE);
        assertThat(filesHolding(gale.dataDir, VALUE)).as("files of the data dir holding the value in clear").isEmpty();

        assertThat(api.send("DELETE", "/v1/functions/reader/secrets/DB_PASSWORD", null, null).status()).isEqualTo(204);
        gale.deployActive("reader", gale.bundle("reader", "main.py", READER));
        assertThat(text(gale.get("reader", "/"))).contains("\"db\":null");
    }

    @Test
    void secretsNeedTheAdminTokenAndEveryBadRequestSaysWhatToDo() throws Exception {
        var api = new JobsHttp(gale);
        gale.deployActive("reader", gale.bundle("reader", "main.py", READER));
        var anonymous = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(gale.server.url() + "/v1/secrets")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(anonymous.statusCode()).isEqualTo(401);

        assertRefused(api.send("PUT", "/v1/secrets/Bad%20Name", "text/plain", "x"), 400, "is not a secret name");
        assertRefused(api.send("PUT", "/v1/secrets/empty", "text/plain", ""), 400, "empty value");
        assertRefused(api.send("PUT", "/v1/secrets/huge", "text/plain", "x".repeat(70 * 1024)), 413, "over the 64 KB limit");
        assertRefused(api.send("PUT", "/v1/functions/reader/secrets/DB", "application/json", "{\"secret\": \"missing\"}"), 404,
                "no secret missing; set it first");
        api.send("PUT", "/v1/secrets/token", "text/plain", "t");
        assertRefused(api.send("PUT", "/v1/functions/nobody/secrets/DB", "application/json", "{\"secret\": \"token\"}"), 404,
                "function 'nobody' not found");
        assertRefused(api.send("PUT", "/v1/functions/reader/secrets/GALE_TOKEN", "application/json", "{\"secret\": \"token\"}"), 400,
                "reserved");
        assertRefused(api.send("PUT", "/v1/functions/reader/secrets/1BAD", "application/json", "{\"secret\": \"token\"}"), 400,
                "not an environment variable name");
        assertRefused(api.send("PUT", "/v1/functions/reader/secrets/DB", "application/json", "token"), 400, "the secret whose value the variable DB gets");
        assertRefused(api.send("DELETE", "/v1/secrets/missing", null, null), 404, "no secret missing");
    }

    private static void assertRefused(JobsHttp.Answer answer, int status, String message) {
        assertThat(answer.status()).as(answer.text()).isEqualTo(status);
        assertThat(answer.text()).contains(message);
    }

    /** Files under {@code root} whose bytes hold {@code value}. */
    static java.util.List<Path> filesHolding(Path root, String value) throws IOException {
        byte[] needle = value.getBytes(StandardCharsets.UTF_8);
        try (Stream<Path> files = Files.walk(root)) {
            return files.filter(Files::isRegularFile).filter(f -> {
                try {
                    return Files.size(f) < 50_000_000 && indexOf(Files.readAllBytes(f), needle) >= 0;
                } catch (IOException e) {
                    return false; // a socket or a file gone meanwhile
                }
            }).toList();
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }

    private static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i <= hay.length - needle.length; i++) {
            for (int j = 0; j < needle.length; j++) if (hay[i + j] != needle[j]) continue outer;
            return i;
        }
        return -1;
    }
}
