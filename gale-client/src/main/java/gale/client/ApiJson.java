package gale.client;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.time.Instant;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.function.Function;
import java.util.stream.StreamSupport;

/**
 * Reads the admin API's JSON into the client's records. Required fields that are missing
 * fail with {@link IllegalStateException} naming the field; unknown fields are ignored.
 */
final class ApiJson {

    static final ObjectMapper MAPPER = new ObjectMapper();

    private static final TypeReference<LinkedHashMap<String, Object>> MAP = new TypeReference<>() {};

    private ApiJson() {
    }

    static JsonNode parse(byte[] body) throws IOException {
        return MAPPER.readTree(body);
    }

    /** Numbers with a fraction kept as written (prices such as 0.0000166667), not as doubles. */
    private static final ObjectMapper EXACT = new ObjectMapper().enable(com.fasterxml.jackson.databind.DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS);

    static JsonNode parseExact(byte[] body) throws IOException {
        return EXACT.readTree(body);
    }

    static byte[] write(Object value) {
        try {
            return MAPPER.writeValueAsBytes(value);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("cannot write as JSON: " + e.getOriginalMessage(), e);
        }
    }

    static String text(JsonNode node, String field) {
        return required(node, field).asText();
    }

    static Optional<String> optionalText(JsonNode node, String field) {
        return present(node, field).map(JsonNode::asText);
    }

    static int integer(JsonNode node, String field) {
        JsonNode value = required(node, field);
        if (!value.canConvertToInt()) throw new IllegalStateException("field '" + field + "' is not an integer: " + value);
        return value.intValue();
    }

    static OptionalInt optionalInteger(JsonNode node, String field) {
        return present(node, field).map(v -> OptionalInt.of(v.asInt())).orElse(OptionalInt.empty());
    }

    static long longInteger(JsonNode node, String field) {
        JsonNode value = required(node, field);
        if (!value.canConvertToLong()) throw new IllegalStateException("field '" + field + "' is not an integer: " + value);
        return value.longValue();
    }

    static OptionalLong optionalLong(JsonNode node, String field) {
        return present(node, field).map(v -> OptionalLong.of(v.asLong())).orElse(OptionalLong.empty());
    }

    static OptionalDouble optionalDecimal(JsonNode node, String field) {
        return present(node, field).map(v -> OptionalDouble.of(v.asDouble())).orElse(OptionalDouble.empty());
    }

    static double decimal(JsonNode node, String field) {
        return required(node, field).asDouble();
    }

    static boolean bool(JsonNode node, String field) {
        return required(node, field).asBoolean();
    }

    static Instant instant(JsonNode node, String field) {
        return Instant.parse(text(node, field));
    }

    static Optional<Instant> optionalInstant(JsonNode node, String field) {
        return optionalText(node, field).map(Instant::parse);
    }

    /** A JSON object as an unmodifiable map without null values; empty when the field is absent. */
    static Map<String, Object> object(JsonNode node, String field) {
        Optional<JsonNode> value = present(node, field);
        if (value.isEmpty()) return Map.of();
        Map<String, Object> map = MAPPER.convertValue(value.get(), MAP);
        map.values().removeIf(Objects::isNull);
        return Collections.unmodifiableMap(map);
    }

    /** The array in {@code field}; empty when the field is absent. */
    static <T> List<T> list(JsonNode node, String field, Function<JsonNode, T> reader) {
        return present(node, field).map(array -> items(array, reader)).orElse(List.of());
    }

    /** A JSON array, each item read by {@code reader}. */
    static <T> List<T> items(JsonNode array, Function<JsonNode, T> reader) {
        if (!array.isArray()) throw new IllegalStateException("expected a list, got " + array.getNodeType());
        return StreamSupport.stream(array.spliterator(), false).map(reader).toList();
    }

    static JsonNode required(JsonNode node, String field) {
        return present(node, field).orElseThrow(() -> new IllegalStateException("field '" + field + "' is missing"));
    }

    private static Optional<JsonNode> present(JsonNode node, String field) {
        JsonNode value = node.get(field);
        return value == null || value.isNull() ? Optional.empty() : Optional.of(value);
    }
}
