package gale.client;

/** Neither the environment nor the data dir says where a Gale server is or what its token is. */
public final class NoGaleServerException extends GaleException {

    public NoGaleServerException(String message) {
        super(message, null);
    }
}
