package gale.logs;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.assertj.core.api.Assertions.assertThat;

class LogLevelTest {

    @ParameterizedTest(name = "{0} line \"{1}\" is {2}")
    @CsvSource(delimiter = '|', textBlock = """
            stdout | WARNING:root:disk almost full                 | WARNING
            stderr | INFO:werkzeug:GET / 200                       | INFO
            stdout | [ERROR]	2026-01-01T00:00:00Z	boom           | ERROR
            stdout | CRITICAL:root:gone                            | ERROR
            stdout | DEBUG loading model                           | DEBUG
            stdout | WARN cache cold                               | WARNING
            stderr | Traceback (most recent call last):           | ERROR
            stdout | greeting world                                | INFO
            gale   | version 2 is ACTIVE (ready in 180 ms)         | INFO
            stdout | INFORMATION is not a level                    | INFO
            stderr | ERRORS is not one either                      | ERROR
            stdout | ERRORS is not one either                      | INFO
            """)
    void aLineIsTheLevelItNamesElseItsStreamsLevel(String stream, String message, LogLevel expected) {
        assertThat(LogLevel.of(stream, message)).isEqualTo(expected);
    }

    @ParameterizedTest
    @CsvSource({"error, ERROR", "Warn, WARNING", "warning, WARNING", " info , INFO", "debug, DEBUG"})
    void aFilterNamesALevelInAnyCase(String name, LogLevel expected) {
        assertThat(LogLevel.named(name)).contains(expected);
    }

    @ParameterizedTest
    @CsvSource({"fatal", "verbose", "''"})
    void anythingElseIsNoLevel(String name) {
        assertThat(LogLevel.named(name)).isEmpty();
    }
}
