package gale.cost;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import gale.runtime.UsageCounters;
import gale.store.UsageRow;

import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What functions (or one map job) used over a period, priced on each platform of a {@link PriceTable}
 * beside an always-on VM of the size they needed, and beside the machine Gale runs on: the JSON of
 * {@code GET /v1/cost} (docs/api.md), which {@code gale cost} and the console render.
 *
 * <p>Each version is priced on its own (its memory and CPU settings), and a function's figures are
 * the sums over its versions. A function's VM holds its largest version's memory times the most
 * instances it ran at once, and sustains the CPU of its busiest minute.
 */
public final class CostReport {

    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    private static final BigDecimal MICROS_PER_SECOND = BigDecimal.valueOf(1_000_000);
    private static final BigDecimal MICROS_PER_MINUTE = BigDecimal.valueOf(60_000_000);
    private static final BigDecimal MS_PER_HOUR = BigDecimal.valueOf(3_600_000);
    /** VMs are billed by the second, with a minute at least. */
    private static final Duration SHORTEST_VM = Duration.ofMinutes(1);

    /** The span the report covers. */
    public record Period(Instant since, Instant until) {

        BigDecimal hours() {
            long ms = Math.max(Duration.between(since, until).toMillis(), SHORTEST_VM.toMillis());
            return BigDecimal.valueOf(ms).divide(MS_PER_HOUR, MathContext.DECIMAL64);
        }

        long seconds() {
            return Math.max(1, Duration.between(since, until).toSeconds());
        }

        /** Months of free allowance a period takes: one per 30 days begun. */
        int months() {
            return (int) Math.max(1, Math.ceilDiv(Duration.between(since, until).toMillis(), Duration.ofDays(30).toMillis()));
        }
    }

    /** The machine Gale runs on. */
    public record Machine(int vcpus, long memoryMb) {

        public static Machine current() {
            long bytes = ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean())
                    .getTotalMemorySize();
            return new Machine(Runtime.getRuntime().availableProcessors(), bytes >> 20);
        }
    }

    private CostReport() {
    }

    /**
     * @param scope   what the report is about ({"function": NAME} or {"job": ...}), copied into it
     * @param usage   per version: a function's whole use, or one job's share
     * @param sources where the usage was read (cgroup-v1...), as stored
     */
    public static ObjectNode build(PriceTable prices, ObjectNode scope, List<UsageRow> usage, Period period, List<String> sources,
                                   Machine machine) {
        ObjectNode report = NODES.objectNode();
        report.put("since", period.since().truncatedTo(ChronoUnit.SECONDS).toString())
                .put("until", period.until().truncatedTo(ChronoUnit.SECONDS).toString())
                .put("periodHours", period.hours().setScale(3, RoundingMode.HALF_UP).doubleValue())
                .put("currency", prices.currency()).put("freeTier", prices.freeTier());
        report.set("scope", scope);
        report.set("source", source(sources));
        Map<String, List<UsageRow>> byFunction = new LinkedHashMap<>();
        usage.forEach(row -> byFunction.computeIfAbsent(row.function(), f -> new ArrayList<>()).add(row));
        ArrayNode rows = report.putArray("rows");
        Totals totals = new Totals(prices);
        byFunction.forEach((function, versions) -> rows.add(functionRow(prices, function, versions, period, totals)));
        report.set("total", totals.json(prices, period));
        ObjectNode host = thisMachine(prices, machine, period, totals.cpuMicros);
        report.set("thisMachine", host);
        report.put("summary", summary(prices, host, totals.cheapest(prices, period), usage.isEmpty(), period));
        report.set("prices", prices.toJson());
        return report;
    }

    /** What the rows add up to: the platforms' quantities (priced once, so free allowances apply once), and the VM needs. */
    private static final class Totals {
        final Map<String, Quantities> quantities = new LinkedHashMap<>();
        final Map<String, String> notOffered = new LinkedHashMap<>();
        long calls;
        long cpuMicros;
        BigDecimal vmMemoryMb = BigDecimal.ZERO;
        BigDecimal vmCpu = BigDecimal.ZERO;

        Totals(PriceTable prices) {
            prices.serverless().forEach(p -> quantities.put(p.id(), Quantities.ZERO));
        }

        List<Bill> bills(PriceTable prices, Period period) {
            int months = prices.freeTier() ? period.months() : 0;
            List<Bill> bills = new ArrayList<>();
            for (ServerlessPlatform p : prices.serverless()) {
                Bill bill = p.bill(quantities.get(p.id()), months);
                bills.add(notOffered.containsKey(p.id()) ? notOffered(bill, notOffered.get(p.id())) : bill);
            }
            return bills;
        }

        Optional<Bill> cheapest(PriceTable prices, Period period) {
            return cheapestOf(bills(prices, period));
        }

        ObjectNode json(PriceTable prices, Period period) {
            ObjectNode total = NODES.objectNode().put("calls", calls).put("cpuSeconds", seconds(cpuMicros, MICROS_PER_SECOND));
            List<Bill> bills = bills(prices, period);
            total.set("platforms", billsJson(bills, prices));
            total.set("cheapest", cheapestOf(bills).map(b -> billJson(b, prices)).orElse(null));
            total.set("vm", vmJson(prices, vmMemoryMb, vmCpu, period));
            return total;
        }
    }

    private static ObjectNode functionRow(PriceTable prices, String function, List<UsageRow> versions, Period period, Totals totals) {
        versions.sort(Comparator.comparingInt(UsageRow::version));
        UsageRow latest = versions.getLast();
        ObjectNode row = NODES.objectNode().put("function", function);
        ArrayNode numbers = row.putArray("versions");
        versions.forEach(v -> numbers.add(v.version()));
        row.put("memoryMb", latest.memoryMb()).put("cpu", latest.cpu());
        long calls = 0, durationMicros = 0, billed1 = 0, billed100 = 0, active = 0, instance = 0, cpu = 0, peakMemory = -1, peakCpuMicros = 0;
        int peakInstances = 0;
        BigDecimal requestGbSeconds = BigDecimal.ZERO, instanceGbSeconds = BigDecimal.ZERO, needMemoryMb = BigDecimal.ZERO;
        for (UsageRow v : versions) {
            calls += v.calls();
            durationMicros += v.durationMicros();
            billed1 += v.billedMs1();
            billed100 += v.billedMs100();
            active += v.activeMs();
            instance += v.instanceMs();
            cpu += v.cpuMicros();
            peakMemory = Math.max(peakMemory, v.peakMemoryBytes());
            peakInstances = Math.max(peakInstances, v.peakInstances());
            peakCpuMicros = Math.max(peakCpuMicros, v.peakCpuMicros());
            BigDecimal gb = BigDecimal.valueOf(v.memoryMb()).divide(Platform.MB_PER_GB);
            requestGbSeconds = requestGbSeconds.add(gb.multiply(BigDecimal.valueOf(v.billedMs1()).divide(Platform.MS_PER_SECOND)));
            instanceGbSeconds = instanceGbSeconds.add(gb.multiply(BigDecimal.valueOf(v.instanceMs()).divide(Platform.MS_PER_SECOND)));
            needMemoryMb = needMemoryMb.max(BigDecimal.valueOf((long) v.memoryMb() * Math.max(1, v.peakInstances())));
        }
        BigDecimal peakCpu = BigDecimal.valueOf(peakCpuMicros).divide(MICROS_PER_MINUTE, MathContext.DECIMAL64);
        row.put("calls", calls).put("durationSeconds", seconds(durationMicros, MICROS_PER_SECOND));
        row.putObject("billedSeconds").put("roundedTo1ms", seconds(billed1, Platform.MS_PER_SECOND))
                .put("roundedTo100ms", seconds(billed100, Platform.MS_PER_SECOND));
        row.put("activeSeconds", seconds(active, Platform.MS_PER_SECOND)).put("instanceSeconds", seconds(instance, Platform.MS_PER_SECOND))
                .put("cpuSeconds", seconds(cpu, MICROS_PER_SECOND));
        row.putObject("gbSeconds").put("requestBased", round(requestGbSeconds)).put("instanceBased", round(instanceGbSeconds));
        row.put("peakInstances", peakInstances);
        if (peakMemory >= 0) row.put("peakMemoryMb", round(BigDecimal.valueOf(peakMemory).divide(BigDecimal.valueOf(1 << 20)))); else row.putNull("peakMemoryMb");
        row.put("peakCpu", round(peakCpu));

        List<Bill> bills = new ArrayList<>();
        for (ServerlessPlatform p : prices.serverless()) {
            Quantities q = Quantities.ZERO;
            Optional<String> refused = Optional.empty();
            for (UsageRow v : versions) {
                refused = refused.or(() -> p.notOffered(v));
                q = q.plus(p.quantities(v));
            }
            totals.quantities.merge(p.id(), q, Quantities::plus);
            refused.ifPresent(why -> totals.notOffered.putIfAbsent(p.id(), function + ": " + why));
            Bill bill = p.bill(q, 0);
            bills.add(refused.map(why -> notOffered(bill, why)).orElse(bill));
        }
        row.set("platforms", billsJson(bills, prices));
        row.set("cheapest", cheapestOf(bills).map(b -> billJson(b, prices)).orElse(null));
        row.set("vm", vmJson(prices, needMemoryMb, peakCpu, period));
        totals.calls += calls;
        totals.cpuMicros += cpu;
        totals.vmMemoryMb = totals.vmMemoryMb.add(needMemoryMb);
        totals.vmCpu = totals.vmCpu.add(peakCpu);
        return row;
    }

    private static Bill notOffered(Bill bill, String why) {
        return new Bill(bill.platform(), bill.label(), BigDecimal.ZERO, Map.of(), bill.quantities(), Optional.of(why));
    }

    private static Optional<Bill> cheapestOf(List<Bill> bills) {
        return bills.stream().filter(Bill::offered).min(Comparator.comparing(Bill::cost));
    }

    private static ArrayNode billsJson(List<Bill> bills, PriceTable prices) {
        ArrayNode out = NODES.arrayNode();
        bills.forEach(b -> out.add(billJson(b, prices)));
        return out;
    }

    private static ObjectNode billJson(Bill bill, PriceTable prices) {
        ServerlessPlatform platform = (ServerlessPlatform) prices.platforms().get(bill.platform());
        ObjectNode o = NODES.objectNode().put("platform", bill.platform()).put("label", bill.label());
        if (!bill.offered()) return o.putNull("cost").put("notOffered", bill.notOffered().get());
        o.put("cost", Money.json(bill.cost()));
        ObjectNode lines = o.putObject("lines");
        bill.lines().forEach((line, amount) -> lines.put(line, Money.json(amount)));
        Quantities q = bill.quantities();
        ObjectNode quantities = o.putObject("quantities").put("requests", q.requests().longValue())
                .put("memorySeconds", round(q.memorySeconds())).put("memoryUnit", platform.memoryUnit());
        if (platform.cpuUnit().isPresent()) quantities.put("cpuSeconds", round(q.cpuSeconds())).put("cpuUnit", platform.cpuUnit().get());
        return o;
    }

    /** The cheapest VM that holds {@code memoryMb} and sustains {@code cpu}, on for the whole period. */
    private static ObjectNode vmJson(PriceTable prices, BigDecimal memoryMb, BigDecimal cpu, Period period) {
        ObjectNode o = NODES.objectNode().put("needMemoryMb", round(memoryMb)).put("needCpu", round(cpu))
                .put("hours", round(period.hours()));
        Optional<VmPlatform> vm = prices.cheapestVm(memoryMb, cpu);
        if (vm.isEmpty()) {
            return o.putNull("platform").putNull("cost").put("note", "no VM in the price table has " + memoryMb.toPlainString()
                    + " MB and sustains " + round(cpu) + " vCPU; add one to the prices file");
        }
        Bill bill = vm.get().bill(period.hours());
        return o.put("platform", bill.platform()).put("label", bill.label()).put("cost", Money.json(bill.cost()))
                .put("perHour", vm.get().perHour().doubleValue());
    }

    private static ObjectNode thisMachine(PriceTable prices, Machine machine, Period period, long cpuMicros) {
        ObjectNode o = NODES.objectNode().put("vcpus", machine.vcpus()).put("memoryMb", machine.memoryMb());
        double share = (cpuMicros / 1e6) / ((double) machine.vcpus() * period.seconds());
        o.put("cpuShare", BigDecimal.valueOf(share).round(new MathContext(3)).doubleValue());
        Optional<PriceTable.MachinePrice> price = prices.thisMachine().or(() -> prices
                .cheapestVm(BigDecimal.valueOf(machine.memoryMb()).multiply(BigDecimal.valueOf(0.9)), BigDecimal.valueOf(machine.vcpus()))
                .map(vm -> new PriceTable.MachinePrice(vm.label() + "-sized VM", vm.perHour())));
        if (price.isEmpty()) {
            return o.putNull("label").putNull("cost").put("note", "no VM in the price table is as big as this machine ("
                    + machine.vcpus() + " CPUs, " + machine.memoryMb() + " MB); set thisMachine.perHour in the prices file");
        }
        return o.put("label", price.get().label()).put("perHour", price.get().perHour().doubleValue())
                .put("cost", Money.json(price.get().perHour().multiply(period.hours())));
    }

    private static String summary(PriceTable prices, ObjectNode host, Optional<Bill> cheapest, boolean noUsage, Period period) {
        String days = describeHours(period.hours().doubleValue());
        String gale = host.get("cost").isNull() ? "not priced (" + host.get("note").asText() + ")"
                : Money.format(host.get("cost").decimalValue(), prices.currency()) + " for " + days + " (" + host.get("label").asText()
                + ", always on; the functions here used " + percent(host.get("cpuShare").asDouble()) + " of its CPU)";
        String cloud = noUsage ? "nothing to price (no calls in this period)"
                : cheapest.map(b -> Money.format(b.cost(), prices.currency()) + " (" + b.label() + ")").orElse("none offers these functions");
        return "Gale on this machine: " + gale + "; cheapest cloud: " + cloud;
    }

    /** A period as people say it: 1.5 minutes, 3.5 hours, 30 days. */
    public static String describeHours(double hours) {
        if (hours < 1) return count(hours * 60, 1, "minute");
        if (hours < 48) return count(hours, 1, "hour");
        return count(hours / 24, 0, "day");
    }

    /** {@code 1 minute}, {@code 1.5 minutes}, {@code 30 days}. */
    private static String count(double amount, int decimals, String unit) {
        String number = BigDecimal.valueOf(amount).setScale(decimals, RoundingMode.HALF_UP).stripTrailingZeros().toPlainString();
        return number + " " + unit + (number.equals("1") ? "" : "s");
    }

    /** 7.0%, 0.25%, 0.000025%: one decimal from 1% up, else two significant digits. */
    private static String percent(double share) {
        BigDecimal p = BigDecimal.valueOf(share * 100);
        BigDecimal shown = p.compareTo(BigDecimal.ONE) >= 0 ? p.setScale(1, RoundingMode.HALF_UP) : p.round(new MathContext(2, RoundingMode.HALF_UP));
        return shown.toPlainString() + "%";
    }

    private static ObjectNode source(List<String> codes) {
        ObjectNode o = NODES.objectNode();
        ArrayNode list = o.putArray("codes");
        codes.forEach(list::add);
        List<String> described = codes.stream().map(code -> UsageCounters.Source.ofCode(code).map(UsageCounters.Source::description)
                .orElse(code)).toList();
        return o.put("description", described.isEmpty() ? "no usage recorded in this period" : String.join("; ", described));
    }

    private static double seconds(long amount, BigDecimal perSecond) {
        return round(BigDecimal.valueOf(amount).divide(perSecond, MathContext.DECIMAL64));
    }

    private static double round(BigDecimal value) {
        return value.setScale(3, RoundingMode.HALF_UP).doubleValue();
    }
}
