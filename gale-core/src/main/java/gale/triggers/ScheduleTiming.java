package gale.triggers;

import gale.config.Durations;

import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;

/** When a schedule's slots are: cron in a time zone, or a fixed interval. */
public sealed interface ScheduleTiming {

    /** The first slot strictly after {@code after}. */
    Instant next(Instant after);

    /** The last slot at or before {@code now}, not before {@code from} (itself a slot at or before {@code now}). */
    Instant latestAtOrBefore(Instant now, Instant from);

    /** How `gale schedules` shows it. */
    String describe();

    /** Cron slots are local times in {@code zone}. */
    record Cron(CronExpression expression, ZoneId zone) implements ScheduleTiming {
        @Override
        public Instant next(Instant after) {
            return expression.next(after, zone);
        }

        @Override
        public Instant latestAtOrBefore(Instant now, Instant from) {
            return expression.latestAtOrBefore(now, from, zone);
        }

        @Override
        public String describe() {
            return expression + " (" + zone.getId() + ")";
        }
    }

    /**
     * Every {@code interval}, at whole multiples of it since 1970-01-01T00:00Z: a restart or a
     * redeploy keeps the same slots, and "every 5m" fires at :00, :05, :10 like the cron would.
     */
    record Every(Duration interval) implements ScheduleTiming {
        public Every {
            if (interval.toMillis() <= 0) throw new InvalidScheduleException("an interval must be positive, got " + interval);
        }

        @Override
        public Instant next(Instant after) {
            long ms = interval.toMillis();
            return Instant.ofEpochMilli(Math.multiplyExact(Math.floorDiv(after.toEpochMilli(), ms) + 1, ms));
        }

        @Override
        public Instant latestAtOrBefore(Instant now, Instant from) {
            long ms = interval.toMillis();
            Instant latest = Instant.ofEpochMilli(Math.floorDiv(now.toEpochMilli(), ms) * ms);
            return latest.isBefore(from) ? from : latest;
        }

        @Override
        public String describe() {
            return "every " + Durations.format(interval);
        }
    }
}
