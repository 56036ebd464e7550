package gale.store;

import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The store a test runs on: SQLite in the test's directory, or, when the build runs the store
 * tests a second time with {@code -Dgale.test.store=postgresql} (gale-core's pom), a fresh
 * database in a throwaway PostgreSQL cluster, so every store test holds on both dialects.
 */
public final class TestStores {

    /** A test that reopens the store of its directory (a restart) gets the same database back. */
    private static final Map<Path, String> DATABASES = new ConcurrentHashMap<>();

    private TestStores() {
    }

    public static boolean postgresql() {
        return "postgresql".equals(System.getProperty("gale.test.store"));
    }

    public static Store open(Path dir) {
        return open(dir, Clock.systemUTC());
    }

    public static Store open(Path dir, Clock clock) {
        return postgresql() ? Store.openPostgresql(database(dir), clock) : Store.openSqlite(dir.resolve("gale.db"), clock);
    }

    /** The JDBC URL of the PostgreSQL database that belongs to {@code dir}, made on first use. */
    public static String database(Path dir) {
        return DATABASES.computeIfAbsent(dir.toAbsolutePath(), d -> PostgresCluster.shared().newDatabase());
    }
}
