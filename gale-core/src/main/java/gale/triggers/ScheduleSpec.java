package gale.triggers;

import gale.config.Durations;
import gale.registry.FunctionName;
import gale.store.ScheduleRow;

import java.time.DateTimeException;
import java.time.Duration;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.Optional;

/**
 * A schedule as the user asked for it, validated: every refusal says what to write instead.
 *
 * @param payload JSON sent as the body of every firing (and, to a Lambda handler, as its event), if any
 */
public record ScheduleSpec(String name, String function, ScheduleTiming timing, CatchUp catchUp, Optional<String> payload) {

    /** Largest payload: it is sent with every firing and stored with the schedule. */
    public static final int MAX_PAYLOAD_BYTES = 64 * 1024;
    /** Slots further apart than this are better written as cron. */
    public static final Duration MAX_INTERVAL = Duration.ofDays(366);
    public static final Duration DEFAULT_MIN_INTERVAL = Duration.ofMinutes(1);

    /**
     * Validates a schedule request.
     *
     * @param cron        five-field cron expression; exactly one of it and {@code every}
     * @param every       interval like "4m" or "1h"
     * @param timeZone    IANA name for cron (default UTC); not allowed with {@code every}
     * @param minInterval the shortest interval this server allows (gale server --min-schedule-interval)
     */
    public static ScheduleSpec of(String name, String function, Optional<String> cron, Optional<String> every,
                                  Optional<String> timeZone, Optional<String> catchUp, Optional<String> payload,
                                  Duration minInterval) {
        if (!FunctionName.isValid(name)) {
            throw new InvalidScheduleException("'" + FunctionName.shown(name) + "' is not a schedule name: a schedule name follows "
                    + "the rule for function names: " + FunctionName.RULE);
        }
        if (!FunctionName.isValid(function)) {
            throw new InvalidScheduleException("schedule " + name + ": 'function' must name a deployed function; "
                    + FunctionName.RULE);
        }
        if (cron.isPresent() == every.isPresent()) {
            throw new InvalidScheduleException("schedule " + name + " needs exactly one of a cron expression (--schedule \"*/5 * * * *\") "
                    + "and an interval (--every 5m), got " + (cron.isPresent() ? "both" : "neither"));
        }
        ScheduleTiming timing;
        if (cron.isPresent()) {
            timing = new ScheduleTiming.Cron(CronExpression.parse(cron.get()), zone(timeZone.orElse("UTC")));
        } else {
            if (timeZone.isPresent()) {
                throw new InvalidScheduleException("schedule " + name + ": a time zone applies to a cron schedule only; "
                        + "--every counts from the epoch in any zone, so drop --time-zone or use --schedule");
            }
            timing = new ScheduleTiming.Every(interval(name, every.get(), minInterval));
        }
        if (payload.isPresent() && payload.get().length() > MAX_PAYLOAD_BYTES) {
            throw new InvalidScheduleException("schedule " + name + ": the payload is " + payload.get().length()
                    + " bytes, more than " + MAX_PAYLOAD_BYTES + "; send a reference to the data (a blob key) instead");
        }
        return new ScheduleSpec(name, function, timing, catchUp.map(CatchUp::parse).orElse(CatchUp.LAST), payload);
    }

    /** The timing of a stored schedule (valid when it was stored). */
    public static ScheduleTiming timingOf(ScheduleRow row) {
        return row.cron().<ScheduleTiming>map(c -> new ScheduleTiming.Cron(CronExpression.parse(c), ZoneId.of(row.timeZone())))
                .orElseGet(() -> new ScheduleTiming.Every(Duration.ofMillis(row.everyMs().orElseThrow())));
    }

    private static ZoneId zone(String id) {
        try {
            ZoneId zone = ZoneId.of(id.trim());
            if (zone instanceof ZoneOffset && !id.trim().equals("UTC") && !id.trim().equals("Z")) {
                throw new DateTimeException("a fixed offset");
            }
            return zone;
        } catch (DateTimeException e) {
            String shown = id.length() > 64 ? id.substring(0, 64) + "..." : id;
            throw new InvalidScheduleException("unknown time zone '" + shown + "': use an IANA name such as Europe/Berlin, "
                    + "America/New_York or UTC (a fixed offset like +02:00 would ignore daylight saving)");
        }
    }

    private static Duration interval(String name, String text, Duration minInterval) {
        Duration d;
        try {
            d = Durations.parse(text);
        } catch (IllegalArgumentException e) {
            throw new InvalidScheduleException("schedule " + name + ": --every " + e.getMessage());
        }
        if (d.compareTo(minInterval) < 0) {
            throw new InvalidScheduleException("schedule " + name + ": --every " + text.trim() + " is shorter than this server's "
                    + "minimum of " + Durations.format(minInterval) + "; use " + Durations.format(minInterval)
                    + " or more (gale server --min-schedule-interval sets the minimum)");
        }
        if (d.compareTo(MAX_INTERVAL) > 0) {
            throw new InvalidScheduleException("schedule " + name + ": --every " + text.trim() + " is longer than 366 days; "
                    + "use a cron expression such as \"0 0 1 1 *\" (yearly)");
        }
        if (d.toMillis() % 1000 != 0) {
            throw new InvalidScheduleException("schedule " + name + ": --every " + text.trim() + " is not whole seconds; "
                    + "write it like 90s, 5m or 1h");
        }
        return d;
    }
}
