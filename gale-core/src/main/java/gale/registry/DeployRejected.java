package gale.registry;

/** A deploy request that cannot even start (bad name, bundle or settings); nothing was created. */
public sealed class DeployRejected extends Exception permits BundleTooLarge, StorageFull {
    public DeployRejected(String message) {
        super(message, null, false, false);
    }
}
