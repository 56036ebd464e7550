package gale.config;

/** A deploy setting that cannot be honoured; the message names the key and what is allowed. */
public final class InvalidConfigException extends IllegalArgumentException {
    public InvalidConfigException(String message) {
        super(message);
    }
}
