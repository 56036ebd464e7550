package gale.runtime;

import java.nio.file.Path;
import java.util.Map;

/**
 * What the runtimes of one server share.
 *
 * @param node        names this server's processes and cgroups, the same on every start of one
 *                    data dir, so a start can find what a crashed run left ({@link Leftovers})
 * @param runtimeDir  where runtimes unpack their own files (the Python bootstrap, the gale-api jar)
 * @param scratchRoot per-instance scratch folders (HOME, TMPDIR) live here; cleared at every start
 * @param listener    the socket instances connect back to
 * @param observer    receives what instances print
 * @param isolation   the cgroups and sandbox this host offers
 * @param credentials what each function's instances get to reach Gale as that function
 */
public record RuntimeContext(String node, Path runtimeDir, Path scratchRoot, InstanceListener listener,
                             InstanceObserver observer, Isolation isolation, InstanceCredentials credentials) {

    /** A context whose instances get no credentials. */
    public RuntimeContext(String node, Path runtimeDir, Path scratchRoot, InstanceListener listener,
                          InstanceObserver observer, Isolation isolation) {
        this(node, runtimeDir, scratchRoot, listener, observer, isolation, InstanceCredentials.NONE);
    }

    /**
     * The environment every instance and zygote of this server starts from: {@link CleanEnvironment}
     * plus {@link Leftovers#MARKER}, by which a later start recognises them.
     */
    public Map<String, String> instanceEnvironment() {
        Map<String, String> env = CleanEnvironment.create();
        env.put(Leftovers.MARKER, node);
        return env;
    }

    /**
     * The environment a function version's instances and zygote start from: {@link #instanceEnvironment()}
     * plus the version's {@link InstanceCredentials}. With {@link #remoteEnvironment}, the one place an
     * instance's credentials are added.
     */
    public Map<String, String> instanceEnvironment(InstanceSpec spec) {
        Map<String, String> env = instanceEnvironment();
        env.putAll(credentials.environment(spec));
        return env;
    }

    /**
     * Writes the secret files of one instance of {@code spec} into its {@code scratch} folder
     * ({@link SecretFiles}) and names them in {@code env}: called once per instance, never for a zygote.
     */
    public void addSecretFiles(InstanceSpec spec, Path scratch, Map<String, String> env) {
        SecretFiles.write(scratch, credentials.files(spec), env);
    }

    /**
     * The environment a version's instances on another machine (pods) start from: the version's
     * {@link InstanceCredentials} and nothing of this server's own environment, which belongs to this machine.
     */
    public Map<String, String> remoteEnvironment(InstanceSpec spec) {
        return new java.util.LinkedHashMap<>(credentials.environment(spec));
    }
}
