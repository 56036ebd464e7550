package gale.registry;

/**
 * A traffic change that cannot be made (docs/traffic.md), with a message saying what to do; nothing changed.
 * A {@link #conflict} is about a version's state (FAILED, still deploying, no longer loads), not the request's shape.
 */
public final class InvalidTrafficException extends Exception {

    private final boolean conflict;

    public InvalidTrafficException(String message) {
        this(message, false);
    }

    private InvalidTrafficException(String message, boolean conflict) {
        super(message);
        this.conflict = conflict;
    }

    public static InvalidTrafficException conflict(String message) {
        return new InvalidTrafficException(message, true);
    }

    public boolean isConflict() {
        return conflict;
    }
}
