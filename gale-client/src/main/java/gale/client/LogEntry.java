package gale.client;

import static gale.client.ApiJson.instant;
import static gale.client.ApiJson.integer;
import static gale.client.ApiJson.longInteger;
import static gale.client.ApiJson.optionalText;
import static gale.client.ApiJson.text;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;
import java.util.Optional;

/**
 * One line a function printed, or the platform said about it.
 *
 * @param seq       increasing position in the function's log; pass the last one seen as {@code after}
 * @param instance  empty for lines not tied to an instance
 * @param requestId empty for lines printed outside a call (imports, start-up)
 * @param stream    {@code stdout}, {@code stderr} or {@code gale}
 */
public record LogEntry(
        long seq,
        Instant time,
        String function,
        int version,
        Optional<String> instance,
        Optional<String> requestId,
        String stream,
        String message) {

    static LogEntry fromJson(JsonNode json) {
        return new LogEntry(
                longInteger(json, "seq"),
                instant(json, "time"),
                text(json, "function"),
                integer(json, "version"),
                optionalText(json, "instance"),
                optionalText(json, "requestId"),
                text(json, "stream"),
                text(json, "message"));
    }
}
