package gale.registry;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class FunctionNameTest {

    @ParameterizedTest(name = "''{0}'' is a name")
    @ValueSource(strings = {"a", "survey-scorer", "knn2", "a-b-c", "x23456789012345678901234567890123456789012345678901234567890123"})
    void dnsLabelsStartingWithALetterAreNames(String name) {
        assertThat(FunctionName.isValid(name)).isTrue();
    }

    @ParameterizedTest(name = "''{0}'' is not a name")
    @ValueSource(strings = {"", "Hello", "my_fn", "1fn", "-fn", "fn-", "..", "a.b", "a/b", "a b", "\u00e9t\u00e9", "fn\u0000",
            "x234567890123456789012345678901234567890123456789012345678901234"})
    void anythingElseIsRefusedWithTheRule(String name) {
        assertThat(FunctionName.isValid(name)).isFalse();
        assertThatThrownBy(() -> FunctionName.check(name)).isInstanceOf(DeployRejected.class)
                .hasMessageContaining("1-63 lowercase letters, digits and dashes, starting with a letter");
    }

    @org.junit.jupiter.api.Test
    void messagesShowOnlyTheStartOfALongNameAndEscapeControlCharacters() {
        assertThat(FunctionName.shown("x".repeat(100_000))).hasSize(64 + "... (100000 characters)".length());
        assertThat(FunctionName.shown("a\u0000b")).isEqualTo("a\\u0000b");
    }
}
