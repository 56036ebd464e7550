package gale.store;

import org.junit.jupiter.api.Test;

import java.time.Clock;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** What is particular to a store on PostgreSQL: one node per database for now, and messages that keep a password out. */
class PostgresqlStoreTest {

    @Test
    void aSecondNodeOnTheSameDatabaseIsRefusedUntilTheFirstStops() {
        String url = PostgresCluster.shared().newDatabase();
        try (Store first = Store.openPostgresql(url, Clock.systemUTC())) {
            assertThat(first.listFunctions()).isEmpty();
            assertThatThrownBy(() -> Store.openPostgresql(url, Clock.systemUTC()))
                    .hasMessageContaining("another Gale node is using the store")
                    .hasMessageContaining("one node per store for now");
        }
        try (Store again = Store.openPostgresql(url, Clock.systemUTC())) { // the lock went with the first node
            assertThat(again.listFunctions()).isEmpty();
        }
    }

    @Test
    void aDatabaseThatCannotBeReachedIsNamedWithoutItsPassword() {
        int port = PostgresCluster.shared().port();
        assertThatThrownBy(() -> Store.openPostgresql("jdbc:postgresql://127.0.0.1:" + port + "/no_such_db?user=gale&password=s3cret",
                Clock.systemUTC()))
                .hasMessageContaining("could not connect to the store jdbc:postgresql://127.0.0.1:" + port + "/no_such_db")
                .hasMessageContaining("password=***")
                .hasMessageNotContaining("s3cret");
    }

    @Test
    void aUrlThatIsNotPostgresqlIsRefused() {
        assertThatThrownBy(() -> Store.openPostgresql("jdbc:mysql://db/gale", Clock.systemUTC()))
                .hasMessageContaining("not a PostgreSQL JDBC URL");
    }
}
