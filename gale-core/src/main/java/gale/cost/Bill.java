package gale.cost;

import java.math.BigDecimal;
import java.util.Map;
import java.util.Optional;

/**
 * What one platform would charge for some usage.
 *
 * @param platform   the price table's key for it (lambda-x86, e2-small...)
 * @param cost       the total, in the table's currency, unrounded
 * @param lines      what the total is made of (requests, memory, cpu, vm), each unrounded
 * @param quantities what was billed
 * @param notOffered why the platform cannot run this usage (a memory size it does not offer); then the cost is 0
 */
public record Bill(String platform, String label, BigDecimal cost, Map<String, BigDecimal> lines, Quantities quantities,
                   Optional<String> notOffered) {

    public boolean offered() {
        return notOffered.isEmpty();
    }

    /** A bill of these lines, in the order given; the cost is their sum. */
    static Bill itemised(String platform, String label, Map<String, BigDecimal> lines, Quantities quantities) {
        BigDecimal total = lines.values().stream().reduce(BigDecimal.ZERO, BigDecimal::add);
        return new Bill(platform, label, total, lines, quantities, Optional.empty());
    }
}
