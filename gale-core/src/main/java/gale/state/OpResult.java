package gale.state;

import java.util.Optional;

/**
 * What one {@link StateOp} did.
 *
 * @param entry   the key as written (puts and increments); empty after a delete
 * @param existed whether the key existed before the op
 */
public record OpResult(String key, Optional<StateEntry> entry, boolean existed) {
}
