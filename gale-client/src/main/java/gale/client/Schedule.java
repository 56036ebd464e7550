package gale.client;

import static gale.client.ApiJson.bool;
import static gale.client.ApiJson.instant;
import static gale.client.ApiJson.optionalInstant;
import static gale.client.ApiJson.optionalText;
import static gale.client.ApiJson.text;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;
import java.util.Optional;

/**
 * A schedule (docs/schedules.md).
 *
 * @param description how it fires, e.g. {@code *&#47;5 * * * * (Europe/Berlin)} or {@code every 4m}
 * @param nextFireAt  empty while paused
 * @param lastFiring  empty until it first fired
 */
public record Schedule(
        String name,
        String function,
        Optional<String> cron,
        Optional<String> every,
        Optional<String> timeZone,
        String description,
        String catchUp,
        Optional<String> payload,
        boolean paused,
        Optional<Instant> nextFireAt,
        Optional<Firing> lastFiring,
        Instant createdAt) {

    static Schedule fromJson(JsonNode json) {
        JsonNode payload = json.path("payload");
        JsonNode last = json.path("lastFiring");
        return new Schedule(text(json, "name"), text(json, "function"), optionalText(json, "cron"), optionalText(json, "every"),
                optionalText(json, "timeZone"), text(json, "description"), text(json, "catchUp"),
                payload.isMissingNode() || payload.isNull() ? Optional.empty() : Optional.of(payload.toString()),
                bool(json, "paused"), optionalInstant(json, "nextFireAt"),
                last.isMissingNode() || last.isNull() ? Optional.empty() : Optional.of(Firing.fromJson(last)),
                instant(json, "createdAt"));
    }

    /**
     * One fired slot.
     *
     * @param outcome {@code running}, {@code ok}, {@code error}, {@code unreachable} or {@code interrupted}
     * @param lateMs  how long after the slot the call went out
     */
    public record Firing(Instant slot, Instant firedAt, long lateMs, Optional<Instant> finishedAt, Optional<Integer> status,
                         String outcome, Optional<String> requestId, Optional<String> error, Optional<String> node) {

        static Firing fromJson(JsonNode json) {
            JsonNode status = json.path("status");
            return new Firing(instant(json, "slot"), instant(json, "firedAt"), json.path("lateMs").asLong(),
                    optionalInstant(json, "finishedAt"), status.isNumber() ? Optional.of(status.asInt()) : Optional.empty(),
                    text(json, "outcome"), optionalText(json, "requestId"), optionalText(json, "error"),
                    optionalText(json, "node"));
        }
    }
}
