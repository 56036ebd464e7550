package gale.api.internal;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Just enough JSON for frame headers (docs/protocol.md), because gale-api has no dependencies.
 * Values map to {@code Map<String, Object>} (insertion-ordered), {@code List<Object>}, {@code String},
 * {@code Long} (integers that fit), {@code Double}, {@code Boolean} and {@code null}.
 */
public final class Json {

    /** Headers come from Gale, but a malformed one must fail cleanly, not overflow the stack. */
    private static final int MAX_DEPTH = 64;

    private Json() {
    }

    // ---------------------------------------------------------------- writing

    /** Serialises maps, iterables, arrays of objects, strings, numbers, booleans and null. */
    public static String write(Object value) {
        StringBuilder out = new StringBuilder(128);
        write(value, out);
        return out.toString();
    }

    public static void write(Object value, StringBuilder out) {
        // instanceof rather than a pattern switch: its invokedynamic bootstrap would cost every instance start-up time
        if (value == null) {
            out.append("null");
        } else if (value instanceof String s) {
            writeString(s, out);
        } else if (value instanceof Boolean b) {
            out.append(b.booleanValue());
        } else if (value instanceof Double d) {
            writeFloating(d, out);
        } else if (value instanceof Float f) {
            writeFloating(f.doubleValue(), out);
        } else if (value instanceof Number n) {
            out.append(n.toString());
        } else if (value instanceof Map<?, ?> m) {
            writeObject(m, out);
        } else if (value instanceof Iterable<?> items) {
            writeArray(items, out);
        } else if (value instanceof Object[] items) {
            writeArray(List.of(items), out);
        } else if (value instanceof Map.Entry<?, ?> e) { // a header pair: [name, value]
            writeArray(List.of(e.getKey(), e.getValue()), out);
        } else {
            throw new IllegalArgumentException("cannot write " + value.getClass().getName() + " as JSON");
        }
    }

    private static void writeFloating(double d, StringBuilder out) {
        if (Double.isNaN(d) || Double.isInfinite(d)) throw new IllegalArgumentException("JSON has no " + d);
        if (d == Math.rint(d) && Math.abs(d) < 1e15) out.append((long) d);
        else out.append(d);
    }

    private static void writeObject(Map<?, ?> map, StringBuilder out) {
        out.append('{');
        boolean first = true;
        for (var e : map.entrySet()) {
            if (!(e.getKey() instanceof String key)) throw new IllegalArgumentException("JSON object keys must be strings, got " + e.getKey());
            if (!first) out.append(',');
            first = false;
            writeString(key, out);
            out.append(':');
            write(e.getValue(), out);
        }
        out.append('}');
    }

    private static void writeArray(Iterable<?> items, StringBuilder out) {
        out.append('[');
        boolean first = true;
        for (Object item : items) {
            if (!first) out.append(',');
            first = false;
            write(item, out);
        }
        out.append(']');
    }

    private static void writeString(String s, StringBuilder out) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                case '\b' -> out.append("\\b");
                case '\f' -> out.append("\\f");
                default -> {
                    // Control characters must be escaped; lone surrogates too, or UTF-8 encoding would turn them into '?'.
                    if (c < 0x20 || c == 0x2028 || c == 0x2029 || Character.isSurrogate(c) && !validPair(s, i)) {
                        appendUnicodeEscape(c, out);
                    } else {
                        out.append(c);
                        if (Character.isHighSurrogate(c)) out.append(s.charAt(++i));
                    }
                }
            }
        }
        out.append('"');
    }

    private static void appendUnicodeEscape(char c, StringBuilder out) {
        out.append("\\u");
        for (int shift = 12; shift >= 0; shift -= 4) out.append(Character.forDigit((c >> shift) & 0xf, 16));
    }

    private static boolean validPair(String s, int i) {
        char c = s.charAt(i);
        return Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1));
    }

    // ---------------------------------------------------------------- parsing

    /** Parses one JSON value; the whole input must be that value (surrounding whitespace allowed). */
    public static Object parse(String text) {
        var parser = new Parser(text);
        parser.skipWhitespace();
        Object value = parser.value(0);
        parser.skipWhitespace();
        if (parser.pos != text.length()) throw parser.error("unexpected '" + text.charAt(parser.pos) + "' after the value");
        return value;
    }

    /** Parses a JSON object, as every frame header is. */
    @SuppressWarnings("unchecked")
    public static Map<String, Object> parseObject(String text) {
        Object value = parse(text);
        if (!(value instanceof Map<?, ?>)) throw new JsonException("expected a JSON object, got " + describe(value));
        return (Map<String, Object>) value;
    }

    private static String describe(Object value) {
        if (value == null) return "null";
        if (value instanceof String) return "a string";
        if (value instanceof List<?>) return "an array";
        if (value instanceof Boolean) return "a boolean";
        return "a number";
    }

    /** Malformed JSON; the message names the offset. */
    public static final class JsonException extends IllegalArgumentException {
        public JsonException(String message) {
            super(message);
        }
    }

    private static final class Parser {
        private final String s;
        private int pos;

        Parser(String s) {
            this.s = s;
        }

        Object value(int depth) {
            if (depth > MAX_DEPTH) throw error("nested deeper than " + MAX_DEPTH);
            if (pos >= s.length()) throw error("unexpected end of input");
            char c = s.charAt(pos);
            return switch (c) {
                case '{' -> object(depth);
                case '[' -> array(depth);
                case '"' -> string();
                case 't' -> literal("true", Boolean.TRUE);
                case 'f' -> literal("false", Boolean.FALSE);
                case 'n' -> literal("null", null);
                default -> {
                    if (c == '-' || c >= '0' && c <= '9') yield number();
                    throw error("unexpected '" + c + "'");
                }
            };
        }

        private Map<String, Object> object(int depth) {
            pos++; // {
            Map<String, Object> map = new LinkedHashMap<>();
            skipWhitespace();
            if (peek() == '}') {
                pos++;
                return map;
            }
            while (true) {
                skipWhitespace();
                if (peek() != '"') throw error("expected a string key");
                String key = string();
                skipWhitespace();
                expect(':');
                skipWhitespace();
                map.put(key, value(depth + 1));
                skipWhitespace();
                char c = next();
                if (c == '}') return map;
                if (c != ',') throw error("expected ',' or '}'", pos - 1);
            }
        }

        private List<Object> array(int depth) {
            pos++; // [
            List<Object> list = new ArrayList<>();
            skipWhitespace();
            if (peek() == ']') {
                pos++;
                return Collections.unmodifiableList(list);
            }
            while (true) {
                skipWhitespace();
                list.add(value(depth + 1));
                skipWhitespace();
                char c = next();
                if (c == ']') return Collections.unmodifiableList(list);
                if (c != ',') throw error("expected ',' or ']'", pos - 1);
            }
        }

        private String string() {
            pos++; // opening quote
            StringBuilder out = null;
            int start = pos;
            while (true) {
                if (pos >= s.length()) throw error("unterminated string");
                char c = s.charAt(pos);
                if (c == '"') {
                    String tail = s.substring(start, pos++);
                    return out == null ? tail : out.append(tail).toString();
                }
                if (c < 0x20) throw error("control character in a string");
                if (c != '\\') {
                    pos++;
                    continue;
                }
                if (out == null) out = new StringBuilder();
                out.append(s, start, pos);
                pos++;
                char e = next();
                switch (e) {
                    case '"', '\\', '/' -> out.append(e);
                    case 'n' -> out.append('\n');
                    case 'r' -> out.append('\r');
                    case 't' -> out.append('\t');
                    case 'b' -> out.append('\b');
                    case 'f' -> out.append('\f');
                    case 'u' -> out.append(hex4());
                    default -> throw error("invalid escape '\\" + e + "'", pos - 1);
                }
                start = pos;
            }
        }

        private char hex4() {
            if (pos + 4 > s.length()) throw error("truncated \\u escape");
            int v = 0;
            for (int i = 0; i < 4; i++) {
                int d = Character.digit(s.charAt(pos + i), 16);
                if (d < 0) throw error("invalid \\u escape", pos + i);
                v = v * 16 + d;
            }
            pos += 4;
            return (char) v;
        }

        private Object number() {
            int start = pos;
            if (peek() == '-') pos++;
            if (peek() == '0') {
                pos++;
            } else if (isDigit(peek())) {
                while (isDigit(peek())) pos++;
            } else {
                throw error("invalid number");
            }
            boolean floating = false;
            if (peek() == '.') {
                floating = true;
                pos++;
                if (!isDigit(peek())) throw error("invalid number: digit expected after '.'");
                while (isDigit(peek())) pos++;
            }
            if (peek() == 'e' || peek() == 'E') {
                floating = true;
                pos++;
                if (peek() == '+' || peek() == '-') pos++;
                if (!isDigit(peek())) throw error("invalid number: digit expected in the exponent");
                while (isDigit(peek())) pos++;
            }
            String text = s.substring(start, pos);
            if (!floating) {
                try {
                    return Long.parseLong(text);
                } catch (NumberFormatException tooBig) {
                    // beyond a long: fall through to a double
                }
            }
            return Double.parseDouble(text);
        }

        private Object literal(String word, Object value) {
            if (!s.startsWith(word, pos)) throw error("unexpected '" + s.charAt(pos) + "'");
            pos += word.length();
            return value;
        }

        void skipWhitespace() {
            while (pos < s.length()) {
                char c = s.charAt(pos);
                if (c != ' ' && c != '\n' && c != '\r' && c != '\t') return;
                pos++;
            }
        }

        private char peek() {
            return pos < s.length() ? s.charAt(pos) : '\0';
        }

        private char next() {
            if (pos >= s.length()) throw error("unexpected end of input");
            return s.charAt(pos++);
        }

        private void expect(char c) {
            if (pos >= s.length() || s.charAt(pos) != c) throw error("expected '" + c + "'");
            pos++;
        }

        private static boolean isDigit(char c) {
            return c >= '0' && c <= '9';
        }

        JsonException error(String message) {
            return error(message, pos);
        }

        JsonException error(String message, int at) {
            return new JsonException("invalid JSON at offset " + at + ": " + message);
        }
    }
}
