package gale.api.internal;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class JsonTest {

    // ---------------------------------------------------------------- writing

    @ParameterizedTest(name = "{0} is written as {1}")
    @CsvSource(delimiter = '|', quoteCharacter = '\'', value = {
            "plain          | \"plain\"",
            "say \"hi\"     | \"say \\\"hi\\\"\"",
            "back\\slash    | \"back\\\\slash\"",
            "café           | \"café\"",
            "slash /        | \"slash /\"",
    })
    void stringsAreQuotedWithTheirSpecialCharactersEscaped(String value, String json) {
        assertThat(Json.write(value.strip())).isEqualTo(json.strip());
    }

    @Test
    void controlCharactersAndLineSeparatorsAreEscaped() {
        assertThat(Json.write("a\nb\r\tc\b\f\u0001\u001f\u2028")).isEqualTo("\"a\\nb\\r\\tc\\b\\f\\u0001\\u001f\\u2028\"");
    }

    @Test
    void surrogatePairsArePassedThroughAndLoneSurrogatesEscaped() {
        assertThat(Json.write("😀")).isEqualTo("\"😀\"");
        assertThat(Json.write("x\ud83dy")).isEqualTo("\"x\\ud83dy\"");
        assertThat(Json.write("\ude00")).isEqualTo("\"\\ude00\"");
    }

    @Test
    void numbersBooleansAndNullAreWrittenBare() {
        assertThat(Json.write(42)).isEqualTo("42");
        assertThat(Json.write(-7L)).isEqualTo("-7");
        assertThat(Json.write(1.5)).isEqualTo("1.5");
        assertThat(Json.write(2.0)).isEqualTo("2");
        assertThat(Json.write(true)).isEqualTo("true");
        assertThat(Json.write(null)).isEqualTo("null");
    }

    @Test
    void objectsKeepInsertionOrderAndHeaderPairsBecomeTwoElementArrays() {
        Map<String, Object> header = new LinkedHashMap<>();
        header.put("id", "r1");
        header.put("status", 201);
        header.put("headers", List.of(Map.entry("Content-Type", "text/plain"), Map.entry("Set-Cookie", "a=1")));
        header.put("none", null);

        assertThat(Json.write(header)).isEqualTo(
                "{\"id\":\"r1\",\"status\":201,\"headers\":[[\"Content-Type\",\"text/plain\"],[\"Set-Cookie\",\"a=1\"]],\"none\":null}");
    }

    @Test
    void valuesJsonCannotHoldAreRefused() {
        assertThatThrownBy(() -> Json.write(Double.NaN)).hasMessageContaining("NaN");
        assertThatThrownBy(() -> Json.write(Map.of(1, "x"))).hasMessageContaining("keys must be strings");
        assertThatThrownBy(() -> Json.write(new Object())).hasMessageContaining("cannot write java.lang.Object");
    }

    // ---------------------------------------------------------------- parsing

    @Test
    void anInvokeHeaderAsGaleWritesItIsRead() {
        Map<String, Object> h = Json.parseObject("""
                {"id": "req-7f3a", "method": "POST", "path": "/sub/path", "query": "a=1&b=2",
                 "headers": [["Content-Type", "application/json"], ["X-Many", "1"], ["X-Many", "2"]],
                 "remoteAddr": "127.0.0.1", "deadlineMs": 1764000000000, "timeoutMs": 60000, "extra": {"nested": [true, false, null]}}
                """);

        assertThat(h).containsEntry("id", "req-7f3a").containsEntry("deadlineMs", 1764000000000L).containsEntry("timeoutMs", 60000L);
        assertThat(h.get("headers")).isEqualTo(List.of(List.of("Content-Type", "application/json"), List.of("X-Many", "1"), List.of("X-Many", "2")));
        assertThat(h.get("extra")).isEqualTo(Map.of("nested", java.util.Arrays.asList(true, false, null)));
        assertThat(h.keySet()).startsWith("id", "method", "path");
    }

    @ParameterizedTest(name = "{0} is the string {1}")
    @CsvSource(delimiter = '|', quoteCharacter = '\'', value = {
            "'\"\\u00e9t\\u00c9\"'        | étÉ",
            "'\"\\ud83d\\ude00\"'        | 😀",
            "'\"a\\/b\\\\c\\\"d\"'       | a/b\\c\"d",
            "'\"tab\\there\"'            | 'tab\there'",
            "'\"\"'                      | ''",
    })
    void escapesAreDecoded(String json, String value) {
        assertThat(Json.parse(json)).isEqualTo(value.replace("\\t", "\t"));
    }

    @Test
    void newlineEscapesAreDecoded() {
        assertThat(Json.parse("\"a\\nb\\r\\b\\f\"")).isEqualTo("a\nb\r\b\f");
    }

    @ParameterizedTest(name = "{0} is the number {1}")
    @CsvSource({"0, 0", "-0, 0", "17, 17", "-42, -42", "9223372036854775807, 9223372036854775807"})
    void integersAreLongs(String json, long value) {
        assertThat(Json.parse(json)).isEqualTo(value);
    }

    @ParameterizedTest(name = "{0} is the double {1}")
    @CsvSource({"1.5, 1.5", "-0.25, -0.25", "1e3, 1000.0", "1.5E-2, 0.015", "2e+2, 200.0", "9223372036854775808, 9.223372036854775808E18"})
    void fractionsExponentsAndHugeIntegersAreDoubles(String json, double value) {
        assertThat(Json.parse(json)).isEqualTo(value);
    }

    @Test
    void whitespaceAroundAndInsideIsAllowed() {
        assertThat(Json.parse(" \n\t{ \"a\" : [ 1 , 2 ] , \"b\" : { } , \"c\" : [ ] }\r\n ")).isEqualTo(
                Map.of("a", List.of(1L, 2L), "b", Map.of(), "c", List.of()));
    }

    @ParameterizedTest(name = "{0} is rejected: {1}")
    @CsvSource(delimiter = '|', quoteCharacter = '\'', value = {
            "''                        | unexpected end of input",
            "'{'                       | expected a string key",
            "'{\"a\":1,}'              | expected a string key",
            "'[1,]'                    | unexpected ']'",
            "'[1 2]'                   | expected ',' or ']'",
            "'{\"a\" 1}'               | expected ':'",
            "'{\"a\":1 \"b\":2}'       | expected ',' or '}'",
            "'\"open'                  | unterminated string",
            "'\"bad \\x escape\"'      | invalid escape",
            "'\"\\u12zz\"'             | invalid \\u escape",
            "'\"\\u12'                 | truncated \\u escape",
            "'01'                      | after the value",
            "'-'                       | invalid number",
            "'1.'                      | digit expected after '.'",
            "'1e'                      | digit expected in the exponent",
            "'tru'                     | unexpected 't'",
            "'nul'                     | unexpected 'n'",
            "'{} {}'                   | after the value",
            "'[\"tab\there\"]'         | control character",
            "'{1:2}'                   | expected a string key",
    })
    void malformedJsonIsRejectedWithItsOffset(String json, String message) {
        assertThatThrownBy(() -> Json.parse(json.replace("\\t", "\t")))
                .isInstanceOf(Json.JsonException.class)
                .hasMessageStartingWith("invalid JSON at offset ")
                .hasMessageContaining(message);
    }

    @Test
    void nestingDeeperThanSixtyFourLevelsIsRejectedWithoutOverflowingTheStack() {
        String deep = "[".repeat(10_000) + "]".repeat(10_000);

        assertThatThrownBy(() -> Json.parse(deep)).hasMessageContaining("nested deeper than 64");
        assertThat(Json.parse("[".repeat(60) + "]".repeat(60))).isInstanceOf(List.class);
    }

    @Test
    void aFrameHeaderMustBeAnObject() {
        assertThatThrownBy(() -> Json.parseObject("[1]")).hasMessage("expected a JSON object, got an array");
        assertThatThrownBy(() -> Json.parseObject("null")).hasMessage("expected a JSON object, got null");
    }

    @Test
    void duplicateKeysKeepTheLastValue() {
        assertThat(Json.parseObject("{\"a\":1,\"a\":2}")).isEqualTo(Map.of("a", 2L));
    }

    // ---------------------------------------------------------------- both ways

    @Property(tries = 500)
    void anyStringSurvivesWritingAndReading(@ForAll String text) {
        assertThat(Json.parse(Json.write(text))).isEqualTo(text);
    }

    @Property(tries = 300)
    void anyHeaderShapedValueSurvivesWritingAndReading(@ForAll("values") Object value) {
        assertThat(Json.parse(Json.write(value))).isEqualTo(value);
    }

    @Provide
    Arbitrary<Object> values() {
        Arbitrary<Object> leaves = Arbitraries.oneOf(
                Arbitraries.strings().ofMaxLength(20).map(s -> (Object) s),
                Arbitraries.longs().map(l -> (Object) l),
                Arbitraries.of(true, false).map(b -> (Object) b),
                Arbitraries.doubles().between(-1e9, 1e9).ofScale(3).filter(d -> d != Math.rint(d)).map(d -> (Object) d));
        return Arbitraries.recursive(() -> leaves, inner -> Arbitraries.oneOf(
                inner.list().ofMaxSize(4).map(l -> (Object) new ArrayList<>(l)),
                Arbitraries.maps(Arbitraries.strings().ofMaxLength(8), inner).ofMaxSize(4).map(m -> (Object) new LinkedHashMap<>(m))),
                0, 3);
    }
}
