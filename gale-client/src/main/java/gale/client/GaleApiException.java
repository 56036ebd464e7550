package gale.client;

/** The server answered with an error status; {@link #error()} is its own explanation. */
public final class GaleApiException extends GaleException {

    private final int status;
    private final String error;

    public GaleApiException(int status, String error) {
        super(error + " (HTTP " + status + ")", null);
        this.status = status;
        this.error = error;
    }

    /** The HTTP status of the failed call. */
    public int status() {
        return status;
    }

    /** The server's {@code "error"} message, or a description of the unexpected response. */
    public String error() {
        return error;
    }
}
