package gale.state;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.regex.Pattern;

/** What a namespace, a key, a value and a transaction may be (docs/state.md#limits). */
public final class StateLimits {

    public static final int MAX_KEY_BYTES = 512;
    public static final int MAX_VALUE_BYTES = 1 << 20;
    /** Checks plus ops of one transaction: "small multi-key transactions". */
    public static final int MAX_TRANSACTION_ITEMS = 64;
    public static final int MAX_LIST_LIMIT = 1000;
    public static final Duration MAX_TTL = Duration.ofDays(3650);
    public static final String NAMESPACE_RULE = "a namespace is 1-63 lowercase letters, digits, '.', '_' and '-', "
            + "starting with a letter or digit (a function's own namespace is its name)";

    private static final Pattern NAMESPACE = Pattern.compile("[a-z0-9][a-z0-9._-]{0,62}");

    private StateLimits() {
    }

    public static void checkNamespace(String namespace) {
        if (namespace.isEmpty()) throw StateRefused.invalid("the namespace is empty; " + NAMESPACE_RULE);
        if (!NAMESPACE.matcher(namespace).matches()) {
            throw StateRefused.invalid("'" + preview(namespace) + "' is not a namespace: " + NAMESPACE_RULE);
        }
    }

    public static void checkKey(String key) {
        if (key.isEmpty()) throw StateRefused.invalid("the key is empty; a key is 1-" + MAX_KEY_BYTES + " bytes of UTF-8 text");
        int bytes = key.getBytes(StandardCharsets.UTF_8).length;
        if (bytes > MAX_KEY_BYTES) {
            throw StateRefused.invalid("the key '" + preview(key) + "' is " + bytes + " bytes; keys are at most " + MAX_KEY_BYTES
                    + " bytes: keep long data in the value");
        }
        for (int i = 0; i < key.length(); i++) {
            char c = key.charAt(i);
            if (c < 0x20 || c == 0x7f) {
                throw StateRefused.invalid("the key '" + preview(key) + "' holds a control character (code " + (int) c
                        + " at " + i + "); keys are printable text");
            }
            if (Character.isSurrogate(c) && !(Character.isHighSurrogate(c) && i + 1 < key.length()
                    && Character.isLowSurrogate(key.charAt(++i)))) {
                throw StateRefused.invalid("the key '" + preview(key) + "' is not valid UTF-8 text");
            }
        }
    }

    public static void checkValueSize(String key, int bytes) {
        if (bytes > MAX_VALUE_BYTES) {
            throw StateRefused.tooLarge("the value of '" + preview(key) + "' is " + bytes + " bytes of JSON; a value is at most "
                    + MAX_VALUE_BYTES + " bytes: keep large data in a blob and store its name here");
        }
    }

    public static void checkTtl(Duration ttl) {
        if (ttl.toMillis() < 1 || ttl.compareTo(MAX_TTL) > 0) {
            throw StateRefused.invalid("ttl must be between 1ms and 3650 days, got " + gale.config.Durations.format(ttl));
        }
    }

    /** The start of a long text, for messages. */
    static String preview(String text) {
        return text.length() <= 60 ? text : text.substring(0, 57) + "...";
    }
}
