package gale.store;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Nodes sharing one store (docs/postgresql.md): membership with heartbeats, a dead node's leases handed back by the
 * node that notices, and map jobs leased per node. Two {@link Store}s on one database are two nodes; on SQLite they
 * share the file. Runs on both dialects (gale-core's store-on-postgresql).
 */
class NodeStoreTest {

    private static final Instant T0 = Instant.parse("2026-12-06T00:00:00Z");

    @TempDir
    Path dir;

    private static NodeRow node(String id, Instant beat, int jobs) {
        return new NodeRow(id, "http://" + id + ":8080", NodeRow.ACTIVE, T0, beat, 3, 2, jobs, "{}");
    }

    private static JobRow job(String id, int inputs) {
        return new JobRow(id, "f", "RUNNING", "{}", Optional.empty(), inputs, Optional.empty(), T0, Optional.of(T0), Optional.empty());
    }

    private static JobItem done(String jobId, int index, String result) {
        return new JobItem(jobId, index, Integer.toString(index), "DONE", Optional.of(result.getBytes(UTF_8)), Optional.empty(),
                Optional.empty(), Optional.of(200), 1, Optional.of(1.0));
    }

    private static List<String> inputs(int n) {
        List<String> inputs = new ArrayList<>();
        for (int i = 0; i < n; i++) inputs.add(Integer.toString(i));
        return inputs;
    }

    @Test
    void aNodeBeatsWithItsLoadStaysDrainingOnceDrainingAndLeaves() {
        try (Store store = TestStores.open(dir)) {
            NodeStore nodes = store.nodes();
            nodes.beat(node("a", T0, 0));
            nodes.beat(node("b", T0.plusSeconds(1), 0));
            nodes.beat(node("a", T0.plusSeconds(2), 5));

            assertThat(nodes.list()).extracting(NodeRow::id).containsExactly("a", "b");
            NodeRow a = nodes.list().getFirst();
            assertThat(a.heartbeatAt()).isEqualTo(T0.plusSeconds(2));
            assertThat(a.jobs()).isEqualTo(5);
            assertThat(a.instances()).isEqualTo(3);
            assertThat(a.inFlight()).isEqualTo(2);
            assertThat(a.url()).isEqualTo("http://a:8080");
            assertThat(a.freeSlotsJson()).isEqualTo("{}");

            nodes.markDraining("a");
            nodes.beat(node("a", T0.plusSeconds(3), 5)); // its beats while it drains say ACTIVE: it stays DRAINING
            assertThat(nodes.list().getFirst().state()).isEqualTo(NodeRow.DRAINING);

            nodes.leave("a");
            assertThat(nodes.list()).extracting(NodeRow::id).containsExactly("b");
        }
    }

    @Test
    void aNodeSilentPastTheCutoffIsRemovedByTheNodeThatNoticesAndItsJobsAndAsyncCallsGoBack() {
        try (Store store = TestStores.open(dir)) {
            store.nodes().beat(node("dead", T0, 1));
            store.nodes().beat(node("alive", T0, 0));
            store.jobs().create(job("job-1", 3), Optional.empty(), inputs(3), Optional.of(new JobStore.Lease("dead", T0.plusSeconds(10))));
            store.async().insert(AsyncInvocationRow.accepted("call-1", "fn", "POST", "/", "", "[]", "{}".getBytes(UTF_8),
                    "127.0.0.1", "http", "localhost", T0));
            assertThat(store.async().claim("call-1", "dead", T0, T0.plusSeconds(300))).isPresent();
            store.nodes().beat(node("alive", T0.plusSeconds(8), 0));

            List<String> removed = store.nodes().removeDead(T0.plusSeconds(5), T0.plusSeconds(8));

            assertThat(removed).containsExactly("dead");
            assertThat(store.nodes().list()).extracting(NodeRow::id).containsExactly("alive");
            // Its job is free at once (its lease had 2 s left), and the call is queued again (its lease had minutes).
            assertThat(store.jobs().claimable(T0.plusSeconds(8), 10)).containsExactly("job-1");
            assertThat(store.jobs().claim("job-1", new JobStore.Lease("alive", T0.plusSeconds(18)), T0.plusSeconds(8))).isPresent();
            assertThat(store.async().find("call-1").orElseThrow().state()).isEqualTo("QUEUED");
            assertThat(store.async().claim("call-1", "alive", T0.plusSeconds(8), T0.plusSeconds(300))).isPresent();
            assertThat(store.nodes().removeDead(T0.plusSeconds(5), T0.plusSeconds(9))).as("noticed once").isEmpty();
        }
    }

    @Test
    void aJobHeldByALiveNodeIsClaimedByNoOtherUntilItsLeaseRunsOutAndTheClaimQueuesItsRunningInputsAgain() {
        try (Store store = TestStores.open(dir)) {
            JobStore jobs = store.jobs();
            jobs.create(job("job-1", 3), Optional.empty(), inputs(3), Optional.of(new JobStore.Lease("a", T0.plusSeconds(10))));
            jobs.record(List.of(done("job-1", 0, "\"zero\"")));
            try (var h = store.jdbi().open()) { // an input a node had marked running when it died (as a run before V14 could)
                h.execute("UPDATE job_items SET state = 'RUNNING' WHERE job_id = 'job-1' AND idx = 1");
            }

            assertThat(jobs.claimable(T0.plusSeconds(5), 10)).isEmpty();
            assertThat(jobs.claim("job-1", new JobStore.Lease("b", T0.plusSeconds(15)), T0.plusSeconds(5))).isEmpty();
            // a renews: still its own after the first lease would have run out
            assertThat(jobs.renew("a", T0.plusSeconds(20))).containsExactly(new JobStore.Held("job-1", false));
            assertThat(jobs.claim("job-1", new JobStore.Lease("b", T0.plusSeconds(25)), T0.plusSeconds(15))).isEmpty();

            // a died: once its lease ran out, b claims the job; a's renewals no longer find it
            assertThat(jobs.claim("job-1", new JobStore.Lease("b", T0.plusSeconds(31)), T0.plusSeconds(21))).isPresent();
            assertThat(jobs.renew("a", T0.plusSeconds(30))).isEmpty();
            assertThat(jobs.owner("job-1")).contains("b");
            assertThat(jobs.queuedIndexes("job-1")).containsExactly(1, 2);

            assertThat(jobs.requestCancel("job-1")).isTrue();
            assertThat(jobs.renew("b", T0.plusSeconds(35))).containsExactly(new JobStore.Held("job-1", true));
        }
    }

    @Test
    void aNodeThatLostItsJobCannotEndItAndAnInputKeepsTheFirstResultStored() {
        try (Store store = TestStores.open(dir)) {
            JobStore jobs = store.jobs();
            jobs.create(job("job-1", 2), Optional.empty(), inputs(2), Optional.of(new JobStore.Lease("a", T0.plusSeconds(10))));
            jobs.claim("job-1", new JobStore.Lease("b", T0.plusSeconds(30)), T0.plusSeconds(20)).orElseThrow();

            jobs.record(List.of(done("job-1", 0, "\"from b\"")));
            jobs.record(List.of(done("job-1", 0, "\"from a, late\""), done("job-1", 1, "\"from a\"")));
            jobs.cancelRemaining("job-1", Optional.of("a stopped"), Optional.of("a"));
            assertThat(jobs.markFinished("job-1", "FAILED", Optional.of("a's view"), T0.plusSeconds(21), Optional.of("a"))).isFalse();

            assertThat(jobs.find("job-1").orElseThrow().state()).isEqualTo("RUNNING");
            assertThat(jobs.items("job-1", 0, 2)).extracting(i -> new String(i.resultJson().orElseThrow(), UTF_8))
                    .containsExactly("\"from b\"", "\"from a\"");
            assertThat(jobs.markFinished("job-1", "SUCCEEDED", Optional.empty(), T0.plusSeconds(22), Optional.of("b"))).isTrue();
            assertThat(jobs.claimable(T0.plusSeconds(100), 10)).as("an ended job is nobody's to claim").isEmpty();
        }
    }

    @Test
    void nodesClaimingTheSameFreeJobsAtOnceGetEachJobOnce() throws Exception {
        int jobsToClaim = 30;
        try (Store first = TestStores.open(dir); Store second = TestStores.open(dir)) {
            for (int j = 0; j < jobsToClaim; j++) first.jobs().create(job("job-" + j, 1), Optional.empty(), inputs(1));
            List<Store> nodes = List.of(first, second, first, second);
            var start = new CountDownLatch(1);
            List<Future<List<String>>> won = new ArrayList<>();
            try (var threads = Executors.newVirtualThreadPerTaskExecutor()) {
                for (int n = 0; n < nodes.size(); n++) {
                    Store node = nodes.get(n);
                    String owner = "node-" + n;
                    won.add(threads.submit(() -> {
                        start.await();
                        List<String> mine = new ArrayList<>();
                        for (int j = 0; j < jobsToClaim; j++) {
                            node.jobs().claim("job-" + j, new JobStore.Lease(owner, T0.plusSeconds(10)), T0).ifPresent(r -> mine.add(r.id()));
                        }
                        return mine;
                    }));
                }
                start.countDown();
            }
            List<String> all = new ArrayList<>();
            for (Future<List<String>> f : won) all.addAll(f.get());
            assertThat(all).hasSize(jobsToClaim).doesNotHaveDuplicates();
        }
    }

    @Test
    void aRestartedNodeQueuesAgainOnlyTheAsyncCallsItLeasedNotThoseOfANodeStillRunning() {
        try (Store store = TestStores.open(dir)) {
            AsyncStore async = store.async();
            for (String id : List.of("mine", "theirs")) {
                async.insert(AsyncInvocationRow.accepted(id, "fn", "POST", "/", "", "[]", "{}".getBytes(UTF_8), "127.0.0.1",
                        "http", "localhost", T0));
            }
            async.claim("mine", "node-a", T0, T0.plusSeconds(300)).orElseThrow();
            async.claim("theirs", "node-b", T0, T0.plusSeconds(300)).orElseThrow();

            assertThat(async.releaseLeasesOf("node-a", T0.plusSeconds(1))).isEqualTo(1);

            assertThat(async.find("mine").orElseThrow().state()).isEqualTo("QUEUED");
            assertThat(async.find("theirs").orElseThrow().state()).isEqualTo("RUNNING");
            assertThat(async.claim("theirs", "node-a", T0.plusSeconds(1), T0.plusSeconds(301))).as("still node-b's").isEmpty();
        }
    }

    @Test
    void aFiringRecordsItsNodeARestartInterruptsOnlyItsOwnAndADeadNodesAreInterruptedWhenItIsRemoved() {
        try (Store store = TestStores.open(dir)) {
            ScheduleStore schedules = store.schedules();
            schedules.upsert(new ScheduleRow("tick", "f", Optional.empty(), Optional.of(60_000L), "UTC", "last", Optional.empty(), false,
                    Optional.of(T0), T0, T0));
            assertThat(schedules.claim("tick", T0, T0, T0.plusSeconds(60), T0, "node-a")).isTrue();
            assertThat(schedules.claim("tick", T0, T0, T0.plusSeconds(60), T0, "node-b")).as("claimed by node-a").isFalse();
            assertThat(schedules.claim("tick", T0.plusSeconds(60), T0.plusSeconds(60), T0.plusSeconds(120), T0.plusSeconds(60), "node-b")).isTrue();

            assertThat(schedules.interruptUnfinished(T0.plusSeconds(61), "node-a")).as("node-a restarted").isEqualTo(1);
            List<FiringRow> firings = schedules.firings("tick", 10);
            assertThat(firings).extracting(f -> f.node().orElseThrow()).containsExactly("node-b", "node-a");
            assertThat(firings).extracting(f -> f.outcome().orElse("running")).containsExactly("running", "interrupted");

            store.nodes().beat(node("node-b", T0.plusSeconds(60), 0));
            assertThat(store.nodes().removeDead(T0.plusSeconds(70), T0.plusSeconds(80))).containsExactly("node-b");
            FiringRow cut = schedules.firings("tick", 1).getFirst();
            assertThat(cut.outcome()).contains("interrupted");
            assertThat(cut.error().orElseThrow()).contains("node node-b died");
        }
    }

    @Test
    void aDeployIsResumedByItsOwnNodeAfterARestartOrOnceItsNodeIsGoneByExactlyOneOther() {
        try (Store store = TestStores.open(dir)) {
            store.nodes().beat(node("a", T0, 0));
            store.nodes().beat(node("b", T0, 0));
            store.createVersion("f", "{}", "sha256:x", 1, T0, "a");
            store.createVersion("old", "{}", "sha256:y", 1, T0); // stored before deploys had a node

            assertThat(store.claimDeploysOfDeadNodes("b")).as("a is alive and deploying it").isEmpty();
            assertThat(store.claimOrphanedDeploys("b")).extracting(VersionRow::function).containsExactly("old");
            assertThat(store.claimOrphanedDeploys("a")).as("a restarted: its own").extracting(VersionRow::function).containsExactly("f");

            store.nodes().beat(node("b", T0.plusSeconds(30), 0));
            store.nodes().beat(node("c", T0.plusSeconds(30), 0));
            assertThat(store.nodes().removeDead(T0.plusSeconds(20), T0.plusSeconds(30))).containsExactly("a");
            assertThat(store.claimDeploysOfDeadNodes("b")).extracting(VersionRow::function).containsExactly("f");
            assertThat(store.findVersion("f", 1).orElseThrow().deployingNode()).contains("b");
            assertThat(store.claimDeploysOfDeadNodes("c")).as("b has it now").isEmpty();
            assertThat(store.claimDeploysOfDeadNodes("b")).as("never its own again").isEmpty();
        }
    }
}
