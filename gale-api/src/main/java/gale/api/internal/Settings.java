package gale.api.internal;

import java.util.Map;

/**
 * The GALE_* environment of an instance (docs/protocol.md, "Connection"), read once.
 *
 * @param socket      GALE_SOCKET, the UNIX socket to connect to
 * @param instanceId  GALE_INSTANCE_ID, sent back in HELLO
 * @param nonce       GALE_INSTANCE_NONCE, sent back in HELLO
 * @param entryPoint  GALE_ENTRY_POINT, the class implementing HttpFunction
 * @param concurrency GALE_CONCURRENCY, invocations run at once
 * @param warmUp      GALE_WARM_UP=1: a spare JVM, which links what a first call needs before READY ({@link LinkageWarmUp})
 */
record Settings(String socket, String instanceId, String nonce, String entryPoint, int concurrency, boolean warmUp) {

    Settings(String socket, String instanceId, String nonce, String entryPoint, int concurrency) {
        this(socket, instanceId, nonce, entryPoint, concurrency, false);
    }

    static Settings from(Map<String, String> env) {
        return new Settings(
                env.getOrDefault("GALE_SOCKET", ""),
                env.getOrDefault("GALE_INSTANCE_ID", ""),
                env.getOrDefault("GALE_INSTANCE_NONCE", ""),
                env.getOrDefault("GALE_ENTRY_POINT", "").trim(),
                Math.max(1, parseInt(env.get("GALE_CONCURRENCY"), 1)),
                "1".equals(env.get("GALE_WARM_UP")));
    }

    Settings withSocket(String path) {
        return new Settings(path, instanceId, nonce, entryPoint, concurrency, warmUp);
    }

    private static int parseInt(String text, int fallback) {
        if (text == null) return fallback;
        try {
            return Integer.parseInt(text.trim());
        } catch (NumberFormatException e) {
            return fallback;
        }
    }
}
