package gale.api;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class RequestTest {

    @Test
    void queryParametersAreDecodedInOrderWithRepeatsKept() {
        var req = Request.builder().query("name=Ada+Lovelace&tag=a&tag=b%20c&city=Z%C3%BCrich&flag&empty=").build();

        assertThat(req.query("name")).hasValue("Ada Lovelace");
        assertThat(req.queries("tag")).containsExactly("a", "b c");
        assertThat(req.query("tag")).hasValue("a");
        assertThat(req.query("city")).hasValue("Zürich");
        assertThat(req.query("flag")).hasValue("");
        assertThat(req.query("empty")).hasValue("");
        assertThat(req.query("missing")).isEmpty();
        assertThat(req.queries("missing")).isEmpty();
        assertThat(req.queryParams().keySet()).containsExactly("name", "tag", "city", "flag", "empty");
        assertThat(req.queryString()).startsWith("name=Ada+Lovelace");
    }

    @Test
    void aMalformedPercentEscapeIsKeptAsSentInsteadOfFailingTheRequest() {
        var req = Request.builder().query("discount=50%&x=%zz").build();

        assertThat(req.query("discount")).hasValue("50%");
        assertThat(req.query("x")).hasValue("%zz");
    }

    @Test
    void aLeadingQuestionMarkIsIgnoredAndAnEmptyQueryHasNoParameters() {
        assertThat(Request.builder().query("?a=1").build().query("a")).hasValue("1");
        assertThat(Request.builder().build().queryParams()).isEmpty();
        assertThat(Request.builder().query("&&").build().queryParams()).isEmpty();
    }

    @Test
    void headerNamesAreCaseInsensitiveAndRepeatsAreKeptInOrder() {
        var req = Request.builder().header("Content-Type", "application/json").header("X-Tag", "1").header("x-tag", "2").build();

        assertThat(req.header("content-type")).hasValue("application/json");
        assertThat(req.header("X-TAG")).hasValue("1");
        assertThat(req.headers().get("x-Tag")).containsExactly("1", "2");
        assertThat(req.headerList()).containsExactly(Map.entry("Content-Type", "application/json"), Map.entry("X-Tag", "1"),
                Map.entry("x-tag", "2"));
        assertThat(req.contentType()).hasValue("application/json");
        assertThat(req.header("missing")).isEmpty();
    }

    @Test
    void theBodyIsReadInTheCharsetOfItsContentType() {
        byte[] latin1 = "café".getBytes(StandardCharsets.ISO_8859_1);

        var declared = Request.builder().header("Content-Type", "text/plain; charset=ISO-8859-1").body(latin1).build();
        var quoted = Request.builder().header("Content-Type", "text/plain;charset=\"iso-8859-1\"").body(latin1).build();
        var undeclared = Request.builder().body("café").build();
        var unknown = Request.builder().header("Content-Type", "text/plain; charset=klingon").body("café").build();

        assertThat(declared.bodyAsString()).isEqualTo("café");
        assertThat(quoted.bodyAsString()).isEqualTo("café");
        assertThat(undeclared.bodyAsString()).isEqualTo("café");
        assertThat(unknown.bodyAsString()).isEqualTo("café");
    }

    @Test
    void defaultsDescribeALocalGetOfTheRootWithAMinuteToAnswer() {
        var req = Request.builder().build();

        assertThat(req.method()).isEqualTo("GET");
        assertThat(req.path()).isEqualTo("/");
        assertThat(req.body()).isEmpty();
        assertThat(req.bodyAsString()).isEmpty();
        assertThat(req.remainingTime()).isBetween(Duration.ofSeconds(55), Duration.ofSeconds(60));
    }

    @Test
    void remainingTimeCountsDownToTheDeadlineAndStopsAtZero() {
        var past = Request.builder().deadline(Instant.now().minusSeconds(5)).build();
        var future = Request.builder().deadline(Instant.now().plusSeconds(30)).build();

        assertThat(past.remainingTime()).isZero();
        assertThat(future.remainingTime()).isBetween(Duration.ofSeconds(25), Duration.ofSeconds(30));
    }

    @ParameterizedTest(name = "method {0} becomes {1}")
    @CsvSource({"post, POST", "Get, GET", "DELETE, DELETE"})
    void methodsAreUpperCase(String given, String expected) {
        assertThat(Request.builder().method(given).build().method()).isEqualTo(expected);
    }

    @Test
    void aPathMustStartWithASlash() {
        assertThatThrownBy(() -> Request.builder().path("sub")).hasMessageContaining("must start with '/'");
    }

    @Test
    void theMapsHandedOutCannotBeChanged() {
        var req = Request.builder().query("a=1").header("H", "v").build();

        assertThatThrownBy(() -> req.queryParams().put("b", List.of())).isInstanceOf(UnsupportedOperationException.class);
        assertThatThrownBy(() -> req.queries("a").add("2")).isInstanceOf(UnsupportedOperationException.class);
        assertThatThrownBy(() -> req.headers().clear()).isInstanceOf(UnsupportedOperationException.class);
    }
}
