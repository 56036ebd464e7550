package gale.cost;

import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Where a cost report's period starts: a span back from now ({@code 30d}, {@code 12h}, {@code 90m},
 * {@code 2w}) or a moment ({@code 2025-06-01}, midnight UTC, or {@code 2025-06-01T09:30:00Z}).
 */
public final class Since {

    /** The longest span a report may cover. */
    public static final Duration LONGEST = Duration.ofDays(3_660);
    private static final Pattern SPAN = Pattern.compile("(\\d{1,9})\\s*(w|d|h|m|s)", Pattern.CASE_INSENSITIVE);
    private static final String HOW = "write a span back from now like 30d, 12h, 90m or 2w, or a date like 2025-06-01";

    private Since() {
    }

    /** @throws IllegalArgumentException saying what is wrong and how to write it */
    public static Instant parse(String text, Instant now) {
        String given = text == null ? "" : text.strip();
        if (given.isEmpty()) throw new IllegalArgumentException("since is empty; " + HOW);
        Matcher span = SPAN.matcher(given);
        Instant since;
        if (span.matches()) {
            long amount = Long.parseLong(span.group(1));
            Duration unit = switch (span.group(2).toLowerCase(Locale.ROOT)) {
                case "w" -> Duration.ofDays(7);
                case "d" -> Duration.ofDays(1);
                case "h" -> Duration.ofHours(1);
                case "m" -> Duration.ofMinutes(1);
                default -> Duration.ofSeconds(1);
            };
            if (amount == 0) throw new IllegalArgumentException("since '" + given + "' is an empty period; give a span above 0, e.g. 30d");
            if (amount > LONGEST.dividedBy(unit)) {
                throw new IllegalArgumentException("since '" + given + "' reaches back more than " + LONGEST.toDays() + " days; give a shorter span");
            }
            since = now.minus(unit.multipliedBy(amount));
        } else {
            since = moment(given);
            if (since.isAfter(now)) throw new IllegalArgumentException("since '" + given + "' is in the future; give a moment before now");
            if (since.isBefore(now.minus(LONGEST))) {
                throw new IllegalArgumentException("since '" + given + "' is more than " + LONGEST.toDays() + " days ago; give a later date");
            }
        }
        return since;
    }

    private static Instant moment(String given) {
        try {
            if (given.length() == 10) return LocalDate.parse(given).atStartOfDay(ZoneOffset.UTC).toInstant();
            return OffsetDateTime.parse(given).toInstant();
        } catch (DateTimeParseException e) {
            throw new IllegalArgumentException("since '" + given + "' is neither a span nor a date; " + HOW);
        }
    }
}
