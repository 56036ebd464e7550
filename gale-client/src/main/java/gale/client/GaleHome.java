package gale.client;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

/**
 * The data dir of a local Gale server: {@code $GALE_HOME}, else {@code ./.gale}. The server writes
 * {@code server.json} ({"url": ...}) and {@code admin-token} there, so a client on the same machine
 * needs no configuration.
 */
public record GaleHome(Path dir) {

    public GaleHome {
        dir = dir.toAbsolutePath().normalize();
    }

    /** {@code $GALE_HOME} from {@code env}, else {@code .gale} in the working directory. */
    public static GaleHome resolve(Map<String, String> env) {
        String home = env.getOrDefault("GALE_HOME", "");
        return new GaleHome(Path.of(home.isBlank() ? ".gale" : home));
    }

    public Path adminTokenFile() {
        return dir.resolve("admin-token");
    }

    public Path serverFile() {
        return dir.resolve("server.json");
    }

    /** The URL the server wrote when it last started with this data dir. */
    public Optional<URI> serverUrl() {
        Path file = serverFile();
        if (!Files.isRegularFile(file)) return Optional.empty();
        try {
            JsonNode url = ApiJson.MAPPER.readTree(file.toFile()).path("url");
            if (!url.isTextual() || url.asText().isBlank()) throw new IOException("no \"url\" field");
            return Optional.of(URI.create(url.asText()));
        } catch (IOException | IllegalArgumentException e) {
            throw new NoGaleServerException("cannot read " + file + " (" + e.getMessage()
                    + "): delete it and restart `gale server`, or set GALE_URL");
        }
    }

    /** The admin token the server created on its first start with this data dir. */
    public Optional<String> adminToken() {
        Path file = adminTokenFile();
        if (!Files.isRegularFile(file)) return Optional.empty();
        try {
            return Files.readAllLines(file).stream().findFirst().map(String::strip).filter(line -> !line.isEmpty());
        } catch (IOException e) {
            throw new NoGaleServerException("cannot read " + file + " (" + e.getMessage() + "): set GALE_TOKEN instead");
        }
    }
}
