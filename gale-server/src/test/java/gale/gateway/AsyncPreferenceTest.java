package gale.gateway;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.NullSource;
import org.junit.jupiter.params.provider.ValueSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class AsyncPreferenceTest {

    @ParameterizedTest(name = "Prefer: {0} -> async {1}")
    @CsvSource(delimiter = '|', value = {
            "respond-async                 | true",
            "Respond-Async                 | true",
            "respond-async, wait=10        | true",
            "wait=5; foo=bar, respond-async | true",
            "return=minimal                | false",
            "handling=lenient              | false",
            "''                            | false"})
    void knownPreferencesAreReadAndTheOthersIgnored(String header, boolean async) {
        assertThat(AsyncPreference.respondAsync(header)).isEqualTo(async);
    }

    @ParameterizedTest
    @NullSource
    void noHeaderIsANormalCall(String header) {
        assertThat(AsyncPreference.respondAsync(header)).isFalse();
    }

    @ParameterizedTest(name = "Prefer: {0} is refused")
    @ValueSource(strings = {"respond-asynch", "async", "respond-async=yes", "respond-async, lol", "\u00e9t\u00e9"})
    void anUnknownPreferenceIsRefusedSayingWhatToSend(String header) {
        assertThatThrownBy(() -> AsyncPreference.respondAsync(header))
                .isInstanceOf(AsyncPreference.Refused.class).hasMessageContaining("send 'Prefer: respond-async'");
    }
}
