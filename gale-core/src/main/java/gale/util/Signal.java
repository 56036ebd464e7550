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
 * carrier while it waits. A waiter may miss a signal that fires just before it starts waiting,
 * so callers wait with a timeout and check their condition again, as they would with wait().
 */
public final class Signal {

    private final AtomicReference<CompletableFuture<Void>> next = new AtomicReference<>(new CompletableFuture<>());

    /** Wakes everyone waiting now. */
    public void fire() {
        next.getAndSet(new CompletableFuture<>()).complete(null);
    }

    /** Waits (parked) for the next {@link #fire} or until {@code timeout} passes. */
    public void await(Duration timeout) throws InterruptedException {
        try {
            next.get().get(Math.max(1, timeout.toMillis()), TimeUnit.MILLISECONDS);
        } catch (TimeoutException | ExecutionException e) {
            // timed out: the caller checks again
        }
    }
}
