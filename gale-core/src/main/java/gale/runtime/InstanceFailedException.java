package gale.runtime;

/** Thrown to whoever waits on an instance that can no longer serve. */
public final class InstanceFailedException extends RuntimeException {

    private final InstanceFailure failure;

    public InstanceFailedException(InstanceFailure failure) {
        super(failure.message(), null, false, false);
        this.failure = failure;
    }

    public InstanceFailure failure() {
        return failure;
    }
}
