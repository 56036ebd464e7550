package gale.triggers;

import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.Month;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.zone.ZoneRules;
import java.util.List;
import java.util.Locale;

/**
 * A five-field cron expression, as crontab(5) writes it: minute (0-59), hour (0-23), day of month
 * (1-31), month (1-12 or JAN-DEC), day of week (0-7 or SUN-SAT, 0 and 7 both Sunday). A field is
 * a comma-separated list of {@code *}, {@code N}, {@code N-M}, each optionally {@code /STEP}
 * ({@code N/STEP} runs from N to the field's end); {@code @hourly}, {@code @daily}
 * ({@code @midnight}), {@code @weekly}, {@code @monthly} and {@code @yearly} ({@code @annually})
 * stand for their usual expressions. As in Vixie cron, when both day fields are restricted (do
 * not start with {@code *}) a day matches either; otherwise it must match both.
 *
 * <p>Slots are local times in a time zone. Across daylight-saving changes (cronie's rule):
 * a local time the clocks skip fires once, at the moment the skipped stretch ends (02:30 on a
 * spring-forward night fires at 03:00); a local time that occurs twice fires once, the first
 * time, unless the hour field is every hour, in which case it fires both times (so
 * {@code *&#47;15 * * * *} keeps firing every 15 minutes through the repeated hour).
 *
 * <p>Written here because no cron library is available to the offline build; the rules above
 * are tested one by one in CronExpressionTest.
 */
public final class CronExpression {

    /** A date that matches comes at least once in 8 years (29 February); past this, the expression never fires. */
    private static final int SEARCH_DAYS = 366 * 9;
    private static final List<String> MONTHS = List.of("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC");
    private static final List<String> DAYS = List.of("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT");

    private final String text;
    private final long minutes;  // bit m: minute m
    private final long hours;    // bit h
    private final long days;     // bit d: day of month d (1-31)
    private final long months;   // bit m: month m (1-12)
    private final long weekdays; // bit d: 0 Sunday .. 6 Saturday
    private final boolean daysRestricted;
    private final boolean weekdaysRestricted;

    private CronExpression(String text, long minutes, long hours, long days, long months, long weekdays,
                           boolean daysRestricted, boolean weekdaysRestricted) {
        this.text = text;
        this.minutes = minutes;
        this.hours = hours;
        this.days = days;
        this.months = months;
        this.weekdays = weekdays;
        this.daysRestricted = daysRestricted;
        this.weekdaysRestricted = weekdaysRestricted;
    }

    /** Parses {@code text}; an {@link InvalidScheduleException} says which field is wrong and how to write it. */
    public static CronExpression parse(String text) {
        if (text == null || text.isBlank()) throw invalid(text, "it is empty");
        String trimmed = text.trim();
        String expanded = switch (trimmed.toLowerCase(Locale.ROOT)) {
            case "@hourly" -> "0 * * * *";
            case "@daily", "@midnight" -> "0 0 * * *";
            case "@weekly" -> "0 0 * * 0";
            case "@monthly" -> "0 0 1 * *";
            case "@yearly", "@annually" -> "0 0 1 1 *";
            default -> {
                if (trimmed.startsWith("@")) throw invalid(text, "unknown macro " + trimmed
                        + " (known: @hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually)");
                yield trimmed;
            }
        };
        String[] f = expanded.split("\\s+");
        if (f.length != 5) {
            throw invalid(text, "it has " + f.length + " field" + (f.length == 1 ? "" : "s")
                    + "; cron needs 5: minute hour day-of-month month day-of-week (seconds and years are not supported)");
        }
        long weekdays = field(text, f[4], "day of week", 0, 7, DAYS);
        if ((weekdays & (1L << 7)) != 0) weekdays = (weekdays | 1L) & ~(1L << 7); // 7 is Sunday too
        var cron = new CronExpression(trimmed, field(text, f[0], "minute", 0, 59, List.of()),
                field(text, f[1], "hour", 0, 23, List.of()), field(text, f[2], "day of month", 1, 31, List.of()),
                field(text, f[3], "month", 1, 12, MONTHS), weekdays, !f[2].startsWith("*"), !f[4].startsWith("*"));
        cron.checkSomeDayExists();
        return cron;
    }

    /** Same slots, however written: "0-59/5" in the minute field equals a step of 5 over every minute. */
    @Override
    public boolean equals(Object o) {
        return o instanceof CronExpression c && minutes == c.minutes && hours == c.hours && days == c.days
                && months == c.months && weekdays == c.weekdays && daysRestricted == c.daysRestricted
                && weekdaysRestricted == c.weekdaysRestricted;
    }

    @Override
    public int hashCode() {
        return java.util.Objects.hash(minutes, hours, days, months, weekdays, daysRestricted, weekdaysRestricted);
    }

    /** The expression as written (trimmed). */
    @Override
    public String toString() {
        return text;
    }

    /**
     * The first slot strictly after {@code after}, in {@code zone}.
     *
     * <p>Local times are tried in ascending order; the instant of a local time never comes before
     * the first instant of an earlier one, so once a local time's first instant is past the best
     * slot found, nothing later can beat it.
     */
    public Instant next(Instant after, ZoneId zone) {
        ZoneRules rules = zone.getRules();
        // A slot after `after` can be a local time up to one overlap (an hour or two) before `after`'s own.
        LocalDateTime low = LocalDateTime.ofInstant(after, zone).minusHours(3);
        Instant best = null;
        LocalDate date = low.toLocalDate();
        for (int i = 0; i < SEARCH_DAYS; i++, date = date.plusDays(1)) {
            if (!matches(date)) continue;
            for (int h = 0; h < 24; h++) {
                if ((hours & (1L << h)) == 0) continue;
                for (int m = 0; m < 60; m++) {
                    if ((minutes & (1L << m)) == 0) continue;
                    LocalDateTime local = date.atTime(h, m);
                    if (local.isBefore(low)) continue;
                    List<ZoneOffset> offsets = rules.getValidOffsets(local);
                    Instant first = offsets.isEmpty() ? rules.getTransition(local).getInstant() : local.toInstant(offsets.getFirst());
                    if (best != null && first.isAfter(best)) return best;
                    if (first.isAfter(after) && (best == null || first.isBefore(best))) best = first;
                    if (offsets.size() == 2 && everyHour()) {
                        Instant second = local.toInstant(offsets.get(1));
                        if (second.isAfter(after) && (best == null || second.isBefore(best))) best = second;
                    }
                }
            }
        }
        if (best != null) return best;
        throw new IllegalStateException("cron '" + text + "' has no slot within 9 years after " + after);
    }

    /**
     * The last slot at or before {@code now} and not before {@code from}, or {@code from} itself
     * when none is later. Looks back over growing windows, so a long downtime costs a few
     * searches, not one per missed slot.
     */
    public Instant latestAtOrBefore(Instant now, Instant from, ZoneId zone) {
        for (long hoursBack : new long[] {1, 24, 24 * 32, 24 * 400, 24 * 366 * 9}) {
            Instant start = now.minusSeconds(hoursBack * 3600);
            if (start.isBefore(from)) start = from.minusNanos(1);
            Instant slot = next(start, zone);
            if (slot.isAfter(now)) {
                if (start.isBefore(from)) return from;
                continue;
            }
            for (Instant n = next(slot, zone); !n.isAfter(now); n = next(n, zone)) slot = n;
            return slot;
        }
        return from;
    }

    private boolean everyHour() {
        return hours == (1L << 24) - 1;
    }

    private boolean matches(LocalDate date) {
        if ((months & (1L << date.getMonthValue())) == 0) return false;
        boolean day = (days & (1L << date.getDayOfMonth())) != 0;
        boolean weekday = (weekdays & (1L << (date.getDayOfWeek().getValue() % 7))) != 0;
        return daysRestricted && weekdaysRestricted ? day || weekday : day && weekday;
    }

    /** "0 0 30 2 *" would never fire: refused at once rather than silently never run. */
    private void checkSomeDayExists() {
        if (!daysRestricted || weekdaysRestricted) return; // every weekday comes in every month
        for (int m = 1; m <= 12; m++) {
            if ((months & (1L << m)) == 0) continue;
            int longest = Month.of(m).maxLength();
            for (int d = 1; d <= longest; d++) {
                if ((days & (1L << d)) != 0) return;
            }
        }
        throw invalid(text, "no month chosen has the days chosen, so it would never fire");
    }

    private static long field(String text, String field, String what, int min, int max, List<String> names) {
        long bits = 0;
        for (String item : field.split(",", -1)) {
            if (item.isEmpty()) throw invalid(text, "the " + what + " field '" + field + "' has an empty list item");
            int slash = item.indexOf('/');
            String range = slash < 0 ? item : item.substring(0, slash);
            int step = 1;
            if (slash >= 0) {
                step = number(text, item.substring(slash + 1), what, "step", List.of());
                if (step < 1) throw invalid(text, "the " + what + " step in '" + item + "' must be 1 or more");
            }
            int from;
            int to;
            if (range.equals("*")) {
                from = min;
                to = max;
            } else {
                int dash = range.indexOf('-', 1);
                from = number(text, dash < 0 ? range : range.substring(0, dash), what, "value", names);
                to = dash < 0 ? (slash < 0 ? from : max) : number(text, range.substring(dash + 1), what, "value", names);
                if (dash < 0 && slash >= 0 && what.equals("day of week")) to = 6; // "1/2": Monday to Saturday, not to the alias 7
                for (int v : new int[] {from, to}) {
                    if (v < min || v > max) {
                        throw invalid(text, "the " + what + " " + v + " in '" + item + "' is outside " + min + "-" + max);
                    }
                }
                if (from > to) throw invalid(text, "the " + what + " range '" + range + "' goes backwards; write it low-high");
            }
            for (int v = from; v <= to; v += step) bits |= 1L << v;
        }
        return bits;
    }

    private static int number(String text, String token, String what, String kind, List<String> names) {
        int named = names.indexOf(token.toUpperCase(Locale.ROOT));
        if (named >= 0) return names == MONTHS ? named + 1 : named;
        if (token.isEmpty() || token.length() > 4 || !token.chars().allMatch(Character::isDigit)) {
            String hint = names.isEmpty() ? "a number" : "a number or a name like " + names.get(1);
            throw invalid(text, "the " + what + " " + kind + " '" + token + "' is not " + hint);
        }
        return Integer.parseInt(token);
    }

    private static InvalidScheduleException invalid(String text, String why) {
        String shown = text == null ? "" : text.length() > 100 ? text.substring(0, 100) + "..." : text;
        return new InvalidScheduleException("cron expression '" + shown + "' is not valid: " + why
                + "; write 5 fields like \"*/5 * * * *\" (every 5 minutes) or \"0 9 * * MON-FRI\" (9:00 on weekdays)");
    }
}
