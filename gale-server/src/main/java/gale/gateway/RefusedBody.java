package gale.gateway;

import io.javalin.http.Context;
import jakarta.servlet.ServletInputStream;

import java.io.IOException;
import java.time.Duration;

/**
 * What is left of a request body the server refused part-way (over a size limit, a full disk),
 * read and dropped before the refusal is sent, so that the client reads the refusal.
 *
 * <p>A server that answers and closes while the client is still sending leaves unread bytes in
 * its socket; the kernel then answers them with a reset, and a reset makes the client drop the
 * response it has not read yet: the user sees "connection reset" or "no bytes" instead of 413 or
 * 507. nginx reads on for a while for the same reason (its lingering close). The reading is
 * bounded: a body declared longer than twice the limit is not read at all, and at most twice
 * the limit is read within 10 seconds, while the client keeps sending; past that the connection is closed and the client may
 * see the reset after all (curl and Gale's own client ask first, so they never do). A client that asked first ({@code Expect: 100-continue}) and has not been told
 * to go on has sent nothing, and is answered at once.
 */
public final class RefusedBody {

    private static final Duration WITHIN = Duration.ofSeconds(10);
    /** A client that sends nothing for this long is done sending, or never will be. */
    private static final Duration QUIET = Duration.ofMillis(500);

    private RefusedBody() {
    }

    /**
     * @param started  true when the server already read some of the body (a client that asked
     *                 first has then been told to send it)
     * @param limit    the limit the body was refused against
     */
    public static void discardRest(Context ctx, boolean started, long limit) {
        long maxBytes = 2 * limit;
        ctx.header("Connection", "close"); // what follows a refused body is not worth a kept connection
        if (!started && "100-continue".equalsIgnoreCase(ctx.header("Expect"))) return;
        if (ctx.req().getContentLengthLong() > maxBytes) return; // too much to read: the client may see a reset
        long until = System.nanoTime() + WITHIN.toNanos();
        long quietUntil = System.nanoTime() + QUIET.toNanos();
        byte[] buffer = new byte[64 * 1024];
        long read = 0;
        try {
            ServletInputStream in = ctx.req().getInputStream();
            // never a blocking read: a client that stops sending gets its answer after QUIET, not after the idle timeout
            while (read <= maxBytes && !in.isFinished() && System.nanoTime() < Math.min(until, quietUntil)) {
                int available = in.available();
                if (available <= 0) {
                    Thread.sleep(5);
                    continue;
                }
                int n = in.read(buffer, 0, Math.min(available, buffer.length));
                if (n < 0) break;
                read += n;
                quietUntil = System.nanoTime() + QUIET.toNanos();
            }
        } catch (IOException | IllegalStateException e) {
            // the client went away, or the body cannot be read any more: nothing left to protect
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
