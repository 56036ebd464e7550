package gale.config;

import gale.triggers.CronExpression;
import gale.triggers.InvalidScheduleException;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Zappa project's {@code keep_warm} as a Gale schedule (docs/schedules.md): on (Zappa's default,
 * {@code rate(4 minutes)}) with the timing its AWS expression translates to, or off, which removes
 * the schedule an earlier deploy made.
 *
 * @param cron       five-field cron (UTC), from {@code cron(...)}; exactly one of it and {@code every} when on
 * @param every      an interval like {@code 4m}, from {@code rate(...)}
 * @param expression the AWS expression it came from, for the deploy's notes
 */
public record KeepWarm(boolean on, Optional<String> cron, Optional<String> every, String expression) {

    public static final String DEFAULT_EXPRESSION = "rate(4 minutes)";
    /** A firing of a schedule named so warms the instance without calling the WSGI app, as Zappa's handler does. */
    public static final String NAME_PREFIX = "keep-warm-";

    private static final Pattern RATE = Pattern.compile("rate\\(\\s*(\\d{1,6})\\s+(minutes?|hours?|days?)\\s*\\)", Pattern.CASE_INSENSITIVE);
    private static final Pattern CRON = Pattern.compile("cron\\((.*)\\)", Pattern.CASE_INSENSITIVE);

    public static KeepWarm off() {
        return new KeepWarm(false, Optional.empty(), Optional.empty(), "");
    }

    /** The name of function {@code function}'s keep-warm schedule: a valid schedule name for any function name. */
    public static String scheduleName(String function) {
        String name = NAME_PREFIX + function;
        if (name.length() <= 63) return name;
        String hash = String.format("%08x", function.hashCode());
        String head = function.substring(0, 63 - NAME_PREFIX.length() - hash.length() - 1);
        return NAME_PREFIX + (head.endsWith("-") ? head.substring(0, head.length() - 1) + "x" : head) + "-" + hash;
    }

    /** Translates an AWS schedule expression (Zappa's {@code keep_warm_expression}, an {@code events} expression). */
    public static KeepWarm on(String expression) {
        String text = expression.trim();
        Matcher rate = RATE.matcher(text);
        if (rate.matches()) {
            long n = Long.parseLong(rate.group(1));
            if (n < 1) throw invalid(expression, "a rate is at least 1");
            String unit = rate.group(2).toLowerCase(Locale.ROOT).substring(0, 1); // m, h, d
            return new KeepWarm(true, Optional.empty(), Optional.of(n + unit), expression);
        }
        Matcher cron = CRON.matcher(text);
        if (cron.matches()) return new KeepWarm(true, Optional.of(unixCron(expression, cron.group(1).trim())), Optional.empty(), expression);
        throw invalid(expression, "write it as rate(N minutes|hours|days) or cron(minutes hours day-of-month month day-of-week year)");
    }

    /** What the deploy's notes say this became. */
    public String describe() {
        return cron.map(c -> "cron \"" + c + "\" (UTC)").orElseGet(() -> "every " + every.orElseThrow());
    }

    /**
     * AWS's six cron fields (minutes hours day-of-month month day-of-week year, in UTC) as the five of crontab:
     * the year must be {@code *}, {@code ?} is {@code *}, and AWS's day-of-week numbers (1-7, Sunday first) move to 0-6.
     */
    private static String unixCron(String expression, String fields) {
        String[] f = fields.split("\\s+");
        if (f.length != 6) throw invalid(expression, "an AWS cron expression has 6 fields (minutes hours day-of-month month "
                + "day-of-week year), got " + f.length);
        if (!f[5].equals("*") && !f[5].equals("?")) throw invalid(expression, "a year other than * cannot be scheduled on Gale");
        for (String field : f) {
            if (field.matches(".*[LW#].*")) throw invalid(expression, "L, W and # are not supported; write the days out");
        }
        String dow = f[4].equals("?") ? "*" : shiftWeekdays(expression, f[4]);
        String unix = String.join(" ", f[0], f[1], f[2].equals("?") ? "*" : f[2], f[3], dow);
        try {
            CronExpression.parse(unix);
        } catch (InvalidScheduleException e) {
            throw invalid(expression, e.getMessage());
        }
        return unix;
    }

    private static String shiftWeekdays(String expression, String field) {
        List<String> parts = new ArrayList<>();
        for (String part : field.split(",")) {
            String[] stepped = part.split("/", 2);
            StringBuilder base = new StringBuilder();
            for (String bound : stepped[0].split("-", -1)) {
                if (!base.isEmpty()) base.append('-');
                if (bound.matches("\\d+")) {
                    int day = Integer.parseInt(bound);
                    if (day < 1 || day > 7) throw invalid(expression, "AWS day-of-week numbers run 1-7 (Sunday to Saturday), got " + day);
                    base.append(day - 1);
                } else {
                    base.append(bound);
                }
            }
            parts.add(stepped.length == 2 ? base + "/" + stepped[1] : base.toString());
        }
        return String.join(",", parts);
    }

    private static InvalidConfigException invalid(String expression, String why) {
        return new InvalidConfigException(ZappaSettings.FILE + ": keep_warm_expression '" + expression + "' cannot become a schedule: " + why);
    }
}
