package gale.store;

import java.time.Instant;
import java.util.Optional;

/**
 * A schedule as stored. Exactly one of {@code cron} and {@code everyMs} is present.
 *
 * @param catchUp   {@code last} or {@code none}: what a slot missed while Gale was down does
 * @param payload   the JSON sent with every firing, if any
 * @param nextFire  the next slot not yet claimed; empty while paused
 */
public record ScheduleRow(String name, String function, Optional<String> cron, Optional<Long> everyMs, String timeZone,
                          String catchUp, Optional<String> payload, boolean paused, Optional<Instant> nextFire,
                          Instant createdAt, Instant updatedAt) {
}
