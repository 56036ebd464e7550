package gale.state;

import gale.runtime.InstanceCredentials;
import gale.runtime.InstanceSpec;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * Hands each instance GALE_STATE_URL (this server) and GALE_STATE_TOKEN (a {@link StateTokens}
 * token for its function and version), which {@code gale.state} and {@code gale.blobs} read inside a function.
 */
public final class StateCredentials implements InstanceCredentials {

    public static final String URL_VARIABLE = "GALE_STATE_URL";
    public static final String TOKEN_VARIABLE = "GALE_STATE_TOKEN";

    private final StateTokens tokens;
    private final Supplier<Optional<String>> serverUrl;

    /**
     * @param serverUrl the URL instances reach the server at; empty while a server on port 0 has not bound
     *                  its port yet (an instance started then gets the token but no URL)
     */
    public StateCredentials(StateTokens tokens, Supplier<Optional<String>> serverUrl) {
        this.tokens = tokens;
        this.serverUrl = serverUrl;
    }

    @Override
    public Map<String, String> environment(InstanceSpec spec) {
        Map<String, String> env = new LinkedHashMap<>();
        serverUrl.get().ifPresent(url -> env.put(URL_VARIABLE, url));
        env.put(TOKEN_VARIABLE, tokens.mint(spec.function(), spec.version()));
        return env;
    }
}
