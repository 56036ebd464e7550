package gale.server;

import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Map;

/**
 * The layout of a Gale data dir. The admin token and the server's URL live here so
 * the CLI on the same machine finds the server with nothing to copy.
 */
public final class DataDir {

    private static final String TOKEN_FILE = "admin-token";
    private static final String SERVER_FILE = "server.json";
    private static final String NODE_ID_FILE = "node-id";

    private final Path root;

    public DataDir(Path root) {
        this.root = root;
        try {
            Files.createDirectories(root);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the data dir " + root, e);
        }
    }

    public Path root() {
        return root;
    }

    /**
     * This data dir's name for its server's processes and cgroups: {@code gale-} and 12 hex
     * digits of a hash of its absolute path, the same on every start, and different for
     * every data dir on the machine.
     */
    public String node() {
        return node(root);
    }

    /** {@link #node()} of the data dir at {@code root}, without creating it. */
    public static String node(Path root) {
        try {
            byte[] hash = java.security.MessageDigest.getInstance("SHA-256")
                    .digest(root.toAbsolutePath().normalize().toString().getBytes(StandardCharsets.UTF_8));
            return "gale-" + java.util.HexFormat.of().formatHex(hash, 0, 6);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * This node's id among the nodes sharing a store (docs/postgresql.md): the host's name and six random hex digits,
     * made on first start and kept in the data dir's {@code node-id}, so a restart is the same node (it takes back
     * what it ran) and two machines with the same data dir path are not.
     */
    public String nodeId() {
        Path file = root.resolve(NODE_ID_FILE);
        try {
            if (Files.exists(file)) {
                String value = Files.readString(file, StandardCharsets.UTF_8).strip();
                if (!value.isEmpty()) return value;
            }
            String host = hostName().toLowerCase(java.util.Locale.ROOT).replaceAll("[^a-z0-9-]", "-");
            byte[] random = new byte[3];
            new SecureRandom().nextBytes(random);
            String value = host.substring(0, Math.min(host.length(), 32)) + "-" + java.util.HexFormat.of().formatHex(random);
            Files.writeString(file, value + "\n", StandardCharsets.UTF_8);
            return value;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read or create the node id " + file, e);
        }
    }

    private static String hostName() {
        try {
            return java.net.InetAddress.getLocalHost().getHostName();
        } catch (java.net.UnknownHostException e) {
            return "gale"; // a host that cannot name itself: the random part keeps ids apart
        }
    }

    public Path store() {
        return root.resolve("gale.db");
    }

    public Path blobs() {
        return root.resolve("blobs");
    }

    public Path versions() {
        return root.resolve("functions");
    }

    public Path runtime() {
        return root.resolve("runtime");
    }

    public Path tokenFile() {
        return root.resolve(TOKEN_FILE);
    }

    /** The admin token, created (readable by the owner only) on first start. */
    public record Token(String value, boolean created) {
    }

    public Token adminToken() {
        Path file = tokenFile();
        try {
            if (Files.exists(file)) {
                String value = Files.readString(file, StandardCharsets.UTF_8).trim();
                if (!value.isEmpty()) return new Token(value, false);
            }
            byte[] random = new byte[32];
            new SecureRandom().nextBytes(random);
            String value = "gale_" + Base64.getUrlEncoder().withoutPadding().encodeToString(random);
            Files.writeString(file, value + "\n", StandardCharsets.UTF_8);
            Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
            return new Token(value, true);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read or create the admin token " + file, e);
        }
    }

    /** Tells local CLIs where the server listens. */
    public void writeServerInfo(String url, long pid) {
        try {
            Files.writeString(root.resolve(SERVER_FILE),
                    new ObjectMapper().writeValueAsString(Map.of("url", url, "pid", pid)), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + root.resolve(SERVER_FILE), e);
        }
    }

    public void removeServerInfo() {
        try {
            Files.deleteIfExists(root.resolve(SERVER_FILE));
        } catch (IOException ignored) {
            // the next start overwrites it
        }
    }
}
