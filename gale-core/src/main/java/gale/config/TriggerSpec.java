package gale.config;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a trigger follows (docs/triggers.md): state changes under a prefix of a namespace
 * ({@code state:survey/responses/}) or blobs written under a prefix of a bucket ({@code blob:models/incoming/}),
 * and which kinds of event: {@code put}, {@code delete} for state; {@code finalize}, {@code delete} for blobs.
 *
 * @param source "state" or "blob"
 * @param name   the namespace or bucket
 * @param prefix keys that start with it ("" for all)
 * @param events the kinds followed, in a fixed order, never empty
 */
public record TriggerSpec(String source, String name, String prefix, List<String> events) {

    public static final String SOURCE_RULE = "a trigger's source is state:NAMESPACE/PREFIX or blob:BUCKET/PREFIX, "
            + "e.g. state:survey/responses/ or blob:models/incoming/ (the prefix may be empty)";
    private static final List<String> STATE_EVENTS = List.of("put", "delete");
    private static final List<String> BLOB_EVENTS = List.of("finalize", "delete");
    private static final int MAX_PREFIX_BYTES = 1024;
    private static final String NAME = "[a-z0-9][a-z0-9._-]{0,62}";

    public TriggerSpec {
        events = List.copyOf(events);
    }

    /**
     * Parses {@code state:NS/PREFIX} or {@code blob:BUCKET/PREFIX} with the event kinds given (none: all of the source's).
     *
     * @throws InvalidConfigException saying what is wrong and what a source looks like
     */
    public static TriggerSpec parse(String text, List<String> events) {
        String s = text == null ? "" : text.strip();
        int colon = s.indexOf(':');
        String source = colon < 0 ? "" : s.substring(0, colon);
        if (!source.equals("state") && !source.equals("blob")) {
            throw new InvalidConfigException("'" + preview(s) + "' is not a trigger source: " + SOURCE_RULE);
        }
        String rest = s.substring(colon + 1);
        int slash = rest.indexOf('/');
        String name = slash < 0 ? rest : rest.substring(0, slash);
        String prefix = slash < 0 ? "" : rest.substring(slash + 1);
        String what = source.equals("state") ? "namespace" : "bucket";
        if (!name.matches(NAME)) {
            throw new InvalidConfigException("trigger " + preview(s) + ": '" + preview(name) + "' is not a " + what
                    + ": 1-63 lowercase letters, digits, '.', '_' and '-', starting with a letter or digit; " + SOURCE_RULE);
        }
        checkPrefix(s, source, prefix);
        return new TriggerSpec(source, name, prefix, kinds(s, source, events));
    }

    /** The kinds of event this source has: put and delete for state, finalize and delete for blobs. */
    public static List<String> eventsOf(String source) {
        return source.equals("state") ? STATE_EVENTS : BLOB_EVENTS;
    }

    private static List<String> kinds(String text, String source, List<String> given) {
        List<String> known = eventsOf(source);
        if (given.isEmpty()) return known;
        List<String> wanted = new ArrayList<>();
        for (String e : given) {
            String kind = e.strip().toLowerCase(java.util.Locale.ROOT);
            if (!known.contains(kind)) {
                throw new InvalidConfigException("trigger " + preview(text) + ": '" + preview(e) + "' is not an event of " + source
                        + " (" + String.join(", ", known) + ")");
            }
            wanted.add(kind);
        }
        return known.stream().filter(wanted::contains).toList();
    }

    private static void checkPrefix(String text, String source, String prefix) {
        if (prefix.getBytes(StandardCharsets.UTF_8).length > MAX_PREFIX_BYTES) {
            throw new InvalidConfigException("trigger " + preview(text) + ": the prefix is over " + MAX_PREFIX_BYTES + " bytes");
        }
        for (int i = 0; i < prefix.length(); i++) {
            char c = prefix.charAt(i);
            if (c < 0x20 || c == 0x7f) {
                throw new InvalidConfigException("trigger " + preview(text) + ": the prefix holds a control character (code "
                        + (int) c + " at " + i + "); prefixes are printable text");
            }
            if (source.equals("blob") && (c == '@' || c == ':' || c == '\\')) {
                throw new InvalidConfigException("trigger " + preview(text) + ": the prefix holds '" + c
                        + "', which no blob key holds; blob keys are printable text without '@', ':' or '\\'");
            }
        }
        if (source.equals("blob") && (prefix.startsWith("/") || prefix.contains("//") || prefix.equals("..")
                || prefix.startsWith("../") || prefix.contains("/../") || prefix.startsWith("./") || prefix.contains("/./"))) {
            throw new InvalidConfigException("trigger " + preview(text) + ": no blob key starts with '" + preview(prefix)
                    + "': keys are /-separated parts that are neither empty, '.' nor '..'");
        }
    }

    /** {@code state:NS/PREFIX}, as it is written. */
    public String sourceText() {
        return source + ":" + name + "/" + prefix;
    }

    public boolean matches(String key, String kind) {
        return key.startsWith(prefix) && events.contains(kind);
    }

    /** The wire form: {"source": "state:survey/responses/", "events": ["put", "delete"]}. */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("source", sourceText());
        m.put("events", events);
        return m;
    }

    /**
     * The triggers a config lists: each a source string, or a table/object with {@code source} and optional
     * {@code events} (a list, or one comma-separated string).
     */
    public static List<TriggerSpec> listOf(Object v) {
        if (v == null) return List.of();
        Iterable<?> items = v instanceof Iterable<?> it ? it : List.of(v);
        List<TriggerSpec> out = new ArrayList<>();
        for (Object item : items) {
            if (item instanceof Map<?, ?> m) {
                for (Object key : m.keySet()) {
                    if (!key.equals("source") && !key.equals("events")) {
                        throw new InvalidConfigException("unknown key '" + key + "' in a trigger; a trigger is {source = \"state:NS/PREFIX\", "
                                + "events = [\"put\"]} or just its source");
                    }
                }
                Object events = m.get("events");
                List<String> kinds = new ArrayList<>();
                if (events instanceof Iterable<?> es) es.forEach(e -> kinds.add(String.valueOf(e)));
                else if (events != null) for (String e : events.toString().split(",")) if (!e.isBlank()) kinds.add(e);
                out.add(parse(m.get("source") == null ? "" : m.get("source").toString(), kinds));
            } else {
                out.add(parse(String.valueOf(item), List.of()));
            }
        }
        return List.copyOf(out);
    }

    private static String preview(String text) {
        return text.length() <= 80 ? text : text.substring(0, 77) + "...";
    }
}
