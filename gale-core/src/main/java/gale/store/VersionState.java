package gale.store;

/** Life of a version: DEPLOYING → ACTIVE | FAILED; an ACTIVE version replaced or rolled back from becomes INACTIVE. */
public enum VersionState {
    DEPLOYING, ACTIVE, INACTIVE, FAILED;

    public boolean isFinal() {
        return this != DEPLOYING;
    }
}
