package gale.state;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.Base64;
import java.util.Optional;

/**
 * The credential Gale hands each instance of a function (GALE_STATE_TOKEN): it names the
 * function and version and is signed with a key derived from the admin token, so it cannot be
 * forged or turned into the admin token, needs no storage, and holds across restarts. What it
 * may touch is decided when it is used: the version's own namespace and bucket (the function's
 * name) and the namespaces and buckets its config grants ({@code state-namespaces},
 * {@code blob-buckets}). A deleted function's tokens stop working with it.
 */
public final class StateTokens {

    private static final String PREFIX = "gst1.";
    private static final Base64.Encoder ENCODE = Base64.getUrlEncoder().withoutPadding();
    private static final Base64.Decoder DECODE = Base64.getUrlDecoder();

    /** Who a valid token belongs to. */
    public record Holder(String function, int version) {
    }

    private final byte[] key;

    private StateTokens(byte[] key) {
        this.key = key;
    }

    /** Tokens signed with a key derived from the admin token (never the admin token itself). */
    public static StateTokens derivedFrom(String adminToken) {
        return new StateTokens(hmac("gale state tokens v1".getBytes(StandardCharsets.UTF_8),
                adminToken.getBytes(StandardCharsets.UTF_8)));
    }

    public String mint(String function, int version) {
        byte[] claim = (function + "/" + version).getBytes(StandardCharsets.UTF_8);
        return PREFIX + ENCODE.encodeToString(claim) + "." + ENCODE.encodeToString(hmac(key, claim));
    }

    /** The holder of a token this server minted; empty for anything else. Constant-time in the signature. */
    public Optional<Holder> verify(String token) {
        if (token == null || !token.startsWith(PREFIX)) return Optional.empty();
        String[] parts = token.substring(PREFIX.length()).split("\\.", -1);
        if (parts.length != 2) return Optional.empty();
        try {
            byte[] claim = DECODE.decode(parts[0]);
            if (!MessageDigest.isEqual(DECODE.decode(parts[1]), hmac(key, claim))) return Optional.empty();
            String text = new String(claim, StandardCharsets.UTF_8);
            int slash = text.lastIndexOf('/');
            return Optional.of(new Holder(text.substring(0, slash), Integer.parseInt(text.substring(slash + 1))));
        } catch (IllegalArgumentException | IndexOutOfBoundsException e) { // not base64, or not NAME/VERSION
            return Optional.empty();
        }
    }

    private static byte[] hmac(byte[] key, byte[] data) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            return mac.doFinal(data);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is missing from this JVM", e);
        }
    }
}
