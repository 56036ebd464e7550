package gale.store;

import gale.store.AsyncInvocationRow.State;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

class AsyncStoreTest {

    @TempDir
    Path dir;

    private static final Instant T0 = Instant.parse("2026-12-06T00:00:00Z");

    private static AsyncInvocationRow call(String id) {
        return AsyncInvocationRow.accepted(id, "fn", "POST", "/", "", "[[\"Content-Type\",\"application/json\"]]",
                ("{\"id\":\"" + id + "\"}").getBytes(UTF_8), "127.0.0.1", "http", "localhost", T0);
    }

    @Test
    void aCallIsLeasedByOneClaimerOnlyUntilItsLeaseExpires() {
        try (Store store = TestStores.open(dir)) {
            AsyncStore async = store.async();
            async.insert(call("a"));

            assertThat(async.claim("a", "w1", T0, T0.plusSeconds(10))).isPresent();
            assertThat(async.claim("a", "w2", T0.plusSeconds(5), T0.plusSeconds(15))).as("leased to w1").isEmpty();
            assertThat(async.due(T0.plusSeconds(5), 10)).isEmpty();

            // w1 died: after its lease, w2 takes the call, and w1 can no longer settle it.
            assertThat(async.due(T0.plusSeconds(11), 10)).extracting(AsyncStore.Candidate::id).containsExactly("a");
            assertThat(async.claim("a", "w2", T0.plusSeconds(11), T0.plusSeconds(21))).isPresent();
            assertThat(async.finish("a", "w1", State.SUCCEEDED, 1, Optional.of(1), Optional.of(200), Optional.of("[]"),
                    Optional.of(new byte[0]), Optional.empty(), Optional.empty(), T0.plusSeconds(12))).isFalse();
            assertThat(async.finish("a", "w2", State.SUCCEEDED, 1, Optional.of(1), Optional.of(200), Optional.of("[]"),
                    Optional.of("ok".getBytes(UTF_8)), Optional.empty(), Optional.empty(), T0.plusSeconds(12))).isTrue();

            AsyncInvocationRow done = async.find("a").orElseThrow();
            assertThat(done.state()).isEqualTo("SUCCEEDED");
            assertThat(done.resultBody().map(b -> new String(b, UTF_8))).contains("ok");
            assertThat(async.due(T0.plusSeconds(100), 10)).isEmpty();
        }
    }

    @Test
    void aRequeuedCallWaitsForItsNextAttemptAndADeadLetterIsRedrivenOrPurged() {
        try (Store store = TestStores.open(dir)) {
            AsyncStore async = store.async();
            async.insert(call("a"));
            async.insert(call("b"));
            async.claim("a", "w", T0, T0.plusSeconds(60));
            assertThat(async.requeue("a", "w", 1, T0.plusSeconds(2), Optional.of(1), Optional.of("boom"), Optional.empty(), T0))
                    .isTrue();
            assertThat(async.due(T0.plusSeconds(1), 10)).extracting(AsyncStore.Candidate::id).containsExactly("b");
            assertThat(async.due(T0.plusSeconds(2), 10)).extracting(AsyncStore.Candidate::id).containsExactlyInAnyOrder("a", "b");

            async.claim("a", "w", T0.plusSeconds(2), T0.plusSeconds(60));
            async.finish("a", "w", State.DEAD, 2, Optional.of(1), Optional.empty(), Optional.empty(), Optional.empty(),
                    Optional.of("boom"), Optional.of("Traceback ..."), T0.plusSeconds(3));
            assertThat(async.deadLetters("fn", 10)).extracting(AsyncInvocationRow::id).containsExactly("a");
            assertThat(async.deadLetters("fn", 10).getFirst().body()).asString(UTF_8).isEqualTo("{\"id\":\"a\"}");

            AsyncStore.Redriven refused = async.redrive("fn", Optional.of(List.of("a", "b", "zzz")), T0.plusSeconds(4));
            assertThat(refused.unknown()).containsExactly("b", "zzz");
            assertThat(async.find("a").orElseThrow().state()).as("nothing redriven").isEqualTo("DEAD");

            assertThat(async.redrive("fn", Optional.empty(), T0.plusSeconds(4)).queued()).containsExactly("a");
            AsyncInvocationRow again = async.find("a").orElseThrow();
            assertThat(again.state()).isEqualTo("QUEUED");
            assertThat(again.attempts()).isZero();

            async.claim("a", "w", T0.plusSeconds(5), T0.plusSeconds(60));
            async.finish("a", "w", State.DEAD, 1, Optional.of(1), Optional.empty(), Optional.empty(), Optional.empty(),
                    Optional.of("boom"), Optional.empty(), T0.plusSeconds(6));
            assertThat(async.purge("fn")).isEqualTo(1);
            assertThat(async.find("a")).isEmpty();
            assertThat(async.find("b")).isPresent();
        }
    }

    @Test
    void theSoleWorkerQueuesAgainWhatAKilledServerWasRunning() {
        try (Store store = TestStores.open(dir)) {
            AsyncStore async = store.async();
            async.insert(call("a"));
            async.claim("a", "old-server", T0, T0.plusSeconds(3600));

            assertThat(async.releaseAllLeases(T0.plusSeconds(1))).isEqualTo(1);
            assertThat(async.due(T0.plusSeconds(1), 10)).extracting(AsyncStore.Candidate::id).containsExactly("a");
        }
    }
}
