package gale.client;

import static gale.client.ApiJson.longInteger;
import static gale.client.ApiJson.optionalInstant;
import static gale.client.ApiJson.text;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;
import java.util.Optional;

/**
 * One state key (docs/state.md).
 *
 * @param valueJson the value as JSON text; empty when the answer left values out
 * @param version   grows with every write; the ETag of the key
 */
public record StateEntry(String namespace, String key, Optional<String> valueJson, long version, Optional<Instant> expiresAt) {

    static StateEntry fromJson(JsonNode json) {
        JsonNode value = json.get("value");
        return new StateEntry(text(json, "namespace"), text(json, "key"),
                value == null ? Optional.empty() : Optional.of(value.toString()),
                longInteger(json, "version"), optionalInstant(json, "expiresAt"));
    }
}
