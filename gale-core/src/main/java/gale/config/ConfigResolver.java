package gale.config;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;

import java.io.IOException;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Turns the layers a user can write settings in into one {@link FunctionConfig}:
 * defaults, then {@code gale.toml} in the bundle, then the deploy flags (flags win).
 * Keys are accepted in camelCase (JSON) or kebab-case (TOML and flags).
 */
public final class ConfigResolver {

    public static final String BUNDLE_FILE = "gale.toml";

    private static final List<String> KEYS = List.of("runtime", "entryPoint", "entryModule", "signature", "memory",
            "timeout", "concurrency", "minInstances", "maxInstances", "maxQueue", "idleTimeout", "env",
            "allowUnauthenticated", "requireKey", "cors", "command", "cpu", "sandbox", "network", "prewarm", "stateNamespaces", "blobBuckets", "zappaStage",
            "asyncMaxAttempts", "asyncBackoff", "asyncMaxAge", "asyncOnSuccess", "asyncOnFailure", "triggers");

    private static final ObjectMapper TOML = new TomlMapper();

    private ConfigResolver() {
    }

    /** A resolved config and what the deploy should tell about how it was read (a Zappa project's settings). */
    public record Resolved(FunctionConfig config, List<String> notes, Optional<KeepWarm> keepWarm) {
    }

    /** Resolves the config of function {@code name} from its bundle folder and the flags given at deploy. */
    public static FunctionConfig resolve(String name, Path bundleRoot, Map<String, ?> flags) {
        return resolveWithNotes(name, bundleRoot, flags).config();
    }

    /**
     * As {@link #resolve}: deploy flags win over the bundle's gale.toml, which wins over a Zappa
     * project's zappa_settings.json (its stage: the only one, or zappa-stage) or, when nothing names an entry
     * point, a serverless.yml or SAM template ({@link ProjectSettings}), which wins over the defaults.
     */
    public static Resolved resolveWithNotes(String name, Path bundleRoot, Map<String, ?> flags) {
        Map<String, Object> fromFile = normalise(readBundleFile(bundleRoot), BUNDLE_FILE);
        Map<String, Object> fromFlags = normalise(flags, "deploy flags");
        Optional<String> stage = Optional.ofNullable(fromFlags.containsKey("zappaStage") ? fromFlags.get("zappaStage")
                : fromFile.get("zappaStage")).map(v -> v.toString().trim());
        Optional<ProjectSettings> project = ZappaSettings.read(bundleRoot, stage);
        if (project.isEmpty() && !fromFile.containsKey("entryPoint") && !fromFlags.containsKey("entryPoint")) {
            project = ServerlessSettings.read(name, bundleRoot); // a Serverless or SAM project's handler, when nothing else names one
        }
        Map<String, Object> merged = new LinkedHashMap<>();
        project.ifPresent(p -> merged.putAll(p.config()));
        merged.putAll(fromFile);
        merged.putAll(fromFlags);
        merged.remove("zappaStage"); // how to read the bundle, not a setting of the version
        splitEntryPoint(merged, bundleRoot);
        return new Resolved(build(name, merged), project.map(ProjectSettings::notes).orElse(List.of()),
                project.flatMap(ProjectSettings::keepWarm));
    }

    private static final java.util.regex.Pattern DOTTED_ENTRY_POINT =
            java.util.regex.Pattern.compile("[A-Za-z_]\\w*(\\.[A-Za-z_]\\w*)*(:[A-Za-z_]\\w*|\\.[A-Za-z_]\\w*)");

    /**
     * A Python entry point given with its module, as Zappa ({@code app.app}) and gunicorn
     * ({@code myapp.api:app}) write it, becomes the entry module's file and the callable's name:
     * {@code myapp/api.py} (or {@code myapp/api/__init__.py} when the bundle has that) and {@code app}.
     */
    private static void splitEntryPoint(Map<String, Object> m, Path bundleRoot) {
        Object runtime = m.getOrDefault("runtime", "python3");
        Object given = m.get("entryPoint");
        if (!"python3".equals(String.valueOf(runtime).trim()) || !(given instanceof String text)
                || !DOTTED_ENTRY_POINT.matcher(text.trim()).matches()) {
            return;
        }
        String entry = text.trim();
        int split = entry.contains(":") ? entry.indexOf(':') : entry.lastIndexOf('.');
        String module = entry.substring(0, split);
        String callable = entry.substring(split + 1);
        String file = module.replace('.', '/') + ".py";
        if (!Files.isRegularFile(bundleRoot.resolve(file)) && Files.isRegularFile(bundleRoot.resolve(module.replace('.', '/')).resolve("__init__.py"))) {
            file = module.replace('.', '/') + "/__init__.py";
        }
        Object entryModule = m.get("entryModule");
        if (entryModule != null && !String.valueOf(entryModule).trim().equals(file)) {
            throw new InvalidConfigException("entry-point '" + entry + "' names its module (" + file + ") and entry-module says '"
                    + entryModule + "'; give the module in one of them: entry-point " + callable + " with entry-module "
                    + entryModule + ", or entry-point " + entry + " alone");
        }
        m.put("entryModule", file);
        m.put("entryPoint", callable);
    }

    /** Rebuilds a stored config (its {@link FunctionConfig#toMap() wire form}). */
    public static FunctionConfig fromMap(String name, Map<String, ?> wire) {
        return build(name, normalise(wire, "stored config"));
    }

    private static Map<String, Object> readBundleFile(Path bundleRoot) {
        Path file = bundleRoot.resolve(BUNDLE_FILE);
        if (!Files.isRegularFile(file)) return Map.of();
        try {
            @SuppressWarnings("unchecked")
            Map<String, Object> parsed = TOML.readValue(file.toFile(), Map.class);
            return parsed;
        } catch (JsonProcessingException e) {
            JsonLocation at = e.getLocation();
            String where = at == null || at.getLineNr() < 1 ? "" : " at line " + at.getLineNr() + ", column " + at.getColumnNr();
            throw new InvalidConfigException(BUNDLE_FILE + " is not valid TOML" + where + ": " + e.getOriginalMessage()
                    + "; see https://toml.io (strings need quotes: memory = \"512MB\")");
        } catch (IOException e) {
            throw new InvalidConfigException(BUNDLE_FILE + " cannot be read: " + firstLine(e.getMessage()));
        }
    }

    private static Map<String, Object> normalise(Map<String, ?> raw, String source) {
        Map<String, Object> out = new LinkedHashMap<>();
        for (Map.Entry<String, ?> e : raw.entrySet()) {
            String key = camelCase(e.getKey());
            if (!KEYS.contains(key)) {
                throw new InvalidConfigException("unknown key '" + e.getKey() + "' in " + source + "; known keys: "
                        + String.join(", ", KEYS.stream().map(ConfigResolver::kebabCase).toList()));
            }
            if (e.getValue() != null) out.put(key, e.getValue());
        }
        return out;
    }

    private static FunctionConfig build(String name, Map<String, Object> m) {
        FunctionConfig config = new FunctionConfig(
                string(m, "runtime", "python3"),
                string(m, "entryPoint", name.replace('-', '_')),
                string(m, "entryModule", "main.py"),
                string(m, "signature", "auto"),
                memory(m),
                duration(m, "timeout", "60s"),
                integer(m, "concurrency", 1),
                integer(m, "minInstances", 0),
                integer(m, "maxInstances", 10),
                integer(m, "maxQueue", 100),
                duration(m, "idleTimeout", "300s"),
                env(m.get("env")),
                bool(m, "allowUnauthenticated"),
                bool(m, "requireKey"),
                list(m.get("cors")),
                string(m, "command", ""),
                number(m, "cpu", 1.0),
                string(m, "sandbox", "auto"),
                string(m, "network", "all"),
                bool(m, "prewarm", true),
                list(m.get("stateNamespaces")),
                list(m.get("blobBuckets")),
                integer(m, "asyncMaxAttempts", 3),
                duration(m, "asyncBackoff", "1s"),
                duration(m, "asyncMaxAge", "6h"),
                string(m, "asyncOnSuccess", ""),
                string(m, "asyncOnFailure", ""),
                TriggerSpec.listOf(m.get("triggers")));
        for (TriggerSpec t : config.triggers()) checkGranted(name, config, t);
        return config;
    }

    /**
     * A function may follow its own namespace and bucket (its name) and those it was granted.
     *
     * @throws InvalidConfigException naming the trigger and how to grant its source
     */
    public static void checkGranted(String name, FunctionConfig config, TriggerSpec trigger) {
        boolean state = trigger.source().equals("state");
        List<String> granted = state ? config.stateNamespaces() : config.blobBuckets();
        if (trigger.name().equals(name) || granted.contains(trigger.name())) return;
        String what = state ? "state namespace" : "blob bucket";
        String flag = state ? "--state-namespace" : "--blob-bucket";
        String key = state ? "state-namespaces" : "blob-buckets";
        throw new InvalidConfigException("trigger " + trigger.sourceText() + ": function '" + name + "' may not read " + what
                + " '" + trigger.name() + "'; it may use " + String.join(", ", java.util.stream.Stream.concat(java.util.stream.Stream.of(name),
                granted.stream()).toList()) + ". Grant it: gale deploy " + name + " " + flag + " " + trigger.name()
                + " (or " + key + " = [\"" + trigger.name() + "\"] in gale.toml)");
    }

    private static String string(Map<String, Object> m, String key, String fallback) {
        Object v = m.get(key);
        if (v == null) return fallback;
        if (v instanceof Map<?, ?> || v instanceof Iterable<?>) {
            throw new InvalidConfigException(kebabCase(key) + " must be a single value, got " + (v instanceof Map<?, ?> ? "a table" : "a list")
                    + " " + v);
        }
        return v.toString().trim();
    }

    private static DataSize memory(Map<String, Object> m) {
        try {
            return DataSize.parse(string(m, "memory", "256MB"));
        } catch (IllegalArgumentException e) {
            throw new InvalidConfigException("memory: " + e.getMessage());
        }
    }

    private static Duration duration(Map<String, Object> m, String key, String fallback) {
        try {
            return Durations.parse(string(m, key, fallback));
        } catch (IllegalArgumentException e) {
            throw new InvalidConfigException(kebabCase(key) + ": " + e.getMessage());
        }
    }

    private static int integer(Map<String, Object> m, String key, int fallback) {
        Object v = m.get(key);
        if (v == null) return fallback;
        long n;
        try { // 1.5 or 1e3 must not become 1: only integers pass, as numbers or as text
            n = new BigDecimal(v.toString().trim()).longValueExact();
        } catch (NumberFormatException | ArithmeticException e) {
            throw new InvalidConfigException(kebabCase(key) + " must be a whole number, got '" + v + "'");
        }
        if (n != (int) n) throw new InvalidConfigException(kebabCase(key) + " is out of range, got " + v);
        return (int) n;
    }

    private static double number(Map<String, Object> m, String key, double fallback) {
        Object v = m.get(key);
        if (v == null) return fallback;
        if (v instanceof Number n) return n.doubleValue();
        try {
            return Double.parseDouble(v.toString().trim());
        } catch (NumberFormatException e) {
            throw new InvalidConfigException(kebabCase(key) + " must be a number, got '" + v + "'");
        }
    }

    private static boolean bool(Map<String, Object> m, String key) {
        return bool(m, key, false);
    }

    private static boolean bool(Map<String, Object> m, String key, boolean fallback) {
        Object v = m.get(key);
        if (v == null) return fallback;
        if (v instanceof Boolean b) return b;
        return switch (v.toString().trim().toLowerCase()) {
            case "true", "yes", "1" -> true;
            case "false", "no", "0" -> false;
            default -> throw new InvalidConfigException(kebabCase(key) + " must be true or false, got '" + v + "'");
        };
    }

    private static Map<String, String> env(Object v) {
        Map<String, String> out = new TreeMap<>();
        if (v == null) return out;
        if (!(v instanceof Map<?, ?> map)) throw new InvalidConfigException("env must be a table of NAME = \"value\"");
        map.forEach((k, val) -> {
            if (val instanceof Map<?, ?> || val instanceof Iterable<?>) {
                throw new InvalidConfigException("env " + k + " must be a string, got " + val + "; write [env] " + k + " = \"value\"");
            }
            out.put(k.toString(), val == null ? "" : val.toString());
        });
        return out;
    }

    /** A list, or one comma-separated string (a flag, the wire form). */
    private static List<String> list(Object v) {
        if (v == null) return List.of();
        List<String> origins = new ArrayList<>();
        Iterable<?> items = v instanceof Iterable<?> it ? it : Arrays.asList(v.toString().split(","));
        for (Object o : items) {
            String s = o.toString().trim();
            if (!s.isEmpty()) origins.add(s);
        }
        return origins;
    }

    static String camelCase(String key) {
        StringBuilder sb = new StringBuilder();
        boolean upper = false;
        for (char c : key.trim().toCharArray()) {
            if (c == '-' || c == '_') {
                upper = true;
            } else {
                sb.append(upper ? Character.toUpperCase(c) : c);
                upper = false;
            }
        }
        return sb.toString();
    }

    static String kebabCase(String key) {
        return key.replaceAll("([A-Z])", "-$1").toLowerCase();
    }

    private static String firstLine(String s) {
        return s == null ? "" : s.lines().findFirst().orElse("");
    }
}
