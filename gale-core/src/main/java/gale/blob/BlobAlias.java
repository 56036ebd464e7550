package gale.blob;

import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * A name for one version of a key ({@code models/churn@prod}), or for two with weights that add up to
 * 100 (a canary: 90% v7, 10% v8).
 *
 * @param targets the versions and their weights, the first being the one given first
 * @param calls   how many resolutions each version answered, by version, over the alias's life
 */
public record BlobAlias(String bucket, String key, String alias, List<Target> targets, Map<Integer, Long> calls, Instant updatedAt) {

    public record Target(int version, int weight) {
    }

    public BlobAlias {
        targets = List.copyOf(targets);
        calls = Map.copyOf(calls);
    }

    public boolean isSplit() {
        return targets.size() > 1;
    }
}
