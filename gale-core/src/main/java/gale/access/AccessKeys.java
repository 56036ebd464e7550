package gale.access;

import gale.registry.FunctionName;
import gale.store.KeyStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Named access keys (docs/access.md): created with scopes, an optional rate limit and expiry, shown
 * once, stored as a SHA-256, revoked at once. All keys are held in memory, so checking one on the
 * gateway's hot path is a hash and a map lookup, never a store read (on a shared store, {@link #refresh} takes
 * what other nodes created and revoked); when a key was last used is
 * noted in memory (at most once a second per key) and written in one batch every
 * {@link #FLUSH_EVERY}, not per call.
 */
public final class AccessKeys implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(AccessKeys.class);
    public static final String PREFIX = "gk_";
    public static final String FORMAT = "gk_ and 40 letters and digits";
    public static final String NAME_RULE = "a key name is 1-63 lowercase letters, digits and dashes, starting with a letter "
            + "and not ending with a dash (like ci-deploy)";
    private static final int ID_CHARS = 8;
    private static final int SECRET_CHARS = 32;
    private static final int KEY_CHARS = PREFIX.length() + ID_CHARS + SECRET_CHARS;
    private static final char[] ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".toCharArray();
    static final Duration FLUSH_EVERY = Duration.ofSeconds(10);

    /** A new key: the key itself exists only here, for the one answer that shows it. */
    public record Created(AccessKey key, String secret) {
    }

    /** A request the keys cannot take; the message says what to do. */
    public static final class Refused extends RuntimeException {
        public final int status;

        Refused(int status, String message) {
            super(message);
            this.status = status;
        }
    }

    /** What a presented key turned out to be. */
    public sealed interface Check {
        record Valid(Held key) implements Check {
        }

        record Invalid(String message) implements Check {
        }
    }

    /** A key in memory, with its rate limit's bucket and when it was last used. */
    public static final class Held {
        private volatile AccessKey key;
        private final byte[] hash;
        private final TokenBucket bucket; // null without a rate limit
        private volatile long lastUsedMillis;
        private long savedMillis; // guarded by the flush: what the store has

        Held(AccessKey key) {
            this.key = key;
            this.hash = HexFormat.of().parseHex(key.hash());
            this.bucket = key.rate().map(r -> new TokenBucket(r, System.nanoTime())).orElse(null);
            this.lastUsedMillis = key.lastUsedAt().map(Instant::toEpochMilli).orElse(0L);
            this.savedMillis = lastUsedMillis;
        }

        public AccessKey key() {
            return key;
        }

        /** Takes a request from the key's rate limit: 0 when it may go ahead, else nanoseconds until it may. */
        public long admit(long nowNanos) {
            return bucket == null ? 0 : bucket.take(nowNanos);
        }

        /** Notes a use; a volatile write at most once a second, so busy keys do not contend on it. */
        public void touch(long nowMillis) {
            if (nowMillis - lastUsedMillis >= 1000) lastUsedMillis = nowMillis;
        }

        private AccessKey withLastUsed() {
            long used = lastUsedMillis;
            return key.lastUsed(used == 0 ? Optional.empty() : Optional.of(Instant.ofEpochMilli(used)));
        }
    }

    private final KeyStore store;
    private final Clock clock;
    private final Map<String, Held> byId = new ConcurrentHashMap<>();
    /** Creations and revocations, one at a time: a name is unique among live keys. */
    private final ReentrantLock changes = new ReentrantLock();
    private final ReentrantLock flushing = new ReentrantLock();
    private SecureRandom random;
    private ScheduledExecutorService flusher;

    public AccessKeys(KeyStore store, Clock clock) {
        this.store = store;
        this.clock = clock;
    }

    /** Loads every key and starts writing last-used times. */
    public void start() {
        for (AccessKey key : store.all()) byId.put(key.id(), new Held(key));
        try {
            // DRBG reads the system's entropy once, here on a platform thread; later keys are made without file reads.
            random = SecureRandom.getInstance("DRBG");
        } catch (NoSuchAlgorithmException e) {
            random = new SecureRandom();
        }
        random.nextBytes(new byte[16]);
        flusher = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon().name("gale-key-last-used").factory());
        flusher.scheduleWithFixedDelay(this::flushQuietly, FLUSH_EVERY.toMillis(), FLUSH_EVERY.toMillis(), TimeUnit.MILLISECONDS);
    }

    /**
     * Takes the keys another node of a shared store created or revoked (docs/postgresql.md): a key created there is
     * accepted here, one revoked there is refused here from now on.
     */
    public void refresh() {
        changes.lock();
        try {
            for (AccessKey stored : store.all()) {
                Held held = byId.get(stored.id());
                if (held == null) {
                    byId.put(stored.id(), new Held(stored));
                } else if (stored.isRevoked() && !held.key.isRevoked()) {
                    held.key = held.key.revoked(stored.revokedAt().get());
                }
            }
        } finally {
            changes.unlock();
        }
    }

    /**
     * Creates a key; the answer holds the key itself, which is not kept.
     *
     * @throws Refused 400 for a bad name or an expiry that passed, 409 for a name a live key has
     */
    public Created create(String name, Scopes scopes, Optional<RateLimit> rate, Optional<Instant> expiresAt, String createdBy) {
        if (!FunctionName.isValid(name)) throw new Refused(400, "'" + FunctionName.shown(name) + "' is not a key name: " + NAME_RULE);
        Instant now = clock.instant().truncatedTo(ChronoUnit.MILLIS); // as stored
        if (expiresAt.isPresent() && !expiresAt.get().isAfter(now)) {
            throw new Refused(400, "key '" + name + "' would expire at " + expiresAt.get() + ", which is not in the future; "
                    + "give --expires as a duration from now (30d, 12h) or a later date");
        }
        changes.lock();
        try {
            Optional<Held> live = live(name);
            if (live.isPresent()) {
                throw new Refused(409, "a key named '" + name + "' exists (" + live.get().key.id() + "); revoke it first "
                        + "(gale keys revoke " + name + ") or choose another name");
            }
            String secret;
            String id;
            do {
                secret = PREFIX + randomChars(ID_CHARS + SECRET_CHARS);
                id = secret.substring(0, PREFIX.length() + ID_CHARS);
            } while (byId.containsKey(id));
            AccessKey key = new AccessKey(id, name, HexFormat.of().formatHex(sha256(secret)), scopes, rate, now, createdBy,
                    expiresAt, Optional.empty(), Optional.empty());
            store.insert(key);
            byId.put(id, new Held(key));
            return new Created(key, secret);
        } finally {
            changes.unlock();
        }
    }

    /**
     * Revokes the live key with this name (or id): from the next request on, it is refused.
     *
     * @return the revoked key; empty when no live key has that name or id
     */
    public Optional<AccessKey> revoke(String nameOrId) {
        changes.lock();
        try {
            Optional<Held> held = live(nameOrId).or(() -> Optional.ofNullable(byId.get(nameOrId)).filter(h -> !h.key.isRevoked()));
            if (held.isEmpty()) return Optional.empty();
            Instant now = clock.instant().truncatedTo(ChronoUnit.MILLIS);
            store.revoke(held.get().key.id(), now);
            held.get().key = held.get().key.revoked(now);
            return Optional.of(held.get().withLastUsed());
        } finally {
            changes.unlock();
        }
    }

    /** Keys by name, each with when it was last used; revoked ones only when asked for. */
    public List<AccessKey> list(boolean withRevoked) {
        return byId.values().stream().map(Held::withLastUsed).filter(k -> withRevoked || !k.isRevoked())
                .sorted(Comparator.comparing(AccessKey::name).thenComparing(AccessKey::createdAt)).toList();
    }

    /** True when {@code credential} is meant as an access key (it has the prefix), whether valid or not. */
    public static boolean looksLikeKey(String credential) {
        return credential != null && credential.startsWith(PREFIX);
    }

    /**
     * Checks a presented key: its form, that it was created here, and that it is neither revoked nor expired.
     * The secret part is compared in constant time, by its hash.
     */
    public Check check(String presented) {
        if (presented.length() != KEY_CHARS || !presented.startsWith(PREFIX) || !alphanumeric(presented, PREFIX.length())) {
            return new Check.Invalid("that is not an access key: a key is " + FORMAT + " (" + presented.length()
                    + " characters arrived); send it whole, as `gale keys create` printed it");
        }
        String id = presented.substring(0, PREFIX.length() + ID_CHARS);
        Held held = byId.get(id);
        if (held == null || !MessageDigest.isEqual(held.hash, sha256(presented))) {
            return new Check.Invalid("unknown access key " + id + ": it was not created on this server (or was mistyped); "
                    + "gale keys ls lists the keys");
        }
        AccessKey key = held.key;
        if (key.isRevoked()) {
            return new Check.Invalid("access key " + key.label() + " was revoked at " + key.revokedAt().get()
                    + "; create a new one with gale keys create");
        }
        if (key.isExpired(clock.instant())) {
            return new Check.Invalid("access key " + key.label() + " expired at " + key.expiresAt().get()
                    + "; create a new one with gale keys create");
        }
        return new Check.Valid(held);
    }

    /** Writes the last-used times noted since the last write, and stops the writer. */
    @Override
    public void close() {
        if (flusher != null) flusher.shutdownNow();
        flushQuietly();
    }

    /** Writes the last-used times noted since the last write. */
    void flush() {
        flushing.lock();
        try {
            Map<String, Long> changed = new HashMap<>();
            for (Held held : byId.values()) {
                long used = held.lastUsedMillis;
                if (used > held.savedMillis) changed.put(held.key.id(), used);
            }
            store.saveLastUsed(changed);
            for (Held held : byId.values()) {
                Long saved = changed.get(held.key.id());
                if (saved != null) held.savedMillis = saved;
            }
        } finally {
            flushing.unlock();
        }
    }

    private void flushQuietly() {
        try {
            flush();
        } catch (RuntimeException e) {
            LOG.warn("could not write when access keys were last used (tried again in {}s): {}", FLUSH_EVERY.toSeconds(), e.getMessage());
        }
    }

    private Optional<Held> live(String name) {
        return byId.values().stream().filter(h -> h.key.name().equals(name) && !h.key.isRevoked()).findFirst();
    }

    private String randomChars(int n) {
        char[] out = new char[n];
        for (int i = 0; i < n; i++) out[i] = ALPHABET[random.nextInt(ALPHABET.length)];
        return new String(out);
    }

    private static boolean alphanumeric(String s, int from) {
        for (int i = from; i < s.length(); i++) {
            char c = s.charAt(i);
            if (!(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z')) return false;
        }
        return true;
    }

    private static byte[] sha256(String key) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.US_ASCII));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
    }
}
