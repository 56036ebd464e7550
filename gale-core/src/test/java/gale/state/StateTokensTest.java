package gale.state;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class StateTokensTest {

    private final StateTokens tokens = StateTokens.derivedFrom("the-admin-token");

    @Test
    void aMintedTokenNamesItsFunctionAndVersionAndHoldsNoAdminToken() {
        String token = tokens.mint("survey-api", 3);

        assertThat(tokens.verify(token)).contains(new StateTokens.Holder("survey-api", 3));
        assertThat(token).doesNotContain("the-admin-token");
        assertThat(StateTokens.derivedFrom("the-admin-token").verify(token)).as("the same after a restart").isPresent();
    }

    @Test
    void aTamperedForgedOrForeignTokenIsRefused() {
        String token = tokens.mint("survey-api", 3);
        String otherClaim = tokens.mint("admin", 3).split("\\.")[1];
        String[] parts = token.split("\\.");

        assertThat(tokens.verify(parts[0] + "." + otherClaim + "." + parts[2])).as("another function's claim, this signature").isEmpty();
        assertThat(tokens.verify(token.substring(0, token.length() - 2) + "AA")).isEmpty();
        assertThat(StateTokens.derivedFrom("another-server").verify(token)).isEmpty();
        assertThat(tokens.verify("the-admin-token")).isEmpty();
        assertThat(tokens.verify("gst1.%%%.###")).isEmpty();
        assertThat(tokens.verify("gst1.only-one-part")).isEmpty();
        assertThat(tokens.verify(null)).isEmpty();
    }
}
