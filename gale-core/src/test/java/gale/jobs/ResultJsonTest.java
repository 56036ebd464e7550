package gale.jobs;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;

/** A function's answer is stored as one line of JSON (results stream as NDJSON), untouched when it already is one. */
class ResultJsonTest {

    @Test
    void oneLineOfJsonIsKeptByteForByteWithoutACopy() {
        String answer = "{\"ok\": true, \"result\": \"" + "QUJD".repeat(250_000) + "\", \"n\": 1.10, \"big\": 12345678901234567890}";
        byte[] body = utf8(answer);

        assertThat(JobExecution.resultJson(body)).isSameAs(body);
        assertThat(stored(body)).isEqualTo(answer);
    }

    @Test
    void unicodeAndEscapesSurviveTheShortcut() {
        String answer = "{\"name\":\"Zoë \\u2603\",\"path\":\"a\\\\b\\n\"}";

        assertThat(stored(utf8(answer))).isEqualTo(answer);
    }

    @Test
    void jsonWithLineBreaksIsRewrittenOnOneLine() {
        assertThat(stored(utf8("{\n  \"y\": 4,\r\n  \"z\": [1, 2]\n}\n"))).isEqualTo("{\"y\":4,\"z\":[1,2]}");
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"{\"y\": 1} trailing", "{\"y\": 1}{\"y\": 2}", "[1, 2", "{\"y\": tru}", "'single'", "1 2",
            "{\"bad\": \"\\q\"}", "not json at all"})
    void anythingButExactlyOneJsonValueTakesTheCarefulPathAndStillEndsAsOneLineOfJson(String body) {
        String stored = stored(utf8(body));

        assertThat(JobExecution.isOneLineOfJson(utf8(body))).isFalse();
        assertThat(JobExecution.isOneLineOfJson(utf8(stored))).as(stored).isTrue();
    }

    @Test
    void aBodyThatIsNotJsonIsKeptAsAJsonString() {
        assertThat(stored(utf8("plain text"))).isEqualTo("\"plain text\"");
    }

    @Test
    void aRawControlCharacterInAStringIsNotValidJson() {
        assertThat(JobExecution.isOneLineOfJson(utf8("{\"y\": \"a\tb\"}"))).isFalse();
        assertThat(JobExecution.isOneLineOfJson(utf8("{\"y\": \"a\\tb\"}"))).isTrue();
    }

    @Test
    void invalidUtf8IsNotKeptAsIs() {
        byte[] body = {'"', 'a', (byte) 0xC3, 'b', '"'};

        assertThat(JobExecution.isOneLineOfJson(body)).isFalse();
    }

    @Test
    void anEmptyBodyIsNull() {
        assertThat(stored(new byte[0])).isEqualTo("null");
    }

    private static String stored(byte[] body) {
        return new String(JobExecution.resultJson(body), StandardCharsets.UTF_8);
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
