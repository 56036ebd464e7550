package gale.runtime;

import java.nio.file.Path;
import java.util.Optional;

/**
 * Starts instances of one kind of function (python3, java21, process). The registry
 * picks the runtime named by a version's config.
 *
 * <p>Life: constructed (nothing runs yet), {@link #start} once before anything else, then
 * used from any thread, and {@link #close} once the pools have stopped their instances.
 */
public interface Runtime extends AutoCloseable {

    /** Gets ready to prepare versions and start instances (unpacks files, starts its threads). Nothing by default. */
    default void start() {
    }

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
     * A hint that instances of these versions will be wanted soon (after a restart): the runtime
     * may get ready off the request path, e.g. start their zygotes, most wanted first, as many as
     * it keeps. Does nothing by default.
     */
    default void prewarm(java.util.List<InstanceSpec> mostWantedFirst) {
    }

    /** How long the runtime keeps what it readied for a version without use (see {@link #prewarm}); zero by default. */
    default java.time.Duration keepAlive() {
        return java.time.Duration.ZERO;
    }

    /**
     * The version will start no more instances: its pool was retired (redeploy, rollback,
     * delete, failed deploy). Frees what the runtime keeps per version, e.g. its zygote;
     * running instances are left to their pool. Safe to call more than once.
     */
    default void retire(InstanceSpec spec) {
    }

    /** Periodic upkeep, a few times a second (retiring idle zygotes, say); must be quick. Nothing by default. */
    default void maintain() {
    }

    /** Stops what the runtime runs beyond instances (zygotes, timers). Nothing by default. */
    @Override
    default void close() {
    }
}
