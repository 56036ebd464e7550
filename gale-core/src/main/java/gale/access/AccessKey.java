package gale.access;

import java.time.Instant;
import java.util.Optional;

/**
 * A named access key as stored: never the key itself, only its SHA-256 (docs/access.md says why a
 * fast hash is right for a random key).
 *
 * @param id        the key's public part, {@code gk_} and its first 8 characters: shown in listings and messages
 * @param name      unique among keys that are not revoked
 * @param hash      SHA-256 of the whole key, hex
 * @param createdBy who created it: {@code admin-token} or {@code key:NAME}
 */
public record AccessKey(String id, String name, String hash, Scopes scopes, Optional<RateLimit> rate, Instant createdAt,
                        String createdBy, Optional<Instant> expiresAt, Optional<Instant> lastUsedAt,
                        Optional<Instant> revokedAt) {

    public boolean isRevoked() {
        return revokedAt.isPresent();
    }

    public boolean isExpired(Instant now) {
        return expiresAt.isPresent() && !expiresAt.get().isAfter(now);
    }

    /** Neither revoked nor expired. */
    public boolean isLive(Instant now) {
        return !isRevoked() && !isExpired(now);
    }

    /** How messages name it: {@code 'ci-deploy' (gk_3kF9a2Qx)}. */
    public String label() {
        return "'" + name + "' (" + id + ")";
    }

    AccessKey revoked(Instant at) {
        return new AccessKey(id, name, hash, scopes, rate, createdAt, createdBy, expiresAt, lastUsedAt, Optional.of(at));
    }

    AccessKey lastUsed(Optional<Instant> at) {
        return new AccessKey(id, name, hash, scopes, rate, createdAt, createdBy, expiresAt, at, revokedAt);
    }
}
