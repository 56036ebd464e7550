package gale.cost;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import gale.store.UsageRow;

import java.math.BigDecimal;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Cloud Run's way of billing (and Cloud Run functions', the 2nd gen of Cloud Functions): vCPU-seconds
 * and GiB-seconds of the instance's allocation, for as long as it is billed, plus a fee per request.
 * Request-based billing counts the time an instance has a call in flight, each stretch rounded up to
 * 100 ms; instance-based billing counts the instance's whole life and no requests.
 *
 * @param vcpuTiers the vCPUs that come with each memory size (Cloud Run functions); empty: the
 *                  function's own --cpu setting, at least {@code minVcpu}
 */
public record CloudRunPlatform(String id, String label, Billing billing, BigDecimal perVcpuSecond, BigDecimal perGibSecond,
                               BigDecimal perMillionRequests, List<VcpuTier> vcpuTiers, BigDecimal minVcpu,
                               BigDecimal freeRequests, BigDecimal freeVcpuSeconds, BigDecimal freeGibSeconds,
                               String source, String asOf) implements ServerlessPlatform {

    public static final String KIND = "cloud-run";
    /** The most memory a Cloud Run instance may have. */
    private static final BigDecimal MAX_MEMORY_MB = BigDecimal.valueOf(32 * 1024);

    public enum Billing { REQUEST, INSTANCE }

    /** A memory size and the vCPUs allocated with it. */
    public record VcpuTier(BigDecimal memoryMb, BigDecimal vcpu) {
    }

    static CloudRunPlatform read(String id, PriceFields f) {
        String billing = f.text("billing");
        Billing parsed = switch (billing) {
            case "request" -> Billing.REQUEST;
            case "instance" -> Billing.INSTANCE;
            default -> throw new InvalidPricesException(f.path("billing") + " must be \"request\" or \"instance\", got \"" + billing + "\"");
        };
        return new CloudRunPlatform(id, f.text("label"), parsed, f.amount("perVcpuSecond"), f.amount("perGibSecond"),
                f.amount("perMillionRequests", BigDecimal.ZERO),
                f.tables("vcpuTiers", t -> new VcpuTier(t.amount("memoryMb"), t.amount("vcpu"))),
                f.amount("minVcpu", BigDecimal.ZERO), f.amount("freeRequests", BigDecimal.ZERO),
                f.amount("freeVcpuSeconds", BigDecimal.ZERO), f.amount("freeGibSeconds", BigDecimal.ZERO), f.text("source"),
                f.text("asOf"));
    }

    @Override
    public String memoryUnit() {
        return "GiB-s";
    }

    @Override
    public Optional<String> cpuUnit() {
        return Optional.of("vCPU-s");
    }

    @Override
    public Optional<String> notOffered(UsageRow usage) {
        BigDecimal largest = vcpuTiers.isEmpty() ? MAX_MEMORY_MB : vcpuTiers.getLast().memoryMb();
        if (BigDecimal.valueOf(usage.memoryMb()).compareTo(largest) > 0) {
            return Optional.of(usage.memoryMb() + " MB is more than " + label + " offers (" + largest.toPlainString() + " MB)");
        }
        return Optional.empty();
    }

    @Override
    public Quantities quantities(UsageRow usage) {
        long billedMs = billing == Billing.REQUEST ? usage.activeMs() : usage.instanceMs();
        BigDecimal seconds = BigDecimal.valueOf(billedMs).divide(MS_PER_SECOND);
        BigDecimal memory = BigDecimal.valueOf(usage.memoryMb());
        Optional<VcpuTier> tier = vcpuTiers.stream().filter(t -> t.memoryMb().compareTo(memory) >= 0).findFirst();
        BigDecimal memoryMb = tier.map(VcpuTier::memoryMb).orElse(memory);
        BigDecimal vcpu = tier.map(VcpuTier::vcpu).orElse(BigDecimal.valueOf(usage.cpu()).max(minVcpu));
        return new Quantities(BigDecimal.valueOf(usage.calls()), seconds.multiply(memoryMb).divide(MB_PER_GB),
                seconds.multiply(vcpu), BigDecimal.ZERO);
    }

    @Override
    public Bill bill(Quantities q, int freeMonths) {
        BigDecimal months = BigDecimal.valueOf(freeMonths);
        Map<String, BigDecimal> lines = new LinkedHashMap<>();
        if (perMillionRequests.signum() > 0) {
            lines.put("requests", Platform.charge(q.requests(), freeRequests.multiply(months), perMillionRequests).divide(MILLION));
        }
        lines.put("cpu", Platform.charge(q.cpuSeconds(), freeVcpuSeconds.multiply(months), perVcpuSecond));
        lines.put("memory", Platform.charge(q.memorySeconds(), freeGibSeconds.multiply(months), perGibSecond));
        return Bill.itemised(id, label, lines, q);
    }

    @Override
    public ObjectNode toJson() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("kind", KIND).put("label", label).put("billing", billing.name().toLowerCase(Locale.ROOT))
                .put("perVcpuSecond", Platform.plain(perVcpuSecond)).put("perGibSecond", Platform.plain(perGibSecond)).put("perMillionRequests", Platform.plain(perMillionRequests));
        if (!vcpuTiers.isEmpty()) {
            var tiers = o.putArray("vcpuTiers");
            vcpuTiers.forEach(t -> tiers.addObject().put("memoryMb", Platform.plain(t.memoryMb())).put("vcpu", Platform.plain(t.vcpu())));
        }
        if (minVcpu.signum() > 0) o.put("minVcpu", Platform.plain(minVcpu));
        if (freeRequests.signum() > 0) o.put("freeRequests", Platform.plain(freeRequests));
        o.put("freeVcpuSeconds", Platform.plain(freeVcpuSeconds)).put("freeGibSeconds", Platform.plain(freeGibSeconds));
        return o.put("source", source).put("asOf", asOf);
    }
}
