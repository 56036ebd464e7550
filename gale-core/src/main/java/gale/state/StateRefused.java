package gale.state;

/**
 * A state request Gale will not carry out, with a message for the user saying what to do.
 * Nothing was written.
 */
public final class StateRefused extends RuntimeException {

    public enum Reason {
        /** A bad namespace, key, TTL, increment or transaction (HTTP 400). */
        INVALID,
        /** A value over {@link StateLimits#MAX_VALUE_BYTES} (HTTP 413). */
        TOO_LARGE,
        /** A check of the transaction did not hold (HTTP 409, or 412 for a single conditional write). */
        CHECK_FAILED,
        /** No such sampler (HTTP 404). */
        NOT_FOUND,
        /** The request conflicts with what exists: a sampler by that name, a lease that ran out (HTTP 409). */
        CONFLICT
    }

    private final Reason reason;
    private final int failedCheck;
    private final long actualVersion;

    private StateRefused(Reason reason, String message, int failedCheck, long actualVersion) {
        super(message, null, false, false);
        this.reason = reason;
        this.failedCheck = failedCheck;
        this.actualVersion = actualVersion;
    }

    public static StateRefused invalid(String message) {
        return new StateRefused(Reason.INVALID, message, -1, -1);
    }

    public static StateRefused tooLarge(String message) {
        return new StateRefused(Reason.TOO_LARGE, message, -1, -1);
    }

    public static StateRefused notFound(String message) {
        return new StateRefused(Reason.NOT_FOUND, message, -1, -1);
    }

    public static StateRefused conflict(String message) {
        return new StateRefused(Reason.CONFLICT, message, -1, -1);
    }

    static StateRefused checkFailed(int index, StateCheck check, long actual) {
        String expected = check.version() == 0 ? "expected it not to exist" : "expected version " + check.version();
        String found = actual == 0 ? "does not exist" : "is at version " + actual;
        return new StateRefused(Reason.CHECK_FAILED, "check " + index + " failed: key '" + check.key() + "' " + found
                + ", " + expected + "; read it again and retry with its current version", index, actual);
    }

    public Reason reason() {
        return reason;
    }

    /** The index of the check that failed (CHECK_FAILED), else -1. */
    public int failedCheck() {
        return failedCheck;
    }

    /** The version the checked key was at (0: absent) when a check failed, else -1. */
    public long actualVersion() {
        return actualVersion;
    }
}
