package gale.registry;

import java.util.Optional;
import java.util.regex.Pattern;

/**
 * What follows the {@code @} in {@code /fn/NAME@TARGET}: {@code v} and a version number, or a tag, which
 * is a DNS label like a function name (Cloud Run's revision tags), so it may one day be a host name too.
 */
public final class TrafficTag {

    public static final String RULE = "a tag is 1-63 lowercase letters, digits and dashes, starting with a letter and not "
            + "ending with a dash (like canary); v and a number (v4) is kept for the versions themselves";

    private static final Pattern VERSION = Pattern.compile("v([1-9][0-9]{0,8})");

    private TrafficTag() {
    }

    /** Refuses a tag name that breaks {@link #RULE}. */
    public static void check(String tag) throws InvalidTrafficException {
        if (!FunctionName.isValid(tag) || tag.matches("v[0-9]+")) {
            throw new InvalidTrafficException("'" + FunctionName.shown(tag) + "' is not a tag: " + RULE);
        }
    }

    /** The version a target such as {@code v4} names; empty for anything else (a tag, perhaps). */
    public static Optional<Integer> version(String target) {
        var m = VERSION.matcher(target);
        return m.matches() ? Optional.of(Integer.parseInt(m.group(1))) : Optional.empty();
    }
}
