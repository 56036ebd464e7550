package gale.cost;

import gale.store.UsageRow;
import org.junit.jupiter.api.Test;

import java.math.BigDecimal;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The billing arithmetic against the default price table, to the last digit: each platform's rounding,
 * memory tiers, vCPU allocation, request fees and free allowances.
 */
class BillingTest {

    private static final PriceTable PRICES = PriceTable.defaults();

    /** A version's usage as the store sums it: only the fields billing reads matter here. */
    private static UsageRow usage(int memoryMb, double cpu, long calls, long billedMs1, long billedMs100, long activeMs, long instanceMs) {
        return new UsageRow(0, 0, "scorer", 1, "", memoryMb, cpu, calls, billedMs1 * 1000, billedMs1, billedMs100, activeMs,
                instanceMs, 0, 0, -1, 1, "cgroup-v1");
    }

    private static ServerlessPlatform platform(String id) {
        return (ServerlessPlatform) PRICES.platforms().get(id);
    }

    private static BigDecimal cost(String platform, UsageRow usage, int freeMonths) {
        ServerlessPlatform p = platform(platform);
        return p.bill(p.quantities(usage), freeMonths).cost();
    }

    @Test
    void seed000sCostSheet20000CallsOf16SecondsAt1GbOnCloudFunctions1stGenCostAbout5Dollars() {
        // 20,000 calls x 16 s at 1024 MB: 320,000 GB-s at $0.0000025 and 448,000 GHz-s (1.4 GHz) at $0.00001, plus 20,000 requests.
        UsageRow sheet = usage(1024, 1, 20_000, 320_000_000L, 320_000_000L, 320_000_000L, 320_000_000L);

        assertThat(cost("gcf-gen1", sheet, 0)).isEqualByComparingTo("5.288"); // 0.008 + 0.8 + 4.48
        // The free tier takes 2M requests, 400,000 GB-s and 200,000 GHz-s a month: only 248,000 GHz-s are left.
        assertThat(cost("gcf-gen1", sheet, 1)).isEqualByComparingTo("2.48");
    }

    @Test
    void cloudFunctions1stGenRoundsEachCallUpTo100MsAndBillsTheMemoryTierThatHoldsTheFunction() {
        UsageRow usage = usage(300, 1, 20_000, 1_234_567, 2_000_000, 0, 0);
        Quantities q = platform("gcf-gen1").quantities(usage);

        assertThat(q.memorySeconds()).isEqualByComparingTo("1000"); // 2000 s x 512 MB (the tier that holds 300 MB)
        assertThat(q.cpuSeconds()).isEqualByComparingTo("1600"); // 2000 s x 0.8 GHz
        Bill bill = platform("gcf-gen1").bill(q, 0);
        assertThat(bill.lines().get("requests")).isEqualByComparingTo("0.008");
        assertThat(bill.lines().get("memory")).isEqualByComparingTo("0.0025");
        assertThat(bill.lines().get("cpu")).isEqualByComparingTo("0.016");
        assertThat(bill.cost()).isEqualByComparingTo("0.0265");
    }

    @Test
    void lambdaRoundsEachCallUpTo1MsAndBillsTheMemoryAsConfigured() {
        UsageRow usage = usage(256, 1, 20_000, 1_234_567, 2_000_000, 0, 0);

        // 1234.567 s x 0.25 GB = 308.64175 GB-s
        assertThat(cost("lambda-x86", usage, 0)).isEqualByComparingTo(new BigDecimal("0.004")
                .add(new BigDecimal("308.64175").multiply(new BigDecimal("0.0000166667"))));
        assertThat(cost("lambda-arm", usage, 0)).isEqualByComparingTo(new BigDecimal("0.004")
                .add(new BigDecimal("308.64175").multiply(new BigDecimal("0.0000133334"))));
        assertThat(cost("lambda-x86", usage, 1)).isEqualByComparingTo("0"); // within 1M requests and 400,000 GB-s
        // Below Lambda's smallest size, 128 MB is billed.
        assertThat(platform("lambda-x86").quantities(usage(64, 1, 1, 1000, 1000, 0, 0)).memorySeconds()).isEqualByComparingTo("0.125");
    }

    @Test
    void cloudRunBillsTheActiveTimeOrTheInstancesWholeLifeInVcpuAndGibSeconds() {
        UsageRow usage = usage(512, 1, 20_000, 0, 0, 2_000_000, 3_600_000);

        // request-based: 2000 s x 1 vCPU x $0.000024 + 2000 s x 0.5 GiB x $0.0000025 + 20,000 x $0.40 / 1M
        assertThat(cost("cloud-run-request", usage, 0)).isEqualByComparingTo("0.0585");
        // instance-based: 3600 s x 1 vCPU x $0.000018 + 3600 s x 0.5 GiB x $0.000002, no request fee
        assertThat(cost("cloud-run-instance", usage, 0)).isEqualByComparingTo("0.0684");
        // The function's --cpu is the vCPU count, down to Cloud Run's smallest.
        assertThat(platform("cloud-run-request").quantities(usage(512, 0.5, 1, 0, 0, 1000, 0)).cpuSeconds()).isEqualByComparingTo("0.5");
        assertThat(platform("cloud-run-request").quantities(usage(512, 0.01, 1, 0, 0, 1000, 0)).cpuSeconds()).isEqualByComparingTo("0.08");
    }

    @Test
    void cloudRunFunctionsAllocateTheVcpusThatComeWithTheMemorySize() {
        UsageRow usage = usage(1000, 4, 20_000, 0, 0, 1_000_000, 0);
        Quantities q = platform("gcf-gen2").quantities(usage);

        assertThat(q.cpuSeconds()).isEqualByComparingTo("583"); // 1000 s x 0.583 vCPU of the 1024 MB size
        assertThat(q.memorySeconds()).isEqualByComparingTo("1000"); // 1000 s x 1 GiB
        assertThat(cost("gcf-gen2", usage, 0)).isEqualByComparingTo("0.024492"); // 0.008 + 0.013992 + 0.0025
    }

    @Test
    void aMemorySizeAPlatformDoesNotOfferIsSaidSoNotPriced() {
        UsageRow big = usage(16_384, 1, 1, 1000, 1000, 1000, 1000);

        assertThat(platform("lambda-x86").notOffered(big)).hasValueSatisfying(why -> assertThat(why).contains("10240 MB"));
        assertThat(platform("gcf-gen1").notOffered(big)).hasValueSatisfying(why -> assertThat(why).contains("8192 MB"));
        assertThat(platform("gcf-gen2").notOffered(big)).isEmpty();
        assertThat(platform("cloud-run-request").notOffered(usage(40_000, 1, 1, 1, 1, 1, 1))).isPresent();
    }

    @Test
    void theVmOfTheSameSizeIsTheCheapestThatHoldsTheMemoryAndSustainsTheCpu() {
        assertThat(PRICES.cheapestVm(BigDecimal.valueOf(3000), new BigDecimal("0.3"))).hasValueSatisfying(vm ->
                assertThat(vm.id()).isEqualTo("e2-medium"));
        assertThat(PRICES.cheapestVm(BigDecimal.valueOf(900), new BigDecimal("0.1"))).hasValueSatisfying(vm ->
                assertThat(vm.id()).isEqualTo("e2-micro"));
        assertThat(PRICES.cheapestVm(BigDecimal.valueOf(1 << 20), BigDecimal.ONE)).isEmpty();
        VmPlatform small = (VmPlatform) PRICES.platforms().get("e2-small");
        assertThat(small.bill(BigDecimal.valueOf(720)).cost()).isEqualByComparingTo("12.06072"); // 30 days on
    }
}
