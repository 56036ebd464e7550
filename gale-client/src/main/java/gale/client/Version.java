package gale.client;

import static gale.client.ApiJson.integer;
import static gale.client.ApiJson.instant;
import static gale.client.ApiJson.longInteger;
import static gale.client.ApiJson.object;
import static gale.client.ApiJson.optionalInstant;
import static gale.client.ApiJson.optionalText;
import static gale.client.ApiJson.text;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;

/**
 * One deployed version of a function.
 *
 * @param reason   why the version FAILED (empty otherwise)
 * @param config   the resolved config: flags over gale.toml over defaults
 * @param readyAt  when it became ACTIVE or FAILED (empty while DEPLOYING)
 */
public record Version(
        String function,
        int version,
        VersionState state,
        Optional<String> reason,
        Map<String, Object> config,
        String bundleDigest,
        long bundleBytes,
        Instant createdAt,
        Optional<Instant> readyAt) {

    static Version fromJson(JsonNode json) {
        return new Version(
                text(json, "function"),
                integer(json, "version"),
                VersionState.valueOf(text(json, "state")),
                optionalText(json, "reason"),
                object(json, "config"),
                text(json, "bundleDigest"),
                longInteger(json, "bundleBytes"),
                instant(json, "createdAt"),
                optionalInstant(json, "readyAt"));
    }
}
