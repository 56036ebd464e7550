package gale.cost;

import java.math.BigDecimal;
import java.math.RoundingMode;

/** How amounts read in reports: $12.23 from a dollar up, below it two significant digits ($0.41, $0.020, $0.0041). */
public final class Money {

    private Money() {
    }

    public static String format(BigDecimal amount, String currency) {
        String prefix = currency.equals("USD") ? "$" : currency + " ";
        if (amount.signum() == 0) return prefix + "0";
        BigDecimal shown = amount.abs().compareTo(BigDecimal.ONE) >= 0
                ? amount.setScale(2, RoundingMode.HALF_UP)
                : amount.round(new java.math.MathContext(2, RoundingMode.HALF_UP));
        return prefix + shown.toPlainString();
    }

    /** As the report's JSON carries amounts: rounded to a millionth of a cent. */
    public static double json(BigDecimal amount) {
        return amount.setScale(8, RoundingMode.HALF_UP).doubleValue();
    }
}
