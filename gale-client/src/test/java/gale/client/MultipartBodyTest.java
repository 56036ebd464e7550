package gale.client;

import static gale.client.Bodies.bytesOf;
import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.http.HttpRequest.BodyPublisher;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MultipartBodyTest {

    @TempDir
    Path dir;

    @Test
    void writesEachPartBetweenBoundariesWithItsOwnHeaders() throws IOException {
        Path file = Files.writeString(dir.resolve("bundle.zip"), "PK-zip-bytes");
        MultipartBody body = new MultipartBody("b0undary")
                .add("config", "application/json", "{\"memory\":\"512MB\"}".getBytes(UTF_8))
                .addFile("bundle", "bundle.zip", "application/zip", file);

        assertThat(new String(bytesOf(body.publisher()), UTF_8)).isEqualTo("""
                --b0undary\r
                Content-Disposition: form-data; name="config"\r
                Content-Type: application/json\r
                \r
                {"memory":"512MB"}\r
                --b0undary\r
                Content-Disposition: form-data; name="bundle"; filename="bundle.zip"\r
                Content-Type: application/zip\r
                \r
                PK-zip-bytes\r
                --b0undary--\r
                """);
        assertThat(body.contentType()).isEqualTo("multipart/form-data; boundary=b0undary");
    }

    @Test
    void announcesTheExactLengthSoTheRequestIsNotChunked() throws IOException {
        Path file = Files.write(dir.resolve("model.bin"), new byte[70_000]);
        BodyPublisher publisher = new MultipartBody()
                .add("config", "application/json", "{}".getBytes(UTF_8))
                .addFile("bundle", "bundle.zip", "application/zip", file)
                .publisher();

        assertThat(publisher.contentLength()).isEqualTo(bytesOf(publisher).length);
    }

    @Test
    void carriesBinaryFileContentUnchanged() throws IOException {
        byte[] content = new byte[200_000];
        new Random(7).nextBytes(content);
        Path file = Files.write(dir.resolve("bundle.zip"), content);

        byte[] sent = bytesOf(new MultipartBody("b").addFile("bundle", "bundle.zip", "application/zip", file).publisher());

        String asLatin1 = new String(sent, ISO_8859_1);
        int start = asLatin1.indexOf("\r\n\r\n") + 4;
        int end = asLatin1.lastIndexOf("\r\n--b--");
        assertThat(Arrays.copyOfRange(sent, start, end)).isEqualTo(content);
    }

    @Test
    void picksADifferentBoundaryForEachBody() {
        assertThat(new MultipartBody().contentType()).isNotEqualTo(new MultipartBody().contentType());
    }

    @Test
    void escapesQuotesAndLineBreaksInPartNames() {
        MultipartBody body = new MultipartBody("b").add("a\"b\r\nc", "text/plain", new byte[0]);

        assertThat(new String(bytesOf(body.publisher()), UTF_8)).contains("name=\"a%22b%0D%0Ac\"");
    }
}
