package gale.store;

import gale.store.TrafficStore.TrafficRow;
import gale.store.TrafficStore.VersionCalls;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/** Each function's traffic split and tags (V13), on SQLite and, in the store-on-postgresql run, on PostgreSQL. */
class TrafficStoreTest {

    @TempDir
    Path dir;

    private static void twoVersions(Store store, String function) {
        Instant now = Instant.now();
        store.createVersion(function, "{}", "sha256:none", 0, now);
        store.createVersion(function, "{}", "sha256:none", 0, now);
        store.activateVersion(function, 2, now);
    }

    @Test
    void aSplitAndTagsAreReplacedWholeAndReadBackAfterAReopen() {
        try (Store store = TestStores.open(dir)) {
            twoVersions(store, "scorer");
            assertThat(store.traffic().find("scorer")).isEqualTo(TrafficRow.NONE);

            store.traffic().put("scorer", new TrafficRow(Map.of(1, 90, 2, 10), Map.of("canary", 2, "stable", 1)));
            store.traffic().put("scorer", new TrafficRow(Map.of(1, 70, 2, 30), Map.of("canary", 2)));
        }
        try (Store store = TestStores.open(dir)) {
            TrafficRow row = store.traffic().find("scorer");
            assertThat(row.split()).containsExactly(Map.entry(1, 70), Map.entry(2, 30));
            assertThat(row.tags()).containsExactly(Map.entry("canary", 2));
            assertThat(store.traffic().all()).containsOnlyKeys("scorer");
        }
    }

    @Test
    void aRollbackUnpinsTheSplitWithTheActivationAndKeepsTheTags() {
        try (Store store = TestStores.open(dir)) {
            twoVersions(store, "scorer");
            store.traffic().put("scorer", new TrafficRow(Map.of(1, 50, 2, 50), Map.of("canary", 2)));

            store.rollBackTo("scorer", 1, Instant.now());

            assertThat(store.findFunction("scorer").orElseThrow().activeVersion()).hasValue(1);
            assertThat(store.traffic().find("scorer")).isEqualTo(new TrafficRow(Map.of(), Map.of("canary", 2)));
        }
    }

    @Test
    void deletingAFunctionDeletesItsTrafficSoANewOneOfTheSameNameStartsUnpinned() {
        try (Store store = TestStores.open(dir)) {
            twoVersions(store, "scorer");
            twoVersions(store, "other");
            store.traffic().put("scorer", new TrafficRow(Map.of(1, 50, 2, 50), Map.of("canary", 2)));
            store.traffic().put("other", new TrafficRow(Map.of(), Map.of("canary", 1)));

            store.deleteFunction("scorer");

            assertThat(store.traffic().find("scorer")).isEqualTo(TrafficRow.NONE);
            assertThat(store.traffic().all()).containsOnlyKeys("other");
        }
    }

    @Test
    void callsOfTheLastHourAreCountedPerVersionWithTheirErrors() {
        try (Store store = TestStores.open(dir)) {
            twoVersions(store, "scorer");
            Instant now = Instant.now();
            store.appendInvocations(List.of(
                    call("a", 1, InvocationRecord.Outcome.OK, now.minusSeconds(7200)), // before the hour
                    call("b", 1, InvocationRecord.Outcome.OK, now.minusSeconds(60)),
                    call("c", 2, InvocationRecord.Outcome.OK, now.minusSeconds(30)),
                    call("d", 2, InvocationRecord.Outcome.FUNCTION_ERROR, now.minusSeconds(20)),
                    call("e", 2, InvocationRecord.Outcome.TIMEOUT, now.minusSeconds(10))));

            assertThat(store.traffic().callsSince("scorer", now.minusSeconds(3600)))
                    .containsExactly(new VersionCalls(1, 1, 0), new VersionCalls(2, 3, 2));
        }
    }

    private static InvocationRecord call(String id, int version, InvocationRecord.Outcome outcome, Instant time) {
        return new InvocationRecord(id, "scorer", version, Optional.empty(), outcome == InvocationRecord.Outcome.OK ? 200 : 500,
                outcome, 1.5, false, Optional.empty(), time);
    }
}
