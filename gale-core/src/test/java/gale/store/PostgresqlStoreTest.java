package gale.store;

import org.junit.jupiter.api.Test;

import java.time.Clock;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** What is particular to a store on PostgreSQL: several nodes share a database, and messages keep a password out. */
class PostgresqlStoreTest {

    @Test
    void twoNodesOpenTheSameDatabaseAtOnceAndSeeEachOthersWrites() {
        String url = PostgresCluster.shared().newDatabase();
        try (Store first = Store.openPostgresql(url, Clock.systemUTC());
             Store second = Store.openPostgresql(url, Clock.systemUTC())) {
            first.createVersion("shared", "{}", "digest", 1, java.time.Instant.now());
            assertThat(second.listFunctions()).extracting(FunctionRow::name).containsExactly("shared");
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
