package gale.cost;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Instant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** --since: a span back from now or a moment, and every way to get it wrong. */
class SinceTest {

    private static final Instant NOW = Instant.parse("2026-03-31T12:00:00Z");

    @ParameterizedTest
    @CsvSource({
            "30d, 2026-03-01T12:00:00Z",
            "12h, 2026-03-31T00:00:00Z",
            "90m, 2026-03-31T10:30:00Z",
            "45s, 2026-03-31T11:59:15Z",
            "2w, 2026-03-17T12:00:00Z",
            "' 7D ', 2026-03-24T12:00:00Z",
            "2026-03-01, 2026-03-01T00:00:00Z",
            "2026-03-30T08:15:00Z, 2026-03-30T08:15:00Z",
            "2026-03-30T10:15:00+02:00, 2026-03-30T08:15:00Z"})
    void aSpanOrAMomentGivesTheStartOfThePeriod(String text, String expected) {
        assertThat(Since.parse(text, NOW)).isEqualTo(Instant.parse(expected));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "3x | is neither a span nor a date; write a span back from now like 30d",
            "-5d | is neither a span nor a date",
            "30 days | is neither a span nor a date",
            "1.5d | is neither a span nor a date",
            "0d | is an empty period",
            "99999999d | reaches back more than 3660 days",
            "2026-13-01 | is neither a span nor a date",
            "2027-01-01 | is in the future",
            "2010-01-01 | is more than 3660 days ago"})
    void aBadSinceSaysWhatIsWrongAndHowToWriteIt(String text, String message) {
        assertThatThrownBy(() -> Since.parse(text, NOW)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining(message);
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "   "})
    void anEmptySinceIsRefused(String text) {
        assertThatThrownBy(() -> Since.parse(text, NOW)).hasMessageContaining("since is empty");
    }
}
