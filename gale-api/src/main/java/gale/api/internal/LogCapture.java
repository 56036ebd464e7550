package gale.api.internal;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Replaces System.out and System.err: each whole line becomes a LOG frame tagged with
 * the id of the invocation running on the writing thread (null outside one). A partial
 * line waits for its newline, for the end of the invocation, or for the exit.
 */
final class LogCapture {

    /** An endless line (a progress bar) is logged in pieces. */
    static final int LONGEST_PARTIAL_LINE = 64 * 1024;

    private static final ThreadLocal<String> INVOCATION = new ThreadLocal<>();

    private final FrameChannel channel;
    private final LineStream out;
    private final LineStream err;

    LogCapture(FrameChannel channel) {
        this.channel = channel;
        this.out = new LineStream("stdout");
        this.err = new LineStream("stderr");
    }

    void install() {
        System.setOut(new PrintStream(out, true, java.nio.charset.StandardCharsets.UTF_8));
        System.setErr(new PrintStream(err, true, java.nio.charset.StandardCharsets.UTF_8));
    }

    /** Tags what this thread prints from now on with {@code invocationId}. */
    static void begin(String invocationId) {
        INVOCATION.set(invocationId);
    }

    /** Sends this thread's partial lines and stops tagging. */
    void end() {
        System.out.flush();
        System.err.flush();
        out.flushThread(Thread.currentThread());
        err.flushThread(Thread.currentThread());
        INVOCATION.remove();
    }

    /** Sends every thread's partial lines (at exit). */
    void flushAll() {
        System.out.flush();
        System.err.flush();
        out.flushAll();
        err.flushAll();
    }

    /** Per-thread line assembly; PrintStream serialises the calls, so the writer is the current thread. */
    private final class LineStream extends OutputStream {
        private final String stream;
        private final Map<Thread, Pending> partial = new ConcurrentHashMap<>();

        LineStream(String stream) {
            this.stream = stream;
        }

        @Override
        public void write(int b) {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] bytes, int off, int len) {
            if (len == 0) return;
            Thread thread = Thread.currentThread();
            Pending p = partial.get(thread);
            if (p == null) { // only this thread adds its own entry, so no race
                p = new Pending(INVOCATION.get());
                partial.put(thread, p);
            }
            p.append(bytes, off, len);
            int lastNewline = p.lastIndexOf((byte) '\n');
            if (lastNewline >= 0) {
                send(p.invocationId, p.take(lastNewline + 1));
            } else if (p.length > LONGEST_PARTIAL_LINE) {
                send(p.invocationId, p.takeAllAsLine());
            }
            if (p.length == 0) partial.remove(thread);
        }

        void flushThread(Thread thread) {
            Pending p = partial.remove(thread);
            if (p != null && p.length > 0) send(p.invocationId, p.takeAllAsLine());
        }

        void flushAll() {
            for (Thread t : partial.keySet()) flushThread(t);
        }

        private void send(String invocationId, byte[] lines) {
            Map<String, Object> header = new LinkedHashMap<>();
            header.put("id", invocationId);
            header.put("stream", stream);
            try {
                channel.write(new Frame(Frame.LOG, header, lines));
            } catch (IOException gone) {
                // Gale closed the connection: the reader sees EOF and the instance exits
            }
        }
    }

    /** The unfinished line of one thread, with the invocation it started in. */
    private static final class Pending {
        final String invocationId;
        byte[] buffer = new byte[128];
        int length;

        Pending(String invocationId) {
            this.invocationId = invocationId;
        }

        void append(byte[] bytes, int off, int len) {
            if (length + len > buffer.length) buffer = Arrays.copyOf(buffer, Math.max(buffer.length * 2, length + len));
            System.arraycopy(bytes, off, buffer, length, len);
            length += len;
        }

        int lastIndexOf(byte b) {
            for (int i = length - 1; i >= 0; i--) {
                if (buffer[i] == b) return i;
            }
            return -1;
        }

        byte[] take(int n) {
            byte[] head = Arrays.copyOf(buffer, n);
            System.arraycopy(buffer, n, buffer, 0, length - n);
            length -= n;
            return head;
        }

        byte[] takeAllAsLine() {
            byte[] line = Arrays.copyOf(buffer, length + 1);
            line[length] = '\n';
            length = 0;
            return line;
        }
    }
}
