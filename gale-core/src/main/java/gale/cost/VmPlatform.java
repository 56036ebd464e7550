package gale.cost;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.math.BigDecimal;
import java.util.Map;

/**
 * A VM that is always on, billed by the hour: what running the same functions on a server of one's
 * own costs.
 *
 * @param vcpus    the CPU it sustains (a shared-core or burstable VM sustains a fraction of its vCPUs)
 * @param memoryGb its memory, GB of 1024 MB
 */
public record VmPlatform(String id, String label, BigDecimal perHour, BigDecimal vcpus, BigDecimal memoryGb, String source,
                         String asOf) implements Platform {

    public static final String KIND = "vm";

    static VmPlatform read(String id, PriceFields f) {
        return new VmPlatform(id, f.text("label"), f.amount("perHour"), f.amount("vcpus"), f.amount("memoryGb"), f.text("source"),
                f.text("asOf"));
    }

    /** True when it has at least this memory and sustains at least this CPU. */
    public boolean fits(BigDecimal memoryMb, BigDecimal cpu) {
        return memoryGb.multiply(MB_PER_GB).compareTo(memoryMb) >= 0 && vcpus.compareTo(cpu) >= 0;
    }

    public Bill bill(BigDecimal hours) {
        return Bill.itemised(id, label, Map.of("vm", perHour.multiply(hours)),
                new Quantities(BigDecimal.ZERO, BigDecimal.ZERO, BigDecimal.ZERO, hours));
    }

    @Override
    public ObjectNode toJson() {
        return JsonNodeFactory.instance.objectNode().put("kind", KIND).put("label", label).put("perHour", Platform.plain(perHour)).put("vcpus", Platform.plain(vcpus))
                .put("memoryGb", Platform.plain(memoryGb)).put("source", source).put("asOf", asOf);
    }
}
