package gale.store;

import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sqlite.SQLiteDataSource;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;

import static org.assertj.core.api.Assertions.assertThat;

/** Job contexts moved out of the jobs table (V3); a store written before keeps every job's context. */
class JobContextsMigrationTest {

    @Test
    void contextsStoredInTheJobsTableMoveToTheirOwnTable(@TempDir Path dir) throws SQLException {
        Path file = dir.resolve("gale.db");
        SQLiteDataSource ds = new SQLiteDataSource();
        ds.setUrl("jdbc:sqlite:" + file);
        Flyway.configure().dataSource(ds).locations("classpath:db/sqlite").target("2").load().migrate();
        try (Connection c = ds.getConnection(); Statement s = c.createStatement()) {
            s.executeUpdate("""
                    INSERT INTO jobs (id, function_name, state, options, context, inputs, created_at) VALUES
                    ('job-with', 'f', 'RUNNING', '{}', '{"scale":3}', 1, '2026-01-01T00:00:00Z'),
                    ('job-without', 'f', 'SUCCEEDED', '{}', NULL, 1, '2026-01-01T00:00:00Z')""");
        }

        try (Store store = Store.openSqlite(file)) {
            assertThat(store.jobs().context("job-with")).contains("{\"scale\":3}");
            assertThat(store.jobs().context("job-without")).isEmpty();
            assertThat(store.jobs().find("job-with")).hasValueSatisfying(j -> {
                assertThat(j.state()).isEqualTo("RUNNING");
                assertThat(j.contextKey()).contains("job:job-with");
            });
            assertThat(store.jobs().find("job-without")).hasValueSatisfying(j -> assertThat(j.contextKey()).isEmpty());
            assertThat(store.jobs().unfinished()).extracting(JobRow::id).containsExactly("job-with");
        }
    }
}
