package gale.cost;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import gale.store.UsageRow;

import java.math.BigDecimal;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A platform that bills each call's duration, rounded up, times the memory configured: AWS Lambda
 * (1 ms, GB-seconds) and Cloud Functions 1st gen (100 ms, GB-seconds plus GHz-seconds of the CPU
 * that comes with the memory tier), plus a fee per request.
 *
 * @param roundingMs  1 or 100: what each call's duration is rounded up to (Gale measures both)
 * @param memoryTiers the memory sizes offered, each with its CPU clock; a version's memory is billed
 *                    as the smallest tier that holds it. Empty: any size in [minMemoryMb, maxMemoryMb]
 */
public record PerCallPlatform(String id, String label, BigDecimal perMillionRequests, BigDecimal perGbSecond,
                              BigDecimal perGhzSecond, int roundingMs, List<MemoryTier> memoryTiers, BigDecimal minMemoryMb,
                              Optional<BigDecimal> maxMemoryMb, BigDecimal freeRequests, BigDecimal freeGbSeconds,
                              BigDecimal freeGhzSeconds, String source, String asOf) implements ServerlessPlatform {

    public static final String KIND = "per-call";

    /** A memory size on offer and the CPU clock that comes with it. */
    public record MemoryTier(BigDecimal memoryMb, BigDecimal ghz) {
    }

    static PerCallPlatform read(String id, PriceFields f) {
        int rounding = f.amount("roundingMs").intValue();
        if (rounding != 1 && rounding != 100) {
            throw new InvalidPricesException(f.path("roundingMs") + " must be 1 or 100 (Gale measures call durations rounded to each), got "
                    + rounding);
        }
        return new PerCallPlatform(id, f.text("label"), f.amount("perMillionRequests"), f.amount("perGbSecond"),
                f.amount("perGhzSecond", BigDecimal.ZERO), rounding,
                f.tables("memoryTiers", t -> new MemoryTier(t.amount("memoryMb"), t.amount("ghz"))),
                f.amount("minMemoryMb", BigDecimal.ZERO), f.optionalAmount("maxMemoryMb"),
                f.amount("freeRequests", BigDecimal.ZERO), f.amount("freeGbSeconds", BigDecimal.ZERO),
                f.amount("freeGhzSeconds", BigDecimal.ZERO), f.text("source"), f.text("asOf"));
    }

    @Override
    public String memoryUnit() {
        return "GB-s";
    }

    @Override
    public Optional<String> cpuUnit() {
        return perGhzSecond.signum() > 0 ? Optional.of("GHz-s") : Optional.empty();
    }

    @Override
    public Optional<String> notOffered(UsageRow usage) {
        BigDecimal memory = BigDecimal.valueOf(usage.memoryMb());
        BigDecimal largest = memoryTiers.isEmpty() ? maxMemoryMb.orElse(null) : memoryTiers.getLast().memoryMb();
        if (largest != null && memory.compareTo(largest) > 0) {
            return Optional.of(usage.memoryMb() + " MB is more than " + label + " offers (" + largest.toPlainString() + " MB)");
        }
        return Optional.empty();
    }

    /** The tier a version's memory is billed as; absent without tiers. */
    private Optional<MemoryTier> tierOf(int memoryMb) {
        BigDecimal memory = BigDecimal.valueOf(memoryMb);
        return memoryTiers.stream().filter(t -> t.memoryMb().compareTo(memory) >= 0).findFirst();
    }

    @Override
    public Quantities quantities(UsageRow usage) {
        long billedMs = roundingMs == 1 ? usage.billedMs1() : usage.billedMs100();
        BigDecimal seconds = BigDecimal.valueOf(billedMs).divide(MS_PER_SECOND);
        Optional<MemoryTier> tier = tierOf(usage.memoryMb());
        BigDecimal memoryMb = tier.map(MemoryTier::memoryMb).orElse(BigDecimal.valueOf(usage.memoryMb()).max(minMemoryMb));
        BigDecimal ghz = tier.map(MemoryTier::ghz).orElse(BigDecimal.ZERO);
        return new Quantities(BigDecimal.valueOf(usage.calls()), seconds.multiply(memoryMb).divide(MB_PER_GB),
                seconds.multiply(ghz), BigDecimal.ZERO);
    }

    @Override
    public Bill bill(Quantities q, int freeMonths) {
        BigDecimal months = BigDecimal.valueOf(freeMonths);
        Map<String, BigDecimal> lines = new LinkedHashMap<>();
        lines.put("requests", Platform.charge(q.requests(), freeRequests.multiply(months), perMillionRequests).divide(MILLION));
        lines.put("memory", Platform.charge(q.memorySeconds(), freeGbSeconds.multiply(months), perGbSecond));
        if (perGhzSecond.signum() > 0) lines.put("cpu", Platform.charge(q.cpuSeconds(), freeGhzSeconds.multiply(months), perGhzSecond));
        return Bill.itemised(id, label, lines, q);
    }

    @Override
    public ObjectNode toJson() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("kind", KIND).put("label", label).put("perMillionRequests", Platform.plain(perMillionRequests)).put("perGbSecond", Platform.plain(perGbSecond));
        if (perGhzSecond.signum() > 0) o.put("perGhzSecond", Platform.plain(perGhzSecond));
        o.put("roundingMs", roundingMs);
        if (!memoryTiers.isEmpty()) {
            var tiers = o.putArray("memoryTiers");
            memoryTiers.forEach(t -> tiers.addObject().put("memoryMb", Platform.plain(t.memoryMb())).put("ghz", Platform.plain(t.ghz())));
        }
        if (minMemoryMb.signum() > 0) o.put("minMemoryMb", Platform.plain(minMemoryMb));
        maxMemoryMb.ifPresent(max -> o.put("maxMemoryMb", Platform.plain(max)));
        o.put("freeRequests", Platform.plain(freeRequests)).put("freeGbSeconds", Platform.plain(freeGbSeconds));
        if (freeGhzSeconds.signum() > 0) o.put("freeGhzSeconds", Platform.plain(freeGhzSeconds));
        return o.put("source", source).put("asOf", asOf);
    }
}
