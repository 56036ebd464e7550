package gale.triggers;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class CronExpressionTest {

    private static final ZoneId UTC = ZoneOffset.UTC;
    private static final ZoneId BERLIN = ZoneId.of("Europe/Berlin");

    /** The first {@code n} slots after {@code after}, as UTC instants. */
    private static List<String> slots(String cron, ZoneId zone, String after, int n) {
        CronExpression expression = CronExpression.parse(cron);
        List<String> out = new ArrayList<>();
        Instant t = Instant.parse(after);
        for (int i = 0; i < n; i++) {
            t = expression.next(t, zone);
            out.add(t.toString());
        }
        return out;
    }

    @ParameterizedTest(name = "{0} after {1} is {2}")
    @CsvSource(delimiter = '|', value = {
            "* * * * *            | 2026-01-01T00:00:00Z    | 2026-01-01T00:01:00Z",
            "* * * * *            | 2026-01-01T00:00:59.999Z| 2026-01-01T00:01:00Z",
            "*/5 * * * *          | 2026-01-01T00:03:00Z    | 2026-01-01T00:05:00Z",
            "*/5 * * * *          | 2026-01-01T00:05:00Z    | 2026-01-01T00:10:00Z",
            "7,19 * * * *         | 2026-01-01T00:08:00Z    | 2026-01-01T00:19:00Z",
            "10-12 * * * *        | 2026-01-01T00:12:00Z    | 2026-01-01T01:10:00Z",
            "10-30/10 * * * *     | 2026-01-01T00:21:00Z    | 2026-01-01T00:30:00Z",
            "50/5 * * * *         | 2026-01-01T00:56:00Z    | 2026-01-01T01:50:00Z",
            "0 9 * * *            | 2026-01-01T09:00:00Z    | 2026-01-02T09:00:00Z",
            "0 0 1 * *            | 2026-01-15T00:00:00Z    | 2026-02-01T00:00:00Z",
            "0 0 31 * *           | 2026-02-01T00:00:00Z    | 2026-03-31T00:00:00Z",
            "0 0 29 2 *           | 2026-01-01T00:00:00Z    | 2028-02-29T00:00:00Z",
            "0 12 * JUN *         | 2026-01-01T00:00:00Z    | 2026-06-01T12:00:00Z",
            "0 12 * jan-mar *     | 2026-03-31T12:00:00Z    | 2027-01-01T12:00:00Z",
            "0 9 * * MON-FRI      | 2026-01-02T09:00:00Z    | 2026-01-05T09:00:00Z",
            "0 9 * * 1-5          | 2026-01-03T09:00:00Z    | 2026-01-05T09:00:00Z",
            "0 0 * * 0            | 2026-01-01T00:00:00Z    | 2026-01-04T00:00:00Z",
            "0 0 * * 7            | 2026-01-01T00:00:00Z    | 2026-01-04T00:00:00Z",
            "0 0 * * sun          | 2026-01-01T00:00:00Z    | 2026-01-04T00:00:00Z",
            "0 0 * * 5-7          | 2026-01-04T00:00:00Z    | 2026-01-09T00:00:00Z",
            "0 0 * * 1/2          | 2026-01-03T00:00:00Z    | 2026-01-05T00:00:00Z",
            // Both day fields restricted: either matches (13th, or any Friday).
            "0 0 13 * FRI         | 2026-01-01T00:00:00Z    | 2026-01-02T00:00:00Z",
            "0 0 13 * FRI         | 2026-01-09T00:00:00Z    | 2026-01-13T00:00:00Z",
            // Only the day of month restricted: the weekday field's * does not widen it.
            "0 0 13 * *           | 2026-01-01T00:00:00Z    | 2026-01-13T00:00:00Z",
            // Only the weekday restricted, with a day-of-month step starting with *: both must match.
            "0 0 */2 * MON        | 2026-01-01T00:00:00Z    | 2026-01-05T00:00:00Z",
            "@hourly              | 2026-01-01T00:00:00Z    | 2026-01-01T01:00:00Z",
            "@daily               | 2026-01-01T00:00:00Z    | 2026-01-02T00:00:00Z",
            "@midnight            | 2026-01-01T00:00:00Z    | 2026-01-02T00:00:00Z",
            "@weekly              | 2026-01-01T00:00:00Z    | 2026-01-04T00:00:00Z",
            "@monthly             | 2026-01-01T00:00:00Z    | 2026-02-01T00:00:00Z",
            "@yearly              | 2026-01-01T00:00:00Z    | 2027-01-01T00:00:00Z",
            "@annually            | 2026-01-01T00:00:00Z    | 2027-01-01T00:00:00Z",
            "  0   9 * * *        | 2026-01-01T00:00:00Z    | 2026-01-01T09:00:00Z",
    })
    void nextSlotInUtc(String cron, String after, String expected) {
        assertThat(CronExpression.parse(cron).next(Instant.parse(after), UTC)).isEqualTo(Instant.parse(expected));
    }

    @Test
    void slotsAreLocalTimesInTheTimeZone() {
        // 09:00 in Berlin is 08:00Z in winter (CET) and 07:00Z in summer (CEST); New York is -05:00 in January.
        assertThat(slots("0 9 * * *", BERLIN, "2026-01-10T00:00:00Z", 1)).containsExactly("2026-01-10T08:00:00Z");
        assertThat(slots("0 9 * * *", BERLIN, "2026-07-10T00:00:00Z", 1)).containsExactly("2026-07-10T07:00:00Z");
        assertThat(slots("0 9 * * *", ZoneId.of("America/New_York"), "2026-01-10T00:00:00Z", 1))
                .containsExactly("2026-01-10T14:00:00Z");
        assertThat(slots("30 5 * * *", ZoneId.of("Asia/Kolkata"), "2026-01-10T00:00:00Z", 1)) // +05:30, strictly after
                .containsExactly("2026-01-11T00:00:00Z");
    }

    @Test
    void aLocalTimeTheClocksSkipFiresOnceWhenTheSkippedHourEnds() {
        // 2026-03-29 in Berlin: 02:00 CET becomes 03:00 CEST (01:00Z); 02:30 does not exist that night.
        assertThat(slots("30 2 * * *", BERLIN, "2026-03-28T12:00:00Z", 3)).containsExactly(
                "2026-03-29T01:00:00Z", // the gap's end, 03:00 CEST
                "2026-03-30T00:30:00Z", // 02:30 CEST
                "2026-03-31T00:30:00Z");
    }

    @Test
    void aPeriodicScheduleDoesNotFireExtraSlotsInTheSkippedHour() {
        // 01:45 CET (00:45Z), then 03:00 CEST (01:00Z): 02:00-02:45 never happen, and 03:00 fires once.
        assertThat(slots("*/15 * * * *", BERLIN, "2026-03-29T00:40:00Z", 4)).containsExactly(
                "2026-03-29T00:45:00Z", "2026-03-29T01:00:00Z", "2026-03-29T01:15:00Z", "2026-03-29T01:30:00Z");
    }

    @Test
    void aFixedLocalTimeThatOccursTwiceFiresOnce() {
        // 2026-10-25 in Berlin: 03:00 CEST becomes 02:00 CET; 02:30 happens at 00:30Z and at 01:30Z.
        assertThat(slots("30 2 * * *", BERLIN, "2026-10-24T12:00:00Z", 2)).containsExactly(
                "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z");
    }

    @Test
    void anEveryHourScheduleFiresInBothPassesOfTheRepeatedHour() {
        assertThat(slots("*/30 * * * *", BERLIN, "2026-10-24T23:59:00Z", 5)).containsExactly(
                "2026-10-25T00:00:00Z", // 02:00 CEST
                "2026-10-25T00:30:00Z", // 02:30 CEST
                "2026-10-25T01:00:00Z", // 02:00 CET
                "2026-10-25T01:30:00Z", // 02:30 CET
                "2026-10-25T02:00:00Z"); // 03:00 CET
    }

    @Test
    void aStepOverSomeHoursFiresOnceInTheRepeatedHour() {
        // hours 0,2,4...: 02:00 local happens twice, fires the first time only
        assertThat(slots("0 */2 * * *", BERLIN, "2026-10-24T21:00:00Z", 3)).containsExactly(
                "2026-10-24T22:00:00Z", "2026-10-25T00:00:00Z", "2026-10-25T03:00:00Z");
    }

    @Test
    void theLatestSlotAfterADowntimeIsFoundWithoutWalkingEverySlot() {
        CronExpression everyMinute = CronExpression.parse("* * * * *");
        Instant from = Instant.parse("2026-01-01T00:00:00Z");
        Instant now = Instant.parse("2026-02-10T12:34:56Z"); // 40 days of minutes later
        long start = System.nanoTime();
        assertThat(everyMinute.latestAtOrBefore(now, from, UTC)).isEqualTo(Instant.parse("2026-02-10T12:34:00Z"));
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));

        CronExpression fiveMinutes = CronExpression.parse("*/5 * * * *");
        assertThat(fiveMinutes.latestAtOrBefore(Instant.parse("2026-01-01T10:23:00Z"), Instant.parse("2026-01-01T10:00:00Z"), UTC))
                .isEqualTo(Instant.parse("2026-01-01T10:20:00Z"));
        assertThat(fiveMinutes.latestAtOrBefore(Instant.parse("2026-01-01T10:04:00Z"), Instant.parse("2026-01-01T10:00:00Z"), UTC))
                .isEqualTo(Instant.parse("2026-01-01T10:00:00Z"));
        CronExpression yearly = CronExpression.parse("@yearly");
        assertThat(yearly.latestAtOrBefore(Instant.parse("2029-06-01T00:00:00Z"), Instant.parse("2027-01-01T00:00:00Z"), UTC))
                .isEqualTo(Instant.parse("2029-01-01T00:00:00Z"));
    }

    @Test
    void anIntervalFiresAtWholeMultiplesSinceTheEpoch() {
        var every = new ScheduleTiming.Every(Duration.ofMinutes(4));
        assertThat(every.next(Instant.parse("2026-01-01T00:01:00Z"))).isEqualTo(Instant.parse("2026-01-01T00:04:00Z"));
        assertThat(every.next(Instant.parse("2026-01-01T00:04:00Z"))).isEqualTo(Instant.parse("2026-01-01T00:08:00Z"));
        assertThat(every.latestAtOrBefore(Instant.parse("2026-01-01T01:02:00Z"), Instant.parse("2026-01-01T00:04:00Z")))
                .isEqualTo(Instant.parse("2026-01-01T01:00:00Z"));
        assertThat(every.describe()).isEqualTo("every 4m");
    }

    @ParameterizedTest(name = "{0}: {1}")
    @CsvSource(delimiter = '|', value = {
            "''                   | it is empty",
            "* * * *              | it has 4 fields",
            "0 * * * * *          | it has 6 fields",
            "60 * * * *           | the minute 60 in '60' is outside 0-59",
            "* 24 * * *           | the hour 24 in '24' is outside 0-23",
            "* * 0 * *            | the day of month 0 in '0' is outside 1-31",
            "* * * 13 *           | the month 13 in '13' is outside 1-12",
            "* * * * 8            | the day of week 8 in '8' is outside 0-7",
            "*/0 * * * *          | the minute step in '*/0' must be 1 or more",
            "30-10 * * * *        | the minute range '30-10' goes backwards",
            "* * * FOO *          | the month value 'FOO' is not a number or a name like FEB",
            "* * * * MONDAY       | the day of week value 'MONDAY' is not a number or a name like MON",
            "1,,2 * * * *         | the minute field '1,,2' has an empty list item",
            "-1 * * * *           | the minute value '-1' is not a number",
            "0 0 30 2 *           | no month chosen has the days chosen, so it would never fire",
            "0 0 31 4,6,9,11 *    | no month chosen has the days chosen",
            "@reboot              | unknown macro @reboot",
            "? * * * *            | the minute value '?' is not a number",
    })
    void aBadExpressionSaysWhatIsWrongAndHowToWriteOne(String cron, String reason) {
        assertThatThrownBy(() -> CronExpression.parse(cron))
                .isInstanceOf(InvalidScheduleException.class)
                .hasMessageContaining(reason)
                .hasMessageContaining("write 5 fields like");
    }
}
