package gale.config;

import java.time.Duration;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Durations the way gcloud writes them: "500ms", "60s", "5m", "1h", "30d", or a bare number of seconds. */
public final class Durations {

    private static final Pattern FORMAT = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*(ms|s|m|h|d)?", Pattern.CASE_INSENSITIVE);

    private Durations() {
    }

    public static Duration parse(String text) {
        Matcher m = FORMAT.matcher(text == null ? "" : text.trim());
        if (!m.matches()) {
            throw new IllegalArgumentException("'" + text + "' is not a duration; write it like 500ms, 60s or 5m");
        }
        double value = Double.parseDouble(m.group(1));
        String unit = m.group(2) == null ? "s" : m.group(2).toLowerCase(Locale.ROOT);
        double millis = switch (unit) {
            case "ms" -> value;
            case "s" -> value * 1_000;
            case "m" -> value * 60_000;
            case "h" -> value * 3_600_000;
            case "d" -> value * 86_400_000;
            default -> throw new IllegalArgumentException("'" + text + "' has an unknown unit");
        };
        return Duration.ofMillis(Math.round(millis));
    }

    /** The shortest exact spelling: 60s, 500ms, 5m. */
    public static String format(Duration d) {
        long ms = d.toMillis();
        if (ms % 3_600_000 == 0 && ms > 0) return (ms / 3_600_000) + "h";
        if (ms % 60_000 == 0 && ms > 0) return (ms / 60_000) + "m";
        if (ms % 1_000 == 0) return (ms / 1_000) + "s";
        return ms + "ms";
    }
}
