package gale.runtime;

import java.util.Optional;

/** Receives what an instance prints. Called from the instance's reader threads: must not block. */
@FunctionalInterface
public interface InstanceObserver {

    void log(Instance instance, Optional<String> requestId, String stream, String line);
}
