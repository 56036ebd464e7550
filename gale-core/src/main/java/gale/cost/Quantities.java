package gale.cost;

import java.math.BigDecimal;

/**
 * What a platform bills for, added up: requests, memory time (GB-seconds for per-call platforms,
 * GiB-seconds for Cloud Run; both 1024 MB), CPU time (GHz-seconds of Cloud Functions 1st gen,
 * vCPU-seconds of Cloud Run) and, for VMs, hours.
 */
public record Quantities(BigDecimal requests, BigDecimal memorySeconds, BigDecimal cpuSeconds, BigDecimal hours) {

    public static final Quantities ZERO = new Quantities(BigDecimal.ZERO, BigDecimal.ZERO, BigDecimal.ZERO, BigDecimal.ZERO);

    public Quantities plus(Quantities other) {
        return new Quantities(requests.add(other.requests), memorySeconds.add(other.memorySeconds), cpuSeconds.add(other.cpuSeconds),
                hours.add(other.hours));
    }
}
