package gale.gateway;

import io.javalin.http.Context;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

/** The admin token check, shared by the admin API and private functions. Constant-time. */
public final class Auth {

    private final byte[] token;

    public Auth(String adminToken) {
        this.token = adminToken.getBytes(StandardCharsets.UTF_8);
    }

    public boolean isAdmin(Context ctx) {
        return isAdmin(ctx.header("Authorization"));
    }

    /** True when an Authorization header value (null when absent) carries the admin token. */
    public boolean isAdmin(String header) {
        if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7)) return false;
        byte[] given = header.substring(7).trim().getBytes(StandardCharsets.UTF_8);
        return MessageDigest.isEqual(given, token);
    }
}
