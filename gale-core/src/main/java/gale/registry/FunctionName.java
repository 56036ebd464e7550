package gale.registry;

import java.util.regex.Pattern;

/**
 * The one rule for function names: a DNS label (RFC 1035), so a name is the same in a URL
 * path, a host name, a file name and a log line, and never needs escaping.
 */
public final class FunctionName {

    public static final String RULE = "a function name is 1-63 lowercase letters, digits and dashes, starting with a "
            + "letter and not ending with a dash (like survey-scorer)";

    private static final Pattern LABEL = Pattern.compile("[a-z]([a-z0-9-]{0,61}[a-z0-9])?");
    /** Hostile names can be megabytes long; messages echo only the start. */
    private static final int SHOWN_CHARS = 64;

    private FunctionName() {
    }

    public static boolean isValid(String name) {
        return name != null && LABEL.matcher(name).matches();
    }

    /** Refuses a name that breaks {@link #RULE}, echoing it (shortened) so the user sees what arrived. */
    public static void check(String name) throws DeployRejected {
        if (!isValid(name)) throw new DeployRejected("'" + shown(name) + "' is not allowed: " + RULE);
    }

    /** A name as it may appear in a message: at most 64 characters, control characters escaped. */
    public static String shown(String name) {
        if (name == null) return "";
        String head = name.length() > SHOWN_CHARS ? name.substring(0, SHOWN_CHARS) + "... (" + name.length() + " characters)" : name;
        StringBuilder out = new StringBuilder();
        head.codePoints().forEach(c -> {
            if (Character.isISOControl(c)) out.append(String.format("\\u%04x", c));
            else out.appendCodePoint(c);
        });
        return out.toString();
    }
}
