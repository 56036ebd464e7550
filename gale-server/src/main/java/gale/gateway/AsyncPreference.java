package gale.gateway;

import java.util.Locale;
import java.util.Set;

/**
 * Reads a {@code Prefer} header (RFC 7240): {@code respond-async} makes a call async (202 at once, run
 * in the background). The other registered preferences are allowed and ignored; anything else is
 * refused, so a typo such as {@code respond-asynch} is not silently run as a synchronous call.
 */
final class AsyncPreference {

    static final String HEADER = "Prefer";
    static final String RESPOND_ASYNC = "respond-async";
    /** Preferences registered with IANA that Gale accepts and does not act on. */
    private static final Set<String> IGNORED = Set.of("return", "wait", "handling");

    private AsyncPreference() {
    }

    /** A Prefer header Gale cannot take; the message says what to send instead. */
    static final class Refused extends IllegalArgumentException {
        Refused(String message) {
            super(message, null);
        }
    }

    /**
     * True when {@code header} (null when absent) asks for an async call.
     *
     * @throws Refused for a preference Gale does not know, or respond-async with a value
     */
    static boolean respondAsync(String header) {
        if (header == null) return false;
        boolean async = false;
        for (String preference : header.split(",")) {
            String token = preference.split(";", 2)[0].trim();
            if (token.isEmpty()) continue;
            int eq = token.indexOf('=');
            String name = (eq < 0 ? token : token.substring(0, eq)).trim().toLowerCase(Locale.ROOT);
            if (name.equals(RESPOND_ASYNC)) {
                if (eq >= 0) throw new Refused("Prefer: respond-async takes no value, got '" + shown(token)
                        + "'; send 'Prefer: respond-async' for an async call (202 with an invocation id)");
                async = true;
            } else if (!IGNORED.contains(name)) {
                throw new Refused("Prefer: unknown preference '" + shown(token) + "'; send 'Prefer: respond-async' "
                        + "for an async call (202 with an invocation id), or no Prefer header for a normal call");
            }
        }
        return async;
    }

    private static String shown(String s) {
        String printable = s.replaceAll("[^\\x20-\\x7e]", "?");
        return printable.length() > 60 ? printable.substring(0, 60) + "..." : printable;
    }
}
