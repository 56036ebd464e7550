package gale.cost;

import gale.store.UsageRow;

import java.util.Optional;

/** A platform that bills what calls use: Lambda, Cloud Functions, Cloud Run. */
public sealed interface ServerlessPlatform extends Platform permits PerCallPlatform, CloudRunPlatform {

    /** Why the platform cannot run a version with this usage (its memory), if it cannot. */
    Optional<String> notOffered(UsageRow usage);

    /** What {@link Quantities#memorySeconds} counts: GB-s (per-call platforms) or GiB-s (Cloud Run). */
    String memoryUnit();

    /** What {@link Quantities#cpuSeconds} counts (GHz-s, vCPU-s), if the platform bills CPU apart. */
    Optional<String> cpuUnit();

    /** What the platform would bill for a version's usage. */
    Quantities quantities(UsageRow usage);

    /**
     * The charge for {@code quantities}.
     *
     * @param freeMonths how many months of the platform's free allowance to take off (0: list prices)
     */
    Bill bill(Quantities quantities, int freeMonths);
}
