package gale.access;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.time.Duration;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ScopesTest {

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource(delimiter = '|', value = {
            "deploy                    | deploy",
            "invoke:b,a                | invoke:a,b",
            "invoke:a;invoke:b;logs    | invoke:a,b logs",
            "invoke:a,*                | invoke:*",
            "admin;deploy;logs         | admin deploy logs",
            "'deploy logs'             | deploy logs"})
    void scopesAreReadInAnyOrderAndWrittenInOne(String given, String wire) {
        Scopes scopes = Scopes.parse(Arrays.asList(given.split(";")));
        assertThat(scopes.toString()).isEqualTo(wire);
        assertThat(Scopes.parse(List.of(scopes.toString()))).isEqualTo(scopes); // how the store reads them back
    }

    @ParameterizedTest(name = "[{0}] {1}")
    @CsvSource(delimiter = '|', value = {
            "''                    | a key needs at least one scope",
            "deploy;ADMIN          | 'ADMIN' is not a scope; scopes are deploy, logs, admin",
            "invoke                | 'invoke' is not a scope",
            "invoke:               | names '', which is not a function name",
            "invoke:Scorer         | names 'Scorer', which is not a function name",
            "'invoke:a, b'         | 'invoke:a,' names '', which is not a function name",
            "read                  | 'read' is not a scope"})
    void aScopeThatDoesNotParseIsRefusedNamingItAndTheFormsThatDo(String given, String message) {
        assertThatThrownBy(() -> Scopes.parse(Arrays.asList(given.split(";")))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(message);
    }

    @Test
    void adminHoldsEveryScopeAndInvokeIsPerFunction() {
        Scopes admin = Scopes.parse(List.of("admin"));
        assertThat(admin.allows(Scope.DEPLOY) && admin.allows(Scope.LOGS) && admin.allows(Scope.ADMIN)).isTrue();
        assertThat(admin.mayInvoke("anything")).isTrue();

        Scopes invoke = Scopes.parse(List.of("invoke:scorer"));
        assertThat(invoke.mayInvoke("scorer")).isTrue();
        assertThat(invoke.mayInvoke("report")).isFalse();
        assertThat(invoke.allows(Scope.DEPLOY) || invoke.allows(Scope.LOGS) || invoke.allows(Scope.ADMIN)).isFalse();
        assertThat(Scopes.parse(List.of("invoke:*")).mayInvoke("report")).isTrue();
        assertThat(Scopes.parse(List.of("deploy")).mayInvoke("scorer")).as("deploy does not call").isFalse();
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "10/s   |      | 10/s | 10 | 100000000",
            "600/m  | 20   | 600/m burst 20 | 20 | 100000000",
            "5000/h |      | 5000/h | 5000 | 720000000",
            "' 3 / S ' |   | 3/s | 3 | 333333333"})
    void ratesAreCountsPerSecondMinuteOrHourWithTheCountAsDefaultBurst(String text, Long burst, String shown, long expectedBurst,
                                                                        long nanosPerRequest) {
        RateLimit rate = RateLimit.parse(text, burst);
        assertThat(rate.toString()).isEqualTo(shown);
        assertThat(rate.burst()).isEqualTo(expectedBurst);
        assertThat(rate.nanosPerRequest()).isEqualTo(nanosPerRequest);
        assertThat(RateLimit.parse(rate.rate(), rate.burst())).isEqualTo(rate);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "10         |    | is not a rate: write it as COUNT/UNIT",
            "10/d       |    | is not a rate",
            "0/s        |    | a rate's count must be 1 to 1000000",
            "2000000/s  |    | a rate's count must be 1 to 1000000",
            "-1/s       |    | is not a rate",
            "10/s       | 0  | burst must be 1 to 1000000",
            "99999999999/s | | is not a rate"})
    void aRateThatDoesNotParseSaysHowToWriteOne(String text, Long burst, String message) {
        assertThatThrownBy(() -> RateLimit.parse(text, burst)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(message);
    }

    @Test
    void aRateIsPerSecondMinuteOrHourOnly() {
        assertThatThrownBy(() -> new RateLimit(1, Duration.ofDays(1), 1)).hasMessageContaining("per second, minute or hour");
    }
}
