package gale.state;

import com.fasterxml.jackson.databind.JsonNode;

import java.time.Duration;
import java.util.Optional;

/** One write of a {@link StateStore#transact transaction}. */
public sealed interface StateOp {

    String key();

    /** Sets the value; without a TTL the key never expires (a TTL it had is dropped). */
    record Put(String key, JsonNode value, Optional<Duration> ttl) implements StateOp {
    }

    record Delete(String key) implements StateOp {
    }

    /**
     * Adds {@code by} to a whole number (an absent key counts as 0). Without a TTL the key keeps
     * the expiry it had.
     */
    record Increment(String key, long by, Optional<Duration> ttl) implements StateOp {
    }
}
