package gale.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * GET /v1/nodes (docs/postgresql.md): a node lists itself with its heartbeat and load, and a restart of it is the
 * same node (its id is kept in the data dir), not a second one. Runs on SQLite and on PostgreSQL (node-on-postgresql).
 */
class NodesApiTest extends GaleE2E {

    @Test
    void aNodeListsItselfWithItsLoadAndItsRestartIsTheSameNode() {
        gale.deployActive("hello", gale.bundle("hello", "main.py", "def hello(request):\n    return 'hi'\n"));
        assertThat(gale.get("hello", "").statusCode()).isEqualTo(200);
        String id = gale.server.nodeId();

        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            JsonNode nodes = gale.client.nodes().path("nodes");
            assertThat(nodes).hasSize(1);
            JsonNode self = nodes.get(0);
            assertThat(self.path("id").asText()).isEqualTo(id);
            assertThat(self.path("self").asBoolean()).isTrue();
            assertThat(self.path("url").asText()).isEqualTo(gale.server.url());
            assertThat(self.path("state").asText()).isEqualTo("ACTIVE");
            assertThat(self.path("heartbeatAgoMs").asLong()).isBetween(0L, 10_000L);
            assertThat(self.path("instances").asInt()).as("the heartbeat carries its load").isEqualTo(1);
            assertThat(self.path("inFlight").asInt()).isZero();
            assertThat(self.path("jobs").asInt()).isZero();
        });

        gale.restart();

        JsonNode after = gale.client.nodes().path("nodes");
        assertThat(after).hasSize(1);
        assertThat(after.get(0).path("id").asText()).isEqualTo(id);
    }
}
