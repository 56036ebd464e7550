package gale.state;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import gale.store.PostgresCluster;
import gale.store.Store;
import org.jdbi.v3.core.Jdbi;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Three nodes on one PostgreSQL store, each with its own state and sampler writers (its own pool,
 * its own group commit): increments from all of them lose none, and respondents spread over them
 * never see an item twice nor push one past its target. Always on PostgreSQL: on SQLite one node
 * is the store's only writer.
 */
class CrossNodeStateTest {

    private static final int NODES = 3;
    private static String url;
    private static final List<HikariDataSource> POOLS = new ArrayList<>();
    private static final List<StateStore> STATE = new ArrayList<>();
    private static final List<SamplerStore> SAMPLERS = new ArrayList<>();

    @BeforeAll
    static void nodes() {
        url = PostgresCluster.shared().newDatabase();
        Store.openPostgresql(url, Clock.systemUTC()).close(); // the schema, as the first node's start migrates it
        for (int i = 0; i < NODES; i++) {
            HikariConfig config = new HikariConfig();
            config.setJdbcUrl(url);
            config.setMaximumPoolSize(8);
            config.setPoolName("node-" + i);
            HikariDataSource pool = new HikariDataSource(config);
            POOLS.add(pool);
            STATE.add(new StateStore(Jdbi.create(pool), Clock.systemUTC()));
            SAMPLERS.add(new SamplerStore(Jdbi.create(pool), Clock.systemUTC()));
        }
    }

    @AfterAll
    static void close() {
        POOLS.forEach(HikariDataSource::close);
    }

    @Test
    void incrementsFromEveryNodeAtOnceLoseNone() throws Exception {
        int callers = 24;
        int each = 200;
        var start = new CountDownLatch(1);
        try (var threads = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<?>> done = new ArrayList<>();
            for (int c = 0; c < callers; c++) {
                StateStore node = STATE.get(c % NODES);
                done.add(threads.submit(() -> {
                    start.await();
                    for (int i = 0; i < each; i++) node.increment("votes", "yes", 1);
                    return null;
                }));
            }
            start.countDown();
            for (Future<?> f : done) f.get();
        }
        for (StateStore node : STATE) {
            assertThat(node.get("votes", "yes").orElseThrow().valueJson()).as("every node reads the same total")
                    .isEqualTo(Integer.toString(callers * each));
        }
    }

    @Test
    void aVersionCheckOnOneNodeSeesTheWriteOfAnother() {
        OpResult first = STATE.get(0).put("doc", "k", com.fasterxml.jackson.databind.node.TextNode.valueOf("a"), Optional.empty());
        long version = first.entry().orElseThrow().version();
        STATE.get(1).transact("doc", List.of(new StateCheck("k", version)),
                List.of(new StateOp.Put("k", com.fasterxml.jackson.databind.node.TextNode.valueOf("b"), Optional.empty())));
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> STATE.get(2).transact("doc", List.of(new StateCheck("k", version)),
                        List.of(new StateOp.Put("k", com.fasterxml.jackson.databind.node.TextNode.valueOf("c"), Optional.empty()))))
                .as("the third node's check of the old version fails: it sees the second node's write")
                .isInstanceOf(StateRefused.class);
        assertThat(STATE.get(0).get("doc", "k").orElseThrow().valueJson()).isEqualTo("\"b\"");
    }

    @Test
    void respondentsSpreadOverTheNodesNeverSeeAnItemTwiceNorPushOnePastItsTarget() throws Exception {
        int items = 10;
        int target = 3;
        List<Sampler.Item> pool = new ArrayList<>();
        for (int i = 0; i < items; i++) pool.add(new Sampler.Item("q" + i, "{\"question\":" + i + "}"));
        SAMPLERS.getFirst().create("survey", pool, target, Duration.ofMinutes(10));
        int respondents = 30;
        Map<String, List<String>> seen = new ConcurrentHashMap<>();
        var start = new CountDownLatch(1);
        try (var threads = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<?>> done = new ArrayList<>();
            for (int r = 0; r < respondents; r++) {
                String respondent = "r" + r;
                int home = r % NODES;
                done.add(threads.submit(() -> {
                    start.await();
                    for (int round = 0; round < 3; round++) {
                        // each round on another node, as a respondent's requests land behind a load balancer
                        SamplerStore node = SAMPLERS.get((home + round) % NODES);
                        var draw = node.draw("survey", respondent, 2, Optional.empty());
                        List<String> ids = draw.items().stream().map(Sampler.Item::id).toList();
                        seen.computeIfAbsent(respondent, k -> new ArrayList<>()).addAll(ids);
                        if (!ids.isEmpty()) SAMPLERS.get((home + round + 1) % NODES).confirm("survey", respondent, ids);
                    }
                    return null;
                }));
            }
            start.countDown();
            for (Future<?> f : done) f.get();
        }
        seen.forEach((respondent, ids) -> assertThat(new HashSet<>(ids)).as(respondent + " saw " + ids).hasSameSizeAs(ids));
        Map<String, Integer> shown = new ConcurrentHashMap<>();
        seen.values().forEach(ids -> ids.forEach(id -> shown.merge(id, 1, Integer::sum)));
        assertThat(shown.values()).as("no item past its target").allSatisfy(n -> assertThat(n).isLessThanOrEqualTo(target));
        var stats = SAMPLERS.get(2).stats("survey");
        int total = shown.values().stream().mapToInt(Integer::intValue).sum();
        assertThat(stats.confirmed()).as("every confirmed draw counted once, on whichever node").isEqualTo(total);
        assertThat(total).as("the sampler filled: 10 items x 3").isEqualTo(items * target);
        Set<String> full = new HashSet<>();
        stats.items().forEach(i -> { if (i.confirmed() == target) full.add(i.id()); });
        assertThat(full).hasSize(items);
    }
}
