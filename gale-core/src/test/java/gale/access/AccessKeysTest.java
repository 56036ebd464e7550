package gale.access;

import gale.store.TestStores;
import gale.store.Store;
import gale.util.ManualClock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class AccessKeysTest {

    private static final Scopes DEPLOY = Scopes.parse(List.of("deploy"));

    @TempDir
    Path dir;

    private final ManualClock clock = new ManualClock();

    @Test
    void aKeyIsShownOnceAndStoredAsItsHashOnly() throws Exception {
        try (Store store = TestStores.open(dir, clock); var keys = new AccessKeys(store.keys(), clock)) {
            keys.start();
            var created = keys.create("ci-deploy", DEPLOY, Optional.empty(), Optional.empty(), "admin-token");
            String secret = created.secret();
            assertThat(secret).matches("gk_[A-Za-z0-9]{40}");
            assertThat(created.key().id()).isEqualTo(secret.substring(0, 11));
            String sha256 = java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
                    .digest(secret.getBytes(StandardCharsets.US_ASCII)));
            assertThat(store.keys().all()).singleElement().satisfies(k -> assertThat(k.hash()).isEqualTo(sha256));
            assertThat(keys.check(secret)).isInstanceOf(AccessKeys.Check.Valid.class);
        } // SecretsTest-style scan of the whole data dir for the key: gale.e2e.AccessKeysTest
    }

    @Test
    void aKeyCreatedOrRevokedByAnotherNodeOfTheStoreActsHereOnceRefreshed() {
        try (Store store = TestStores.open(dir, clock); var here = new AccessKeys(store.keys(), clock);
             var there = new AccessKeys(store.keys(), clock)) {
            here.start();
            there.start();
            String secret = there.create("ci", DEPLOY, Optional.empty(), Optional.empty(), "admin-token").secret();
            assertThat(message(here.check(secret))).startsWith("unknown access key");

            here.refresh();
            assertThat(here.check(secret)).isInstanceOf(AccessKeys.Check.Valid.class);

            there.revoke("ci");
            here.refresh();
            assertThat(message(here.check(secret))).contains("was revoked");
            assertThat(here.list(false)).isEmpty();
        }
    }

    @Test
    void aKeyMistypedByOneCharacterIsUnknownAndAMalformedOneSaysWhatAKeyLooksLike() {
        try (Store store = TestStores.open(dir, clock); var keys = new AccessKeys(store.keys(), clock)) {
            keys.start();
            String secret = keys.create("ci", DEPLOY, Optional.empty(), Optional.empty(), "admin-token").secret();
            char last = secret.charAt(secret.length() - 1);
            String mistyped = secret.substring(0, secret.length() - 1) + (last == 'a' ? 'b' : 'a');
            assertThat(message(keys.check(mistyped))).startsWith("unknown access key " + secret.substring(0, 11));
            assertThat(message(keys.check(secret + "x"))).contains("that is not an access key: a key is gk_ and 40 letters and digits (44");
            assertThat(message(keys.check("gk_" + "é".repeat(40)))).contains("that is not an access key");
            assertThat(message(keys.check("gk_"))).contains("(3 characters arrived)");
        }
    }

    @Test
    void revokingAndExpiringTakeEffectAtOnceAndSurviveARestart() {
        String revoked;
        String expiring;
        try (Store store = TestStores.open(dir, clock); var keys = new AccessKeys(store.keys(), clock)) {
            keys.start();
            revoked = keys.create("old", DEPLOY, Optional.empty(), Optional.empty(), "admin-token").secret();
            expiring = keys.create("temp", DEPLOY, Optional.empty(), Optional.of(clock.instant().plus(Duration.ofHours(1))),
                    "admin-token").secret();
            assertThat(keys.revoke("old")).isPresent();
            assertThat(message(keys.check(revoked))).contains("access key 'old' (" + revoked.substring(0, 11) + ") was revoked at");
            assertThat(keys.check(expiring)).isInstanceOf(AccessKeys.Check.Valid.class);
            clock.advance(Duration.ofHours(1));
            assertThat(message(keys.check(expiring))).contains("access key 'temp'").contains("expired at 2026-01-01T01:00:00Z");
            assertThat(keys.revoke("old")).as("a revoked key is not revoked twice").isEmpty();
            // The name of a revoked key may be given again.
            assertThat(keys.create("old", DEPLOY, Optional.empty(), Optional.empty(), "admin-token").key().name()).isEqualTo("old");
        }
        try (Store store = TestStores.open(dir, clock); var keys = new AccessKeys(store.keys(), clock)) {
            keys.start();
            assertThat(message(keys.check(revoked))).contains("was revoked at");
            assertThat(message(keys.check(expiring))).contains("expired at");
            assertThat(keys.list(false)).extracting(AccessKey::name).containsExactly("old", "temp");
            assertThat(keys.list(true)).extracting(AccessKey::name).containsExactly("old", "old", "temp");
        }
    }

    @Test
    void aLiveNameIsTakenAndNamesFollowTheFunctionNameRule() {
        try (Store store = TestStores.open(dir, clock); var keys = new AccessKeys(store.keys(), clock)) {
            keys.start();
            keys.create("ci", DEPLOY, Optional.empty(), Optional.empty(), "admin-token");
            assertThatThrownBy(() -> keys.create("ci", DEPLOY, Optional.empty(), Optional.empty(), "admin-token"))
                    .isInstanceOfSatisfying(AccessKeys.Refused.class, e -> assertThat(e.status).isEqualTo(409))
                    .hasMessageContaining("a key named 'ci' exists").hasMessageContaining("gale keys revoke ci");
            assertThatThrownBy(() -> keys.create("CI Key", DEPLOY, Optional.empty(), Optional.empty(), "admin-token"))
                    .isInstanceOfSatisfying(AccessKeys.Refused.class, e -> assertThat(e.status).isEqualTo(400))
                    .hasMessageContaining("'CI Key' is not a key name");
            assertThatThrownBy(() -> keys.create("late", DEPLOY, Optional.empty(), Optional.of(clock.instant()), "admin-token"))
                    .hasMessageContaining("which is not in the future");
        }
    }

    @Test
    void lastUseIsNotedInMemoryAndWrittenInABatchNotPerCall() {
        try (Store store = TestStores.open(dir, clock); var keys = new AccessKeys(store.keys(), clock)) {
            keys.start();
            String secret = keys.create("nb", DEPLOY, Optional.empty(), Optional.empty(), "admin-token").secret();
            var held = ((AccessKeys.Check.Valid) keys.check(secret)).key();
            held.touch(1_000_000);
            held.touch(1_000_500); // within the second: not noted again
            assertThat(keys.list(false).getFirst().lastUsedAt()).hasValue(java.time.Instant.ofEpochMilli(1_000_000));
            assertThat(store.keys().all().getFirst().lastUsedAt()).as("not written yet").isEmpty();
            keys.flush();
            assertThat(store.keys().all().getFirst().lastUsedAt()).hasValue(java.time.Instant.ofEpochMilli(1_000_000));
            held.touch(2_000_000);
        } // close writes what is left
        try (Store store = TestStores.open(dir, clock)) {
            assertThat(store.keys().all().getFirst().lastUsedAt()).hasValue(java.time.Instant.ofEpochMilli(2_000_000));
        }
    }

    @Test
    void aRateLimitedKeyIsAdmittedUpToItsBurst() {
        try (Store store = TestStores.open(dir, clock); var keys = new AccessKeys(store.keys(), clock)) {
            keys.start();
            String secret = keys.create("slow", DEPLOY, Optional.of(RateLimit.parse("2/m", null)), Optional.empty(), "admin-token").secret();
            var held = ((AccessKeys.Check.Valid) keys.check(secret)).key();
            long now = System.nanoTime();
            assertThat(held.admit(now)).isZero();
            assertThat(held.admit(now)).isZero();
            assertThat(held.admit(now)).as("nanoseconds until a request may go").isBetween(1L, 30_000_000_000L);
        }
    }

    private static String message(AccessKeys.Check check) {
        assertThat(check).isInstanceOf(AccessKeys.Check.Invalid.class);
        return ((AccessKeys.Check.Invalid) check).message();
    }
}
