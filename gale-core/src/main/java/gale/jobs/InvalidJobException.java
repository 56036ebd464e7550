package gale.jobs;

/** A job request that cannot run as given (400; 409 when {@link #conflict}); nothing was stored. */
public final class InvalidJobException extends IllegalArgumentException {

    private final boolean conflict;

    public InvalidJobException(String message) {
        this(message, false);
    }

    private InvalidJobException(String message, boolean conflict) {
        super(message);
        this.conflict = conflict;
    }

    /** A {@code contextRef} the server does not hold: the client sends the context itself instead. */
    static InvalidJobException unknownContext(String ref) {
        return new InvalidJobException("unknown contextRef '" + ref + "': this server holds no such context; "
                + "send the context itself (\"context\"), whose id the job then reports as contextId", true);
    }

    /** A well-formed request the job's present state does not allow (409). */
    static InvalidJobException conflict(String message) {
        return new InvalidJobException(message, true);
    }

    /** True when the request was well-formed but refers to what the server lacks (409). */
    public boolean conflict() {
        return conflict;
    }
}
