package gale.util;

import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Version 7 UUIDs: the time in milliseconds, then random bits from a fast generator. Ids that only need
 * to be unique, not unguessable (so no /dev/urandom read each), and that grow with time, so a table keyed
 * by them appends to one page of the store instead of touching a random page per row.
 */
public final class TimeOrderedIds {

    private TimeOrderedIds() {
    }

    /** A new id for something made at {@code epochMillis}. */
    public static String next(long epochMillis) {
        var random = ThreadLocalRandom.current();
        long high = (epochMillis << 16) | 0x7000L | (random.nextInt() & 0x0FFFL);
        long low = (random.nextLong() & 0x3FFFFFFFFFFFFFFFL) | 0x8000000000000000L;
        return new UUID(high, low).toString();
    }
}
