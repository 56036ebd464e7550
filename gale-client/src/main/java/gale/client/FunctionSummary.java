package gale.client;

import static gale.client.ApiJson.instant;
import static gale.client.ApiJson.integer;
import static gale.client.ApiJson.list;
import static gale.client.ApiJson.object;
import static gale.client.ApiJson.optionalInteger;
import static gale.client.ApiJson.text;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

/**
 * A function as the admin API describes it.
 *
 * @param url           where the function is called ({@code .../fn/NAME})
 * @param activeVersion the version serving calls (empty when none is ACTIVE)
 * @param latestVersion the newest version, whatever its state (empty before the first deploy)
 * @param state         ACTIVE when a version serves, else the latest version's state (NEW before any)
 * @param config        the resolved config of the active version
 * @param instances     instances running now
 * @param versions      newest first; only filled by {@link GaleClient#function(String)}
 * @param pinnedSplit   the traffic split, version to percent, when pinned (docs/traffic.md); empty when every call
 *                      goes to the active version
 */
public record FunctionSummary(
        String name,
        URI url,
        OptionalInt activeVersion,
        OptionalInt latestVersion,
        String state,
        Map<String, Object> config,
        int instances,
        Instant createdAt,
        Instant updatedAt,
        List<Version> versions,
        Map<Integer, Integer> pinnedSplit) {

    /** True when the function was deployed with {@code --allow-unauthenticated}. */
    public boolean isPublic() {
        return Boolean.TRUE.equals(config.get("allowUnauthenticated"));
    }

    /** True when the function was deployed with {@code --require-key}: callable with an access key for it. */
    public boolean requiresKey() {
        return Boolean.TRUE.equals(config.get("requireKey"));
    }

    static FunctionSummary fromJson(JsonNode json) {
        return new FunctionSummary(
                text(json, "name"),
                URI.create(text(json, "url")),
                optionalInteger(json, "activeVersion"),
                optionalInteger(json, "latestVersion"),
                text(json, "state"),
                object(json, "config"),
                integer(json, "instances"),
                instant(json, "createdAt"),
                instant(json, "updatedAt"),
                list(json, "versions", Version::fromJson),
                pinnedSplit(json.path("traffic")));
    }

    private static Map<Integer, Integer> pinnedSplit(JsonNode traffic) {
        if (!traffic.path("pinned").asBoolean(false)) return Map.of();
        Map<Integer, Integer> split = new java.util.TreeMap<>();
        traffic.path("to").fields().forEachRemaining(e -> split.put(Integer.parseInt(e.getKey()), e.getValue().asInt()));
        return java.util.Collections.unmodifiableMap(split);
    }
}
