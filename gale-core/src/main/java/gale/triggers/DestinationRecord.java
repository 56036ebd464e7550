package gale.triggers;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import gale.store.AsyncInvocationRow;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * What a success or failure destination receives about an async call, shaped as Lambda's destination
 * record (requestContext, requestPayload, responseContext, responsePayload), so a handler written for one
 * reads it unchanged. It travels as an async call of its own: stored in the same transaction that ends the
 * source call, retried as the destination's settings say. A record never triggers destinations itself.
 */
final class DestinationRecord {

    static final String HEADER = "X-Gale-Destination";
    static final String SOURCE_HEADER = "X-Gale-Source-Invocation";
    private static final ObjectMapper JSON = new ObjectMapper();

    private DestinationRecord() {
    }

    /** True for a call that is itself a destination record: its outcome goes nowhere else. */
    static boolean isRecord(AsyncInvocationRow call) {
        return call.headersJson().toLowerCase(java.util.Locale.ROOT).contains("\"" + HEADER.toLowerCase(java.util.Locale.ROOT) + "\"");
    }

    /**
     * The record as an async call to {@code destination}.
     *
     * @param condition {@code Success} or {@code RetriesExhausted}
     */
    static AsyncInvocationRow of(String destination, AsyncInvocationRow call, String condition, int attempts, int version,
                                 Optional<Integer> status, Optional<byte[]> responseBody, Optional<String> error,
                                 Optional<String> traceback, Instant now) {
        ObjectNode record = JSON.createObjectNode();
        record.put("version", "1.0");
        record.put("timestamp", now.toString());
        ObjectNode context = record.putObject("requestContext");
        context.put("requestId", call.id());
        context.put("functionArn", "gale:function/" + call.function() + ":" + version);
        context.put("condition", condition);
        context.put("approximateInvokeCount", attempts);
        record.set("requestPayload", payload(call.body()));
        ObjectNode response = record.putObject("responseContext");
        status.ifPresent(s -> response.put("statusCode", s));
        response.put("executedVersion", Integer.toString(version));
        if (error.isPresent()) {
            response.put("functionError", "Unhandled");
            ObjectNode payload = record.putObject("responsePayload");
            payload.put("errorMessage", error.get());
            traceback.ifPresent(t -> payload.put("stackTrace", t));
            responseBody.ifPresent(b -> payload.set("response", payload(b)));
        } else {
            record.set("responsePayload", payload(responseBody.orElse(new byte[0])));
        }
        byte[] body;
        try {
            body = JSON.writeValueAsBytes(record);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a record of JSON nodes is JSON", e);
        }
        String headers = AsyncAttempt.toJson(List.of(Map.entry("Content-Type", "application/json"),
                Map.entry(HEADER, condition), Map.entry(SOURCE_HEADER, call.id())));
        return AsyncInvocationRow.accepted(UUID.randomUUID().toString(), destination, "POST", "/", "", headers, body, "",
                "http", "", now);
    }

    /** A body as JSON when it is JSON, else as a string (UTF-8, bad bytes replaced). */
    private static JsonNode payload(byte[] body) {
        if (body.length == 0) return JSON.nullNode();
        try {
            return JSON.readTree(body);
        } catch (Exception notJson) {
            return JSON.getNodeFactory().textNode(new String(body, StandardCharsets.UTF_8));
        }
    }
}
