package gale.cli;

import com.fasterxml.jackson.databind.JsonNode;
import gale.client.GaleClient;
import gale.client.Job;
import gale.client.JobOptions;
import gale.client.JobRequest;
import gale.client.JobResult;
import gale.client.Version;
import gale.store.PostgresCluster;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Two real `gale server` processes (the shaded jar) on one PostgreSQL database, each with a data dir and port of its
 * own and the same admin token and secrets key, copied into both data dirs before they start (docs/postgresql.md).
 * A map job submitted to one node survives that node's kill -9: the other notices the missed heartbeats, takes the
 * job over and finishes it, and every input has exactly one result, in order. A node stopped with SIGTERM hands its
 * job back at once and leaves the membership, long before a dead node would be noticed.
 */
class NodesIT {

    private static final int INPUTS = 500;
    private static final String TOKEN = "gale_shared-admin-token-for-both-nodes-0123456789";
    private static final String WORK = """
            import time
            def work(request):
                x = request.get_json()
                time.sleep(0.06)
                return {"y": x * 2}
            """;

    @TempDir
    Path tmp;
    private GaleServers servers;
    private String database;

    @BeforeEach
    void servers() {
        servers = new GaleServers(tmp);
        database = PostgresCluster.shared().newDatabase();
    }

    @AfterEach
    void stopServers() throws Exception {
        servers.killAll();
        servers.printLogs(60); // the nodes' own account of a failure, in the failsafe report
    }

    @Test
    void aJobWhoseNodeIsKilledIsTakenOverByTheOtherNodeAndEveryInputHasExactlyOneResultInOrder() throws Exception {
        Node a = start("a", "3s");
        Node b = start("b", "3s");
        await().atMost(Duration.ofSeconds(20)).until(() -> nodeIds(b.client).size() == 2);
        assertThat(nodeIds(a.client)).containsExactlyInAnyOrder(a.id, b.id);
        GaleCli.Result listed = GaleCli.run(Map.of("GALE_URL", b.url, "GALE_TOKEN", TOKEN), "nodes");
        assertThat(listed.out()).as(listed.err()).contains(a.id).contains(b.id + " (this)").contains("ACTIVE");
        deploy(a);
        deploy(b); // until bundles are shared through the store, each node deploys the function it may run

        String id = submit(a);
        assertThat(owner(id)).as("the node it was submitted to runs it").isEqualTo(a.id);
        await().atMost(Duration.ofSeconds(120)).until(() -> a.client.job(id).counts().done() >= 100);
        a.process.destroyForcibly().waitFor(10, TimeUnit.SECONDS); // kill -9: no drain, no goodbye

        Job end = b.client.awaitJob(id, Duration.ofSeconds(120));
        assertThat(end.state().name()).isEqualTo("SUCCEEDED");
        assertThat(owner(id)).as("taken over by the node left").isEqualTo(b.id);
        assertExactlyOneResultPerInputInOrder(b.client, id);
        assertThat(Files.readString(servers.log("server", b.port))).contains("JobID " + id + ": resuming on node " + b.id)
                .contains("node " + a.id + " missed its heartbeats");
        assertThat(nodeIds(b.client)).as("the dead node was removed").containsExactly(b.id);
    }

    @Test
    void aNodeStoppedWithSigtermHandsItsJobBackAndLeavesTheMembershipAtOnce() throws Exception {
        // Dead after a minute: the job moving on and the node leaving within seconds is the drain's doing, not a timeout's.
        Node a = start("a", "60s");
        Node b = start("b", "60s");
        await().atMost(Duration.ofSeconds(20)).until(() -> nodeIds(b.client).size() == 2);
        deploy(a);
        deploy(b);
        String id = submit(a);
        await().atMost(Duration.ofSeconds(120)).until(() -> a.client.job(id).counts().done() >= 50);

        a.process.destroy(); // SIGTERM
        assertThat(a.process.waitFor(60, TimeUnit.SECONDS)).as("the node exits after SIGTERM").isTrue();

        assertThat(nodeIds(b.client)).as("it left the membership as it stopped").containsExactly(b.id);
        Job end = b.client.awaitJob(id, Duration.ofSeconds(40));
        assertThat(end.state().name()).isEqualTo("SUCCEEDED");
        assertThat(owner(id)).isEqualTo(b.id);
        assertExactlyOneResultPerInputInOrder(b.client, id);
        assertThat(Files.readString(servers.log("server", a.port))).contains("handed back 1 map jobs for another node");
    }

    private record Node(String id, String url, int port, Process process, GaleClient client) {
    }

    /** A node on the shared database; the admin token and secrets key are the first node's, copied before it starts. */
    private Node start(String name, String deadAfter) throws Exception {
        Path data = Files.createDirectories(tmp.resolve(name));
        Files.writeString(data.resolve("admin-token"), TOKEN + "\n");
        Path firstKey = tmp.resolve("a/secrets.key");
        if (Files.exists(firstKey) && !name.equals("a")) Files.copy(firstKey, data.resolve("secrets.key"));
        int port = GaleServers.freePort();
        String url = "http://127.0.0.1:" + port;
        Process process = servers.start(Map.of(), List.of(), "server", port, data, "--store", database,
                "--advertise", url, "--node-heartbeat", "500ms", "--node-dead-after", deadAfter);
        String id = Files.readString(data.resolve("node-id")).strip();
        return new Node(id, url, port, process, new GaleClient(URI.create(url), TOKEN));
    }

    private static List<String> nodeIds(GaleClient client) {
        List<String> ids = new ArrayList<>();
        for (JsonNode n : client.nodes().path("nodes")) ids.add(n.path("id").asText());
        return ids;
    }

    private void deploy(Node node) throws Exception {
        Path source = Files.createDirectories(tmp.resolve("work-" + node.port));
        Files.writeString(source.resolve("main.py"), WORK);
        Version v = node.client.awaitVersion("work", node.client.deploy("work", source, Map.of("maxInstances", 4)).version(),
                Duration.ofSeconds(120));
        assertThat(v.state().name()).as(v.reason().orElse("")).isEqualTo("ACTIVE");
    }

    private static String submit(Node node) {
        List<Integer> inputs = IntStream.range(0, INPUTS).boxed().toList();
        return node.client.submitJob(JobRequest.of("work", inputs).with(JobOptions.defaults().withParallelism(4).withChunkSize(10))).id();
    }

    private void assertExactlyOneResultPerInputInOrder(GaleClient client, String id) throws Exception {
        try (Stream<JobResult> stream = client.results(id, -1)) {
            List<JobResult> results = stream.toList();
            assertThat(results).hasSize(INPUTS);
            for (int i = 0; i < INPUTS; i++) {
                assertThat(results.get(i).index()).isEqualTo(i);
                assertThat(results.get(i).ok()).isTrue();
                assertThat(results.get(i).result().path("y").asInt()).isEqualTo(2 * i);
            }
        }
        try (Connection c = DriverManager.getConnection(database);
             Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT COUNT(*), COUNT(DISTINCT idx), SUM(CASE WHEN state = 'DONE' THEN 1 ELSE 0 END)"
                     + " FROM job_items WHERE job_id = '" + id + "'")) {
            rs.next();
            assertThat(List.of(rs.getInt(1), rs.getInt(2), rs.getInt(3))).containsExactly(INPUTS, INPUTS, INPUTS);
        }
    }

    private String owner(String id) throws Exception {
        try (Connection c = DriverManager.getConnection(database); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT owner FROM jobs WHERE id = '" + id + "'")) {
            rs.next();
            return rs.getString(1);
        }
    }
}
