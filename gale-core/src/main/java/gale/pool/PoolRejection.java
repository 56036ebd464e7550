package gale.pool;

import gale.runtime.InstanceFailure;

/** Why a pool could not lend an instance. Each case maps to one HTTP status in the gateway. */
public abstract sealed class PoolRejection extends RuntimeException {

    PoolRejection(String message) {
        super(message, null, false, false);
    }

    /** Every instance is busy and the wait queue is full (429). */
    public static final class QueueFull extends PoolRejection {
        QueueFull(String message) {
            super(message);
        }
    }

    /** No instance became free before the call's deadline (504). */
    public static final class DeadlinePassed extends PoolRejection {
        DeadlinePassed(String message) {
            super(message);
        }
    }

    /** No instance could be started to serve the call (500 for a load error, 502 otherwise). */
    public static final class StartFailed extends PoolRejection {
        private final InstanceFailure failure;

        StartFailed(String message, InstanceFailure failure) {
            super(message);
            this.failure = failure;
        }

        public InstanceFailure failure() {
            return failure;
        }
    }

    /** The pool is draining after a redeploy or delete; the caller should look up the active pool again. */
    public static final class Closed extends PoolRejection {
        Closed(String message) {
            super(message);
        }
    }
}
