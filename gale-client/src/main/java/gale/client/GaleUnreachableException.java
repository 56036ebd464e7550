package gale.client;

import java.net.URI;

/** No answer from the server: refused, timed out or cut off. */
public final class GaleUnreachableException extends GaleException {

    private final URI url;

    public GaleUnreachableException(URI url, String what, Throwable cause) {
        super("cannot reach Gale at " + url + ": " + what, cause);
        this.url = url;
    }

    /** The server URL that was tried. */
    public URI url() {
        return url;
    }
}
