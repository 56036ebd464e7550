package gale.registry;

import gale.config.FunctionConfig;
import gale.pool.InstancePool;

/** The version of a function that serves calls now, with its pool. Replaced whole on deploy or rollback. */
public record ActiveFunction(String name, int version, FunctionConfig config, InstancePool pool) {
}
