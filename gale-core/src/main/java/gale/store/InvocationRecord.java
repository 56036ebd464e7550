package gale.store;

import java.time.Instant;
import java.util.Optional;

/** What one call of a function did, for logs, metrics and cost. */
public record InvocationRecord(
        String requestId,
        String function,
        int version,
        Optional<String> instance,
        int status,
        Outcome outcome,
        double durationMs,
        boolean coldStart,
        Optional<Integer> memoryMb,
        Instant time) {

    /** How a call ended, from the platform's point of view. */
    public enum Outcome {
        OK, FUNCTION_ERROR, CRASH, TIMEOUT, MEMORY, REJECTED;

        public String wire() {
            return name().toLowerCase();
        }
    }
}
