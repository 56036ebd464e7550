package gale.registry;

/** The uploaded bundle is over the server's upload limit (HTTP 413); it was cut off, nothing was stored. */
public final class BundleTooLarge extends DeployRejected {
    public BundleTooLarge(BundleLimits limits) {
        super(limits.uploadRefused());
    }
}
