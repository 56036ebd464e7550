package gale.util;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.LockSupport;

/**
 * Runs an action once a deadline has passed, checked by one platform thread every {@link #TICK}.
 *
 * <p>Every call has a deadline, and almost every call ends well before it. The JDK's per-call
 * timers ({@code CompletableFuture.completeOnTimeout}, {@code delayedExecutor}) wake a
 * scheduler thread to arm the timer and again to cancel it: two thread wake-ups per call,
 * which on a small virtual machine cost more than the rest of the call's bookkeeping. Here
 * arming and cancelling only touch a concurrent map; the price is that an action runs up to
 * one tick late, which no timeout of a function (whole milliseconds at least) notices.
 */
public final class Deadlines {

    private static final Logger LOG = LoggerFactory.getLogger(Deadlines.class);
    public static final Duration TICK = Duration.ofMillis(10);
    private static final Deadlines SHARED = new Deadlines();

    private final ConcurrentHashMap<Timer, Boolean> armed = new ConcurrentHashMap<>();
    private final Thread checker;
    /** Set while the checker sleeps until something is armed (an idle server ticks for nothing). */
    private volatile boolean idle;

    private Deadlines() {
        checker = Thread.ofPlatform().daemon().name("gale-deadlines").start(this::run);
    }

    /** The one instance of the server. */
    public static Deadlines shared() {
        return SHARED;
    }

    /** Runs {@code onExpiry} on the deadline thread once {@code deadline} has passed, unless cancelled first; it must not block. */
    public Timer at(Instant deadline, Runnable onExpiry) {
        long remaining = Duration.between(Instant.now(), deadline).toNanos();
        var timer = new Timer(System.nanoTime() + Math.max(0, remaining), onExpiry);
        armed.put(timer, Boolean.TRUE);
        if (idle) LockSupport.unpark(checker);
        return timer;
    }

    /** Timers armed and neither run nor cancelled. */
    public int armed() {
        return armed.size();
    }

    /** One armed deadline. */
    public final class Timer {
        private final long deadlineNanos;
        private final Runnable onExpiry;

        private Timer(long deadlineNanos, Runnable onExpiry) {
            this.deadlineNanos = deadlineNanos;
            this.onExpiry = onExpiry;
        }

        /** The action will not run (unless it already has); safe to call any number of times. */
        public void cancel() {
            armed.remove(this);
        }
    }

    private void run() {
        while (true) {
            if (armed.isEmpty()) {
                idle = true;
                if (armed.isEmpty()) LockSupport.park(this);
                idle = false;
                continue;
            }
            try {
                Thread.sleep(TICK);
            } catch (InterruptedException e) {
                return;
            }
            long now = System.nanoTime();
            for (Timer timer : armed.keySet()) {
                if (now - timer.deadlineNanos >= 0 && armed.remove(timer) != null) {
                    try {
                        timer.onExpiry.run();
                    } catch (RuntimeException | Error e) {
                        LOG.error("a deadline's action failed", e);
                    }
                }
            }
        }
    }
}
