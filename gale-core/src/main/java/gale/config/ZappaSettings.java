package gale.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * A Zappa project's {@code zappa_settings.json}, read so that the project deploys as it is: the
 * stage's {@code app_function} becomes the entry point, {@code environment_variables} (and
 * {@code aws_environment_variables}) the environment, {@code timeout_seconds} and
 * {@code memory_size} the timeout and memory. A stage may {@code extends} another, as in Zappa.
 * Settings that steer AWS have nothing to steer here; they are named in {@link ProjectSettings#notes()}.
 */
public final class ZappaSettings {

    public static final String FILE = "zappa_settings.json";

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MAX_EXTENDS = 16;

    private ZappaSettings() {
    }

    /** The settings of {@code stage} (or of the file's only stage) when the bundle has a zappa_settings.json. */
    public static Optional<ProjectSettings> read(Path bundleRoot, Optional<String> stage) {
        Path file = bundleRoot.resolve(FILE);
        if (!Files.isRegularFile(file)) {
            stage.ifPresent(s -> {
                throw new InvalidConfigException("zappa-stage '" + s + "' was given but the bundle has no " + FILE);
            });
            return Optional.empty();
        }
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (JsonProcessingException e) {
            throw new InvalidConfigException(FILE + " is not valid JSON at line " + e.getLocation().getLineNr() + ": "
                    + e.getOriginalMessage());
        } catch (IOException e) {
            throw new InvalidConfigException(FILE + " cannot be read: " + e.getMessage());
        }
        if (root == null || !root.isObject() || root.isEmpty()) {
            throw new InvalidConfigException(FILE + " must be an object of stages, like {\"dev\": {\"app_function\": \"app.app\"}}");
        }
        List<String> stages = new ArrayList<>();
        root.fieldNames().forEachRemaining(stages::add);
        String chosen = stage.orElseGet(() -> {
            if (stages.size() == 1) return stages.getFirst();
            throw new InvalidConfigException(FILE + " has the stages " + String.join(", ", stages)
                    + "; pick one with --zappa-stage (zappa-stage in gale.toml), as `zappa deploy STAGE` does");
        });
        if (!root.has(chosen)) {
            throw new InvalidConfigException("zappa-stage '" + chosen + "' is not in " + FILE + "; its stages: " + String.join(", ", stages));
        }
        return Optional.of(translate(chosen, merged(root, chosen)));
    }

    /** The stage with what it {@code extends} underneath, as Zappa resolves it. */
    private static ObjectNode merged(JsonNode root, String stage) {
        List<ObjectNode> chain = new ArrayList<>();
        Set<String> seen = new LinkedHashSet<>();
        String current = stage;
        while (current != null) {
            if (!seen.add(current) || seen.size() > MAX_EXTENDS) {
                throw new InvalidConfigException(FILE + ": stage '" + stage + "' extends in a loop (" + String.join(" -> ", seen) + ")");
            }
            JsonNode node = root.get(current);
            if (node == null || !node.isObject()) {
                throw new InvalidConfigException(FILE + ": stage '" + current + "' "
                        + (node == null ? "is extended but not defined" : "must be an object of settings"));
            }
            chain.addFirst((ObjectNode) node);
            current = node.hasNonNull("extends") ? node.get("extends").asText() : null;
        }
        ObjectNode out = JSON.createObjectNode();
        for (ObjectNode node : chain) out.setAll(node);
        out.remove("extends");
        return out;
    }

    private static ProjectSettings translate(String stage, ObjectNode s) {
        Map<String, Object> config = new LinkedHashMap<>();
        List<String> used = new ArrayList<>();
        Set<String> ignored = new TreeSet<>();
        Map<String, String> env = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = s.fields(); it.hasNext(); ) {
            var e = it.next();
            String key = e.getKey();
            JsonNode v = e.getValue();
            switch (key) {
                case "app_function" -> {
                    requireText(key, v);
                    config.put("entryPoint", v.asText());
                    used.add(key);
                }
                case "environment_variables", "aws_environment_variables" -> {
                    if (!v.isObject()) throw new InvalidConfigException(FILE + ": " + key + " must be an object of names and values");
                    v.fields().forEachRemaining(var -> env.put(var.getKey(), var.getValue().isTextual()
                            ? var.getValue().asText() : var.getValue().toString()));
                    used.add(key);
                }
                case "timeout_seconds" -> {
                    requireNumber(key, v);
                    config.put("timeout", v.asLong() + "s");
                    used.add(key);
                }
                case "memory_size" -> {
                    requireNumber(key, v);
                    config.put("memory", v.asLong() + "MB");
                    used.add(key);
                }
                default -> ignored.add(key);
            }
        }
        if (!env.isEmpty()) config.put("env", env);
        List<String> notes = new ArrayList<>();
        notes.add("read " + FILE + " stage '" + stage + "': " + (used.isEmpty() ? "nothing Gale uses" : String.join(", ", used)));
        KeepWarm keepWarm = keepWarm(s);
        ignored.remove("keep_warm");
        ignored.remove("keep_warm_expression");
        notes.add(keepWarm.on()
                ? "keep_warm: a schedule calls the app " + keepWarm.describe() + " (" + keepWarm.expression() + "), warming an "
                        + "instance without running a request through the app; --min-instances 1 keeps one always up instead"
                : "keep_warm false: no keep-warm schedule (one an earlier deploy made is removed)");
        if (s.has("events")) {
            ignored.remove("events");
            notes.add("events: not scheduled by Gale yet; give each its own schedule with the API (docs/schedules.md)");
        }
        if (!ignored.isEmpty()) notes.add("ignored (AWS settings with nothing to steer here): " + String.join(", ", ignored));
        return new ProjectSettings(stage, config, notes, Optional.of(keepWarm));
    }

    /** Zappa keeps warm unless told not to, every 4 minutes unless keep_warm_expression says otherwise. */
    private static KeepWarm keepWarm(ObjectNode s) {
        JsonNode flag = s.get("keep_warm");
        if (flag != null && !flag.isBoolean()) throw new InvalidConfigException(FILE + ": keep_warm must be true or false, got " + flag);
        if (flag != null && !flag.asBoolean()) return KeepWarm.off();
        JsonNode expression = s.get("keep_warm_expression");
        if (expression == null) return KeepWarm.on(KeepWarm.DEFAULT_EXPRESSION);
        if (!expression.isTextual()) {
            throw new InvalidConfigException(FILE + ": keep_warm_expression must be a string like \"rate(4 minutes)\", got " + expression);
        }
        return KeepWarm.on(expression.asText());
    }

    private static void requireText(String key, JsonNode v) {
        if (!v.isTextual() || v.asText().isBlank()) {
            throw new InvalidConfigException(FILE + ": " + key + " must be a string like \"app.app\", got " + v);
        }
    }

    private static void requireNumber(String key, JsonNode v) {
        if (!v.canConvertToLong() || !v.isIntegralNumber()) {
            throw new InvalidConfigException(FILE + ": " + key + " must be a whole number, got " + v);
        }
    }
}
