package gale.blob;

import gale.triggers.Change;
import gale.triggers.Outbox;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Buckets of keys whose versions (v1, v2, ...) name content-addressed bytes in a {@link BlobStore},
 * and aliases that name one version or split between two by weight (docs/blobs.md). Metadata is in
 * the store; bytes stream to and from files and are never held in memory.
 *
 * <p>Invariants: a version row's digest has its file (the file is kept before the row is written,
 * and deleted only after the last row naming it, both under {@link #writes}); version numbers of a key
 * only grow and are never reused; an alias names only versions that exist (deleting one an alias names
 * is refused). Reads go to the database directly.
 */
public final class BlobCatalog {

    private static final Logger LOG = LoggerFactory.getLogger(BlobCatalog.class);
    public static final int MAX_LIST_LIMIT = 1000;
    public static final int MAX_METADATA_BYTES = 8 * 1024;
    public static final String DEFAULT_CONTENT_TYPE = "application/octet-stream";
    /** Most calls one report may add to a version's count. */
    public static final long MAX_REPORTED_CALLS = 1_000_000_000L;

    private final Jdbi jdbi;
    private final BlobStore bytes;
    private final Clock clock;
    /** One writer: a put, a delete or an alias change at a time, so the digest's file and its rows agree. */
    private final ReentrantLock writes = new ReentrantLock();
    private volatile Outbox outbox = Outbox.NONE;

    public BlobCatalog(Jdbi jdbi, BlobStore bytes, Clock clock) {
        this.jdbi = jdbi;
        this.bytes = bytes;
        this.clock = clock;
    }

    /** From now on every new version and delete reports itself to {@code outbox} in its own transaction (triggers). */
    public void reportTo(Outbox outbox) {
        this.outbox = outbox;
    }

    /** Records the change in the write's transaction when a trigger follows its bucket; true when it did. */
    private boolean report(Handle h, BlobVersion v, String kind, long now) {
        if (!outbox.follows("blob", v.bucket())) return false;
        try {
            outbox.record(h.getConnection(), List.of(new Change.Blob(v.bucket(), v.key(), kind, v.version(), v.digest(), v.bytes(),
                    v.contentType(), v.metadata(), v.createdAt().toEpochMilli())), now);
        } catch (SQLException e) { // the write's transaction rolls back with it: no write without its events
            throw new IllegalStateException("could not store the trigger events of " + v.bucket() + "/" + v.key() + ": " + e.getMessage(), e);
        }
        return true;
    }

    /** What a put did: the version now latest, and whether it is new (the same bytes again make none). */
    public record Put(BlobVersion version, boolean created) {
    }

    /**
     * Streams {@code in} into the store as the key's next version, unless the bytes equal the latest
     * version's (then that one is answered). Over {@code maxBytes}: refused, having kept nothing.
     */
    public Put put(String bucket, String key, InputStream in, long maxBytes, Optional<String> contentType,
                   Optional<String> metadata) throws IOException {
        BlobNames.checkBucket(bucket);
        BlobNames.checkKey(key);
        metadata.ifPresent(m -> {
            if (m.getBytes(StandardCharsets.UTF_8).length > MAX_METADATA_BYTES) {
                throw BlobRefused.invalid("the metadata is over " + MAX_METADATA_BYTES + " bytes; keep large data in a blob of its own");
            }
        });
        String type = contentType.filter(t -> !t.isBlank()).orElse(DEFAULT_CONTENT_TYPE);
        if (type.length() > 255) throw BlobRefused.invalid("the content type is over 255 characters");
        try (BlobStore.Incoming incoming = bytes.receive(in, maxBytes)) {
            BlobStore.Blob blob = incoming.blob();
            writes.lock();
            try {
                Optional<BlobVersion> latest = latest(bucket, key);
                if (latest.isPresent() && latest.get().digest().equals(blob.digest())) return new Put(latest.get(), false);
                incoming.keep();
                long now = clock.millis();
                boolean[] reported = {false};
                BlobVersion created = jdbi.inTransaction(h -> {
                    int last = h.createQuery("SELECT last_version FROM blob_keys WHERE bucket = :b AND blob_key = :k")
                            .bind("b", bucket).bind("k", key).mapTo(Integer.class).findOne().orElse(0);
                    int version = last + 1;
                    h.createUpdate("""
                                    INSERT INTO blob_keys (bucket, blob_key, last_version) VALUES (:b, :k, :v)
                                    ON CONFLICT (bucket, blob_key) DO UPDATE SET last_version = excluded.last_version""")
                            .bind("b", bucket).bind("k", key).bind("v", version).execute();
                    h.createUpdate("""
                                    INSERT INTO blob_versions (bucket, blob_key, version, digest, bytes, content_type, metadata, created_at)
                                    VALUES (:b, :k, :v, :d, :n, :t, :m, :at)""")
                            .bind("b", bucket).bind("k", key).bind("v", version).bind("d", blob.digest()).bind("n", blob.bytes())
                            .bind("t", type).bind("m", metadata.orElse(null)).bind("at", now).execute();
                    BlobVersion v = new BlobVersion(bucket, key, version, blob.digest(), blob.bytes(), type, metadata, Instant.ofEpochMilli(now));
                    reported[0] = report(h, v, "finalize", now);
                    return v;
                });
                if (reported[0]) outbox.committed();
                bytes.publish(blob.digest()); // again, now the row names it: a delete of the same bytes at another node may have raced it
                return new Put(created, true);
            } finally {
                writes.unlock();
            }
        } catch (BlobStore.TooLargeException e) {
            throw BlobRefused.tooLarge("the blob " + bucket + "/" + key + " is over this server's limit of " + maxBytes
                    + " bytes; split it, or start the server with a larger --max-blob-size");
        }
    }

    /** The file holding a version's bytes (it exists while the version does), fetched first if another node stored them. */
    public Path path(BlobVersion version) throws IOException {
        return bytes.fetch(version.digest());
    }

    public Optional<BlobVersion> latest(String bucket, String key) {
        return jdbi.withHandle(h -> h.createQuery("""
                        SELECT * FROM blob_versions WHERE bucket = :b AND blob_key = :k ORDER BY version DESC LIMIT 1""")
                .bind("b", bucket).bind("k", key).map((rs, ctx) -> version(rs)).findOne());
    }

    public Optional<BlobVersion> version(String bucket, String key, int version) {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM blob_versions WHERE bucket = :b AND blob_key = :k AND version = :v")
                .bind("b", bucket).bind("k", key).bind("v", version).map((rs, ctx) -> version(rs)).findOne());
    }

    /** Every version of a key, newest first. */
    public List<BlobVersion> versions(String bucket, String key) {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM blob_versions WHERE bucket = :b AND blob_key = :k ORDER BY version DESC")
                .bind("b", bucket).bind("k", key).map((rs, ctx) -> version(rs)).list());
    }

    /** A page of keys (each as its latest version) that start with {@code prefix}, in key order, after {@code after}. */
    public record Page(List<BlobVersion> keys, Optional<String> next) {
    }

    public Page list(String bucket, String prefix, Optional<String> after, int limit) {
        BlobNames.checkBucket(bucket);
        if (limit < 1 || limit > MAX_LIST_LIMIT) throw BlobRefused.invalid("limit must be between 1 and " + MAX_LIST_LIMIT + ", got " + limit);
        // Keys that start with the prefix are contiguous in key order from the prefix on: no LIKE (and its escapes).
        String from = after.filter(a -> a.compareTo(prefix) >= 0).orElse(prefix);
        String op = after.isPresent() && from.equals(after.get()) ? ">" : ">=";
        List<BlobVersion> rows = jdbi.withHandle(h -> h.createQuery("SELECT * FROM blob_versions v WHERE v.bucket = :b AND v.blob_key "
                        + op + " :from AND v.version = (SELECT MAX(w.version) FROM blob_versions w WHERE w.bucket = v.bucket "
                        + "AND w.blob_key = v.blob_key) ORDER BY v.blob_key LIMIT :n")
                .bind("b", bucket).bind("from", from).bind("n", limit + 1).map((rs, ctx) -> version(rs)).list());
        List<BlobVersion> out = new ArrayList<>();
        for (BlobVersion v : rows) {
            if (!v.key().startsWith(prefix)) break;
            out.add(v);
        }
        if (out.size() <= limit) return new Page(out, Optional.empty());
        List<BlobVersion> page = out.subList(0, limit);
        return new Page(List.copyOf(page), Optional.of(page.getLast().key()));
    }

    // ---- aliases

    /**
     * Points the alias at one version (one target of weight 100) or splits it between two whose weights
     * add up to 100. The versions must exist. Counts of earlier targets are kept.
     */
    public BlobAlias setAlias(String bucket, String key, String alias, List<BlobAlias.Target> targets) {
        BlobNames.checkBucket(bucket);
        BlobNames.checkKey(key);
        BlobNames.checkAlias(alias);
        checkTargets(targets);
        writes.lock();
        try {
            for (BlobAlias.Target t : targets) {
                if (version(bucket, key, t.version()).isEmpty()) {
                    throw BlobRefused.notFound(bucket + "/" + key + " has no version " + t.version() + " (its versions: "
                            + versionNumbers(bucket, key) + "); put the bytes first, then point the alias at the version the put answered");
                }
            }
            BlobAlias.Target a = targets.getFirst();
            Optional<BlobAlias.Target> b = targets.size() > 1 ? Optional.of(targets.get(1)) : Optional.empty();
            jdbi.useHandle(h -> h.createUpdate("""
                            INSERT INTO blob_aliases (bucket, blob_key, alias, version_a, weight_a, version_b, weight_b, updated_at)
                            VALUES (:bucket, :k, :alias, :va, :wa, :vb, :wb, :at)
                            ON CONFLICT (bucket, blob_key, alias) DO UPDATE SET version_a = excluded.version_a,
                                weight_a = excluded.weight_a, version_b = excluded.version_b, weight_b = excluded.weight_b,
                                updated_at = excluded.updated_at""")
                    .bind("bucket", bucket).bind("k", key).bind("alias", alias).bind("va", a.version()).bind("wa", a.weight())
                    .bind("vb", b.map(BlobAlias.Target::version).orElse(null)).bind("wb", b.map(BlobAlias.Target::weight).orElse(0))
                    .bind("at", clock.millis()).execute());
        } finally {
            writes.unlock();
        }
        return alias(bucket, key, alias).orElseThrow();
    }

    private static void checkTargets(List<BlobAlias.Target> targets) {
        String shape = "an alias names one version ({\"version\": 7}) or splits between two whose weights add up to 100 "
                + "({\"split\": {\"7\": 90, \"8\": 10}})";
        if (targets.isEmpty() || targets.size() > 2) throw BlobRefused.invalid(shape + "; got " + targets.size() + " versions");
        int sum = 0;
        for (BlobAlias.Target t : targets) {
            if (t.version() < 1) throw BlobRefused.invalid("versions are numbered from 1, got " + t.version() + "; " + shape);
            if (t.weight() < 1 || t.weight() > 100) throw BlobRefused.invalid("a weight is 1-100, got " + t.weight() + " for version " + t.version() + "; " + shape);
            sum += t.weight();
        }
        if (sum != 100) throw BlobRefused.invalid("the weights add up to " + sum + ", not 100; " + shape);
        if (targets.size() == 2 && targets.get(0).version() == targets.get(1).version()) {
            throw BlobRefused.invalid("the split names version " + targets.get(0).version() + " twice; " + shape);
        }
    }

    public Optional<BlobAlias> alias(String bucket, String key, String alias) {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM blob_aliases WHERE bucket = :b AND blob_key = :k AND alias = :a")
                .bind("b", bucket).bind("k", key).bind("a", alias).map((rs, ctx) -> alias(h, rs)).findOne());
    }

    /** The aliases of a key, by name. */
    public List<BlobAlias> aliases(String bucket, String key) {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM blob_aliases WHERE bucket = :b AND blob_key = :k ORDER BY alias")
                .bind("b", bucket).bind("k", key).map((rs, ctx) -> alias(h, rs)).list());
    }

    public boolean deleteAlias(String bucket, String key, String alias) {
        writes.lock();
        try {
            return jdbi.withHandle(h -> h.createUpdate("DELETE FROM blob_aliases WHERE bucket = :b AND blob_key = :k AND alias = :a")
                    .bind("b", bucket).bind("k", key).bind("a", alias).execute()) > 0;
        } finally {
            writes.unlock();
        }
    }

    /**
     * The version the alias answers now: its one version, or for a split one picked by weight, the same
     * one every time for the same {@code sticky} id (random without one). When {@code count}, the pick
     * counts as a call of that version.
     */
    public BlobVersion resolve(String bucket, String key, String alias, Optional<String> sticky, boolean count) {
        BlobAlias a = alias(bucket, key, alias).orElseThrow(() -> BlobRefused.notFound(bucket + "/" + key + " has no alias '"
                + alias + "'" + aliasNames(bucket, key) + "; create it with `gale blobs alias " + bucket + "/" + key + " " + alias + " VERSION`"));
        int version = pick(a, sticky);
        if (count) {
            jdbi.useHandle(h -> h.createUpdate("""
                            INSERT INTO blob_alias_counts (bucket, blob_key, alias, version, calls) VALUES (:b, :k, :a, :v, 1)
                            ON CONFLICT (bucket, blob_key, alias, version) DO UPDATE SET calls = blob_alias_counts.calls + 1""")
                    .bind("b", bucket).bind("k", key).bind("a", alias).bind("v", version).execute());
        }
        // An alias names only versions that exist (deleting one it names is refused), so this is present.
        return version(bucket, key, version).orElseThrow(() -> BlobRefused.notFound(bucket + "/" + key + "@" + alias
                + " names version " + version + ", which was deleted"));
    }

    /**
     * Adds calls counted elsewhere (an instance that serves a split from memory reports which version
     * served how many calls) to the alias's counts. The alias must exist; a version it named a moment
     * ago still counts (the calls happened before the instance saw the alias move).
     */
    public BlobAlias addCalls(String bucket, String key, String alias, Map<Integer, Long> calls) {
        for (Map.Entry<Integer, Long> e : calls.entrySet()) {
            if (e.getKey() < 1) throw BlobRefused.invalid("versions are numbered from 1, got " + e.getKey());
            if (e.getValue() < 0 || e.getValue() > MAX_REPORTED_CALLS) {
                throw BlobRefused.invalid("calls are counts 0-" + MAX_REPORTED_CALLS + ", got " + e.getValue() + " for version " + e.getKey());
            }
        }
        BlobAlias a = alias(bucket, key, alias).orElseThrow(() -> BlobRefused.notFound(bucket + "/" + key + " has no alias '" + alias + "'"));
        jdbi.useTransaction(h -> {
            for (Map.Entry<Integer, Long> e : calls.entrySet()) {
                if (e.getValue() == 0) continue;
                h.createUpdate("""
                                INSERT INTO blob_alias_counts (bucket, blob_key, alias, version, calls) VALUES (:b, :k, :a, :v, :n)
                                ON CONFLICT (bucket, blob_key, alias, version) DO UPDATE SET calls = blob_alias_counts.calls + excluded.calls""")
                        .bind("b", bucket).bind("k", key).bind("a", alias).bind("v", e.getKey()).bind("n", e.getValue()).execute();
            }
        });
        return alias(bucket, key, alias).orElse(a);
    }

    /** The split's pick: a point 0-99 from the sticky id's hash (or at random), the first target below its weight. */
    static int pick(BlobAlias alias, Optional<String> sticky) {
        if (!alias.isSplit()) return alias.targets().getFirst().version();
        int point = sticky.map(BlobCatalog::point).orElseGet(() -> ThreadLocalRandom.current().nextInt(100));
        BlobAlias.Target first = alias.targets().getFirst();
        return point < first.weight() ? first.version() : alias.targets().get(1).version();
    }

    static int point(String sticky) {
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest(sticky.getBytes(StandardCharsets.UTF_8));
            long n = ((h[0] & 0xffL) << 24) | ((h[1] & 0xffL) << 16) | ((h[2] & 0xffL) << 8) | (h[3] & 0xffL);
            return (int) (n % 100);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
    }

    // ---- deletes

    /** Deletes one version; refused (409) while an alias names it. False if there was none. */
    public boolean deleteVersion(String bucket, String key, int version) {
        writes.lock();
        try {
            Optional<BlobVersion> v = version(bucket, key, version);
            if (v.isEmpty()) return false;
            List<String> naming = aliases(bucket, key).stream()
                    .filter(a -> a.targets().stream().anyMatch(t -> t.version() == version)).map(BlobAlias::alias).toList();
            if (!naming.isEmpty()) {
                throw BlobRefused.conflict(bucket + "/" + key + " v" + version + " is named by the alias(es) " + String.join(", ", naming)
                        + "; point them at another version first (gale blobs alias " + bucket + "/" + key + " " + naming.getFirst()
                        + " VERSION)");
            }
            boolean reported = jdbi.inTransaction(h -> {
                h.createUpdate("DELETE FROM blob_versions WHERE bucket = :b AND blob_key = :k AND version = :v")
                        .bind("b", bucket).bind("k", key).bind("v", version).execute();
                return report(h, v.get(), "delete", clock.millis());
            });
            if (reported) outbox.committed();
            deleteBytesIfUnused(v.get().digest());
            return true;
        } finally {
            writes.unlock();
        }
    }

    /** Deletes a key: every version, alias and count (its version numbers are still never reused). False if it had no version. */
    public boolean deleteKey(String bucket, String key) {
        writes.lock();
        try {
            List<BlobVersion> versions = versions(bucket, key);
            if (versions.isEmpty()) return false;
            boolean reported = jdbi.inTransaction(h -> {
                for (String table : List.of("blob_versions", "blob_aliases", "blob_alias_counts")) {
                    h.createUpdate("DELETE FROM " + table + " WHERE bucket = :b AND blob_key = :k").bind("b", bucket).bind("k", key).execute();
                }
                return report(h, versions.getFirst(), "delete", clock.millis()); // one event for the key, naming its latest version
            });
            if (reported) outbox.committed();
            versions.stream().map(BlobVersion::digest).distinct().forEach(this::deleteBytesIfUnused);
            return true;
        } finally {
            writes.unlock();
        }
    }

    private void deleteBytesIfUnused(String digest) {
        boolean used = jdbi.withHandle(h -> h.createQuery("SELECT COUNT(*) FROM blob_versions WHERE digest = :d")
                .bind("d", digest).mapTo(Long.class).one()) > 0;
        if (used) return;
        try {
            bytes.delete(digest);
        } catch (IOException e) {
            LOG.warn("could not delete the unused blob {}: {}", digest, e.toString());
        }
    }

    // ---- rows

    private List<Integer> versionNumbers(String bucket, String key) {
        return versions(bucket, key).stream().map(BlobVersion::version).toList();
    }

    private String aliasNames(String bucket, String key) {
        List<String> names = aliases(bucket, key).stream().map(BlobAlias::alias).toList();
        return names.isEmpty() ? " (it has none)" : " (its aliases: " + String.join(", ", names) + ")";
    }

    private static BlobVersion version(ResultSet rs) throws SQLException {
        return new BlobVersion(rs.getString("bucket"), rs.getString("blob_key"), rs.getInt("version"), rs.getString("digest"),
                rs.getLong("bytes"), rs.getString("content_type"), Optional.ofNullable(rs.getString("metadata")),
                Instant.ofEpochMilli(rs.getLong("created_at")));
    }

    private static BlobAlias alias(Handle h, ResultSet rs) throws SQLException {
        String bucket = rs.getString("bucket");
        String key = rs.getString("blob_key");
        String alias = rs.getString("alias");
        List<BlobAlias.Target> targets = new ArrayList<>();
        targets.add(new BlobAlias.Target(rs.getInt("version_a"), rs.getInt("weight_a")));
        int b = rs.getInt("version_b");
        if (!rs.wasNull()) targets.add(new BlobAlias.Target(b, rs.getInt("weight_b")));
        Instant updated = Instant.ofEpochMilli(rs.getLong("updated_at"));
        Map<Integer, Long> calls = new LinkedHashMap<>();
        h.createQuery("SELECT version, calls FROM blob_alias_counts WHERE bucket = :b AND blob_key = :k AND alias = :a ORDER BY version")
                .bind("b", bucket).bind("k", key).bind("a", alias)
                .map((r, c) -> Map.entry(r.getInt("version"), r.getLong("calls"))).forEach(e -> calls.put(e.getKey(), e.getValue()));
        return new BlobAlias(bucket, key, alias, targets, calls, updated);
    }
}
