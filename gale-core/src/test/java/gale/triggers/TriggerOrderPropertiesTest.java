package gale.triggers;

import gale.store.TestStores;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import gale.config.TriggerSpec;
import gale.store.AsyncInvocationRow;
import gale.store.AsyncStore;
import gale.store.Store;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Writes to a few keys interleaved at random with the queue's leases, failed attempts that are queued again,
 * deliveries and dead letters: the queue never leases two events of one key at once, the one it leases is the
 * key's oldest pending event, and each key's events end (delivered or dead) exactly in the order of its writes,
 * none missing and none twice.
 */
class TriggerOrderPropertiesTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String OWNER = "worker-test";

    @Property(tries = 40)
    void eachKeysEventsEndInTheOrderOfItsWritesAndOnlyOneOfAKeyIsLeasedAtATime(
            @ForAll long seed, @ForAll @IntRange(min = 1, max = 5) int keys, @ForAll @IntRange(min = 5, max = 120) int steps)
            throws Exception {
        Path dir = Files.createTempDirectory("gale-trigger-order");
        try (Store store = TestStores.open(dir)) {
            Triggers triggers = new Triggers(store.triggers(), null, () -> { }, Clock.systemUTC());
            triggers.ensure("fn", List.of(TriggerSpec.parse("state:ns/in/", List.of())));
            store.state().reportTo(triggers);
            AsyncStore queue = store.async();
            Random random = new Random(seed);
            Instant later = Instant.now().plusSeconds(3600); // every queued event is due then

            Map<String, List<String>> written = new HashMap<>();
            Map<String, List<String>> ended = new HashMap<>();
            Set<String> present = new HashSet<>();
            List<AsyncInvocationRow> leased = new ArrayList<>();
            for (int step = 0; step < steps; step++) {
                int op = random.nextInt(10);
                if (op < 5) {
                    String key = "in/k" + random.nextInt(keys);
                    if (present.contains(key) && random.nextInt(4) == 0) {
                        long old = store.state().get("ns", key).orElseThrow().version();
                        store.state().delete("ns", key);
                        present.remove(key);
                        written.computeIfAbsent(key, k -> new ArrayList<>()).add("delete " + old);
                    } else {
                        long v = store.state().put("ns", key, JSON.readTree("{\"step\": " + step + "}"), Optional.empty())
                                .entry().orElseThrow().version();
                        present.add(key);
                        written.computeIfAbsent(key, k -> new ArrayList<>()).add("put " + v);
                    }
                } else if (op < 7) {
                    leased.addAll(claim(queue, later));
                    assertOneLeasePerKey(leased);
                } else if (!leased.isEmpty()) {
                    AsyncInvocationRow row = leased.remove(random.nextInt(leased.size()));
                    if (op == 7) { // the attempt failed: queued again, still the head of its key
                        assertThat(queue.requeue(row.id(), OWNER, row.attempts() + 1, Instant.now(), Optional.of(1),
                                Optional.of("failed"), Optional.empty(), Instant.now())).isTrue();
                    } else {
                        var state = op == 8 ? AsyncInvocationRow.State.SUCCEEDED : AsyncInvocationRow.State.DEAD;
                        assertThat(queue.finish(row.id(), OWNER, state, row.attempts() + 1, Optional.of(1), Optional.empty(),
                                Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), Instant.now())).isTrue();
                        ended.computeIfAbsent(keyOf(row), k -> new ArrayList<>()).add(describe(row));
                    }
                }
            }
            // Drain: deliver whatever is leased or still queued.
            for (int round = 0; round < 10_000 && (!leased.isEmpty() || !queue.due(later, 1).isEmpty()); round++) {
                leased.addAll(claim(queue, later));
                assertOneLeasePerKey(leased);
                AsyncInvocationRow row = leased.removeFirst();
                queue.finish(row.id(), OWNER, AsyncInvocationRow.State.SUCCEEDED, row.attempts() + 1, Optional.of(1),
                        Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), Instant.now());
                ended.computeIfAbsent(keyOf(row), k -> new ArrayList<>()).add(describe(row));
            }
            assertThat(ended).isEqualTo(written);
        } finally {
            gale.util.FileTrees.deleteQuietly(dir);
        }
    }

    private static List<AsyncInvocationRow> claim(AsyncStore queue, Instant now) {
        List<AsyncStore.Claim> claims = queue.due(now, 256).stream()
                .map(c -> new AsyncStore.Claim(c.id(), now.plusSeconds(3600))).toList();
        return queue.claimAll(claims, OWNER, now);
    }

    private static void assertOneLeasePerKey(List<AsyncInvocationRow> leased) {
        assertThat(leased.stream().map(TriggerOrderPropertiesTest::keyOf).distinct().count())
                .as("events of one key leased at once").isEqualTo(leased.size());
    }

    private static String keyOf(AsyncInvocationRow row) {
        return data(row).path("key").asText();
    }

    /** "put VERSION" or "delete OLD-VERSION", as the test wrote it. */
    private static String describe(AsyncInvocationRow row) {
        JsonNode data = data(row);
        return data.path("kind").asText().equals("put") ? "put " + data.path("newVersion").asLong()
                : "delete " + data.path("oldVersion").asLong();
    }

    private static JsonNode data(AsyncInvocationRow row) {
        try {
            return JSON.readTree(row.body());
        } catch (Exception e) {
            throw new AssertionError("an event's body is JSON", e);
        }
    }
}
