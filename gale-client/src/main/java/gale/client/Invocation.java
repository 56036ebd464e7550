package gale.client;

import static gale.client.ApiJson.bool;
import static gale.client.ApiJson.decimal;
import static gale.client.ApiJson.instant;
import static gale.client.ApiJson.integer;
import static gale.client.ApiJson.optionalInteger;
import static gale.client.ApiJson.optionalText;
import static gale.client.ApiJson.text;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * What one call of a function did.
 *
 * @param status   the HTTP status the caller got
 * @param outcome  {@code ok}, {@code function_error}, {@code crash}, {@code timeout}, {@code memory} or {@code rejected}
 * @param instance empty when the call never reached an instance (rejected)
 * @param memoryMb peak memory of the instance, when measured
 */
public record Invocation(
        String requestId,
        String function,
        int version,
        Optional<String> instance,
        int status,
        String outcome,
        double durationMs,
        boolean coldStart,
        OptionalInt memoryMb,
        Instant time) {

    static Invocation fromJson(JsonNode json) {
        return new Invocation(
                text(json, "requestId"),
                text(json, "function"),
                integer(json, "version"),
                optionalText(json, "instance"),
                integer(json, "status"),
                text(json, "outcome"),
                decimal(json, "durationMs"),
                bool(json, "coldStart"),
                optionalInteger(json, "memoryMb"),
                instant(json, "time"));
    }
}
