package gale.state;

import gale.store.TestStores;
import gale.util.ManualClock;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.IntNode;
import com.fasterxml.jackson.databind.node.TextNode;
import gale.store.Store;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class StateStoreTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;
    ManualClock clock = new ManualClock();
    Store store;
    StateStore state;

    @BeforeEach
    void open() {
        store = TestStores.open(dir, clock);
        state = store.state();
    }

    @AfterEach
    void close() {
        store.close();
    }

    @Test
    void sixtyFourCallersIncrementingOneKeyAThousandTimesEachLoseNoUpdate() throws Exception {
        int callers = 64;
        int each = 1_000;
        CountDownLatch start = new CountDownLatch(1);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        List<Thread> threads = new ArrayList<>();
        for (int c = 0; c < callers; c++) {
            threads.add(Thread.ofPlatform().name("caller-" + c).start(() -> {
                try {
                    start.await();
                    for (int i = 0; i < each; i++) state.increment("bench", "hits", 1);
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                }
            }));
        }
        start.countDown();
        for (Thread t : threads) t.join();

        assertThat(failure.get()).isNull();
        assertThat(state.get("bench", "hits").orElseThrow().valueJson()).isEqualTo(Integer.toString(callers * each));
    }

    @Test
    void aPutIsReadBackWithItsVersionAndADeleteRemovesIt() {
        OpResult put = state.put("survey", "greeting", json("{\"text\": \"hello\", \"n\": [1, 2]}"), Optional.empty());

        StateEntry read = state.get("survey", "greeting").orElseThrow();
        assertThat(read.valueJson()).isEqualTo("{\"text\":\"hello\",\"n\":[1,2]}");
        assertThat(read.version()).isEqualTo(put.entry().orElseThrow().version()).isPositive();
        assertThat(read.expiresAt()).isEmpty();
        assertThat(put.existed()).isFalse();

        assertThat(state.delete("survey", "greeting")).isTrue();
        assertThat(state.get("survey", "greeting")).isEmpty();
        assertThat(state.delete("survey", "greeting")).isFalse();
    }

    @Test
    void versionsOnlyGrowEvenAcrossADeleteSoACompareAndSetNeverMistakesANewValueForTheOldOne() {
        long v1 = state.put("ns", "k", IntNode.valueOf(1), Optional.empty()).entry().orElseThrow().version();
        state.delete("ns", "k");
        long v2 = state.put("ns", "k", IntNode.valueOf(1), Optional.empty()).entry().orElseThrow().version();

        assertThat(v2).isGreaterThan(v1);
        assertThatThrownBy(() -> state.transact("ns", List.of(new StateCheck("k", v1)),
                List.of(new StateOp.Put("k", IntNode.valueOf(2), Optional.empty()))))
                .isInstanceOfSatisfying(StateRefused.class, e -> {
                    assertThat(e.reason()).isEqualTo(StateRefused.Reason.CHECK_FAILED);
                    assertThat(e.actualVersion()).isEqualTo(v2);
                });
    }

    @Test
    void aCompareAndSetWritesOnlyAtTheVersionItRead() {
        long v = state.put("ns", "k", IntNode.valueOf(1), Optional.empty()).entry().orElseThrow().version();

        List<OpResult> ok = state.transact("ns", List.of(new StateCheck("k", v)), List.of(new StateOp.Put("k", IntNode.valueOf(2), Optional.empty())));
        assertThatThrownBy(() -> state.transact("ns", List.of(new StateCheck("k", v)), List.of(new StateOp.Put("k", IntNode.valueOf(3), Optional.empty()))))
                .isInstanceOf(StateRefused.class).hasMessageContaining("check 0 failed: key 'k' is at version " + ok.getFirst().entry().orElseThrow().version())
                .hasMessageContaining("expected version " + v);
        assertThat(state.get("ns", "k").orElseThrow().valueJson()).isEqualTo("2");
    }

    @Test
    void aCheckForVersionZeroCreatesOnlyWhenTheKeyIsAbsent() {
        state.transact("ns", List.of(StateCheck.absent("lock")), List.of(new StateOp.Put("lock", TextNode.valueOf("me"), Optional.empty())));

        assertThatThrownBy(() -> state.transact("ns", List.of(StateCheck.absent("lock")),
                List.of(new StateOp.Put("lock", TextNode.valueOf("you"), Optional.empty()))))
                .hasMessageContaining("expected it not to exist");
        assertThat(state.get("ns", "lock").orElseThrow().valueJson()).isEqualTo("\"me\"");
    }

    @Test
    void aTransactionIsAllOrNothing() {
        state.put("ns", "name", TextNode.valueOf("not a number"), Optional.empty());

        assertThatThrownBy(() -> state.transact("ns", List.of(), List.of(
                new StateOp.Put("a", IntNode.valueOf(1), Optional.empty()),
                new StateOp.Increment("name", 1, Optional.empty()))))
                .isInstanceOfSatisfying(StateRefused.class, e -> assertThat(e.reason()).isEqualTo(StateRefused.Reason.INVALID))
                .hasMessageContaining("cannot increment 'name': it holds \"not a number\", not a whole number");
        assertThat(state.get("ns", "a")).isEmpty();

        List<OpResult> results = state.transact("ns", List.of(StateCheck.absent("a")), List.of(
                new StateOp.Put("a", IntNode.valueOf(1), Optional.empty()),
                new StateOp.Increment("a", 5, Optional.empty()),
                new StateOp.Delete("name")));
        assertThat(results.get(1).entry().orElseThrow().valueJson()).isEqualTo("6");
        assertThat(results.get(2).existed()).isTrue();
        assertThat(state.get("ns", "a").orElseThrow().valueJson()).isEqualTo("6");
        assertThat(state.get("ns", "name")).isEmpty();
    }

    @Test
    void anIncrementStartsFromZeroAndRefusesToOverflow() {
        assertThat(state.increment("ns", "c", 5)).isEqualTo(5);
        assertThat(state.increment("ns", "c", -7)).isEqualTo(-2);
        state.put("ns", "big", json("9223372036854775807"), Optional.empty());

        assertThatThrownBy(() -> state.increment("ns", "big", 1)).hasMessageContaining("beyond a 64-bit whole number");
        state.put("ns", "real", json("1.5"), Optional.empty());
        assertThatThrownBy(() -> state.increment("ns", "real", 1)).hasMessageContaining("not a whole number");
    }

    @Test
    void namespacesKeepTheirKeysApart() {
        state.put("one", "k", IntNode.valueOf(1), Optional.empty());

        assertThat(state.get("two", "k")).isEmpty();
        assertThat(state.list("two", "", Optional.empty(), 10).entries()).isEmpty();
    }

    @Test
    void aListReturnsTheKeysWithThePrefixInOrderPageByPage() {
        for (String key : List.of("user/1", "user/2", "user/3", "user0", "users", "admin", "user/10")) {
            state.put("ns", key, TextNode.valueOf(key), Optional.empty());
        }

        StateStore.Page first = state.list("ns", "user/", Optional.empty(), 2);
        assertThat(first.entries()).extracting(StateEntry::key).containsExactly("user/1", "user/10");
        assertThat(first.next()).contains("user/10");
        StateStore.Page second = state.list("ns", "user/", first.next(), 2);
        assertThat(second.entries()).extracting(StateEntry::key).containsExactly("user/2", "user/3");
        assertThat(second.next()).isEmpty();
        assertThat(state.list("ns", "", Optional.empty(), 100).entries()).hasSize(7);
        assertThat(state.list("ns", "zzz", Optional.empty(), 100).entries()).isEmpty();
    }

    @Test
    void aKeyWithATtlDisappearsWhenItPassesAndTheSweepDeletesIt() {
        state.put("ns", "session", TextNode.valueOf("x"), Optional.of(Duration.ofSeconds(30)));
        state.transact("ns", List.of(), List.of(new StateOp.Increment("visits", 1, Optional.of(Duration.ofSeconds(30)))));
        state.put("ns", "forever", TextNode.valueOf("y"), Optional.empty());
        assertThat(state.get("ns", "session").orElseThrow().expiresAt()).contains(clock.instant().plusSeconds(30));

        clock.advance(Duration.ofSeconds(29));
        state.increment("ns", "visits", 1); // keeps the expiry it had
        assertThat(state.get("ns", "session")).isPresent();

        clock.advance(Duration.ofSeconds(2));
        assertThat(state.get("ns", "session")).isEmpty();
        assertThat(state.list("ns", "", Optional.empty(), 10).entries()).extracting(StateEntry::key).containsExactly("forever");
        assertThat(state.increment("ns", "visits", 1)).isEqualTo(1); // an expired counter counts from 0 again
        assertThatThrownBy(() -> state.transact("ns", List.of(new StateCheck("session", 1)), List.of()))
                .hasMessageContaining("'session' does not exist");

        assertThat(state.sweepExpired()).isEqualTo(1);
        assertThat(state.get("ns", "forever")).isPresent();
    }

    @Test
    void aPutWithoutATtlMakesTheKeyPermanent() {
        state.put("ns", "k", IntNode.valueOf(1), Optional.of(Duration.ofSeconds(5)));
        state.put("ns", "k", IntNode.valueOf(2), Optional.empty());

        clock.advance(Duration.ofSeconds(10));
        assertThat(state.get("ns", "k").orElseThrow().expiresAt()).isEmpty();
    }

    @Test
    void badNamesValuesAndTransactionsAreRefusedWithWhatToDo() {
        assertRefused(() -> state.get("ns", ""), "the key is empty");
        assertRefused(() -> state.get("ns", "k".repeat(513)), "keys are at most 512 bytes");
        assertRefused(() -> state.get("ns", "a\nb"), "control character");
        assertRefused(() -> state.get("", "k"), "the namespace is empty");
        assertRefused(() -> state.get("Has Spaces", "k"), "is not a namespace");
        assertRefused(() -> state.get("n".repeat(64), "k"), "1-63 lowercase letters");
        assertRefused(() -> state.put("ns", "k", TextNode.valueOf("x".repeat(StateLimits.MAX_VALUE_BYTES)), Optional.empty()),
                "keep large data in a blob");
        assertRefused(() -> state.put("ns", "k", IntNode.valueOf(1), Optional.of(Duration.ZERO)), "ttl must be between");
        List<StateOp> tooMany = new ArrayList<>();
        for (int i = 0; i < 65; i++) tooMany.add(new StateOp.Delete("k" + i));
        assertRefused(() -> state.transact("ns", List.of(), tooMany), "at most 64 checks and ops");
        assertRefused(() -> state.transact("ns", List.of(), List.of()), "no checks and no ops");
        assertThat(state.list("ns", "", Optional.empty(), 10).entries()).isEmpty();
    }

    private static void assertRefused(Runnable call, String message) {
        assertThatThrownBy(call::run).isInstanceOf(StateRefused.class).hasMessageContaining(message);
    }

    private static JsonNode json(String text) {
        try {
            return JSON.readTree(text);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }
}
