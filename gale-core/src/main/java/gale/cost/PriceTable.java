package gale.cost;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;

import java.io.IOException;
import java.io.InputStream;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * The prices a cost report uses (docs/cost.md): Gale's defaults ({@code gale/cost/prices.json}, each
 * price with its source and date), with a prices file's keys laid over them. A file changes only
 * what it names: one price, one platform, or a new platform of a known kind.
 *
 * @param freeTier    take the platforms' monthly free allowances off (false: list prices)
 * @param thisMachine what the machine Gale runs on costs, when the table says so (else the report
 *                    prices it as the cheapest VM in the table at least as big)
 */
public record PriceTable(String currency, boolean freeTier, Map<String, Platform> platforms, Optional<MachinePrice> thisMachine) {

    /** What the machine Gale runs on costs by the hour, as the table's owner says. */
    public record MachinePrice(String label, BigDecimal perHour) {
    }

    private static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS);
    private static final TomlMapper TOML = TomlMapper.builder().enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS).build();
    /** The names Gale looks for in its data dir. */
    public static final List<String> DATA_DIR_FILES = List.of("prices.toml", "prices.json");

    /** Gale's own table. */
    public static PriceTable defaults() {
        return parse(defaultsJson());
    }

    static ObjectNode defaultsJson() {
        try (InputStream in = PriceTable.class.getResourceAsStream("prices.json")) {
            if (in == null) throw new IllegalStateException("gale/cost/prices.json is missing from Gale's jar");
            return (ObjectNode) JSON.readTree(in);
        } catch (IOException e) {
            throw new IllegalStateException("gale/cost/prices.json cannot be read", e);
        }
    }

    /** The defaults with each of {@code overrides} laid over them in turn (a prices file, then a request's). */
    public static PriceTable withOverrides(List<JsonNode> overrides) {
        ObjectNode merged = defaultsJson();
        for (JsonNode layer : overrides) {
            if (layer == null || !layer.isObject()) {
                throw new InvalidPricesException("prices must be a table (an object of keys), got " + PriceFields.describe(layer));
            }
            merge(merged, (ObjectNode) layer);
        }
        return parse(merged);
    }

    /** Lays {@code layer} over {@code base}: tables merge key by key, anything else replaces. */
    static void merge(ObjectNode base, ObjectNode layer) {
        layer.properties().forEach(e -> {
            JsonNode under = base.get(e.getKey());
            if (under instanceof ObjectNode table && e.getValue() instanceof ObjectNode over) {
                merge(table, over);
            } else {
                base.set(e.getKey(), e.getValue().deepCopy());
            }
        });
    }

    /** A prices file, TOML ({@code .toml}) or JSON (anything else), as a tree to lay over the defaults. */
    public static JsonNode readFile(Path file) {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        try {
            byte[] bytes = Files.readAllBytes(file);
            return name.endsWith(".toml") ? TOML.readTree(bytes) : JSON.readTree(bytes);
        } catch (NoSuchFileException e) {
            throw new InvalidPricesException("prices file " + file + " does not exist");
        } catch (IOException e) {
            String why = e.getMessage() == null ? e.toString() : e.getMessage().lines().findFirst().orElse(e.toString());
            throw new InvalidPricesException("prices file " + file + " is not valid " + (name.endsWith(".toml") ? "TOML" : "JSON")
                    + ": " + why);
        }
    }

    /** The prices file in a data dir ({@link #DATA_DIR_FILES}), if there is one. */
    public static Optional<Path> dataDirFile(Path dataDir) {
        return DATA_DIR_FILES.stream().map(dataDir::resolve).filter(Files::isRegularFile).findFirst();
    }

    /** Reads a whole table (defaults already merged in); errors name the key. */
    static PriceTable parse(JsonNode tree) {
        PriceFields top = new PriceFields(tree, "");
        String currency = top.text("currency");
        boolean freeTier = top.bool("freeTier", false);
        new PriceFields(top.node("platforms"), "platforms"); // a table, or a clear error
        Map<String, Platform> platforms = new LinkedHashMap<>();
        tree.get("platforms").properties().forEach(e -> {
            PriceFields f = new PriceFields(e.getValue(), "platforms." + e.getKey());
            String kind = f.text("kind");
            Platform platform = switch (kind) {
                case PerCallPlatform.KIND -> PerCallPlatform.read(e.getKey(), f);
                case CloudRunPlatform.KIND -> CloudRunPlatform.read(e.getKey(), f);
                case VmPlatform.KIND -> VmPlatform.read(e.getKey(), f);
                default -> throw new InvalidPricesException(f.path("kind") + " must be one of " + PerCallPlatform.KIND + ", "
                        + CloudRunPlatform.KIND + ", " + VmPlatform.KIND + "; got \"" + kind + "\"");
            };
            f.noOthers();
            platforms.put(e.getKey(), platform);
        });
        Optional<MachinePrice> machine = Optional.ofNullable(top.node("thisMachine")).filter(n -> !n.isNull()).map(node -> {
            PriceFields f = new PriceFields(node, "thisMachine");
            var price = new MachinePrice(f.optionalText("label").orElse("this machine"), f.amount("perHour"));
            f.noOthers();
            return price;
        });
        top.noOthers();
        if (platforms.values().stream().noneMatch(p -> p instanceof ServerlessPlatform)) {
            throw new InvalidPricesException("platforms has no serverless platform (kind " + PerCallPlatform.KIND + " or "
                    + CloudRunPlatform.KIND + ") to compare with");
        }
        return new PriceTable(currency, freeTier, java.util.Collections.unmodifiableMap(platforms), machine);
    }

    public List<ServerlessPlatform> serverless() {
        return platforms.values().stream().filter(p -> p instanceof ServerlessPlatform).map(p -> (ServerlessPlatform) p).toList();
    }

    public List<VmPlatform> vms() {
        return platforms.values().stream().filter(p -> p instanceof VmPlatform).map(p -> (VmPlatform) p).toList();
    }

    /** The cheapest VM with at least this memory that sustains at least this CPU. */
    public Optional<VmPlatform> cheapestVm(BigDecimal memoryMb, BigDecimal cpu) {
        return vms().stream().filter(vm -> vm.fits(memoryMb, cpu)).min(java.util.Comparator.comparing(VmPlatform::perHour));
    }

    /** The table as a prices file writes it (JSON; TOML takes the same keys). */
    public ObjectNode toJson() {
        ObjectNode o = JsonNodeFactory.instance.objectNode().put("currency", currency).put("freeTier", freeTier);
        ObjectNode all = o.putObject("platforms");
        platforms.forEach((id, platform) -> all.set(id, platform.toJson()));
        thisMachine.ifPresent(m -> o.putObject("thisMachine").put("label", m.label()).put("perHour", Platform.plain(m.perHour())));
        return o;
    }
}
