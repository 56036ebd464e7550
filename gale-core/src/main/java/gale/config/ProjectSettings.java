package gale.config;

import java.util.List;
import java.util.Map;

/**
 * What another platform's project file gives a deploy (zappa_settings.json, serverless.yml, a SAM
 * template): config keys in Gale's camelCase, below gale.toml and the flags, and the lines the
 * deploy's log says about how it was read.
 *
 * @param part the part of the file read: a Zappa stage, a function, a template resource
 */
public record ProjectSettings(String part, Map<String, Object> config, List<String> notes) {
}
