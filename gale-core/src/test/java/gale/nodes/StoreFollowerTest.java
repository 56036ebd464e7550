package gale.nodes;

import gale.store.Store;
import gale.store.StoreChanges;
import gale.store.TestStores;
import gale.store.TrafficStore.TrafficRow;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;

/** Rounds of the follower of other nodes, driven one by one on a real store. */
class StoreFollowerTest {

    @TempDir
    Path dir;

    @Test
    void theFirstRoundReloadsEverythingThenOnlyWhatChangedAndAFailedReloadRunsAgain() {
        try (Store store = TestStores.open(dir)) {
            List<String> ran = new ArrayList<>();
            var failTraffic = new AtomicBoolean();
            var follower = new StoreFollower(store.changes(), Duration.ofSeconds(1))
                    .every(() -> ran.add("poll"))
                    .on(StoreChanges.TRAFFIC, () -> {
                        ran.add("traffic");
                        if (failTraffic.get()) throw new IllegalStateException("the store went away");
                    })
                    .on(StoreChanges.TRIGGERS, () -> ran.add("triggers"));

            follower.round();
            assertThat(ran).as("first round: nothing changed between start-up and now is missed").containsExactly("poll", "traffic", "triggers");

            ran.clear();
            follower.round();
            assertThat(ran).containsExactly("poll");

            Instant now = Instant.now();
            store.createVersion("scorer", "{}", "sha256:none", 0, now);
            store.activateVersion("scorer", 1, now);
            store.traffic().put("scorer", new TrafficRow(Map.of(), Map.of("stable", 1)));
            failTraffic.set(true);
            ran.clear();
            follower.round();
            assertThat(ran).containsExactly("poll", "traffic");

            failTraffic.set(false);
            ran.clear();
            follower.round();
            assertThat(ran).as("the reload that failed runs again").containsExactly("poll", "traffic");

            ran.clear();
            follower.round();
            assertThat(ran).containsExactly("poll");
        }
    }
}
