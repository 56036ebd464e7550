package gale.runtime;

import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Names for the processes of a version: {@code hello-3-1a2b}, unique within a server run
 * (a counter) and unlikely to repeat across runs (a random suffix), so log lines, cgroups and
 * scratch folders of one run are never mistaken for another's. Nonces are what a process
 * proves it is Gale's with when it connects to the instance socket.
 */
public final class InstanceIds {

    private static final SecureRandom RANDOM = new SecureRandom();
    private static final AtomicLong COUNTER = new AtomicLong();

    private InstanceIds() {
    }

    /** A new id for a process of {@code spec}'s version, e.g. {@code hello-3-1a2b9f}; {@code role} is a prefix such as "zygote". */
    public static String next(InstanceSpec spec, String role) {
        String counter = Long.toString(COUNTER.incrementAndGet(), 36);
        String id = spec.function() + "-" + spec.version() + "-" + counter + HexFormat.of().formatHex(randomBytes(2));
        return role.isEmpty() ? id : role + "-" + id;
    }

    /** A new instance id for {@code spec}'s version. */
    public static String next(InstanceSpec spec) {
        return next(spec, "");
    }

    /** A secret of 128 random bits, hex-encoded. */
    public static String nonce() {
        return HexFormat.of().formatHex(randomBytes(16));
    }

    private static byte[] randomBytes(int n) {
        byte[] b = new byte[n];
        RANDOM.nextBytes(b);
        return b;
    }
}
