package gale.access;

import java.util.concurrent.atomic.AtomicLong;

/**
 * One access key's rate limit: a bucket of {@code burst} tokens that gains one token every
 * {@link RateLimit#nanosPerRequest()}; a request takes one or is refused. Over any span of time
 * {@code t} it admits at most {@code burst + t / interval} requests.
 *
 * <p>The bucket is kept as one number, the time at which it will be full again (the "theoretical
 * arrival time" of the generic cell rate algorithm), instead of a token count and a refill time. So
 * taking a token is one compare-and-set on the gateway's hot path: no lock, no refill arithmetic, no
 * timer. A bucket full before now is simply full: the time moves to now, never further back.
 */
public final class TokenBucket {

    private final long interval;
    /** How far ahead of now the full time may run: a whole bucket's worth of tokens taken. */
    private final long capacity;
    private final AtomicLong fullAt;

    /** A full bucket for {@code limit}; {@code nowNanos} on the clock later calls use ({@link System#nanoTime}). */
    public TokenBucket(RateLimit limit, long nowNanos) {
        this(limit.nanosPerRequest(), limit.burst(), nowNanos);
    }

    TokenBucket(long intervalNanos, long burst, long nowNanos) {
        this.interval = intervalNanos;
        this.capacity = Math.multiplyExact(intervalNanos, burst);
        this.fullAt = new AtomicLong(nowNanos);
    }

    /**
     * Takes a token at {@code nowNanos}. Returns 0 when it was taken; otherwise takes nothing and returns
     * how many nanoseconds pass before a token is there (for Retry-After).
     */
    public long take(long nowNanos) {
        while (true) {
            long full = fullAt.get();
            long next = (full - nowNanos > 0 ? full : nowNanos) + interval;
            long ahead = next - nowNanos;
            if (ahead > capacity) return ahead - capacity;
            if (fullAt.compareAndSet(full, next)) return 0;
        }
    }
}
