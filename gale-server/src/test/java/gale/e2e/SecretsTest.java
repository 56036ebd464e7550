package gale.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import gale.runtime.Isolation;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.stream.Stream;

import static gale.e2e.GaleHarness.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

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

    private static final String FILE_VALUE = "sk-live-4b1d9e77-file-never-in-clear";
    private static final String KEYED = """
            import hashlib, os, stat
            def keyed(request):
                d = os.environ.get("GALE_SECRETS_DIR")
                peek = request.args.get("peek")
                if peek:  # another function's secret file, by its path on the host
                    try:
                        return {"peeked": open(peek).read() == "", "dir": d}
                    except OSError as e:
                        return {"peeked": type(e).__name__, "dir": d}
                if d is None:
                    return {"dir": None}
                path = os.path.join(d, "api-key")
                with open(path, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
                return {"dir": d, "home": os.environ["HOME"], "sha256": digest,
                        "dirMode": oct(stat.S_IMODE(os.stat(d).st_mode)), "fileMode": oct(stat.S_IMODE(os.stat(path).st_mode))}
            """;

    @Test
    void aSecretGrantedAsAFileIsReadableByNewInstancesOfThatFunctionOnly() throws Exception {
        assumeTrue(Isolation.probe("gale-test").sandboxAvailable(), "bubblewrap is not installed (apt-get install bubblewrap)");
        var api = new JobsHttp(gale);
        assertThat(api.send("PUT", "/v1/secrets/api-key", "text/plain", FILE_VALUE).status()).isEqualTo(201);
        gale.deployActive("keyed", gale.bundle("keyed", "main.py", KEYED), "sandbox", "on");
        gale.deployActive("peeker", gale.bundle("peeker", "main.py", KEYED.replace("def keyed", "def peeker")), "sandbox", "on");
        assertThat(json(gale.get("keyed", "/")).path("dir").isNull()).isTrue();

        var granted = api.send("POST", "/v1/functions/keyed/secret-files", "application/json",
                "{\"secret\": \"api-key\", \"file\": \"api-key\"}");
        assertThat(granted.status()).as(granted.text()).isEqualTo(200);
        assertThat(json(gale.get("keyed", "/")).path("dir").isNull()).as("the instance started before the grant").isTrue();
        gale.deployActive("keyed", gale.bundle("keyed", "main.py", KEYED), "sandbox", "on"); // a new version: new instances

        JsonNode seen = json(gale.get("keyed", "/"));
        assertThat(seen.path("sha256").asText()).isEqualTo(sha256(FILE_VALUE));
        assertThat(seen.path("dir").asText()).startsWith(seen.path("home").asText() + "/"); // inside its own scratch folder
        assertThat(seen.path("dirMode").asText()).isEqualTo("0o700");
        assertThat(seen.path("fileMode").asText()).isEqualTo("0o400");
        Path file = Path.of(seen.path("dir").asText(), "api-key");
        assertThat(file).hasContent(FILE_VALUE); // on the host, where the test runs as the server's user
        assertThat(file.toString()).doesNotContain(gale.bundleFile("keyed", "main.py").getParent().toString());

        JsonNode peeked = json(gale.get("peeker", "/?peek=" + file));
        assertThat(peeked.path("dir").isNull()).as("the other function has no secrets dir").isTrue();
        assertThat(peeked.path("peeked").asText()).isEqualTo("FileNotFoundError"); // its sandbox does not show that folder
        String listed = api.send("GET", "/v1/secrets", null, null).text();
        assertThat(listed).contains("\"file\":\"api-key\"").doesNotContain(FILE_VALUE);
        assertThat(api.send("GET", "/v1/functions/keyed/secrets", null, null).text()).contains("\"file\":\"api-key\"")
                .doesNotContain(FILE_VALUE);
        assertThat(api.send("GET", "/v1/functions/keyed", null, null).text()).doesNotContain(FILE_VALUE);
        assertThat(filesHolding(gale.dataDir, FILE_VALUE)).as("files of the data dir holding the value in clear")
                .allSatisfy(f -> assertThat(f.getParent().getFileName()).hasToString(".gale-secrets"));

        assertThat(api.send("DELETE", "/v1/functions/keyed/secret-files/api-key", null, null).status()).isEqualTo(204);
        gale.deployActive("keyed", gale.bundle("keyed", "main.py", KEYED), "sandbox", "on");
        assertThat(json(gale.get("keyed", "/")).path("dir").isNull()).isTrue();
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(file.getParent()).doesNotExist());
        assertThat(filesHolding(gale.dataDir, FILE_VALUE)).as("files holding the value once its instances stopped").isEmpty();
    }

    @Test
    void aProcessFunctionFindsItsSecretFileToo() throws Exception {
        var api = new JobsHttp(gale);
        api.send("PUT", "/v1/secrets/served-key", "text/plain", FILE_VALUE);
        String server = """
                import hashlib, os
                from http.server import BaseHTTPRequestHandler, HTTPServer

                class Handler(BaseHTTPRequestHandler):
                    def do_GET(self):
                        body = b"no secrets dir"  # the readiness probe's answer before the grant
                        if "GALE_SECRETS_DIR" in os.environ:
                            with open(os.path.join(os.environ["GALE_SECRETS_DIR"], "key"), "rb") as f:
                                body = hashlib.sha256(f.read()).hexdigest().encode()
                        self.send_response(200)
                        self.send_header("Content-Length", str(len(body)))
                        self.end_headers()
                        self.wfile.write(body)

                HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
                """;
        gale.deployActive("served", gale.bundle("served", "server.py", server), "runtime", "process", "command", "/usr/bin/python3 server.py");
        assertThat(api.send("POST", "/v1/functions/served/secret-files", "application/json",
                "{\"secret\": \"served-key\", \"file\": \"key\"}").status()).isEqualTo(200);
        gale.deployActive("served", gale.bundle("served", "server.py", server), "runtime", "process", "command", "/usr/bin/python3 server.py");

        assertThat(text(gale.get("served", "/"))).isEqualTo(sha256(FILE_VALUE));
    }

    @ParameterizedTest(name = "file name ''{0}''")
    @CsvSource(delimiter = '|', value = {
            "/etc/key        | is an absolute path",
            "../key          | climbs out with '..'",
            "..              | climbs out with '..'",
            "keys/key        | has a '/'",
            ".hidden         | starts with '.'",
            "''              | is empty",
            "NUL             | holds a NUL byte",
            "LONG            | is 129 characters long",
            "a b             | has a character other than"})
    void aBadSecretFileNameIsRefusedWithTheRule(String file, String message) {
        var api = new JobsHttp(gale);
        gale.deployActive("reader", gale.bundle("reader", "main.py", READER));
        api.send("PUT", "/v1/secrets/token", "text/plain", "t");
        String name = switch (file) {
            case "NUL" -> "a\\u0000b";
            case "LONG" -> "k".repeat(129);
            default -> file;
        };
        assertRefused(api.send("POST", "/v1/functions/reader/secret-files", "application/json",
                "{\"secret\": \"token\", \"file\": \"" + name + "\"}"), 400, message);
        assertThat(api.send("GET", "/v1/functions/reader/secrets", null, null).text()).isEqualTo("[]");
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
        assertRefused(api.send("POST", "/v1/functions/reader/secret-files", "application/json", "{\"secret\": \"token\"}"), 400,
                "the secret whose value the file FILE of $GALE_SECRETS_DIR holds");
        assertRefused(api.send("POST", "/v1/functions/reader/secret-files", "application/json",
                "{\"secret\": \"missing\", \"file\": \"k\"}"), 404, "no secret missing; set it first");
        assertRefused(api.send("DELETE", "/v1/functions/reader/secret-files/k", null, null), 404, "has no secret file k");
    }

    private static void assertRefused(JobsHttp.Answer answer, int status, String message) {
        assertThat(answer.status()).as(answer.text()).isEqualTo(status);
        assertThat(answer.text()).contains(message);
    }

    private static JsonNode json(HttpResponse<byte[]> response) throws IOException {
        return new ObjectMapper().readTree(response.body());
    }

    private static String sha256(String value) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(value.getBytes(StandardCharsets.UTF_8)));
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
