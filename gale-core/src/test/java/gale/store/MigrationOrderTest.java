package gale.store;

import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sqlite.SQLiteDataSource;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class MigrationOrderTest {

    @Test
    void aDataDirMigratedPastAMigrationThatLandedLaterGetsItAtTheNextStart(@TempDir Path dir) throws IOException {
        // A data dir from a build without V7 (blobs), already at V8.
        Path older = dir.resolve("older");
        Files.createDirectories(older);
        for (String name : List.of("V1__functions_versions_logs.sql", "V2__jobs.sql", "V3__job_contexts.sql", "V4__state.sql",
                "V5__schedules.sql", "V8__secrets.sql")) {
            try (InputStream in = getClass().getResourceAsStream((getClass().getResource("/db/common/" + name) != null ? "/db/common/" : "/db/sqlite/") + name)) {
                Files.copy(in, older.resolve(name));
            }
        }
        Path file = dir.resolve("gale.db");
        SQLiteDataSource ds = new SQLiteDataSource();
        ds.setUrl("jdbc:sqlite:" + file);
        Flyway.configure().dataSource(ds).locations("filesystem:" + older).load().migrate();

        try (Store store = Store.openSqlite(file)) {
            var blobs = store.blobCatalog(new gale.blob.BlobStore(dir.resolve("blobs")));
            assertThat(blobs.list("models", "", java.util.Optional.empty(), 10).keys()).isEmpty(); // V7's tables are there
        }
    }
}
