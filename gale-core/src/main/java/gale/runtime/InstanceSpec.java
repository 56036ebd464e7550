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
 * @param venv         per-version virtual environment holding packages installed from requirements.txt, if any
 */
public record InstanceSpec(String function, int version, FunctionConfig config, Path bundleDir, Optional<Path> venv) {

    public String label() {
        return function + " v" + version;
    }
}
