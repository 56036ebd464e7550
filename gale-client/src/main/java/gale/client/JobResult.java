package gale.client;

import static gale.client.ApiJson.bool;
import static gale.client.ApiJson.integer;
import static gale.client.ApiJson.optionalDecimal;
import static gale.client.ApiJson.optionalInteger;
import static gale.client.ApiJson.optionalText;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalInt;

/**
 * The outcome of one input of a job: one line of {@code GET /v1/jobs/{id}/results}.
 *
 * @param index      the input's position, from 0
 * @param ok         the call answered 2xx and {@code result} is its JSON body
 * @param result     the function's JSON response; {@link NullNode} when not {@code ok}
 * @param error      why it failed, e.g. {@code ValueError: K must be positive} (empty when {@code ok})
 * @param traceback  the Python traceback, when the function raised
 * @param status     the HTTP status of the last attempt (empty when it never ran)
 * @param durationMs how long the last attempt took
 * @param attempts   calls made, retries included; 0 when the input was cancelled before it ran
 */
public record JobResult(
        int index,
        boolean ok,
        JsonNode result,
        Optional<String> error,
        Optional<String> traceback,
        OptionalInt status,
        OptionalDouble durationMs,
        int attempts) {

    /** The result line as the server writes it: index, ok, result or error and traceback, status, durationMs, attempts. */
    public ObjectNode toJson() {
        ObjectNode json = ApiJson.MAPPER.createObjectNode().put("index", index).put("ok", ok);
        if (ok) {
            json.set("result", result);
        } else {
            json.put("error", error.orElse("failed"));
            traceback.ifPresent(value -> json.put("traceback", value));
        }
        status.ifPresent(value -> json.put("status", value));
        durationMs.ifPresent(value -> json.put("durationMs", value));
        return json.put("attempts", attempts);
    }

    static JobResult fromJson(JsonNode json) {
        JsonNode result = json.path("result");
        return new JobResult(
                integer(json, "index"),
                bool(json, "ok"),
                result.isMissingNode() ? NullNode.getInstance() : result,
                optionalText(json, "error"),
                optionalText(json, "traceback"),
                optionalInteger(json, "status"),
                optionalDecimal(json, "durationMs"),
                integer(json, "attempts"));
    }
}
