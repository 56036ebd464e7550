package gale.util;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;

/**
 * "Something happened" (a batch was written), for whoever waits for it. Waiters park on a
 * future instead of {@code synchronized} + {@code wait}, so a virtual thread never holds its
 * carrier while it waits. {@link #await} may miss a signal that fires just before it starts
 * waiting, so its callers wait with a timeout; a caller that checks a condition and then waits
 * takes {@link #next} before the check instead, and misses nothing.
 */
public final class Signal {

    /** The next {@link #fire}, taken before checking a condition and waited on after it. */
    public static final class Next {
        private final CompletableFuture<Void> fired;

        private Next(CompletableFuture<Void> fired) {
            this.fired = fired;
        }

        /** Waits (parked) until that fire, which may have happened already, or until {@code timeout} passes. */
        public void await(Duration timeout) throws InterruptedException {
            try {
                fired.get(Math.max(1, timeout.toMillis()), TimeUnit.MILLISECONDS);
            } catch (TimeoutException | ExecutionException e) {
                // timed out: the caller checks again
            }
        }
    }

    private final AtomicReference<CompletableFuture<Void>> next = new AtomicReference<>(new CompletableFuture<>());

    /** Wakes everyone waiting now. */
    public void fire() {
        next.getAndSet(new CompletableFuture<>()).complete(null);
    }

    /** The next fire from now on: a fire after this call (even before the wait starts) ends the wait. */
    public Next next() {
        return new Next(next.get());
    }

    /** Waits (parked) for the next {@link #fire} or until {@code timeout} passes. */
    public void await(Duration timeout) throws InterruptedException {
        next().await(timeout);
    }
}
