package gale.client;

/** Anything that went wrong talking to Gale; the subclasses say whose fault it was. */
public abstract sealed class GaleException extends RuntimeException
        permits GaleApiException, GaleUnreachableException, IncompleteJobException, NoGaleServerException {

    GaleException(String message, Throwable cause) {
        super(message, cause);
    }
}
