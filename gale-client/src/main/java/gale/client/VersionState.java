package gale.client;

/** Life of a version: DEPLOYING → ACTIVE | FAILED; an ACTIVE version replaced or rolled back from becomes INACTIVE. */
public enum VersionState {
    DEPLOYING, ACTIVE, INACTIVE, FAILED;

    /** True once the server has decided: the version will not change state on its own any more. */
    public boolean isSettled() {
        return this != DEPLOYING;
    }
}
