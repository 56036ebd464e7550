package gale.e2e;

import gale.client.Version;
import gale.store.PostgresCluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A deploy makes its version serve before the store records it ACTIVE, so a client that sees ACTIVE and calls at once
 * is served by it (and never told the function has no version, as test_async_client once was). Shown by holding the
 * previous version's row in PostgreSQL from another connection: the deploy's activation waits at that row, and calls
 * already reach the new version while the store still says DEPLOYING. The lock let go, the deploy ends ACTIVE.
 */
class ActivationOrderTest {

    @TempDir
    Path tmp;

    private static String hello(String version) {
        return """
                def handler(request):
                    return "%s"
                """.formatted(version);
    }

    @Test
    void callsReachANewVersionBeforeTheStoreRecordsItActive() throws Exception {
        String database = PostgresCluster.shared().newDatabase();
        try (GaleHarness node = GaleHarness.onStore(tmp, database)) {
            node.deployActive("hello", node.bundle("hello", "main.py", hello("v1")), "entryPoint", "handler");
            assertThat(answer(node)).isEqualTo("200 v1");

            Version v2;
            try (Connection holder = DriverManager.getConnection(database)) {
                holder.setAutoCommit(false);
                try (Statement s = holder.createStatement()) {
                    s.executeQuery("SELECT state FROM versions WHERE function_name = 'hello' AND version = 1 FOR UPDATE").close();
                }
                v2 = node.client.deploy("hello", node.bundle("hello-2", "main.py", hello("v2")),
                        Map.of("entryPoint", "handler", "allowUnauthenticated", true));

                await().atMost(Duration.ofSeconds(60)).until(() -> answer(node).equals("200 v2"));
                assertThat(state(database, v2.version())).as("the store has not recorded it yet").isEqualTo("DEPLOYING");
                holder.rollback();
            }
            assertThat(node.client.awaitVersion("hello", v2.version(), Duration.ofSeconds(60)).state().name()).isEqualTo("ACTIVE");
            assertThat(answer(node)).isEqualTo("200 v2");
        }
    }

    private static String answer(GaleHarness node) {
        HttpResponse<byte[]> r = node.get("hello", "");
        return r.statusCode() + " " + GaleHarness.text(r);
    }

    private static String state(String database, int version) throws Exception {
        try (Connection c = DriverManager.getConnection(database); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT state FROM versions WHERE function_name = 'hello' AND version = " + version)) {
            rs.next();
            return rs.getString(1);
        }
    }
}
