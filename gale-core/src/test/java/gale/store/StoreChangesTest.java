package gale.store;

import gale.access.AccessKey;
import gale.access.Scopes;
import gale.config.TriggerSpec;
import gale.store.TrafficStore.TrafficRow;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static gale.store.StoreChanges.ACCESS_KEYS;
import static gale.store.StoreChanges.TRAFFIC;
import static gale.store.StoreChanges.TRIGGERS;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The counters other nodes of a shared store read to know what to reload (V17): each change of what nodes hold in
 * memory raises its kind's counter, and a write that changed nothing raises none. On SQLite and, in the
 * store-on-postgresql run, on PostgreSQL.
 */
class StoreChangesTest {

    @TempDir
    Path dir;

    private Map<String, Long> before;

    /** How much each counter rose since the last call. */
    private Map<String, Long> raised(Store store) {
        Map<String, Long> now = store.changes().counters();
        Map<String, Long> out = new java.util.TreeMap<>();
        now.forEach((topic, counter) -> out.put(topic, counter - (before == null ? counter : before.get(topic))));
        before = now;
        return out;
    }

    private static Map<String, Long> counts(long traffic, long triggers, long keys) {
        return Map.of(TRAFFIC, traffic, TRIGGERS, triggers, ACCESS_KEYS, keys);
    }

    @Test
    void eachChangeOfTrafficTriggersOrKeysRaisesItsCounterAndAWriteThatChangedNothingRaisesNone() {
        try (Store store = TestStores.open(dir)) {
            assertThat(raised(store)).containsOnlyKeys(TRAFFIC, TRIGGERS, ACCESS_KEYS);
            Instant now = Instant.now();
            store.createVersion("scorer", "{}", "sha256:none", 0, now);
            store.createVersion("scorer", "{}", "sha256:none", 0, now);
            store.activateVersion("scorer", 2, now);
            assertThat(raised(store)).as("deploys: the functions table is read itself").isEqualTo(counts(0, 0, 0));

            store.traffic().put("scorer", new TrafficRow(Map.of(1, 50, 2, 50), Map.of("canary", 2)));
            assertThat(raised(store)).isEqualTo(counts(1, 0, 0));
            store.rollBackTo("scorer", 1, now); // unpins the split
            assertThat(raised(store)).isEqualTo(counts(1, 0, 0));

            var trigger = new TriggerRow("tr-1", "scorer", TriggerSpec.parse("state:feed/in/", List.of()), now);
            assertThat(store.triggers().insert(trigger)).isTrue();
            assertThat(store.triggers().insert(trigger)).isFalse();
            assertThat(raised(store)).isEqualTo(counts(0, 1, 0));
            assertThat(store.triggers().delete("scorer", "tr-1")).isTrue();
            assertThat(store.triggers().delete("scorer", "tr-1")).isFalse();
            assertThat(raised(store)).isEqualTo(counts(0, 1, 0));

            Instant at = now.truncatedTo(ChronoUnit.MILLIS);
            store.keys().insert(new AccessKey("gk_abcdefgh", "ci", "00", Scopes.parse(List.of("deploy")), Optional.empty(), at,
                    "admin-token", Optional.empty(), Optional.empty(), Optional.empty()));
            assertThat(raised(store)).isEqualTo(counts(0, 0, 1));
            store.keys().revoke("gk_abcdefgh", at);
            store.keys().revoke("gk_abcdefgh", at);
            assertThat(raised(store)).isEqualTo(counts(0, 0, 1));

            store.deleteFunction("scorer"); // its triggers and traffic go with it
            assertThat(raised(store)).isEqualTo(counts(1, 1, 0));
        }
    }
}
