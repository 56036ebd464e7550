package gale.cli;

import gale.client.GaleClient;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import picocli.CommandLine.Option;

/** How a client command finds the server: these options override GALE_URL and GALE_TOKEN. */
final class ClientOptions {

    @Option(names = "--url", paramLabel = "URL",
            description = "Gale server (default: $GALE_URL, else the local server of $GALE_HOME or ./.gale)")
    Optional<String> url = Optional.empty();

    @Option(names = "--token", paramLabel = "TOKEN",
            description = "admin token or access key (default: $GALE_TOKEN, else admin-token in the data dir)")
    Optional<String> token = Optional.empty();

    /** These options, each one that is unset taken from {@code fallback}. */
    ClientOptions or(ClientOptions fallback) {
        ClientOptions merged = new ClientOptions();
        merged.url = url.or(() -> fallback.url);
        merged.token = token.or(() -> fallback.token);
        return merged;
    }

    GaleClient connect(Map<String, String> env) {
        Map<String, String> effective = new HashMap<>(env);
        url.ifPresent(value -> effective.put("GALE_URL", value));
        token.ifPresent(value -> effective.put("GALE_TOKEN", value));
        return GaleClient.fromEnvironment(effective);
    }
}
