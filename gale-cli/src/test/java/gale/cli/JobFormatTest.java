package gale.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class JobFormatTest {

    @Test
    void writesDurationsInTheLargestUnitsThatKeepThemShort() {
        assertThat(JobFormat.duration(Duration.ofMillis(850))).isEqualTo("850 ms");
        assertThat(JobFormat.duration(Duration.ofMillis(18_940))).isEqualTo("18.9 s");
        assertThat(JobFormat.duration(Duration.ofSeconds(200))).isEqualTo("3 min 20 s");
        assertThat(JobFormat.duration(Duration.ofMinutes(125))).isEqualTo("2 h 5 min");
    }

    @Test
    void writesWholeRatesFromTenPerSecondAndOneDecimalBelow() {
        assertThat(JobFormat.rate(158.4)).isEqualTo("158/s");
        assertThat(JobFormat.rate(2.46)).isEqualTo("2.5/s");
        assertThat(JobFormat.rate(0)).isEqualTo("0.0/s");
    }
}
