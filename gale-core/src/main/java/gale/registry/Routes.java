package gale.registry;

import java.util.HashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * How a function's calls reach versions beside its ACTIVE one (docs/traffic.md): a pinned split, tags, and
 * the pools of the versions they name. Replaced whole, so the gateway reads one consistent value.
 *
 * @param pinned a split that holds across deploys; empty: every call goes to the ACTIVE version
 * @param tags   tag to version
 * @param others the serving versions other than the ACTIVE one, by version
 */
record Routes(Optional<TrafficSplit> pinned, Map<String, Integer> tags, Map<Integer, ActiveFunction> others) {

    static final Routes NONE = new Routes(Optional.empty(), Map.of(), Map.of());

    Routes {
        tags = Map.copyOf(tags);
        others = Map.copyOf(others);
    }

    /** The versions calls may reach beside the ACTIVE one: those with a share, and those with a tag. */
    Set<Integer> named() {
        Set<Integer> out = new HashSet<>(tags.values());
        pinned.ifPresent(split -> out.addAll(split.percents().keySet()));
        return out;
    }

    boolean isEmpty() {
        return pinned.isEmpty() && tags.isEmpty() && others.isEmpty();
    }
}
