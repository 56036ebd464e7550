package gale.state;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/** The records a {@link SamplerStore} answers with. */
public final class Sampler {

    private Sampler() {
    }

    /** One item: its id (unique in the sampler) and the JSON handed to respondents. */
    public record Item(String id, String json) {
    }

    /** A sampler's settings: each item is shown at most {@code target} times; a draw is leased for {@code lease}. */
    public record Spec(String name, int target, Duration lease, int items, Instant createdAt) {
    }

    /** The items drawn for a respondent, leased until {@code leaseExpiresAt} (empty when no item was left for them). */
    public record Draw(String respondent, List<Item> items, Optional<Instant> leaseExpiresAt) {
    }

    /** How often one item was shown: confirmed, and leased now. */
    public record ItemCount(String id, int confirmed, int leased) {
    }

    /**
     * Counts at one instant, leases that ran out already returned.
     *
     * @param full        items confirmed {@code target} times
     * @param respondents respondents that ever drew
     */
    public record Stats(Spec spec, long confirmed, long leased, int full, long respondents, List<ItemCount> items) {
    }
}
