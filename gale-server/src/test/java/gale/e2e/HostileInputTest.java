package gale.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import gale.client.GaleApiException;
import gale.client.LogEntry;
import gale.config.DataSize;
import gale.registry.BundleLimits;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/**
 * Hostile or broken input to the admin API and the gateway gets a 4xx with a JSON message
 * saying what was wrong and what to do, and changes nothing: no version, no blob, no folder
 * in the data dir, and the ACTIVE version keeps serving. docs/reliability.md lists each case.
 */
class HostileInputTest {

    /** Small enough that a bomb is a few KB to send; the file limit is the default. */
    private static final BundleLimits LIMITS = new BundleLimits(DataSize.ofMegabytes(16), DataSize.ofMegabytes(4),
            BundleLimits.DEFAULT.files());
    private static final long MAX_BODY = 64 * 1024;
    private static final String MAIN = "def steady(request):\n    return 'v1'\n";
    private static final String NAME_RULE = "1-63 lowercase letters, digits and dashes, starting with a letter";
    private static final String DEPLOY_SHAPE = "a deploy is a multipart/form-data POST with a part 'bundle'";

    @TempDir
    static Path tmp;
    static GaleHarness gale;
    static RawHttp http;

    @BeforeAll
    static void startGaleWithASteadyFunction() {
        gale = new GaleHarness(tmp, c -> c.withBundleLimits(LIMITS).withMaxBodyBytes(MAX_BODY));
        http = new RawHttp(gale.server.url());
        gale.deployActive("steady", gale.bundle("steady", "main.py", MAIN));
        gale.deployActive("echo", gale.bundle("echo", "main.py", """
                def echo(request):
                    data = request.get_data()
                    print("saw", len(data), "bytes", flush=True)
                    return str(len(data))
                """));
        gale.deployActive("split", gale.bundle("split", "main.py", "def split(request):\n    return 'v1'\n"));
        String failed = gale.deploy("split", gale.bundle("split", "main.py", "def split(request)\n    return 'v2'\n")).state().name();
        assertThat(failed).isEqualTo("FAILED");
    }

    @AfterAll
    static void stopGale() {
        if (gale != null) gale.close();
    }

    // ---- 1. bundles that expand too far

    @Test
    void aZipBombIsRefusedNamingTheLimitAndTheFlagAndNothingIsKept() {
        Stored before = stored();
        Path bomb = write("bomb.zip", zip("main.py", MAIN.getBytes(), "model.bin", new byte[5 << 20]));

        GaleApiException e = deployFails("steady", bomb, Map.of());

        assertThat(e.status()).isEqualTo(400);
        assertThat(e.error()).contains("more than this server's limit of 4MB unpacked", "--max-bundle-expanded");
        assertNothingChanged(before);
    }

    @Test
    void aZipBombThatUnderstatesItsSizeIsStoppedByCountingTheBytesWritten() {
        Stored before = stored();
        Path liar = write("liar.zip", claimSizes(zip("main.py", MAIN.getBytes(), "model.bin", new byte[5 << 20]), 1));

        GaleApiException e = deployFails("steady", liar, Map.of());

        assertThat(e.status()).isEqualTo(400);
        assertThat(e.error()).contains("unpacks to more than this server's limit of 4MB", "--max-bundle-expanded");
        assertNothingChanged(before);
    }

    @Test
    void aZipOfAHundredThousandEntriesIsRefusedBeforeOneIsUnpacked() {
        Stored before = stored();
        Object[] entries = new Object[2 * 100_001];
        entries[0] = "main.py";
        entries[1] = MAIN.getBytes();
        for (int i = 1; i <= 100_000; i++) {
            entries[2 * i] = Integer.toString(i, 36);
            entries[2 * i + 1] = new byte[0];
        }
        Path flood = write("flood.zip", zip(entries));

        GaleApiException e = deployFails("steady", flood, Map.of());

        assertThat(e.status()).isEqualTo(400);
        assertThat(e.error()).contains("100001 entries, over this server's limit of 10000", "--max-bundle-files");
        assertNothingChanged(before);
    }

    @Test
    void aPathTooLongForTheFileSystemIsRefusedNamingTheLimit() {
        Stored before = stored();
        Path deep = write("deep.zip", zip("main.py", MAIN.getBytes(), "a/".repeat(2100) + "x.py", new byte[1]));

        GaleApiException e = deployFails("steady", deep, Map.of());

        assertThat(e.status()).isEqualTo(400);
        assertThat(e.error()).contains("a path of 4204 characters", "at most 1024");
        assertNothingChanged(before);
    }

    @ParameterizedTest(name = "entry {0} is refused")
    @ValueSource(strings = {"../evil.py", "/tmp/gale-evil.py"})
    void anEntryOutsideTheBundleIsRefusedNamingTheEntry(String entry) {
        Stored before = stored();
        Path escape = write("escape.zip", zip("main.py", MAIN.getBytes(), entry, "owned = True\n".getBytes()));

        GaleApiException e = deployFails("steady", escape, Map.of());

        assertThat(e.status()).isEqualTo(400);
        assertThat(e.error()).contains("'" + entry + "' points outside the bundle");
        assertThat(Path.of("/tmp/gale-evil.py")).doesNotExist();
        assertNothingChanged(before);
    }

    @Test
    void aSymlinkEntryIsStoredAsAPlainFileHoldingItsTarget() throws IOException {
        byte[] zip = zip("main.py", "def links(request):\n    return open('passwd').read()\n".getBytes(), "passwd", "/etc/passwd".getBytes());
        Path links = write("links.zip", markSymlink(zip, "passwd"));

        gale.deployActive("links", links);

        assertThat(gale.bundleFile("links", "passwd")).isRegularFile().hasContent("/etc/passwd");
        assertThat(Files.isSymbolicLink(gale.bundleFile("links", "passwd"))).isFalse();
        assertThat(GaleHarness.text(gale.get("links", ""))).isEqualTo("/etc/passwd");
    }

    // ---- 2. bundles over the upload limit

    @Test
    void anUploadDeclaringMoreThanTheLimitIsRefusedBeforeItsBodyIsRead() {
        Stored before = stored();

        // Claims 5 GB, sends 1 MB and then nothing: only an answer before the body ends passes.
        RawHttp.Response r = http.send(deployHead("steady", "multipart/form-data; boundary=B", "Content-Length: " + (5L << 30)),
                out -> out.write(new byte[1 << 20]), false);

        assertThat(r.status()).isEqualTo(413);
        assertThat(r.error()).contains("over this server's upload limit of 16MB", "--max-bundle");
        assertThat(r.headers()).containsEntry("connection", "close");
        assertNothingChanged(before);
    }

    @Test
    void aChunkedUploadOverTheLimitIsCutOffWhileItStreams() {
        Stored before = stored();
        byte[] start = ("--B\r\nContent-Disposition: form-data; name=\"bundle\"; filename=\"b.zip\"\r\n"
                + "Content-Type: application/zip\r\n\r\n").getBytes(StandardCharsets.US_ASCII);

        // 20 MB of a bundle part in chunks, and never the last chunk: only an answer mid-stream passes.
        RawHttp.Response r = http.send(deployHead("steady", "multipart/form-data; boundary=B", "Transfer-Encoding: chunked"), out -> {
            chunk(out, start);
            Random random = new Random(1);
            byte[] noise = new byte[64 * 1024];
            for (int i = 0; i < 320; i++) {
                random.nextBytes(noise);
                chunk(out, noise);
            }
        }, false);

        assertThat(r.status()).as(r.error()).isEqualTo(413);
        assertThat(r.error()).contains("over this server's upload limit of 16MB", "--max-bundle");
        assertNothingChanged(before);
    }

    @Test
    void aClientThatSendsItsWholeUploadBeforeReadingStillReadsThe413() {
        Stored before = stored();
        byte[] start = ("--B\r\nContent-Disposition: form-data; name=\"bundle\"; filename=\"b.zip\"\r\n"
                + "Content-Type: application/zip\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
        byte[] noise = new byte[20 << 20];
        new Random(3).nextBytes(noise);
        byte[] body = Arrays.copyOf(start, noise.length);
        System.arraycopy(noise, 0, body, start.length, noise.length - start.length);

        for (String framing : List.of("Content-Length: " + body.length, "Transfer-Encoding: chunked")) {
            byte[] sent = framing.contains("chunked") ? chunked(body) : body;
            RawHttp.Response r = http.sendAllThenRead(deployHead("steady", "multipart/form-data; boundary=B", framing), sent);

            assertThat(r.status()).as(framing + ": " + r).isEqualTo(413);
            assertThat(r.error()).contains("over this server's upload limit of 16MB", "--max-bundle");
        }
        assertNothingChanged(before);
    }

    @Test
    void galeDeployOfAFolderOverTheLimitReports413() throws IOException {
        Stored before = stored();
        Path big = gale.bundle("big", "main.py", MAIN);
        byte[] noise = new byte[20 << 20];
        new Random(2).nextBytes(noise);
        Files.write(big.resolve("model.bin"), noise);

        GaleApiException e = deployFails("steady", big, Map.of());

        assertThat(e.status()).isEqualTo(413);
        assertThat(e.error()).contains("upload limit of 16MB", "--max-bundle");
        assertNothingChanged(before);
    }

    // ---- 3. malformed deploy requests

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "a boundary the body does not use  | multipart/form-data; boundary=AAA | --BBB#Content-Disposition: form-data; name=\"bundle\"; filename=\"b.zip\"##PK#--BBB--#",
            "a body cut off inside the bundle   | multipart/form-data; boundary=B   | --B#Content-Disposition: form-data; name=\"bundle\"; filename=\"b.zip\"##PK",
            "no boundary at all                 | multipart/form-data               | --B#Content-Disposition: form-data; name=\"bundle\"; filename=\"b.zip\"##PK#--B--#",
            "no bundle part                     | multipart/form-data; boundary=B   | --B#Content-Disposition: form-data; name=\"config\"##{}#--B--#",
            "a bundle part without a filename   | multipart/form-data; boundary=B   | --B#Content-Disposition: form-data; name=\"bundle\"##PK#--B--#",
            "a zip sent as the whole body       | application/zip                   | PK",
            "a JSON body                        | application/json                  | {\"bundle\": \"main.py\"}"})
    void aMalformedDeployRequestIsToldWhatADeployLooksLike(String what, String contentType, String body) {
        Stored before = stored();
        byte[] bytes = body.replace("#", "\r\n").getBytes(StandardCharsets.UTF_8);

        RawHttp.Response r = http.send(deployHead("steady", contentType, "Content-Length: " + bytes.length), bytes);

        assertThat(r.status()).as(what).isEqualTo(400);
        assertThat(r.error()).as(what).contains(DEPLOY_SHAPE, "'config'", "gale deploy");
        assertNothingChanged(before);
    }

    // ---- 4. settings that cannot be honoured

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "memory = \"512MB\"#timeout = 60s   | gale.toml is not valid TOML at line 2",
            "memroy = \"512MB\"                 | unknown key 'memroy' in gale.toml; known keys: runtime",
            "concurrency = 1.5                  | concurrency must be a whole number, got '1.5'",
            "concurrency = \"many\"             | concurrency must be a whole number, got 'many'",
            "memory = 0                         | memory must be between 32MB and 64GB, got 0B",
            "concurrency = -1                   | concurrency must be between 1 and 1000, got -1",
            "max-queue = 1000000                | max-queue must be between 0 and 100000",
            "[env]#GALE_TOKEN = \"x\"           | env name 'GALE_TOKEN' is reserved"})
    void anInvalidGaleTomlIsRefusedNamingTheKeyAndTheAllowedValues(String toml, String message) {
        Stored before = stored();
        Path bundle = gale.bundle("steady", "main.py", MAIN, "gale.toml", toml.replace("#", "\n") + "\n");

        GaleApiException e = deployFails("steady", bundle, Map.of());

        assertThat(e.status()).isEqualTo(400);
        assertThat(e.error()).contains(message);
        assertNothingChanged(before);
    }

    @Test
    void anInvalidDeployFlagIsRefusedNamingTheKey() {
        Stored before = stored();

        GaleApiException e = deployFails("steady", gale.bundle("steady", "main.py", MAIN), Map.of("maxInstances", "many"));

        assertThat(e.status()).isEqualTo(400);
        assertThat(e.error()).contains("max-instances must be a whole number, got 'many'");
        assertNothingChanged(before);
    }

    // ---- 5. header floods

    @ParameterizedTest(name = "{0} on {1}")
    @CsvSource({"5000 headers, /fn/steady", "5000 headers, /v1/functions", "one 1 MB header, /fn/steady",
            "one 1 MB header, /v1/functions"})
    void aHeaderFloodGets431AndTheServerStaysHealthy(String flood, String path) {
        Stored before = stored();
        StringBuilder headers = new StringBuilder();
        if (flood.startsWith("5000")) {
            for (int i = 0; i < 5000; i++) headers.append("\r\nX-Flood-").append(i).append(": ").append(i);
        } else {
            headers.append("\r\nX-Flood: ").append("a".repeat(1 << 20));
        }

        RawHttp.Response r = http.send("GET " + path + " HTTP/1.1\r\nHost: gale\r\nAuthorization: Bearer " + gale.server.adminToken()
                + headers + "\r\nConnection: close", new byte[0]);

        assertThat(r.status()).isEqualTo(431);
        assertThat(r.error()).contains("request headers are over this server's limit of 8 KB");
        assertThat(http.send("GET /healthz HTTP/1.1\r\nHost: gale\r\nConnection: close", new byte[0]).text()).contains("ok");
        assertNothingChanged(before);
    }

    // ---- 6. call bodies over the limit or cut off

    @Test
    void aChunkedBodyOverTheLimitGets413AndTheFunctionNeverSeesIt() {
        RawHttp.Response r = http.send("POST /fn/echo HTTP/1.1\r\nHost: gale\r\nTransfer-Encoding: chunked\r\nConnection: close", out -> {
            for (int i = 0; i < 100; i++) chunk(out, new byte[1024]);
            out.write("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        }, false);

        assertThat(r.status()).isEqualTo(413);
        assertThat(r.headers()).containsEntry("x-gale-error", "platform");
        assertThat(r.error()).contains("over this server's limit of 64KB", "--max-body");
        assertEchoSawOnlyWholeBodies();
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"Transfer-Encoding: chunked", "Content-Length: 4096"})
    void aBodyCutOffMidwayNeverReachesTheFunction(String framing) {
        RawHttp.Response r = http.send("POST /fn/echo HTTP/1.1\r\nHost: gale\r\n" + framing, out -> {
            if (framing.contains("chunked")) chunk(out, new byte[1000]);
            else out.write(new byte[1000]);
        }, true);

        assertThat(r.status()).isEqualTo(400);
        assertThat(r.error()).contains("request body was cut off", "function 'echo' was not called");
        assertEchoSawOnlyWholeBodies();
    }

    // ---- 7. names that are not function names

    @ParameterizedTest(name = "deploy to ''{0}''")
    @ValueSource(strings = {"Hello", "my_fn", "1fn", "-fn", "fn-", "..", "%2e%2e", "%ff%fe", "caf%C3%A9", "a%20b",
            "x234567890123456789012345678901234567890123456789012345678901234"})
    void aDeployToANameThatIsNotADnsLabelIsRefusedWithTheRule(String rawName) {
        Stored before = stored();
        byte[] body = validDeployBody();

        RawHttp.Response r = http.send(deployHead(rawName, "multipart/form-data; boundary=B", "Content-Length: " + body.length), body);

        assertThat(r.status()).isEqualTo(400);
        if (rawName.equals("%ff%fe")) { // not UTF-8: Jetty refuses the URI before routing
            assertThat(r.error()).contains("do not decode to UTF-8", NAME_RULE);
        } else {
            assertThat(r.error()).contains("is not allowed", NAME_RULE);
        }
        assertNothingChanged(before);
    }

    @Test
    void aRefusedNameIsAuditedByItsPathWithoutAFunction() {
        String tooLong = "x" + "2".repeat(63); // 64 characters: over audit_log.function_name's 63 on PostgreSQL
        byte[] body = validDeployBody();

        RawHttp.Response r = http.send(deployHead(tooLong, "multipart/form-data; boundary=B", "Content-Length: " + body.length), body);

        assertThat(r.status()).isEqualTo(400);
        JsonNode entry = StreamSupport.stream(gale.client.audit(Optional.empty(), Optional.empty(), 50).spliterator(), false)
                .filter(e -> e.path("target").asText().equals("functions/" + tooLong + "/versions"))
                .findFirst().orElseThrow();
        assertThat(entry.path("status").asInt()).isEqualTo(400);
        assertThat(entry.path("function").isNull()).as("function of %s", entry).isTrue();
    }

    @Test
    void aDeployWithAnEmptyNameIsRefusedWithTheRule() {
        Stored before = stored();
        byte[] body = validDeployBody();

        RawHttp.Response r = http.send(deployHead("", "multipart/form-data; boundary=B", "Content-Length: " + body.length), body);

        assertThat(r.status()).isEqualTo(400);
        assertThat(r.error()).contains("no function name", NAME_RULE);
        assertNothingChanged(before);
    }

    @ParameterizedTest(name = "GET {0}")
    @ValueSource(strings = {"/fn/Steady", "/fn/my_fn", "/fn/..", "/fn/%ff%fe", "/fn/", "/fn/steady%00", "/fn/a%2Fb"})
    void aCallToANameThatIsNotADnsLabelGets404WithTheRuleOr400ForABrokenUri(String path) {
        RawHttp.Response r = http.send("GET " + path + " HTTP/1.1\r\nHost: gale\r\nConnection: close", new byte[0]);

        if (path.contains("%00")) { // Jetty refuses a NUL in the URI before routing
            assertThat(r.status()).isEqualTo(400);
            assertThat(r.error()).contains("%-escape");
        } else if (path.contains("%ff")) { // and %-escapes that are not UTF-8
            assertThat(r.status()).isEqualTo(400);
            assertThat(r.error()).contains("do not decode to UTF-8", NAME_RULE);
        } else {
            assertThat(r.status()).isEqualTo(404);
            assertThat(r.error()).contains(NAME_RULE);
        }
        assertThat(GaleHarness.text(gale.get("steady", ""))).isEqualTo("v1");
    }

    @Test
    void aMalformedEscapeInTheUriGets400InGalesJsonShape() {
        RawHttp.Response r = http.send("GET /fn/steady/%zz HTTP/1.1\r\nHost: gale\r\nConnection: close", new byte[0]);

        assertThat(r.status()).isEqualTo(400);
        assertThat(r.error()).contains("every %-escape in the URI is % and two hex digits");
    }

    // ---- 8. traffic changes that cannot be made (function split: v1 ACTIVE, v2 FAILED)

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
            "a version that does not exist     | {'to': {'1': 90, '7': 10}}           | 400 | function 'split' has no version 7",
            "percents that add up to 90        | {'to': {'1': 90}}                    | 400 | the split v1=90 adds up to 90%, not 100%",
            "a negative percent                | {'to': {'1': -10, '3': 110}}         | 400 | the percent of v1 must be a whole number from 0 to 100, got -10",
            "a fraction of a percent           | {'to': {'1': 99.5, '3': 0.5}}        | 400 | the percent of v1 must be a whole number from 0 to 100, got 99.5",
            "a version that failed to deploy   | {'to': {'1': 50, '2': 50}}           | 409 | version 2 of 'split' is FAILED",
            "a version that is not a number    | {'to': {'latest': 100}}              | 400 | 'latest' in \"to\" is not a version",
            "version 0                         | {'to': {'0': 100}}                   | 400 | '0' in \"to\" is not a version",
            "a split and toLatest at once      | {'to': {'1': 100}, 'toLatest': true} | 400 | give \"to\" or \"toLatest\": true, not both",
            "a tag with capitals               | {'tags': {'Canary': 1}}              | 400 | 'Canary' is not a tag: a tag is 1-63 lowercase letters",
            "a tag that looks like a version   | {'tags': {'v2': 1}}                  | 400 | 'v2' is not a tag",
            "a tag with a dot                  | {'tags': {'can.ary': 1}}             | 400 | 'can.ary' is not a tag",
            "a tag on a version that is absent | {'tags': {'canary': 9}}              | 400 | function 'split' has no version 9",
            "a tag on a failed version         | {'tags': {'canary': 2}}              | 409 | version 2 of 'split' is FAILED",
            "an unknown field                  | {'colour': 'blue'}                   | 400 | unknown field 'colour'",
            "a JSON array                      | [1, 2]                               | 400 | a traffic change is a JSON object",
            "not JSON                          | to=v1                                | 400 | the body is not valid JSON",
            "nothing to change                 | {}                                   | 400 | nothing to change"})
    void aTrafficChangeThatCannotBeMadeIsRefusedSayingWhyAndNothingChanges(String what, String body, int status, String message) {
        String before = gale.client.traffic("split").path("to").toString();

        RawHttp.Response r = http.send("PUT /v1/functions/split/traffic HTTP/1.1\r\nHost: gale\r\nAuthorization: Bearer "
                + gale.server.adminToken() + "\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: "
                + body.replace('\'', '"').getBytes(StandardCharsets.UTF_8).length, body.replace('\'', '"').getBytes(StandardCharsets.UTF_8));

        assertThat(r.status()).as(what + ": " + r.text()).isEqualTo(status);
        assertThat(r.error()).as(what).contains(message);
        JsonNode traffic = gale.client.traffic("split");
        assertThat(traffic.path("to").toString()).isEqualTo(before).isEqualTo("{\"1\":100}");
        assertThat(traffic.path("pinned").asBoolean()).isFalse();
        assertThat(traffic.path("tags").size()).isZero();
        assertThat(GaleHarness.text(gale.get("split", ""))).isEqualTo("v1");
    }

    @Test
    void aSplitNamingThousandsOfVersionsIsRefusedBeforeOneIsRead() {
        StringBuilder to = new StringBuilder("{\"to\": {");
        for (int v = 1; v <= 5000; v++) to.append(v == 1 ? "" : ",").append('"').append(v).append("\": 0");
        byte[] body = to.append("}}").toString().getBytes(StandardCharsets.UTF_8);

        RawHttp.Response r = http.send("PUT /v1/functions/split/traffic HTTP/1.1\r\nHost: gale\r\nAuthorization: Bearer "
                + gale.server.adminToken() + "\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: "
                + body.length, body);

        assertThat(r.status()).isEqualTo(400);
        assertThat(r.error()).contains("\"to\" names 5000 versions; at most 100");
    }

    @Test
    void aTrafficChangeForAFunctionThatDoesNotExistGets404() {
        GaleApiException e = catchThrowableOfType(GaleApiException.class,
                () -> gale.client.setTraffic("nosuch", Map.of("to", Map.of("1", 100))));

        assertThat(e.status()).isEqualTo(404);
        assertThat(e.error()).contains("function 'nosuch' not found");
    }

    @ParameterizedTest(name = "GET {0}")
    @CsvSource(delimiter = '|', value = {
            "/fn/steady@beta     | function 'steady' has no tag 'beta'; gale traffic steady lists its tags",
            "/fn/steady@v9       | version 9 of 'steady' takes no calls",
            "/fn/steady@Beta/x   | neither a version (like v4) nor a tag",
            "/fn/steady@v0       | neither a version (like v4) nor a tag",
            "/fn/steady@         | neither a version (like v4) nor a tag",
            "/fn/nosuch@v1       | function 'nosuch' not found"})
    void aCallToAVersionOrTagThatDoesNotServeGets404SayingWhatServes(String path, String message) {
        RawHttp.Response r = http.send("GET " + path + " HTTP/1.1\r\nHost: gale\r\nConnection: close", new byte[0]);

        assertThat(r.status()).isEqualTo(404);
        assertThat(r.error()).contains(message);
        assertThat(GaleHarness.text(gale.get("steady", ""))).isEqualTo("v1");
    }

    // ---- what is stored

    /** What a refused request must not change: blobs, function and version folders, leftover uploads, versions. */
    private record Stored(List<String> files, List<String> functions, List<String> versions) {
    }

    private static Stored stored() {
        Path data = gale.dataDir;
        List<String> files = Stream.of(
                        tree(data.resolve("blobs"), 2),
                        tree(data.resolve("functions"), 2),
                        tree(data.resolve("run"), 1).stream().filter(f -> f.contains("MultiPart")).toList())
                .flatMap(List::stream).toList();
        List<String> functions = gale.client.functions().stream().map(f -> f.name() + "@" + f.activeVersion()).sorted().toList();
        List<String> versions = Stream.of("steady", "echo").flatMap(n -> gale.client.versions(n).stream())
                .map(v -> v.function() + " v" + v.version() + " " + v.state()).toList();
        return new Stored(files, functions, versions);
    }

    /**
     * Nothing new in the data dir or the store, and steady's version 1 still serves. Jetty
     * deletes a spilled multipart upload when the request completes, just after the answer:
     * that one may take a moment.
     */
    private static void assertNothingChanged(Stored before) {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        Stored now = stored();
        while (!now.equals(before) && System.nanoTime() < deadline) {
            sleep(50);
            now = stored();
        }
        assertThat(now).isEqualTo(before);
        assertThat(GaleHarness.text(gale.get("steady", ""))).isEqualTo("v1");
        assertThat(gale.client.function("steady").activeVersion()).hasValue(1);
    }

    private static List<String> tree(Path root, int depth) {
        if (!Files.exists(root)) return List.of();
        try (var walk = Files.walk(root, depth)) {
            return walk.map(p -> root.getFileName() + "/" + root.relativize(p)).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Calls echo with a whole 5-byte body and waits for its line: any earlier call's line is in the log by then. */
    private static void assertEchoSawOnlyWholeBodies() {
        assertThat(GaleHarness.text(gale.post("echo", "", "hello", "text/plain"))).isEqualTo("5");
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        List<String> saw = sawLines();
        while (!saw.contains("saw 5 bytes") && System.nanoTime() < deadline) {
            sleep(50);
            saw = sawLines();
        }
        assertThat(saw).isNotEmpty().containsOnly("saw 5 bytes");
    }

    private static List<String> sawLines() {
        return gale.client.latestLogs("echo", 1000).entries().stream().map(LogEntry::message)
                .filter(m -> m.startsWith("saw")).toList();
    }

    // ---- requests

    private static GaleApiException deployFails(String name, Path source, Map<String, Object> flags) {
        GaleApiException e = catchThrowableOfType(GaleApiException.class, () -> gale.client.deploy(name, source, flags));
        assertThat(e).as("the deploy of " + source.getFileName() + " should have been refused").isNotNull();
        return e;
    }

    private static String deployHead(String rawName, String contentType, String framing) {
        return "POST /v1/functions/" + rawName + "/versions HTTP/1.1\r\nHost: gale\r\nAuthorization: Bearer "
                + gale.server.adminToken() + "\r\nContent-Type: " + contentType + "\r\n" + framing + "\r\nConnection: close";
    }

    /** A deploy that would succeed under a valid name: the name alone must be the reason it is refused. */
    private static byte[] validDeployBody() {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        body.writeBytes(("--B\r\nContent-Disposition: form-data; name=\"config\"\r\n\r\n{\"allowUnauthenticated\": true}\r\n"
                + "--B\r\nContent-Disposition: form-data; name=\"bundle\"; filename=\"b.zip\"\r\nContent-Type: application/zip\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
        body.writeBytes(zip("main.py", MAIN.getBytes()));
        body.writeBytes("\r\n--B--\r\n".getBytes(StandardCharsets.US_ASCII));
        return body.toByteArray();
    }

    /** The body in 64 KB chunks with the last chunk. */
    private static byte[] chunked(byte[] body) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(body.length + (body.length >> 10));
        try {
            for (int at = 0; at < body.length; at += 64 * 1024) {
                chunk(out, Arrays.copyOfRange(body, at, Math.min(body.length, at + 64 * 1024)));
            }
            out.write("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    private static void chunk(OutputStream out, byte[] data) throws IOException {
        out.write((Integer.toHexString(data.length) + "\r\n").getBytes(StandardCharsets.US_ASCII));
        out.write(data);
        out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
    }

    // ---- zips

    /** Pairs of entry name and content, deflated: zeros shrink about a thousand times. */
    private static byte[] zip(Object... namesAndContents) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ZipOutputStream out = new ZipOutputStream(bytes)) {
            for (int i = 0; i < namesAndContents.length; i += 2) {
                out.putNextEntry(new ZipEntry((String) namesAndContents[i]));
                out.write((byte[]) namesAndContents[i + 1]);
                out.closeEntry();
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    /** Rewrites every entry's uncompressed size in the central directory, the way a zip bomb hides. */
    private static byte[] claimSizes(byte[] zip, int size) {
        ByteBuffer b = ByteBuffer.wrap(zip).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i + 46 <= b.capacity(); i++) {
            if (b.getInt(i) == 0x02014b50) b.putInt(i + 24, size); // central directory header: uncompressed size
        }
        return zip;
    }

    /** Marks an entry as a symlink the way Info-ZIP does: Unix mode 0120777 in the central directory's external attributes. */
    private static byte[] markSymlink(byte[] zip, String entry) {
        ByteBuffer b = ByteBuffer.wrap(zip).order(ByteOrder.LITTLE_ENDIAN);
        byte[] name = entry.getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i + 46 + name.length <= b.capacity(); i++) {
            if (b.getInt(i) != 0x02014b50 || b.getShort(i + 28) != name.length) continue;
            if (java.util.Arrays.equals(zip, i + 46, i + 46 + name.length, name, 0, name.length)) {
                b.putShort(i + 4, (short) (3 << 8 | 20)); // made by: Unix
                b.putInt(i + 38, 0120777 << 16);
            }
        }
        return zip;
    }

    private static Path write(String file, byte[] content) {
        try {
            Files.createDirectories(gale.work);
            return Files.write(gale.work.resolve(file), content);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }
}
