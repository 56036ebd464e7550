package gale.runtime;

import gale.config.FunctionConfig;

import java.nio.file.Path;
import java.util.Optional;

/**
 * What an instance runs: one version of one function.
 *
 * @param function     function name
 * @param version      version number
 * @param config       the version's resolved settings
 * @param bundleDir    unpacked bundle; the instance's working directory
 * @param environment  what {@link Runtime#prepare} made for this version (a virtualenv, a build), if anything
 */
public record InstanceSpec(String function, int version, FunctionConfig config, Path bundleDir, Optional<Path> environment) {

    public String label() {
        return function + " v" + version;
    }
}
