package gale.jobs;

/** A job request that cannot run as given (400); nothing was stored. */
public final class InvalidJobException extends IllegalArgumentException {
    public InvalidJobException(String message) {
        super(message);
    }
}
