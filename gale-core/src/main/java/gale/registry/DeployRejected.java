package gale.registry;

/** A deploy request that cannot even start (bad name, bundle or settings); nothing was created. */
public final class DeployRejected extends Exception {
    public DeployRejected(String message) {
        super(message, null, false, false);
    }
}
