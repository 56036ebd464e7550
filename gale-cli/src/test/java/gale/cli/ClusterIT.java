package gale.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import gale.client.GaleClient;
import gale.client.Job;
import gale.client.JobOptions;
import gale.client.JobRequest;
import gale.client.JobResult;
import gale.client.StateEntry;
import gale.client.Version;
import gale.store.PostgresCluster;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Three real `gale server` processes (the shaded jar) on one PostgreSQL database, as docs/postgresql.md sets them up:
 * a data dir and port each, the same admin token and secrets key, a function deployed once at one node and served by
 * all three. What must hold when work is spread over the nodes and one of them is killed -9:
 * <ul>
 *   <li>a 2,000-input map job loses nothing when the node running it dies: exactly one result per input, in order;</li>
 *   <li>64 callers spread over the nodes increment one key 1,000 times each: every increment is counted once;</li>
 *   <li>the sampler's invariants hold with respondents drawing, confirming and dropping out at different nodes;</li>
 *   <li>a schedule fires each slot once with three nodes up, and goes on firing after the node that fired it dies;</li>
 *   <li>an async call leased by the node that accepted it, which then dies, is run once by another node.</li>
 * </ul>
 */
class ClusterIT {

    private static final String TOKEN = "gale_cluster-admin-token-for-three-nodes-0123456789";
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;
    private GaleServers servers;
    private String database;
    private List<Node> nodes;
    private HttpClient http;

    private record Node(String name, String id, String url, int port, Process process, GaleClient client) {
    }

    @BeforeEach
    void threeNodes() throws Exception {
        servers = new GaleServers(tmp);
        database = PostgresCluster.shared().newDatabase();
        http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
        Node a = start("a"); // first: its secrets key is the one the others copy
        try (ExecutorService starting = Executors.newFixedThreadPool(2)) { // platform threads: they start processes, read files
            Future<Node> b = starting.submit(() -> start("b"));
            Future<Node> c = starting.submit(() -> start("c"));
            nodes = List.of(a, b.get(), c.get());
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> nodes.stream().allMatch(n -> n.client.nodes().path("nodes").size() == 3));
    }

    @AfterEach
    void stopNodes() throws Exception {
        servers.killAll();
        http.close();
        servers.printLogs(40); // the nodes' own account of a failure, in the failsafe report
    }

    @Test
    void aMapJobOf2000InputsSurvivesKillOfItsNodeWithExactlyOneResultPerInputInOrder() throws Exception {
        int inputs = 2_000;
        deploy("work", """
                import time
                def work(request):
                    x = request.get_json(silent=True)
                    time.sleep(0.02)
                    return {"y": (x or 0) * 2}
                """, Map.of("maxInstances", 8));
        Node a = nodes.get(0);
        Node b = nodes.get(1);
        String id = a.client.submitJob(JobRequest.of("work", IntStream.range(0, inputs).boxed().toList())
                .with(JobOptions.defaults().withParallelism(8).withChunkSize(10))).id();
        assertThat(sql("SELECT owner FROM jobs WHERE id = '" + id + "'")).as("the node it was submitted to runs it").isEqualTo(a.id);
        await().atMost(Duration.ofSeconds(120)).until(() -> a.client.job(id).counts().done() >= 400);

        kill(a);

        Job end = b.client.awaitJob(id, Duration.ofSeconds(180));
        assertThat(end.state().name()).isEqualTo("SUCCEEDED");
        assertThat(sql("SELECT owner FROM jobs WHERE id = '" + id + "'")).isIn(b.id, nodes.get(2).id);
        try (Stream<JobResult> stream = nodes.get(2).client.results(id, -1)) {
            List<JobResult> results = stream.toList();
            assertThat(results).hasSize(inputs);
            for (int i = 0; i < inputs; i++) {
                assertThat(results.get(i).index()).isEqualTo(i);
                assertThat(results.get(i).ok()).as("input %d: %s", i, results.get(i)).isTrue();
                assertThat(results.get(i).result().path("y").asInt()).isEqualTo(2 * i);
            }
        }
        assertThat(sql("SELECT COUNT(*) || ' ' || COUNT(DISTINCT idx) || ' ' || SUM(CASE WHEN state = 'DONE' THEN 1 ELSE 0 END)"
                + " FROM job_items WHERE job_id = '" + id + "'")).isEqualTo(inputs + " " + inputs + " " + inputs);
    }

    @Test
    void sixtyFourCallersSpreadOverThreeNodesIncrementOneKeyAndNoUpdateIsLost() throws Exception {
        int callers = 64;
        int each = 1_000;
        Set<Long> answers = ConcurrentHashMap.newKeySet();
        List<String> failures = Collections.synchronizedList(new ArrayList<>());
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int caller = 0; caller < callers; caller++) {
                int c = caller;
                pool.submit(() -> {
                    for (int i = 0; i < each; i++) {
                        Node node = nodes.get((c + i) % nodes.size()); // every caller uses every node in turn
                        try {
                            HttpResponse<String> r = send(node, "POST", "/v1/state/counts/hits?op=increment", "{\"by\": 1}");
                            if (r.statusCode() != 200 && r.statusCode() != 201) failures.add(node.name + ": " + r.statusCode() + " " + r.body());
                            else answers.add(JSON.readTree(r.body()).path("value").asLong());
                        } catch (Exception e) {
                            failures.add(node.name + ": " + e);
                        }
                    }
                });
            }
        }
        assertThat(failures).isEmpty();
        long total = (long) callers * each;
        for (Node node : nodes) {
            assertThat(node.client.stateGet("counts", "hits").flatMap(StateEntry::valueJson)).contains(Long.toString(total));
        }
        // linearizable: each increment saw the ones before it, so the answers are 1..total, each once
        assertThat(answers).hasSize((int) total);
        assertThat(Collections.min(answers)).isEqualTo(1);
        assertThat(Collections.max(answers)).isEqualTo(total);
    }

    @Test
    void theSamplersInvariantsHoldWithRespondentsSpreadOverTheNodes() throws Exception {
        int items = 12;
        int target = 8;
        String list = JSON.writeValueAsString(IntStream.range(0, items).mapToObj(i -> "item-" + i).toList());
        assertThat(send(nodes.get(0), "POST", "/v1/samplers/slogans", "{\"items\": " + list + ", \"target\": " + target
                + ", \"lease\": \"3s\"}").statusCode()).isEqualTo(201);
        Map<String, List<String>> shown = new ConcurrentHashMap<>();
        Map<String, Integer> confirmedByUs = new ConcurrentHashMap<>();
        List<String> failures = Collections.synchronizedList(new ArrayList<>());
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int r = 0; r < 40; r++) {
                String respondent = "R_" + r;
                Random random = new Random(r);
                pool.submit(() -> {
                    try {
                        for (int round = 0; round < 3; round++) {
                            Node node = nodes.get(random.nextInt(nodes.size()));
                            HttpResponse<String> drawn = send(node, "POST", "/v1/samplers/slogans/draw",
                                    "{\"respondent\": \"" + respondent + "\", \"k\": 2}");
                            if (drawn.statusCode() != 200) {
                                failures.add("draw at " + node.name + ": " + drawn.statusCode() + " " + drawn.body());
                                return;
                            }
                            List<String> ids = new ArrayList<>();
                            JSON.readTree(drawn.body()).path("items").forEach(i -> ids.add(i.path("id").asText()));
                            shown.computeIfAbsent(respondent, k -> Collections.synchronizedList(new ArrayList<>())).addAll(ids);
                            if (ids.isEmpty()) return;
                            Node settler = nodes.get(random.nextInt(nodes.size())); // often another node than the draw's
                            int fate = random.nextInt(10);
                            if (fate < 6) {
                                HttpResponse<String> ok = send(settler, "POST", "/v1/samplers/slogans/confirm",
                                        "{\"respondent\": \"" + respondent + "\"}");
                                if (ok.statusCode() == 200) {
                                    JSON.readTree(ok.body()).path("confirmed").forEach(i -> confirmedByUs.merge(i.asText(), 1, Integer::sum));
                                } else {
                                    failures.add("confirm at " + settler.name + ": " + ok.statusCode() + " " + ok.body());
                                }
                            } else if (fate < 8) {
                                send(settler, "POST", "/v1/samplers/slogans/release", "{\"respondent\": \"" + respondent + "\"}");
                            } else {
                                Thread.sleep(3_200); // drops out: the lease runs out and the items go back to the pool
                            }
                        }
                    } catch (Exception e) {
                        failures.add(respondent + ": " + e);
                    }
                });
            }
        }
        assertThat(failures).isEmpty();
        shown.forEach((respondent, ids) -> assertThat(new HashSet<>(ids)).as("%s was never shown an item twice", respondent).hasSameSizeAs(ids));
        Thread.sleep(3_200); // the last leases run out
        for (Node node : nodes) {
            JsonNode stats = node.client.samplerStats("slogans");
            Map<String, Integer> confirmed = new TreeMap<>();
            for (JsonNode count : stats.path("counts")) {
                assertThat(count.path("confirmed").asInt() + count.path("leased").asInt()).as("item %s under its target", count.path("id"))
                        .isLessThanOrEqualTo(target);
                if (count.path("confirmed").asInt() > 0) confirmed.put(count.path("id").asText(), count.path("confirmed").asInt());
            }
            assertThat(confirmed).as("the counts at %s are the confirmations respondents were told of", node.name)
                    .isEqualTo(new TreeMap<>(confirmedByUs));
        }
        assertThat(confirmedByUs.values().stream().mapToInt(Integer::intValue).sum()).as("respondents confirmed something").isPositive();
    }

    @Test
    void aScheduleFiresOncePerSlotWithThreeNodesAndGoesOnAfterTheNodeThatFiredItIsKilled() throws Exception {
        deploy("tick", """
                from gale import state

                def tick(request):
                    slot = request.headers["X-Gale-Schedule-Time"]
                    state.increment("runs/" + slot)
                    return {"slot": slot}
                """, Map.of());
        nodes.get(1).client.putSchedule("tick-every-2s", Map.of("function", "tick", "every", "2s"));
        await().atMost(Duration.ofSeconds(60)).until(() -> runs().size() >= 5);

        String lastSlot = Collections.max(runs().keySet());
        Map<String, String> firers = firers(nodes.get(0));
        assertThat(Set.copyOf(firers.values())).as("every firing names its node: %s", firers).isSubsetOf(nodes.stream().map(Node::id).toList());
        Node firer = nodes.stream().filter(n -> n.id.equals(firers.get(lastSlot))).findFirst().orElseThrow();
        kill(firer);
        Instant killed = Instant.now();
        List<Node> left = nodes.stream().filter(n -> n != firer).toList();

        await().atMost(Duration.ofSeconds(60)).until(() -> runs().keySet().stream()
                .filter(slot -> Instant.parse(slot).isAfter(killed.plusSeconds(1))).count() >= 4);
        Map<String, Long> runs = runs();
        assertThat(runs.values()).as("each slot ran once: %s", runs).allMatch(n -> n == 1);
        assertThat(contiguous(runs.keySet().stream().filter(s -> s.compareTo(lastSlot) <= 0).toList()))
                .as("with three nodes up, no slot was missed: %s", runs.keySet()).isTrue();
        List<String> after = runs.keySet().stream().filter(s -> Instant.parse(s).isAfter(killed.plusSeconds(1))).sorted().toList();
        assertThat(contiguous(after)).as("after the kill, no slot is missed: %s", after).isTrue();
        Map<String, String> firersAfter = firers(left.get(0));
        assertThat(after).as("fired by the nodes left").allMatch(slot -> left.stream().anyMatch(n -> n.id.equals(firersAfter.get(slot))));
        assertThat(left).as("a node left noticed the killed one").anyMatch(n -> logOf(n).contains("node " + firer.id + " missed its heartbeats"));
    }

    /** Which node fired each slot, from the schedule's firings (a slot is the key of a firing: it cannot appear twice). */
    private Map<String, String> firers(Node at) throws Exception {
        JsonNode firings = JSON.readTree(send(at, "GET", "/v1/schedules/tick-every-2s/firings?limit=1000", null).body());
        Map<String, String> by = new TreeMap<>();
        firings.forEach(f -> by.put(f.path("slot").asText(), f.path("node").asText()));
        return by;
    }

    @Test
    void anAsyncCallLeasedByTheNodeThatAcceptedItWhichThenDiesIsRunOnceByAnotherNode() throws Exception {
        deploy("slow", """
                import os
                import time
                from gale import state

                def slow(request):
                    call = request.get_json()["call"]
                    time.sleep(4)
                    state.increment("done/" + str(call) + "/" + os.environ["GALE_STATE_URL"])
                    return {"call": call}
                """, Map.of("timeout", "30s"));
        Node a = nodes.get(0);
        // a's poller is woken by the call it accepts, so it nearly always leases it; when another node is quicker,
        // that call just runs there, and the next one is tried
        String invocation = null;
        int call = 0;
        for (; call < 5 && invocation == null; call++) {
            HttpResponse<String> accepted = http.send(HttpRequest.newBuilder(URI.create(a.url + "/fn/slow"))
                    .header("Authorization", "Bearer " + TOKEN).header("Prefer", "respond-async").header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"call\": " + call + "}")).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(accepted.statusCode()).as(accepted.body()).isEqualTo(202);
            String id = JSON.readTree(accepted.body()).path("invocationId").asText();
            await().atMost(Duration.ofSeconds(30)).until(() -> sql("SELECT COALESCE(lease_owner, '') FROM async_invocations WHERE id = '" + id + "'"),
                    owner -> !owner.isEmpty());
            if (sql("SELECT lease_owner FROM async_invocations WHERE id = '" + id + "'").equals(a.id)) invocation = id;
        }
        assertThat(invocation).as("one of 5 async calls accepted by a was leased by a").isNotNull();
        int killedCall = call - 1;
        kill(a); // the call is running there: it sleeps 4 s before it writes anything

        Node b = nodes.get(1);
        String id = invocation;
        await().atMost(Duration.ofSeconds(90)).until(() -> b.client.asyncInvocation(id).path("status").asText().equals("SUCCEEDED"));
        JsonNode done = b.client.asyncInvocation(id);
        assertThat(JSON.readTree(done.path("result").path("body").asText()).path("call").asInt()).isEqualTo(killedCall);
        Map<String, Long> runs = new HashMap<>();
        for (StateEntry e : b.client.stateList("slow", "done/" + killedCall + "/", Optional.empty(), 100).entries()) {
            runs.put(e.key(), Long.parseLong(e.valueJson().orElseThrow()));
        }
        assertThat(runs).as("run once, by a node left: %s", runs).hasSize(1);
        String ranAt = runs.keySet().iterator().next();
        assertThat(ranAt).doesNotContain(a.url).matches(k -> k.contains(b.url) || k.contains(nodes.get(2).url));
        assertThat(runs.values()).containsExactly(1L);
    }

    // ---- helpers

    /** A node on the shared database; the admin token and secrets key are the first node's, copied before it starts. */
    private Node start(String name) throws Exception {
        Path data = Files.createDirectories(tmp.resolve(name));
        Files.writeString(data.resolve("admin-token"), TOKEN + "\n");
        if (!name.equals("a")) Files.copy(tmp.resolve("a/secrets.key"), data.resolve("secrets.key"));
        int port = GaleServers.freePort();
        String url = "http://127.0.0.1:" + port;
        Process process = servers.start(Map.of(), List.of(), "server", port, data, "--store", database, "--advertise", url,
                "--node-heartbeat", "500ms", "--node-dead-after", "4s", "--min-schedule-interval", "1s");
        String id = Files.readString(data.resolve("node-id")).strip();
        return new Node(name, id, url, port, process, new GaleClient(URI.create(url), TOKEN));
    }

    /** Deploys at the first node, and waits until every node serves it (the others follow the store). */
    private void deploy(String function, String code, Map<String, Object> config) throws Exception {
        Path source = Files.createDirectories(tmp.resolve("src-" + function));
        Files.writeString(source.resolve("main.py"), code);
        Node first = nodes.get(0);
        Version v = first.client.awaitVersion(function, first.client.deploy(function, source, config).version(), Duration.ofSeconds(120));
        assertThat(v.state().name()).as(v.reason().orElse("")).isEqualTo("ACTIVE");
        for (Node node : nodes) {
            await().atMost(Duration.ofSeconds(60)).until(() -> Files.readString(servers.log("server", node.port))
                    .contains(function + " v" + v.version() + " serves here") || node == first);
        }
    }

    private String logOf(Node node) {
        try {
            return Files.readString(servers.log("server", node.port));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private void kill(Node node) throws InterruptedException {
        node.process.descendants().forEach(ProcessHandle::destroyForcibly);
        node.process.destroyForcibly().waitFor(10, TimeUnit.SECONDS); // kill -9: no drain, no goodbye
    }

    private HttpResponse<String> send(Node node, String method, String path, String body) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(node.url + path)).timeout(Duration.ofSeconds(60))
                .header("Authorization", "Bearer " + TOKEN).header("Content-Type", "application/json");
        request.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** The tick function's runs per slot, from any node still up. */
    private Map<String, Long> runs() {
        Map<String, Long> runs = new TreeMap<>();
        for (StateEntry e : anyLive().client.stateList("tick", "runs/", Optional.empty(), 1000).entries()) {
            runs.put(e.key().substring("runs/".length()), Long.parseLong(e.valueJson().orElseThrow()));
        }
        return runs;
    }

    private Node anyLive() {
        return nodes.stream().filter(n -> n.process.isAlive()).findFirst().orElseThrow();
    }

    /** Whether the slots, ISO instants, are every 2 s from the first to the last. */
    private static boolean contiguous(List<String> slots) {
        List<Instant> sorted = slots.stream().map(Instant::parse).sorted().toList();
        for (int i = 1; i < sorted.size(); i++) {
            if (!Duration.between(sorted.get(i - 1), sorted.get(i)).equals(Duration.ofSeconds(2))) return false;
        }
        return true;
    }

    private String sql(String query) throws Exception {
        try (Connection c = DriverManager.getConnection(database); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(query)) {
            return rs.next() ? String.valueOf(rs.getString(1)) : "";
        }
    }
}
