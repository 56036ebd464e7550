package gale.runtime;

import java.nio.file.Path;
import java.util.Optional;

/**
 * Starts instances of one kind of function (python3, java21, process). The registry
 * picks the runtime named by a version's config.
 */
public interface Runtime {

    /** The name users write in --runtime. */
    String name();

    /**
     * Readies a version before its first instance: installs requirements, builds sources.
     * Runs once per version, at deploy, off the request path.
     *
     * @param bundleDir  the unpacked bundle
     * @param versionDir a directory owned by this version for what preparing produces
     * @return an environment directory instances need (a virtualenv, a build output), if any
     * @throws DeployFailure with the reason the deploy fails
     */
    Optional<Path> prepare(Path bundleDir, Path versionDir) throws DeployFailure;

    /**
     * Fails the deploy when this runtime cannot isolate instances as the config asks (a
     * sandbox without bubblewrap, no network where the runtime needs it). Nothing by default.
     */
    default void checkIsolation(gale.config.FunctionConfig config) throws DeployFailure {
    }

    /** Starts an instance; it loads user code in the background (see {@link Instance#ready()}). */
    Instance start(InstanceSpec spec);

    /**
     * A hint that instances of this version will be wanted (a deploy, a restart, a rollback):
     * the runtime may get ready off the request path, e.g. start the version's zygote.
     * Returns at once; does nothing by default.
     */
    default void prewarm(InstanceSpec spec) {
    }

    /**
     * The version will start no more instances: its pool was retired (redeploy, rollback,
     * delete, failed deploy). Frees what the runtime keeps per version, e.g. its zygote;
     * running instances are left to their pool. Safe to call more than once.
     */
    default void retire(InstanceSpec spec) {
    }
}
