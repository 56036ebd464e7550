package gale.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The handler of a Serverless Framework project ({@code serverless.yml}) or an AWS SAM template
 * ({@code template.yaml}), read where it is unambiguous: the function named like the one deployed,
 * else the file's only function. Its handler string ({@code app.lambda_handler}) becomes the entry
 * point; its memory, timeout and environment (the provider's or the Globals' under the function's
 * own) the settings. A SAM function whose code lives in a sub-folder ({@code CodeUri: hello_world/})
 * is refused with the command that deploys that folder, as Lambda runs the code from there.
 */
final class ServerlessSettings {

    static final List<String> SERVERLESS_FILES = List.of("serverless.yml", "serverless.yaml");
    static final List<String> SAM_FILES = List.of("template.yaml", "template.yml");

    private static final ObjectMapper JSON = new ObjectMapper();

    private ServerlessSettings() {
    }

    static Optional<ProjectSettings> read(String name, Path bundleRoot) {
        for (String file : SERVERLESS_FILES) {
            if (Files.isRegularFile(bundleRoot.resolve(file))) return Optional.of(serverless(name, file, parse(bundleRoot, file)));
        }
        for (String file : SAM_FILES) {
            if (Files.isRegularFile(bundleRoot.resolve(file))) {
                JsonNode root;
                try {
                    root = parse(bundleRoot, file);
                } catch (InvalidConfigException notYaml) {
                    continue; // a template.yaml of something else (Jinja, say): not Gale's business
                }
                if (root.path("Transform").toString().contains("AWS::Serverless")) return Optional.of(sam(name, file, root));
            }
        }
        return Optional.empty();
    }

    /**
     * The file as a tree. CloudFormation's tags ({@code !Ref}, {@code !Sub}, {@code !GetAtt}) become
     * objects, not their text, so a variable set from one is recognised as having no value here.
     */
    private static JsonNode parse(Path bundleRoot, String file) {
        Object loaded;
        try (var reader = Files.newBufferedReader(bundleRoot.resolve(file))) {
            loaded = new org.yaml.snakeyaml.Yaml(new TagsAsObjects()).load(reader);
        } catch (IOException | org.yaml.snakeyaml.error.YAMLException e) {
            throw new InvalidConfigException(file + " is not valid YAML: " + String.valueOf(e.getMessage()).lines().findFirst().orElse(""));
        }
        JsonNode root = JSON.valueToTree(loaded);
        if (root == null || !root.isObject()) throw new InvalidConfigException(file + " must be a YAML mapping");
        return root;
    }

    /** A CloudFormation intrinsic function, kept as {"tag": ..., "value": ...}. */
    record Intrinsic(String tag, Object value) {
    }

    private static final class TagsAsObjects extends org.yaml.snakeyaml.constructor.SafeConstructor {
        TagsAsObjects() {
            super(new org.yaml.snakeyaml.LoaderOptions());
            this.yamlConstructors.put(null, new org.yaml.snakeyaml.constructor.AbstractConstruct() {
                @Override
                public Object construct(org.yaml.snakeyaml.nodes.Node node) {
                    Object value = switch (node) {
                        case org.yaml.snakeyaml.nodes.ScalarNode scalar -> scalar.getValue();
                        case org.yaml.snakeyaml.nodes.SequenceNode seq -> constructSequence(seq);
                        case org.yaml.snakeyaml.nodes.MappingNode map -> constructMapping(map);
                        default -> null;
                    };
                    return new Intrinsic(node.getTag().getValue(), value);
                }
            });
        }
    }

    private static ProjectSettings serverless(String name, String file, JsonNode root) {
        JsonNode functions = root.path("functions");
        String key = pick(name, file, functions, "functions", f -> f.has("handler"));
        JsonNode fn = functions.get(key);
        JsonNode provider = root.path("provider");
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("entryPoint", text(file, fn, "handler"));
        number(provider, fn, "memorySize").ifPresent(mb -> config.put("memory", mb + "MB"));
        number(provider, fn, "timeout").ifPresent(s -> config.put("timeout", s + "s"));
        Map<String, String> env = new LinkedHashMap<>();
        variables(provider.path("environment"), env);
        variables(fn.path("environment"), env);
        if (!env.isEmpty()) config.put("env", env);
        return new ProjectSettings(key, config, List.of("read " + file + " function '" + key + "': handler "
                + fn.path("handler").asText() + (env.isEmpty() ? "" : ", environment") + "; events, IAM and other AWS settings ignored"));
    }

    private static ProjectSettings sam(String name, String file, JsonNode root) {
        JsonNode resources = root.path("Resources");
        String key = pick(name, file, resources, "Resources of Type AWS::Serverless::Function",
                r -> r.path("Type").asText().equals("AWS::Serverless::Function"));
        JsonNode props = resources.get(key).path("Properties");
        JsonNode globals = root.path("Globals").path("Function");
        String codeUri = props.path("CodeUri").asText(globals.path("CodeUri").asText("."));
        String folder = codeUri.replaceAll("^\\./", "").replaceAll("/+$", "");
        String handler = text(file, props, "Handler");
        if (!folder.isEmpty() && !folder.equals(".")) {
            throw new InvalidConfigException(file + ": " + key + "'s code is in " + codeUri + ", which Lambda runs from; deploy that "
                    + "folder: gale deploy " + name + " --source " + folder + " --entry-point " + handler);
        }
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("entryPoint", handler);
        number(globals, props, "MemorySize").ifPresent(mb -> config.put("memory", mb + "MB"));
        number(globals, props, "Timeout").ifPresent(s -> config.put("timeout", s + "s"));
        Map<String, String> env = new LinkedHashMap<>();
        variables(globals.path("Environment").path("Variables"), env);
        variables(props.path("Environment").path("Variables"), env);
        if (!env.isEmpty()) config.put("env", env);
        return new ProjectSettings(key, config, List.of("read " + file + " resource '" + key + "': Handler " + handler
                + (env.isEmpty() ? "" : ", Environment") + "; Events, Policies and other AWS settings ignored"));
    }

    /** The function named {@code name}, else the only one; refused naming them when that is ambiguous. */
    private static String pick(String name, String file, JsonNode all, String what, java.util.function.Predicate<JsonNode> isFunction) {
        List<String> names = new ArrayList<>();
        all.fields().forEachRemaining(e -> {
            if (e.getValue().isObject() && isFunction.test(e.getValue())) names.add(e.getKey());
        });
        if (names.contains(name)) return name;
        if (names.size() == 1) return names.getFirst();
        if (names.isEmpty()) throw new InvalidConfigException(file + " has no " + what + "; give --entry-point MODULE.FUNCTION");
        throw new InvalidConfigException(file + " has the functions " + String.join(", ", names) + "; deploy one under its name "
                + "(gale deploy " + names.getFirst() + " ...) or give --entry-point MODULE.FUNCTION");
    }

    private static String text(String file, JsonNode node, String field) {
        JsonNode v = node.path(field);
        if (!v.isTextual() || v.asText().isBlank()) {
            throw new InvalidConfigException(file + ": " + field + " must be a string like \"app.lambda_handler\"");
        }
        return v.asText();
    }

    /** The function's own value, else the shared one (provider / Globals). */
    private static Optional<Long> number(JsonNode shared, JsonNode own, String field) {
        for (JsonNode n : List.of(own.path(field), shared.path(field))) {
            if (n.canConvertToLong() && (n.isIntegralNumber() || n.asText().matches("\\d+"))) return Optional.of(n.asLong());
        }
        return Optional.empty();
    }

    /** Plain values only: a CloudFormation reference ({@code !Ref Table}) has nothing to resolve to here and is left out. */
    private static void variables(JsonNode vars, Map<String, String> env) {
        if (!vars.isObject()) return;
        vars.fields().forEachRemaining(e -> {
            if (e.getValue().isValueNode() && !e.getValue().isNull()) env.put(e.getKey(), e.getValue().asText());
        });
    }
}
