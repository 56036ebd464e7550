package gale.store;

import gale.access.AccessKey;
import gale.access.RateLimit;
import gale.access.Scopes;
import org.jdbi.v3.core.Jdbi;
import org.jdbi.v3.core.statement.PreparedBatch;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Access keys as stored: hashes, never keys. Plain SQL PostgreSQL runs too. */
public final class KeyStore {

    private final Jdbi jdbi;

    KeyStore(Jdbi jdbi) {
        this.jdbi = jdbi;
    }

    public void insert(AccessKey key) {
        jdbi.useTransaction(h -> {
            h.createUpdate("""
                        INSERT INTO access_keys (id, name, key_hash, scopes, rate, rate_burst, created_at, created_by, expires_at)
                        VALUES (:id, :name, :hash, :scopes, :rate, :burst, :created, :by, :expires)""")
                .bind("id", key.id()).bind("name", key.name()).bind("hash", key.hash()).bind("scopes", key.scopes().toString())
                .bind("rate", key.rate().map(RateLimit::rate).orElse(null))
                .bind("burst", key.rate().map(RateLimit::burst).orElse(null))
                .bind("created", key.createdAt().toEpochMilli()).bind("by", key.createdBy())
                .bind("expires", key.expiresAt().map(Instant::toEpochMilli).orElse(null)).execute();
            StoreChanges.raise(h, StoreChanges.ACCESS_KEYS); // the other nodes of a shared store accept it too
        });
    }

    /** Every key, revoked ones included, oldest first. */
    public List<AccessKey> all() {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM access_keys ORDER BY created_at, id")
                .map((rs, ctx) -> row(rs)).list());
    }

    public void revoke(String id, Instant at) {
        jdbi.useTransaction(h -> {
            int revoked = h.createUpdate("UPDATE access_keys SET revoked_at = :at WHERE id = :id AND revoked_at IS NULL")
                    .bind("at", at.toEpochMilli()).bind("id", id).execute();
            if (revoked > 0) StoreChanges.raise(h, StoreChanges.ACCESS_KEYS); // and the other nodes refuse it too
        });
    }

    /** Stores when keys were last used: key id to epoch millis, in one transaction. */
    public void saveLastUsed(Map<String, Long> lastUsed) {
        if (lastUsed.isEmpty()) return;
        jdbi.useTransaction(h -> {
            PreparedBatch batch = h.prepareBatch("UPDATE access_keys SET last_used_at = :at WHERE id = :id");
            lastUsed.forEach((id, at) -> batch.bind("at", at).bind("id", id).add());
            batch.execute();
        });
    }

    private static AccessKey row(ResultSet rs) throws SQLException {
        String rate = rs.getString("rate");
        return new AccessKey(rs.getString("id"), rs.getString("name"), rs.getString("key_hash"),
                Scopes.parse(Arrays.asList(rs.getString("scopes"))),
                rate == null ? Optional.empty() : Optional.of(RateLimit.parse(rate, rs.getLong("rate_burst"))),
                Instant.ofEpochMilli(rs.getLong("created_at")), rs.getString("created_by"),
                instant(rs, "expires_at"), instant(rs, "last_used_at"), instant(rs, "revoked_at"));
    }

    static Optional<Instant> instant(ResultSet rs, String column) throws SQLException {
        long millis = rs.getLong(column);
        return rs.wasNull() ? Optional.empty() : Optional.of(Instant.ofEpochMilli(millis));
    }
}
