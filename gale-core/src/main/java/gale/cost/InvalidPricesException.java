package gale.cost;

/** A price table that cannot be used; the message names the key, what it holds and what is allowed. */
public final class InvalidPricesException extends IllegalArgumentException {

    public InvalidPricesException(String message) {
        super(message);
    }
}
