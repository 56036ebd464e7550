package gale.cost;

import com.fasterxml.jackson.databind.node.ObjectNode;

import java.math.BigDecimal;

/** One entry of a price table: a serverless platform, or a VM that is always on. */
public sealed interface Platform permits ServerlessPlatform, VmPlatform {

    /** The table's key for it: lambda-x86, gcf-gen1, e2-small... */
    String id();

    String label();

    /** Where the prices come from (a URL, the region), so a reader can check them. */
    String source();

    /** When they were read off that source. */
    String asOf();

    /** The entry as a prices file writes it. */
    ObjectNode toJson();

    /** Prices are quoted per million requests. */
    BigDecimal MILLION = BigDecimal.valueOf(1_000_000);
    /** GB and GiB of the price lists are both 1024 MB (MiB), as the platforms' memory settings are. */
    BigDecimal MB_PER_GB = BigDecimal.valueOf(1024);
    /** Every division is by 1000, 1024 or a million, so every figure is an exact decimal. */
    BigDecimal MS_PER_SECOND = BigDecimal.valueOf(1000);

    /** {@code amount} as a prices file writes it: 0.0000025 and 2000000, never 2.5E-6 or 2E+6. */
    static BigDecimal plain(BigDecimal amount) {
        return new BigDecimal(amount.toPlainString());
    }

    /** {@code price} x what of {@code quantity} the free allowance leaves. */
    static BigDecimal charge(BigDecimal quantity, BigDecimal freeAllowance, BigDecimal price) {
        return quantity.subtract(freeAllowance).max(BigDecimal.ZERO).multiply(price);
    }
}
