package gale.triggers;

import gale.store.TestStores;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import gale.blob.BlobCatalog;
import gale.blob.BlobStore;
import gale.config.TriggerSpec;
import gale.state.StateCheck;
import gale.state.StateOp;
import gale.state.StateRefused;
import gale.store.AsyncInvocationRow;
import gale.store.AsyncStore;
import gale.store.Store;
import gale.util.ManualClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** What the state store and the blob catalog leave in the outbox, in the write's own transaction. */
class TriggerOutboxTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;
    ManualClock clock;
    Store store;
    Triggers triggers;
    final AtomicInteger woken = new AtomicInteger();

    @BeforeEach
    void open() {
        clock = new ManualClock(Instant.now().minusSeconds(60)); // events are due by the real clock the queue reads
        store = TestStores.open(dir, clock);
        triggers = new Triggers(store.triggers(), null, woken::incrementAndGet, clock);
        store.state().reportTo(triggers);
    }

    @AfterEach
    void close() {
        store.close();
    }

    /** Every queued event's data, delivering them (leased, then ended as delivered). */
    private List<JsonNode> queued() throws Exception {
        AsyncStore queue = store.async();
        Instant later = Instant.now().plusSeconds(3600);
        List<AsyncStore.Claim> claims = queue.due(later, 1000).stream().map(c -> new AsyncStore.Claim(c.id(), later)).toList();
        List<JsonNode> out = new ArrayList<>();
        for (AsyncInvocationRow row : queue.claimAll(claims, "test", later)) {
            out.add(JSON.readTree(row.body()));
            queue.finish(row.id(), "test", AsyncInvocationRow.State.SUCCEEDED, 1, Optional.of(1), Optional.empty(), Optional.empty(),
                    Optional.empty(), Optional.empty(), Optional.empty(), Instant.now());
        }
        return out;
    }

    @Test
    void aKeyWhoseTtlRanOutIsADeleteMarkedExpiredWhenTheSweepDeletesIt() throws Exception {
        triggers.ensure("fn", List.of(TriggerSpec.parse("state:ns/", List.of("delete"))));
        store.state().put("ns", "session", JSON.readTree("{\"user\": 7}"), Optional.of(Duration.ofSeconds(30)));
        assertThat(queued()).as("a put is no delete").isEmpty();

        clock.advance(Duration.ofSeconds(31));
        assertThat(store.state().sweepExpired()).isEqualTo(1);

        List<JsonNode> events = queued();
        assertThat(events).hasSize(1);
        assertThat(events.getFirst().path("kind").asText()).isEqualTo("delete");
        assertThat(events.getFirst().path("expired").asBoolean()).isTrue();
        assertThat(events.getFirst().path("oldValue").path("user").asInt()).isEqualTo(7);
    }

    @Test
    void aTransactionThatIsRefusedLeavesNoEventAndOneThatCommitsLeavesOnePerOpInOrder() throws Exception {
        triggers.ensure("fn", List.of(TriggerSpec.parse("state:ns/", List.of())));
        assertThatThrownBy(() -> store.state().transact("ns", List.of(new StateCheck("k", 5)),
                List.of(new StateOp.Put("k", JSON.readTree("1"), Optional.empty())))).isInstanceOf(StateRefused.class);
        assertThat(queued()).isEmpty();
        assertThat(woken.get()).isZero();

        store.state().transact("ns", List.of(), List.of(new StateOp.Put("a", JSON.readTree("1"), Optional.empty()),
                new StateOp.Increment("b", 2, Optional.empty()), new StateOp.Delete("a"), new StateOp.Delete("never")));

        List<JsonNode> events = queued(); // a and b are different keys: both queued; a's delete waits behind its put
        assertThat(events).extracting(e -> e.path("key").asText() + " " + e.path("kind").asText())
                .containsExactlyInAnyOrder("a put", "b put");
        assertThat(woken.get()).isEqualTo(1);
        List<JsonNode> next = queued(); // the put was delivered: its key's delete is queued; "never" existed not, no event
        assertThat(next).extracting(e -> e.path("key").asText() + " " + e.path("kind").asText()).containsExactly("a delete");
        assertThat(next.getFirst().path("oldValue").asInt()).isEqualTo(1);
    }

    @Test
    void aRemovedTriggerGetsNoEventEvenFromAWriterThatStillSawIt() throws Exception {
        triggers.ensure("fn", List.of(TriggerSpec.parse("state:ns/", List.of())));
        String id = triggers.list("fn").getFirst().row().id();
        store.triggers().delete("fn", id); // gone from the store; the triggers' copy still has it

        store.state().put("ns", "k", JSON.readTree("1"), Optional.empty());

        assertThat(queued()).isEmpty();
    }

    @Test
    void aNewBlobVersionIsAFinalizeAndTheSameBytesAgainAreNoEvent() throws Exception {
        BlobCatalog blobs = store.blobCatalog(new BlobStore(dir.resolve("blobs")));
        blobs.reportTo(triggers);
        triggers.ensure("fn", List.of(TriggerSpec.parse("blob:models/churn/", List.of())));

        put(blobs, "churn/m.pkl", "v1");
        put(blobs, "churn/m.pkl", "v1");
        put(blobs, "other/m.pkl", "v1");
        List<JsonNode> events = queued();
        assertThat(events).hasSize(1);
        assertThat(events.getFirst().path("name").asText()).isEqualTo("churn/m.pkl");
        assertThat(events.getFirst().path("generation").asText()).isEqualTo("1");

        blobs.deleteKey("models", "churn/m.pkl");
        List<JsonNode> deleted = queued();
        assertThat(deleted).hasSize(1);
        assertThat(deleted.getFirst().path("timeDeleted").isTextual()).isTrue();
    }

    private static void put(BlobCatalog blobs, String key, String content) throws Exception {
        blobs.put("models", key, new ByteArrayInputStream(content.getBytes(StandardCharsets.UTF_8)), 1 << 20, Optional.empty(),
                Optional.empty());
    }
}
