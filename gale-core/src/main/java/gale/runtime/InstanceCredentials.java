package gale.runtime;

import java.util.Map;

/**
 * The variables that let an instance reach Gale's own services as its function, never as the
 * admin: today the state API's URL and a token scoped to the function ({@code gale.state.StateCredentials}).
 */
@FunctionalInterface
public interface InstanceCredentials {

    InstanceCredentials NONE = spec -> Map.of();

    /** Variables for every instance (and zygote) of {@code spec}. */
    Map<String, String> environment(InstanceSpec spec);
}
