package gale.cost;

import com.fasterxml.jackson.databind.JsonNode;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Reads one object of a price table, key by key, so that every error names its place
 * ({@code platforms.lambda-x86.perGbSecond}) and a misspelt key is an error, not a price silently
 * left at its default.
 */
final class PriceFields {

    private final JsonNode node;
    private final String path;
    private final Set<String> known = new LinkedHashSet<>();

    PriceFields(JsonNode node, String path) {
        if (node == null || !node.isObject()) throw new InvalidPricesException(path + " must be a table (an object of keys), got " + describe(node));
        this.node = node;
        this.path = path;
    }

    String path(String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    /** A price or a quantity: a number at least 0. */
    BigDecimal amount(String key) {
        return optionalAmount(key).orElseThrow(() -> new InvalidPricesException(path(key) + " is missing; give a number, e.g. "
                + key + " = 0.0000025"));
    }

    Optional<BigDecimal> optionalAmount(String key) {
        known.add(key);
        JsonNode value = node.get(key);
        if (value == null || value.isNull()) return Optional.empty();
        if (!value.isNumber()) throw new InvalidPricesException(path(key) + " must be a number, got " + describe(value));
        BigDecimal amount = value.decimalValue();
        if (amount.signum() < 0) throw new InvalidPricesException(path(key) + " must be at least 0, got " + amount.toPlainString());
        return Optional.of(amount.stripTrailingZeros()); // 0.000010 and 0.00001 are the same price
    }

    BigDecimal amount(String key, BigDecimal fallback) {
        return optionalAmount(key).orElse(fallback);
    }

    String text(String key) {
        return optionalText(key).orElseThrow(() -> new InvalidPricesException(path(key) + " is missing; give a string"));
    }

    Optional<String> optionalText(String key) {
        known.add(key);
        JsonNode value = node.get(key);
        if (value == null || value.isNull()) return Optional.empty();
        if (!value.isTextual()) throw new InvalidPricesException(path(key) + " must be a string, got " + describe(value));
        return Optional.of(value.asText());
    }

    boolean bool(String key, boolean fallback) {
        known.add(key);
        JsonNode value = node.get(key);
        if (value == null || value.isNull()) return fallback;
        if (!value.isBoolean()) throw new InvalidPricesException(path(key) + " must be true or false, got " + describe(value));
        return value.asBoolean();
    }

    /** An array of tables, each read by {@code each}; empty when absent. */
    <T> List<T> tables(String key, java.util.function.Function<PriceFields, T> each) {
        known.add(key);
        JsonNode value = node.get(key);
        if (value == null || value.isNull()) return List.of();
        if (!value.isArray() || value.isEmpty()) throw new InvalidPricesException(path(key) + " must be a non-empty list of tables, got " + describe(value));
        List<T> items = new ArrayList<>();
        for (int i = 0; i < value.size(); i++) {
            PriceFields item = new PriceFields(value.get(i), path(key) + "[" + i + "]");
            items.add(each.apply(item));
            item.noOthers();
        }
        return items;
    }

    JsonNode node(String key) {
        known.add(key);
        return node.get(key);
    }

    /** Fails on a key none of the reads above asked for: a misspelling would otherwise be ignored. */
    void noOthers() {
        var names = node.fieldNames();
        while (names.hasNext()) {
            String name = names.next();
            if (!known.contains(name)) {
                throw new InvalidPricesException("unknown key " + path(name) + "; the keys here are " + String.join(", ", known));
            }
        }
    }

    static String describe(JsonNode value) {
        if (value == null || value.isMissingNode()) return "nothing";
        String text = value.toString();
        return text.length() > 60 ? text.substring(0, 60) + "..." : text;
    }
}
