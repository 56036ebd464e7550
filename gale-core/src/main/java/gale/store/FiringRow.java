package gale.store;

import java.time.Instant;
import java.util.Optional;

/**
 * One fired slot of a schedule. Written when the slot is claimed (before the call); the outcome
 * fields are filled in when the call ends.
 *
 * @param outcome {@code ok}, {@code error} (the call answered 4xx/5xx), {@code unreachable} (Gale could not
 *                make the call) or {@code interrupted} (Gale stopped during it); empty while the call runs
 * @param node    the node that fired it (empty for firings stored before nodes were recorded)
 */
public record FiringRow(String schedule, Instant slot, Instant firedAt, Optional<Instant> finishedAt,
                        Optional<Integer> status, Optional<String> outcome, Optional<String> requestId,
                        Optional<String> error, Optional<String> node) {
}
