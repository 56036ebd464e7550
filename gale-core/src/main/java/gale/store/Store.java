package gale.store;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import org.flywaydb.core.Flyway;
import gale.state.SamplerStore;
import gale.state.StateStore;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;
import org.sqlite.SQLiteConfig;
import org.sqlite.SQLiteDataSource;

import java.nio.file.Path;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * All durable state: functions, versions, logs and invocation records; map jobs ({@link #jobs()}),
 * schedules ({@link #schedules()}), shared state ({@link #state()}), secrets, access keys ({@link #keys()}), the audit
 * log ({@link #audit()}), queued async calls and dead letters, usage ({@link #usage()}). The embedded
 * default is one SQLite file in the data dir (WAL mode, so readers never block the
 * writer). Nothing on the request hot path reads from here: the registry keeps what
 * serving needs in memory, and logs and invocations arrive in batches.
 *
 * <p>Connections are pooled (HikariCP): opening a SQLite connection (the file, WAL, the
 * pragmas) costs 1–3 ms, and the batch writers, map jobs and results streams run many
 * small statements a second.
 */
public final class Store implements AutoCloseable, gale.logs.LogStore {

    /** SQLite has one writer at a time; a few connections let readers run beside it. */
    private static final int SQLITE_POOL_SIZE = 8;
    /** PostgreSQL runs writers side by side; several nodes share its connection limit (100 by default). */
    private static final int POSTGRESQL_POOL_SIZE = 16;
    public static final String POSTGRESQL_PREFIX = "jdbc:postgresql:";

    private final Jdbi jdbi;
    private final JobStore jobs;
    private final ScheduleStore schedules;
    private final SecretStore secrets;
    private final StateStore state;
    private final SamplerStore samplers;
    private final AsyncStore async;
    private final TriggerStore triggers;
    private final UsageStore usage;
    private final KeyStore keys;
    private final AuditStore audit;
    private final BlobChunkStore chunks;
    private final boolean postgresql;
    private final TrafficStore traffic;
    private final HikariDataSource pool;
    private final Clock clock;
    private final NodeStore nodes;
    private final StoreChanges changes;

    private Store(HikariDataSource pool, Clock clock, boolean postgresql) {
        this.jdbi = Jdbi.create(pool);
        this.postgresql = postgresql;
        this.chunks = new BlobChunkStore(jdbi, postgresql);
        this.pool = pool;
        this.clock = clock;
        this.jobs = new JobStore(jdbi);
        this.nodes = new NodeStore(jdbi);
        this.schedules = new ScheduleStore(jdbi);
        this.async = new AsyncStore(jdbi);
        this.triggers = new TriggerStore(jdbi);
        this.usage = new UsageStore(jdbi);
        this.keys = new KeyStore(jdbi);
        this.audit = new AuditStore(jdbi);
        this.traffic = new TrafficStore(jdbi);
        this.changes = new StoreChanges(jdbi);
        this.secrets = new SecretStore(jdbi);
        this.state = new StateStore(jdbi, clock);
        this.samplers = new SamplerStore(jdbi, clock);
    }

    /**
     * Buckets of versioned blobs with aliases, their metadata in this database and their bytes in
     * {@code bytes}. Call once: the catalog it answers is the one writer of those tables.
     */
    public gale.blob.BlobCatalog blobCatalog(gale.blob.BlobStore bytes) {
        return new gale.blob.BlobCatalog(jdbi, bytes, clock);
    }

    /**
     * Where this node's bundles and blobs go so that every node can fetch them: the blob_chunks table when the store
     * is PostgreSQL (several nodes may share it), {@link gale.blob.SharedBlobs#NONE} on SQLite (one node, whose data
     * dir holds the only copy).
     */
    public gale.blob.SharedBlobs sharedBlobs() {
        return storeIsShared() ? chunks : gale.blob.SharedBlobs.NONE;
    }

    /** True on PostgreSQL: other nodes may deploy, roll back and delete functions in this store. */
    public boolean storeIsShared() {
        return postgresql;
    }

    /** The blob_chunks table on either dialect, for its tests. */
    BlobChunkStore chunks() {
        return chunks;
    }

    /** For tests of this package that look at the tables themselves. */
    Jdbi jdbi() {
        return jdbi;
    }

    /** Samplers (items drawn for respondents under a target), in the same database. */
    public SamplerStore samplers() {
        return samplers;
    }

    /** Shared state (namespaced keys with JSON values), in the same database. */
    public StateStore state() {
        return state;
    }

    /** Map jobs and their inputs, in the same database. */
    public JobStore jobs() {
        return jobs;
    }

    /** Sealed secrets and their grants to functions, in the same database. */
    public SecretStore secrets() {
        return secrets;
    }

    /** The nodes sharing this store, with their heartbeats, in the same database. */
    public NodeStore nodes() {
        return nodes;
    }

    /** Schedules and their firings, in the same database. */
    public ScheduleStore schedules() {
        return schedules;
    }

    /** Trigger subscriptions and the outbox that stores their events, in the same database. */
    public TriggerStore triggers() {
        return triggers;
    }

    /** What functions used, per version per minute (docs/cost.md), in the same database. */
    public UsageStore usage() {
        return usage;
    }

    /** Access keys (their hashes), in the same database. */
    public KeyStore keys() {
        return keys;
    }

    /** The audit log of administrative actions, in the same database. */
    public AuditStore audit() {
        return audit;
    }

    /** Each function's traffic split between its versions and its tags (docs/traffic.md), in the same database. */
    /** What other nodes of a shared store changed in the settings each node holds in memory. */
    public StoreChanges changes() {
        return changes;
    }

    public TrafficStore traffic() {
        return traffic;
    }

    /** Async calls and dead letters, in the same database. */
    public AsyncStore async() {
        return async;
    }

    /**
     * Opens the store a {@code gale server --store} value names: a {@code jdbc:postgresql:} URL, or
     * else the path of a SQLite file.
     */
    public static Store open(String location, Clock clock) {
        return location.startsWith(POSTGRESQL_PREFIX) ? openPostgresql(location, clock) : openSqlite(Path.of(location), clock);
    }

    /** Opens (creating and migrating if needed) the SQLite store at {@code file}. */
    public static Store openSqlite(Path file) {
        return openSqlite(file, Clock.systemUTC());
    }

    /** As {@link #openSqlite(Path)}, with the clock that state TTLs and sampler leases run on (tests move it). */
    public static Store openSqlite(Path file, Clock clock) {
        SQLiteConfig config = new SQLiteConfig();
        config.setJournalMode(SQLiteConfig.JournalMode.WAL);
        config.setSynchronous(SQLiteConfig.SynchronousMode.NORMAL);
        config.setBusyTimeout(10_000);
        config.enforceForeignKeys(true);
        // Writers take the lock when the transaction begins: a read-then-write upgrade fails at once with SQLITE_BUSY.
        config.setTransactionMode(SQLiteConfig.TransactionMode.IMMEDIATE);
        SQLiteDataSource ds = new SQLiteDataSource(config);
        ds.setUrl("jdbc:sqlite:" + file.toAbsolutePath());
        migrate(ds, "sqlite");
        HikariConfig pooled = poolConfig(SQLITE_POOL_SIZE);
        pooled.setDataSource(ds); // each new connection gets the SQLite settings above
        return new Store(new HikariDataSource(pooled), clock, false);
    }

    /**
     * Opens (migrating if needed) the PostgreSQL database at {@code url}, e.g.
     * {@code jdbc:postgresql://db.internal:5432/gale?user=gale} (a password in the URL, or in PGPASSWORD).
     * The schema is the SQLite one, from the same migrations (docs/postgresql.md).
     */
    public static Store openPostgresql(String url, Clock clock) {
        if (!url.startsWith(POSTGRESQL_PREFIX)) {
            throw new IllegalArgumentException("not a PostgreSQL JDBC URL: " + url + " (it starts with " + POSTGRESQL_PREFIX + ")");
        }
        HikariConfig pooled = poolConfig(POSTGRESQL_POOL_SIZE);
        pooled.setJdbcUrl(url);
        String password = System.getenv("PGPASSWORD");
        if (password != null && !url.contains("password=")) pooled.setPassword(password);
        checkReachable(pooled); // first: it says plainly when the database cannot be reached
        HikariDataSource pool = null;
        try {
            pool = new HikariDataSource(pooled);
            migrate(pool, "postgresql");
        } catch (RuntimeException e) {
            if (pool != null) pool.close();
            throw e;
        }
        return new Store(pool, clock, true);
    }

    /**
     * Connects once before the pool does, so a database that cannot be reached is named (without its password) in one
     * line rather than in the pool's retries. Several nodes share one database (docs/postgresql.md): nothing is locked.
     */
    private static void checkReachable(HikariConfig settings) {
        java.util.Properties props = new java.util.Properties();
        if (settings.getPassword() != null) props.setProperty("password", settings.getPassword());
        try (java.sql.Connection c = java.sql.DriverManager.getConnection(settings.getJdbcUrl(), props)) {
            c.isValid(5);
        } catch (SQLException e) {
            throw new IllegalStateException("could not connect to the store " + redacted(settings.getJdbcUrl()) + ": "
                    + e.getMessage(), e);
        }
    }

    /** A JDBC URL without its password, for messages. */
    static String redacted(String url) {
        return url.replaceAll("(?i)(password=)[^&]*", "$1***");
    }

    /**
     * V1 differs by dialect (db/sqlite, db/postgresql); every later migration is in db/common and runs on both.
     * Out of order: features land on separate branches, so a data dir at V8 may yet meet a V7 (each migration adds
     * tables of its own); without it Flyway refuses to start with "resolved migration not applied".
     */
    private static void migrate(javax.sql.DataSource ds, String dialect) {
        Flyway.configure().dataSource(ds).locations("classpath:db/" + dialect, "classpath:db/common")
                .outOfOrder(true).load().migrate();
    }

    private static HikariConfig poolConfig(int size) {
        HikariConfig pooled = new HikariConfig();
        pooled.setPoolName("gale-store");
        pooled.setMaximumPoolSize(size);
        pooled.setMinimumIdle(1);
        pooled.setConnectionTimeout(30_000);
        return pooled;
    }

    // ---- functions

    public Optional<FunctionRow> findFunction(String name) {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM functions WHERE name = :name")
                .bind("name", name).map((rs, ctx) -> functionRow(rs)).findOne());
    }

    public List<FunctionRow> listFunctions() {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM functions ORDER BY name")
                .map((rs, ctx) -> functionRow(rs)).list());
    }

    /** Removes the function with its versions, logs, invocation records, jobs, schedules, triggers, queued async calls and dead letters. */
    public void deleteFunction(String name) {
        jdbi.useTransaction(h -> {
            ScheduleStore.deleteOfFunction(h, name);
            SecretStore.deleteOfFunction(h, name); // a function of that name made later gets none of them
            AsyncStore.deleteOfFunction(h, name);
            TriggerStore.deleteOfFunction(h, name); // committed with it: no later write gives the function an event
            TrafficStore.deleteOfFunction(h, name); // a function of that name made later starts unpinned, without tags
            h.createUpdate("DELETE FROM job_items WHERE job_id IN (SELECT id FROM jobs WHERE function_name = :name)")
                    .bind("name", name).execute();
            for (String table : List.of("invocations", "logs", "jobs", "versions")) {
                h.createUpdate("DELETE FROM " + table + " WHERE function_name = :name").bind("name", name).execute();
            }
            h.createUpdate("DELETE FROM functions WHERE name = :name").bind("name", name).execute();
            // Last, as a rollback takes them after the function's rows: the other nodes drop its triggers and routes.
            StoreChanges.raise(h, StoreChanges.TRIGGERS);
            StoreChanges.raise(h, StoreChanges.TRAFFIC);
        });
    }

    // ---- versions

    /**
     * Allocates the next version number and stores it as DEPLOYING, with the function's row if it
     * is the first, in one transaction: a store that cannot take it keeps neither.
     */
    public VersionRow createVersion(String function, String configJson, String digest, long bytes, Instant now) {
        return createVersion(function, configJson, digest, bytes, now, null);
    }

    /** As {@link #createVersion(String, String, String, long, Instant)}, the deploy run by {@code node}. */
    public VersionRow createVersion(String function, String configJson, String digest, long bytes, Instant now, String node) {
        return jdbi.inTransaction(h -> {
            h.createUpdate("""
                            INSERT INTO functions (name, active_version, created_at, updated_at)
                            VALUES (:name, NULL, :now, :now) ON CONFLICT (name) DO NOTHING""")
                    .bind("name", function).bind("now", now.toString()).execute();
            int next = h.createQuery("SELECT COALESCE(MAX(version), 0) + 1 FROM versions WHERE function_name = :f")
                    .bind("f", function).mapTo(Integer.class).one();
            h.createUpdate("""
                            INSERT INTO versions (function_name, version, state, config, bundle_digest, bundle_bytes, created_at,
                                                  deploying_node)
                            VALUES (:f, :v, 'DEPLOYING', :config, :digest, :bytes, :now, :node)""")
                    .bind("f", function).bind("v", next).bind("config", configJson).bind("digest", digest)
                    .bind("bytes", bytes).bind("now", now.toString()).bind("node", node).execute();
            return findVersion(h, function, next).orElseThrow();
        });
    }

    public void failVersion(String function, int version, String reason) {
        jdbi.useHandle(h -> h.createUpdate("""
                        UPDATE versions SET state = 'FAILED', reason = :reason WHERE function_name = :f AND version = :v""")
                .bind("reason", reason).bind("f", function).bind("v", version).execute());
    }

    /** Makes {@code version} the serving one: it becomes ACTIVE, the one before INACTIVE. */
    public void activateVersion(String function, int version, Instant now) {
        jdbi.useTransaction(h -> activate(h, function, version, now));
    }

    /**
     * A rollback: {@code version} becomes ACTIVE and the function's split is no longer pinned, in one transaction,
     * so all its calls go to that version at once (docs/traffic.md); its tags stay.
     */
    public void rollBackTo(String function, int version, Instant now) {
        jdbi.useTransaction(h -> {
            activate(h, function, version, now);
            TrafficStore.unpin(h, function);
        });
    }

    private static void activate(Handle h, String function, int version, Instant now) {
        h.createUpdate("UPDATE versions SET state = 'INACTIVE' WHERE function_name = :f AND state = 'ACTIVE'")
                .bind("f", function).execute();
        h.createUpdate("""
                        UPDATE versions SET state = 'ACTIVE', reason = NULL, activated_at = :now,
                               ready_at = COALESCE(ready_at, :now)
                        WHERE function_name = :f AND version = :v""")
                .bind("now", now.toString()).bind("f", function).bind("v", version).execute();
        h.createUpdate("UPDATE functions SET active_version = :v, updated_at = :now WHERE name = :f")
                .bind("v", version).bind("now", now.toString()).bind("f", function).execute();
    }

    /** Versions that were in the middle of deploying when the server stopped. */
    /**
     * Takes over the DEPLOYING versions no live node is deploying: {@code node}'s own (cut off by its restart), those of
     * nodes no longer in the membership (dead), and those stored before deploys had a node. Each is claimed with a
     * compare-and-set, so two nodes never both resume one; a deploy a live node runs is left to it.
     */
    public List<VersionRow> claimOrphanedDeploys(String node) {
        return claimDeploys(node, "state = 'DEPLOYING' AND (deploying_node IS NULL OR deploying_node = :self"
                + " OR deploying_node NOT IN (SELECT id FROM nodes))");
    }

    /** Takes over the DEPLOYING versions of nodes no longer in the membership, not its own (those it is running). */
    public List<VersionRow> claimDeploysOfDeadNodes(String node) {
        return claimDeploys(node, "state = 'DEPLOYING' AND deploying_node IS NOT NULL AND deploying_node <> :self"
                + " AND deploying_node NOT IN (SELECT id FROM nodes)");
    }

    private List<VersionRow> claimDeploys(String node, String orphaned) {
        return jdbi.inTransaction(h -> {
            List<VersionRow> candidates = h.createQuery("SELECT * FROM versions WHERE " + orphaned)
                    .bind("self", node).map((rs, ctx) -> versionRow(rs)).list();
            List<VersionRow> claimed = new java.util.ArrayList<>();
            for (VersionRow row : candidates) {
                int won = h.createUpdate("UPDATE versions SET deploying_node = :self WHERE function_name = :f AND version = :v AND " + orphaned)
                        .bind("self", node).bind("f", row.function()).bind("v", row.version()).execute();
                if (won == 1) claimed.add(row);
            }
            return claimed;
        });
    }

    public Optional<VersionRow> findVersion(String function, int version) {
        return jdbi.withHandle(h -> findVersion(h, function, version));
    }

    private static Optional<VersionRow> findVersion(Handle h, String function, int version) {
        return h.createQuery("SELECT * FROM versions WHERE function_name = :f AND version = :v")
                .bind("f", function).bind("v", version).map((rs, ctx) -> versionRow(rs)).findOne();
    }

    /** Newest first. */
    public List<VersionRow> listVersions(String function) {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM versions WHERE function_name = :f ORDER BY version DESC")
                .bind("f", function).map((rs, ctx) -> versionRow(rs)).list());
    }

    // ---- logs and invocations (written in batches by LogSink)

    /** Writes a batch in one transaction with plain JDBC: this runs for every call, JDBI's per-row binding costs too much here. */
    @Override
    public void appendLogs(List<LogEntry> entries) {
        if (entries.isEmpty()) return;
        try {
            jdbi.useTransaction(h -> {
                try (PreparedStatement ps = h.getConnection().prepareStatement("""
                        INSERT INTO logs (time, function_name, version, instance, request_id, stream, message)
                        VALUES (?, ?, ?, ?, ?, ?, ?)""")) {
                    for (LogEntry e : entries) {
                        ps.setString(1, e.time().toString());
                        ps.setString(2, e.function());
                        ps.setInt(3, e.version());
                        ps.setString(4, e.instance().orElse(null));
                        ps.setString(5, e.requestId().orElse(null));
                        ps.setString(6, e.stream());
                        ps.setString(7, e.message());
                        ps.addBatch();
                    }
                    ps.executeBatch();
                }
            });
        } catch (SQLException e) {
            throw new IllegalStateException("could not write to the store: " + e.getMessage(), e);
        }
    }

    /** Entries of {@code function} with seq greater than {@code after}, oldest first. */
    public List<LogEntry> readLogs(String function, long after, int limit) {
        return jdbi.withHandle(h -> h.createQuery("""
                        SELECT * FROM logs WHERE function_name = :f AND seq > :after ORDER BY seq LIMIT :limit""")
                .bind("f", function).bind("after", after).bind("limit", limit)
                .map((rs, ctx) -> logEntry(rs)).list());
    }

    /** The newest {@code limit} entries of one call, oldest first (the console's search by request id). */
    public List<LogEntry> logsOfRequest(String function, String requestId, int limit) {
        List<LogEntry> newestFirst = jdbi.withHandle(h -> h.createQuery("""
                        SELECT * FROM logs WHERE function_name = :f AND request_id = :r ORDER BY seq DESC LIMIT :limit""")
                .bind("f", function).bind("r", requestId).bind("limit", limit).map((rs, ctx) -> logEntry(rs)).list());
        return newestFirst.reversed();
    }

    /** The newest {@code limit} entries, oldest first (what `gale logs` shows by default). */
    public List<LogEntry> tailLogs(String function, int limit) {
        List<LogEntry> newestFirst = jdbi.withHandle(h -> h.createQuery("""
                        SELECT * FROM logs WHERE function_name = :f ORDER BY seq DESC LIMIT :limit""")
                .bind("f", function).bind("limit", limit).map((rs, ctx) -> logEntry(rs)).list());
        return newestFirst.reversed();
    }

    @Override
    public void appendInvocations(List<InvocationRecord> records) {
        if (records.isEmpty()) return;
        try {
            jdbi.useTransaction(h -> {
                try (PreparedStatement ps = h.getConnection().prepareStatement("""
                        INSERT INTO invocations (request_id, function_name, version, instance, status, outcome,
                                                 duration_ms, cold_start, memory_mb, time)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (request_id) DO NOTHING""")) {
                    for (InvocationRecord r : records) {
                        ps.setString(1, r.requestId());
                        ps.setString(2, r.function());
                        ps.setInt(3, r.version());
                        ps.setString(4, r.instance().orElse(null));
                        ps.setInt(5, r.status());
                        ps.setString(6, r.outcome().wire());
                        ps.setDouble(7, r.durationMs());
                        ps.setBoolean(8, r.coldStart());
                        if (r.memoryMb().isPresent()) ps.setInt(9, r.memoryMb().get()); else ps.setNull(9, java.sql.Types.INTEGER);
                        ps.setString(10, r.time().toString());
                        ps.addBatch();
                    }
                    ps.executeBatch();
                }
            });
        } catch (SQLException e) {
            throw new IllegalStateException("could not write to the store: " + e.getMessage(), e);
        }
    }

    /** When each function was last called, from its invocation records; functions never called are absent. */
    public Map<String, Instant> lastCalls() {
        return jdbi.withHandle(h -> h.createQuery("SELECT function_name, MAX(time) AS last FROM invocations GROUP BY function_name")
                .map((rs, ctx) -> Map.entry(rs.getString("function_name"), Instant.parse(rs.getString("last"))))
                .collect(java.util.stream.Collectors.toMap(Map.Entry::getKey, Map.Entry::getValue)));
    }

    /** Newest first. */
    public List<InvocationRecord> listInvocations(String function, int limit) {
        return jdbi.withHandle(h -> h.createQuery("""
                        SELECT * FROM invocations WHERE function_name = :f ORDER BY time DESC LIMIT :limit""")
                .bind("f", function).bind("limit", limit).map((rs, ctx) -> invocation(rs)).list());
    }

    public Optional<InvocationRecord> findInvocation(String requestId) {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM invocations WHERE request_id = :id")
                .bind("id", requestId).map((rs, ctx) -> invocation(rs)).findOne());
    }

    @Override
    public void close() {
        pool.close();
    }

    // ---- row mapping

    private static FunctionRow functionRow(ResultSet rs) throws SQLException {
        int active = rs.getInt("active_version");
        // wasNull() speaks of the last column read: asked after getString("name") it said "not null" for every row
        OptionalInt activeVersion = rs.wasNull() ? OptionalInt.empty() : OptionalInt.of(active);
        return new FunctionRow(rs.getString("name"), activeVersion,
                Instant.parse(rs.getString("created_at")), Instant.parse(rs.getString("updated_at")));
    }

    private static VersionRow versionRow(ResultSet rs) throws SQLException {
        return new VersionRow(rs.getString("function_name"), rs.getInt("version"),
                VersionState.valueOf(rs.getString("state")), Optional.ofNullable(rs.getString("reason")),
                rs.getString("config"), rs.getString("bundle_digest"), rs.getLong("bundle_bytes"),
                Instant.parse(rs.getString("created_at")), instant(rs, "ready_at"), instant(rs, "activated_at"),
                Optional.ofNullable(rs.getString("deploying_node")));
    }

    private static LogEntry logEntry(ResultSet rs) throws SQLException {
        return new LogEntry(rs.getLong("seq"), Instant.parse(rs.getString("time")), rs.getString("function_name"),
                rs.getInt("version"), Optional.ofNullable(rs.getString("instance")),
                Optional.ofNullable(rs.getString("request_id")), rs.getString("stream"), rs.getString("message"));
    }

    private static InvocationRecord invocation(ResultSet rs) throws SQLException {
        int memory = rs.getInt("memory_mb");
        Optional<Integer> memoryMb = rs.wasNull() ? Optional.empty() : Optional.of(memory);
        return new InvocationRecord(rs.getString("request_id"), rs.getString("function_name"), rs.getInt("version"),
                Optional.ofNullable(rs.getString("instance")), rs.getInt("status"),
                InvocationRecord.Outcome.valueOf(rs.getString("outcome").toUpperCase()), rs.getDouble("duration_ms"),
                rs.getBoolean("cold_start"), memoryMb, Instant.parse(rs.getString("time")));
    }

    private static Optional<Instant> instant(ResultSet rs, String column) throws SQLException {
        String s = rs.getString(column);
        return s == null ? Optional.empty() : Optional.of(Instant.parse(s));
    }
}
