package gale.access;

import gale.store.TestStores;
import gale.access.AuditEntry.Action;
import gale.access.AuditEntry.Outcome;
import gale.store.Store;
import gale.util.ManualClock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentLinkedQueue;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

class AuditLogTest {

    @TempDir
    Path dir;

    private final ManualClock clock = new ManualClock();

    private static Action deploy(String function) {
        return new Action("ci", Optional.of("gk_abcdefgh"), "function.deploy", "functions/" + function + "/versions",
                Optional.of(function), "127.0.0.1");
    }

    @Test
    void anEntryIsInTheStoreWhenBeginReturnsAndItsOutcomeFollows() {
        try (Store store = TestStores.open(dir, clock); var audit = new AuditLog(store.audit(), clock)) {
            audit.start();
            String id = audit.begin(deploy("scorer"));
            assertThat(store.audit().list(Instant.EPOCH, Optional.empty(), 10)).singleElement()
                    .satisfies(e -> assertThat(e.outcome()).isEqualTo(Outcome.PENDING));
            audit.end(id, 202, Optional.of("version 4"), Optional.empty());
            await().untilAsserted(() -> assertThat(audit.list(Instant.EPOCH, Optional.of("scorer"), 10)).singleElement()
                    .satisfies(e -> {
                        assertThat(e.outcome()).isEqualTo(Outcome.OK);
                        assertThat(e.status()).hasValue(202);
                        assertThat(e.detail()).hasValue("version 4");
                        assertThat(e.actor()).isEqualTo("ci");
                        assertThat(e.keyId()).hasValue("gk_abcdefgh");
                        assertThat(e.finishedAt()).isPresent();
                    }));
        }
    }

    @Test
    void anActionUnderWayWhenGaleStoppedIsMarkedInterruptedAtTheNextStart() {
        try (Store store = TestStores.open(dir, clock); var audit = new AuditLog(store.audit(), clock)) {
            audit.start();
            audit.begin(deploy("scorer")); // Gale stops before the outcome: no end()
        }
        try (Store store = TestStores.open(dir, clock); var audit = new AuditLog(store.audit(), clock)) {
            audit.start();
            assertThat(audit.list(Instant.EPOCH, Optional.empty(), 10)).singleElement()
                    .satisfies(e -> assertThat(e.outcome()).isEqualTo(Outcome.INTERRUPTED));
        }
    }

    @Test
    void manyActionsAtOnceAreEachDurableAndListedNewestFirstByFunctionAndTime() throws InterruptedException {
        try (Store store = TestStores.open(dir, clock); var audit = new AuditLog(store.audit(), clock)) {
            audit.start();
            var ids = new ConcurrentLinkedQueue<String>();
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < 16; t++) {
                String function = t % 2 == 0 ? "even" : "odd";
                threads.add(Thread.ofVirtual().start(() -> {
                    for (int i = 0; i < 20; i++) ids.add(audit.begin(deploy(function)));
                }));
            }
            for (Thread thread : threads) thread.join();
            assertThat(ids).hasSize(320).doesNotHaveDuplicates();
            assertThat(audit.list(Instant.EPOCH, Optional.empty(), 1000)).hasSize(320);
            assertThat(audit.list(Instant.EPOCH, Optional.of("even"), 1000)).hasSize(160);
            clock.advance(java.time.Duration.ofHours(1));
            audit.refused(deploy("even"), 403, "access key 'ci' may not deploy");
            await().untilAsserted(() -> assertThat(audit.list(clock.instant(), Optional.empty(), 10)).singleElement()
                    .satisfies(e -> {
                        assertThat(e.outcome()).isEqualTo(Outcome.REFUSED);
                        assertThat(e.detail()).hasValue("access key 'ci' may not deploy");
                    }));
            assertThat(audit.list(Instant.EPOCH, Optional.empty(), 1000).getFirst().outcome()).as("newest first")
                    .isEqualTo(Outcome.REFUSED);
        }
    }

    @Test
    void afterCloseNoActionBeginsUnrecorded() {
        try (Store store = TestStores.open(dir, clock)) {
            var audit = new AuditLog(store.audit(), clock);
            audit.start();
            audit.close();
            assertThatThrownBy(() -> audit.begin(deploy("scorer"))).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("records no new actions");
        }
    }
}
