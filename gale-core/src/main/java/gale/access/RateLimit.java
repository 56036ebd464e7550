package gale.access;

import java.time.Duration;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How many requests one access key may make: {@code count} per {@code per} on average, with up to
 * {@code burst} at once (as API Gateway usage plans put it: a rate and a burst). {@code --rate 10/s}
 * alone allows a burst of 10.
 *
 * @param count requests per period, 1 to {@link #MAX}
 * @param per   the period: a second, a minute or an hour
 * @param burst requests a key that was idle may make at once, 1 to {@link #MAX}
 */
public record RateLimit(long count, Duration per, long burst) {

    public static final long MAX = 1_000_000;
    public static final String FORM = "COUNT/UNIT with a unit of s, m or h, like 10/s or 600/m";

    private static final Pattern TEXT = Pattern.compile("(\\d{1,9})\\s*/\\s*(s|m|h)", Pattern.CASE_INSENSITIVE);

    public RateLimit {
        if (count < 1 || count > MAX) throw new IllegalArgumentException("a rate's count must be 1 to " + MAX + ", got " + count);
        if (burst < 1 || burst > MAX) throw new IllegalArgumentException("burst must be 1 to " + MAX + ", got " + burst);
        if (!per.equals(Duration.ofSeconds(1)) && !per.equals(Duration.ofMinutes(1)) && !per.equals(Duration.ofHours(1))) {
            throw new IllegalArgumentException("a rate is per second, minute or hour, got per " + per);
        }
    }

    /** Reads {@code 10/s}, {@code 600/m} or {@code 5000/h}; the burst is the count unless given. */
    public static RateLimit parse(String text, Long burst) {
        Matcher m = TEXT.matcher(text == null ? "" : text.strip());
        if (!m.matches()) throw new IllegalArgumentException("rate '" + text + "' is not a rate: write it as " + FORM);
        long count = Long.parseLong(m.group(1));
        Duration per = switch (m.group(2).toLowerCase(Locale.ROOT)) {
            case "s" -> Duration.ofSeconds(1);
            case "m" -> Duration.ofMinutes(1);
            default -> Duration.ofHours(1);
        };
        return new RateLimit(count, per, burst == null ? count : burst);
    }

    /** The time one request's token takes to come back: the period divided by the count. */
    public long nanosPerRequest() {
        return Math.max(1, per.toNanos() / count);
    }

    /** {@code 10/s}, as {@link #parse} reads it. */
    public String rate() {
        String unit = per.equals(Duration.ofSeconds(1)) ? "s" : per.equals(Duration.ofMinutes(1)) ? "m" : "h";
        return count + "/" + unit;
    }

    @Override
    public String toString() {
        return rate() + (burst == count ? "" : " burst " + burst);
    }
}
