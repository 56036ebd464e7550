package gale.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import gale.nodes.NodeSettings;
import gale.store.JobStore;
import gale.store.Store;
import gale.store.TestStores;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A node runs only the map jobs it holds the lease of (docs/postgresql.md). When another node takes a job from it
 * (this node was thought dead: here a second handle on the store plays that node), it stops the job at its next
 * heartbeat without ending it; once the job is free again, it claims it back and finishes it, every input with
 * exactly one result, in order. Runs on SQLite and on PostgreSQL (node-on-postgresql).
 */
class JobLeaseTest {

    @TempDir
    static Path tmp;
    static GaleHarness gale;

    @BeforeAll
    static void startGale() {
        gale = new GaleHarness(tmp, c -> c.withNodes(new NodeSettings(Optional.empty(), Duration.ofMillis(200), Duration.ofSeconds(2))));
    }

    @AfterAll
    static void stopGale() {
        if (gale != null) gale.close();
    }

    @Test
    void aJobTakenFromTheNodeStopsThereAndIsFinishedOnceItIsFreeAgain() {
        gale.deployActive("slowdouble", gale.bundle("slowdouble", "main.py", """
                import time
                def slowdouble(request):
                    time.sleep(0.1)
                    return {"y": request.get_json() * 2}
                """), "maxInstances", 2);
        JobsHttp jobs = new JobsHttp(gale);
        String id = jobs.submit("{\"function\": \"slowdouble\", \"parallelism\": 2, \"chunkSize\": 2, \"inputs\": "
                + MapJobsTest.range(0, 60) + "}").path("id").asText();
        await().atMost(Duration.ofSeconds(60)).until(() -> jobs.job(id).path("counts").path("done").asInt() >= 4);

        try (Store other = TestStores.open(gale.dataDir)) {
            JobStore store = other.jobs();
            Instant now = Instant.now();
            store.releaseLeasesOf(gale.server.nodeId()); // as if the node's death had been noticed
            assertThat(store.claim(id, new JobStore.Lease("elsewhere", now.plusSeconds(600)), now)).isPresent();

            await().atMost(Duration.ofSeconds(10)).until(() -> gale.server.jobs().runningCount() == 0);
            int doneWhenStopped = store.counts(id).get(JobStore.ItemState.DONE);
            assertThat(store.find(id).orElseThrow().state()).as("stopped, not ended: its new owner ends it").isEqualTo("RUNNING");
            assertThat(doneWhenStopped).isLessThan(60);

            store.releaseLeasesOf("elsewhere"); // that node handed it back
        }

        JsonNode end = jobs.awaitEnd(id);
        assertThat(end.path("state").asText()).isEqualTo("SUCCEEDED");
        List<JsonNode> results = jobs.results(id, false);
        assertThat(results).hasSize(60);
        for (int i = 0; i < 60; i++) {
            assertThat(results.get(i).path("index").asInt()).isEqualTo(i);
            assertThat(results.get(i).path("result").path("y").asInt()).isEqualTo(2 * i);
        }
    }

    @Test
    void aCancelAtANodeThatDoesNotRunTheJobIsCarriedOutByTheNodeThatDoes() throws Exception {
        gale.deployActive("napper", gale.bundle("napper", "main.py", """
                import time
                def napper(request):
                    time.sleep(0.2)
                    return {"x": request.get_json()}
                """), "maxInstances", 1);
        JobsHttp jobs = new JobsHttp(gale);
        String id = jobs.submit("{\"function\": \"napper\", \"parallelism\": 1, \"chunkSize\": 1, \"inputs\": "
                + MapJobsTest.range(0, 200) + "}").path("id").asText();
        await().atMost(Duration.ofSeconds(60)).until(() -> jobs.job(id).path("counts").path("done").asInt() >= 2);

        try (Store other = TestStores.open(gale.dataDir)) {
            JobStore store = other.jobs();
            Instant now = Instant.now();
            store.releaseLeasesOf(gale.server.nodeId());
            store.claim(id, new JobStore.Lease("elsewhere", now.plusSeconds(600)), now).orElseThrow();
            await().atMost(Duration.ofSeconds(10)).until(() -> gale.server.jobs().runningCount() == 0);

            // This node does not run the job: the cancel is stored for the node that does, which hands it back a moment
            // later; this node claims it, sees the cancel, and ends it CANCELLED before the cancel answers.
            var handBack = java.util.concurrent.CompletableFuture.runAsync(() -> {
                try {
                    Thread.sleep(1_000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                store.releaseLeasesOf("elsewhere");
            });
            JsonNode cancelled = jobs.send("DELETE", "/v1/jobs/" + id, null, null).json();
            handBack.get();

            assertThat(cancelled.path("state").asText()).isEqualTo("CANCELLED");
            assertThat(store.find(id).orElseThrow().state()).isEqualTo("CANCELLED");
            assertThat(store.counts(id).get(JobStore.ItemState.CANCELLED)).isGreaterThan(0);
        }
    }
}
