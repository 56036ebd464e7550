package gale.gateway;

import io.javalin.http.Context;
import jakarta.servlet.ServletInputStream;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;

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
        ctx.header("Connection", "close"); // what follows a refused body is not worth a kept connection
        if (!started && "100-continue".equalsIgnoreCase(ctx.header("Expect"))) return;
        if (ctx.req().getContentLengthLong() > 2 * limit) return; // too much to read: the client may see a reset
        try {
            ServletInputStream in = ctx.req().getInputStream();
            byte[] buffer = new byte[64 * 1024];
            drain(2 * limit, () -> {
                if (in.isFinished()) return -1;
                int available = in.available();
                return available <= 0 ? 0 : in.read(buffer, 0, Math.min(available, buffer.length));
            });
        } catch (IOException | IllegalStateException e) {
            // the client went away, or the body cannot be read any more: nothing left to protect
        }
    }

    /** The same for a request served by a Jetty handler (the gateway). Blocks: call it on a virtual thread. */
    public static void discardRest(Request request, Response response, boolean started, long limit) {
        response.getHeaders().put(HttpHeader.CONNECTION, "close");
        if (!started && "100-continue".equalsIgnoreCase(request.getHeaders().get(HttpHeader.EXPECT))) return;
        if (request.getLength() > 2 * limit) return;
        try {
            drain(2 * limit, () -> {
                Content.Chunk chunk = request.read(); // never blocks: null when nothing has arrived
                if (chunk == null) return 0;
                try {
                    if (Content.Chunk.isFailure(chunk)) return -1;
                    int n = chunk.remaining();
                    return chunk.isLast() && n == 0 ? -1 : n;
                } finally {
                    chunk.release();
                }
            });
        } catch (IOException | IllegalStateException e) {
            // the client went away: nothing left to protect
        }
    }

    /** What reads what has arrived: bytes taken, 0 when nothing is there yet, -1 at the end. */
    private interface Arrived {
        int take() throws IOException;
    }

    // never a blocking read: a client that stops sending gets its answer after QUIET, not after the idle timeout
    private static void drain(long maxBytes, Arrived arrived) throws IOException {
        long until = System.nanoTime() + WITHIN.toNanos();
        long quietUntil = System.nanoTime() + QUIET.toNanos();
        long read = 0;
        try {
            while (read <= maxBytes && System.nanoTime() < Math.min(until, quietUntil)) {
                int n = arrived.take();
                if (n < 0) return;
                if (n == 0) {
                    Thread.sleep(5);
                    continue;
                }
                read += n;
                quietUntil = System.nanoTime() + QUIET.toNanos();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
