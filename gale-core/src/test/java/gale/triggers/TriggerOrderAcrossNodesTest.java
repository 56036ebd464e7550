package gale.triggers;

import com.fasterxml.jackson.databind.ObjectMapper;
import gale.config.TriggerSpec;
import gale.store.AsyncInvocationRow;
import gale.store.AsyncStore;
import gale.store.Store;
import gale.store.TestStores;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * One node writes a key over and over while another delivers its events as fast as it can: the event a write stores
 * is WAITING when it sees the key's previous event pending, and the delivery that ends that event queues the next
 * WAITING one. On PostgreSQL the two are transactions on different nodes; if the end committed between the write's
 * check and its commit, the new event would wait for a promotion that already happened, and the key would stall for
 * good. Every event must be delivered, in the order of the writes. Runs on both dialects (store-on-postgresql).
 */
class TriggerOrderAcrossNodesTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int WRITES = 300;

    @TempDir
    Path dir;

    @RepeatedTest(3)
    void aKeyWrittenAtOneNodeAndDeliveredAtAnotherNeverStallsAndKeepsItsOrder() throws Exception {
        try (Store writerNode = TestStores.open(dir); Store deliveringNode = TestStores.open(dir)) {
            Triggers triggers = new Triggers(writerNode.triggers(), null, () -> { }, Clock.systemUTC());
            triggers.ensure("fn", List.of(TriggerSpec.parse("state:ns/in/", List.of())));
            writerNode.state().reportTo(triggers);

            List<Long> written = Collections.synchronizedList(new ArrayList<>());
            CompletableFuture<Void> writes = CompletableFuture.runAsync(() -> {
                for (int i = 0; i < WRITES; i++) {
                    try {
                        written.add(writerNode.state().put("ns", "in/k", JSON.readTree("{\"i\": " + i + "}"), Optional.empty())
                                .entry().orElseThrow().version());
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                }
            });

            AsyncStore queue = deliveringNode.async();
            List<Long> delivered = new ArrayList<>();
            long idleSince = System.nanoTime();
            while (delivered.size() < WRITES) {
                Instant now = Instant.now().plusSeconds(3600); // every queued event is due
                List<AsyncStore.Claim> claims = queue.due(now, 16).stream().map(c -> new AsyncStore.Claim(c.id(), now.plusSeconds(60))).toList();
                List<AsyncInvocationRow> leased = queue.claimAll(claims, "node-b", now);
                assertThat(leased.size()).as("one event of a key at a time").isLessThanOrEqualTo(1);
                for (AsyncInvocationRow row : leased) {
                    assertThat(queue.finish(row.id(), "node-b", AsyncInvocationRow.State.SUCCEEDED, 1, Optional.of(1), Optional.empty(),
                            Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), Instant.now())).isTrue();
                    delivered.add(JSON.readTree(row.body()).path("newVersion").asLong());
                    idleSince = System.nanoTime();
                }
                if (leased.isEmpty() && writes.isDone() && System.nanoTime() - idleSince > 5_000_000_000L) {
                    throw new AssertionError("the key stalled after " + delivered.size() + " of " + WRITES
                            + " deliveries: an event waits behind nothing");
                }
            }
            writes.join();
            assertThat(delivered).isEqualTo(written);
        }
    }
}
