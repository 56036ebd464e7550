package gale.triggers;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.ZoneId;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Each hostile schedule request is refused with a message that says what to write instead. */
class ScheduleSpecTest {

    private static final Duration MIN = Duration.ofMinutes(1);

    private static ScheduleSpec spec(String name, Optional<String> cron, Optional<String> every, Optional<String> zone,
                                     Optional<String> catchUp, Optional<String> payload) {
        return ScheduleSpec.of(name, "report", cron, every, zone, catchUp, payload, MIN);
    }

    private static ScheduleSpec every(String interval) {
        return spec("report", Optional.empty(), Optional.of(interval), Optional.empty(), Optional.empty(), Optional.empty());
    }

    @Test
    void aCronScheduleDefaultsToUtcAndCatchUpLast() {
        ScheduleSpec s = spec("report", Optional.of("*/5 * * * *"), Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty());
        assertThat(s.timing()).isEqualTo(new ScheduleTiming.Cron(CronExpression.parse("*/5 * * * *"), ZoneId.of("UTC")));
        assertThat(((ScheduleTiming.Cron) s.timing()).zone().getId()).isEqualTo("UTC");
        assertThat(s.catchUp()).isEqualTo(CatchUp.LAST);
    }

    @Test
    void anIntervalOfAMinuteOrMoreIsAccepted() {
        assertThat(every("4m").timing()).isEqualTo(new ScheduleTiming.Every(Duration.ofMinutes(4)));
        assertThat(every("90s").timing()).isEqualTo(new ScheduleTiming.Every(Duration.ofSeconds(90)));
    }

    @Test
    void aZeroIntervalIsRefused() {
        assertThatThrownBy(() -> every("0s")).isInstanceOf(InvalidScheduleException.class)
                .hasMessageContaining("--every 0s is shorter than this server's minimum of 1m; use 1m or more");
    }

    @Test
    void anIntervalBelowTheMinimumIsRefused() {
        assertThatThrownBy(() -> every("30s")).hasMessageContaining("shorter than this server's minimum of 1m")
                .hasMessageContaining("--min-schedule-interval");
    }

    @Test
    void aServerWithALowerMinimumAcceptsShorterIntervals() {
        assertThat(ScheduleSpec.of("t", "report", Optional.empty(), Optional.of("2s"), Optional.empty(), Optional.empty(),
                Optional.empty(), Duration.ofSeconds(1)).timing()).isEqualTo(new ScheduleTiming.Every(Duration.ofSeconds(2)));
    }

    @Test
    void anIntervalThatIsNotADurationIsRefused() {
        assertThatThrownBy(() -> every("often")).hasMessageContaining("'often' is not a duration; write it like 500ms, 60s or 5m");
    }

    @Test
    void anIntervalOverAYearIsRefused() {
        assertThatThrownBy(() -> every("9000h")).hasMessageContaining("longer than 366 days; use a cron expression");
    }

    @Test
    void anUnknownTimeZoneIsRefused() {
        assertThatThrownBy(() -> spec("report", Optional.of("0 9 * * *"), Optional.empty(), Optional.of("Europe/Berln"),
                Optional.empty(), Optional.empty()))
                .isInstanceOf(InvalidScheduleException.class)
                .hasMessageContaining("unknown time zone 'Europe/Berln': use an IANA name such as Europe/Berlin");
    }

    @Test
    void aFixedOffsetIsRefusedAsItIgnoresDaylightSaving() {
        assertThatThrownBy(() -> spec("report", Optional.of("0 9 * * *"), Optional.empty(), Optional.of("+02:00"),
                Optional.empty(), Optional.empty())).hasMessageContaining("a fixed offset like +02:00 would ignore daylight saving");
    }

    @Test
    void aTimeZoneWithAnIntervalIsRefused() {
        assertThatThrownBy(() -> spec("report", Optional.empty(), Optional.of("5m"), Optional.of("Europe/Berlin"),
                Optional.empty(), Optional.empty())).hasMessageContaining("a time zone applies to a cron schedule only");
    }

    @Test
    void bothOrNeitherOfCronAndIntervalIsRefused() {
        assertThatThrownBy(() -> spec("report", Optional.of("* * * * *"), Optional.of("5m"), Optional.empty(), Optional.empty(),
                Optional.empty())).hasMessageContaining("needs exactly one of a cron expression").hasMessageContaining("got both");
        assertThatThrownBy(() -> spec("report", Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(),
                Optional.empty())).hasMessageContaining("got neither");
    }

    @Test
    void aBadCronExpressionIsRefused() {
        assertThatThrownBy(() -> spec("report", Optional.of("61 * * * *"), Optional.empty(), Optional.empty(), Optional.empty(),
                Optional.empty())).isInstanceOf(InvalidScheduleException.class).hasMessageContaining("outside 0-59");
    }

    @Test
    void anUnknownCatchUpIsRefused() {
        assertThatThrownBy(() -> spec("report", Optional.empty(), Optional.of("5m"), Optional.empty(), Optional.of("all"),
                Optional.empty())).hasMessageContaining("catch-up 'all' is not known; use last");
    }

    @Test
    void aBadScheduleNameIsRefused() {
        assertThatThrownBy(() -> spec("Nightly_Run", Optional.empty(), Optional.of("5m"), Optional.empty(), Optional.empty(),
                Optional.empty())).hasMessageContaining("'Nightly_Run' is not a schedule name");
    }

    @Test
    void aPayloadOver64KbIsRefused() {
        String big = "\"" + "x".repeat(70_000) + "\"";
        assertThatThrownBy(() -> spec("report", Optional.empty(), Optional.of("5m"), Optional.empty(), Optional.empty(),
                Optional.of(big))).hasMessageContaining("more than 65536; send a reference to the data");
    }
}
