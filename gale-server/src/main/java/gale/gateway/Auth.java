package gale.gateway;

import gale.access.AccessKeys;
import gale.access.Scope;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Optional;

/**
 * Who sent a request, for the admin API and for calls to private and key-requiring functions: the admin
 * token (compared in constant time), an access key ({@link AccessKeys}), or neither. Also each key's
 * rate limit (429 with Retry-After) and its last use. docs/access.md.
 */
public final class Auth {

    /**
     * Where a call to a function may carry its access key instead of Authorization, for functions that
     * read Authorization themselves (a Flask app with its own bearer tokens behind a key). Calls only:
     * the admin API takes credentials in Authorization alone.
     */
    public static final String KEY_HEADER = "X-Gale-Key";
    private static final String BEARER = "Bearer ";

    /** A request Gale refuses before it reaches anything: 401, 403 or 429 (then after {@code retryAfterSeconds}). */
    public record Refusal(int status, String message, long retryAfterSeconds) {
    }

    private final byte[] token;
    private final AccessKeys keys;

    public Auth(String adminToken, AccessKeys keys) {
        this.token = adminToken.getBytes(StandardCharsets.UTF_8);
        this.keys = keys;
    }

    /** True when an Authorization header value (null when absent) carries the admin token. */
    public boolean isAdmin(String header) {
        if (header == null || !header.regionMatches(true, 0, BEARER, 0, BEARER.length())) return false;
        byte[] given = header.substring(BEARER.length()).trim().getBytes(StandardCharsets.UTF_8);
        return MessageDigest.isEqual(given, token);
    }

    /**
     * The caller of a request with these headers (each null when absent). The admin token counts in
     * Authorization only; an access key in {@link #KEY_HEADER} wins over Authorization, which then is
     * the function's own business.
     */
    public Caller caller(String authorization, String keyHeader) {
        if (isAdmin(authorization)) return Caller.ADMIN_TOKEN;
        String credential = keyHeader != null ? keyHeader.strip() : bearer(authorization);
        if (!AccessKeys.looksLikeKey(credential)) {
            if (keyHeader == null) return Caller.ANONYMOUS;
            return new Caller.Invalid(KEY_HEADER + " holds no access key: send a key (" + AccessKeys.FORMAT
                    + ") there, or the admin token as 'Authorization: Bearer ...'");
        }
        return switch (keys.check(credential)) {
            case AccessKeys.Check.Valid valid -> new Caller.Key(valid.key());
            case AccessKeys.Check.Invalid invalid -> new Caller.Invalid(invalid.message());
        };
    }

    /** True when an Authorization header value carries something meant as an access key: it never reaches a function. */
    static boolean carriesKey(String authorization) {
        return AccessKeys.looksLikeKey(bearer(authorization));
    }

    /**
     * Counts a request of a key against its rate limit and notes the key's use: empty when the request
     * may go ahead, else the 429 to answer. Other callers have no limit.
     */
    public Optional<Refusal> admit(Caller caller) {
        if (!(caller instanceof Caller.Key key)) return Optional.empty();
        long waitNanos = key.held().admit(System.nanoTime());
        if (waitNanos > 0) {
            long seconds = Math.max(1, (waitNanos + 999_999_999L) / 1_000_000_000L);
            var k = key.held().key();
            return Optional.of(new Refusal(429, "access key " + k.label() + " is over its rate limit of "
                    + k.rate().orElseThrow() + "; retry after " + seconds + "s (Retry-After), or create a key with a higher --rate",
                    seconds));
        }
        key.held().touch(System.currentTimeMillis());
        return Optional.empty();
    }

    /**
     * Why a call to {@code function}, private or deployed with --require-key, is refused; empty when it
     * may go ahead (then it was counted against the key's rate limit).
     */
    Optional<Refusal> refuseCall(String function, boolean requireKey, Caller caller) {
        return switch (caller) {
            case Caller.AdminToken a -> Optional.empty();
            case Caller.Invalid invalid -> Optional.of(new Refusal(401, invalid.message(), 0));
            case Caller.Anonymous a -> Optional.of(new Refusal(401, requireKey
                    ? "function '" + function + "' requires an access key: send 'Authorization: Bearer gk_...' or '"
                            + KEY_HEADER + ": gk_...' with a key that has scope invoke:" + function
                            + " (gale keys create NAME --scope invoke:" + function + ")"
                    : "function '" + function + "' is private: send 'Authorization: Bearer <admin token>' or an access key "
                            + "with scope invoke:" + function + " (gale keys create NAME --scope invoke:" + function
                            + "), or redeploy it with --allow-unauthenticated", 0));
            case Caller.Key key -> key.mayInvoke(function) ? admit(key)
                    : Optional.of(new Refusal(403, missingScope(key, "call function '" + function + "'", "invoke:" + function), 0));
        };
    }

    /** The 403 message for a key without the scope an action needs. */
    public static String missingScope(Caller.Key key, String action, String scope) {
        var k = key.held().key();
        return "access key " + k.label() + " may not " + action + ": that needs scope " + scope + " (the key has "
                + String.join(", ", k.scopes().wire()) + "); use a key with " + scope + " (gale keys create NAME --scope "
                + scope + ") or the admin token";
    }

    /** The 403 message for a key without {@code scope}. */
    public static String missingScope(Caller.Key key, String action, Scope scope) {
        return missingScope(key, action, scope.wire());
    }

    private static String bearer(String authorization) {
        if (authorization == null || !authorization.regionMatches(true, 0, BEARER, 0, BEARER.length())) return null;
        return authorization.substring(BEARER.length()).strip();
    }
}
