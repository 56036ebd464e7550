package gale.runtime;

/** A deploy step that cannot succeed; the message is what `gale deploy` prints as the reason. */
public final class DeployFailure extends Exception {
    public DeployFailure(String message) {
        super(message, null, false, false);
    }
}
