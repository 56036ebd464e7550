package gale.registry;

/** The named function or version does not exist (404). */
public final class NotFoundException extends Exception {
    public NotFoundException(String message) {
        super(message, null, false, false);
    }
}
