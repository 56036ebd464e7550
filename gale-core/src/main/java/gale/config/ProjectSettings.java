package gale.config;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What another platform's project file gives a deploy (zappa_settings.json, serverless.yml, a SAM
 * template): config keys in Gale's camelCase, below gale.toml and the flags, and the lines the
 * deploy's log says about how it was read.
 *
 * @param part     the part of the file read: a Zappa stage, a function, a template resource
 * @param keepWarm a Zappa project's keep_warm, which the deploy makes (or removes) a schedule of
 */
public record ProjectSettings(String part, Map<String, Object> config, List<String> notes, Optional<KeepWarm> keepWarm) {

    public ProjectSettings(String part, Map<String, Object> config, List<String> notes) {
        this(part, config, notes, Optional.empty());
    }
}
