package gale.runtime;

import java.util.Map;

/**
 * The variables that let an instance reach Gale's own services as its function, never as the
 * admin: the state API's URL and a token scoped to the function ({@code gale.state.StateCredentials}), and the
 * secrets granted to it ({@code gale.secrets.Secrets}).
 */
@FunctionalInterface
public interface InstanceCredentials {

    InstanceCredentials NONE = spec -> Map.of();

    /** Variables for every instance (and zygote) of {@code spec}. */
    Map<String, String> environment(InstanceSpec spec);

    /**
     * Files for each instance of {@code spec}, by file name, written into a folder of its own
     * ({@link SecretFiles}); none by default.
     */
    default Map<String, byte[]> files(InstanceSpec spec) {
        return Map.of();
    }
}
