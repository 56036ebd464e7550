package gale.runtime;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;

/**
 * What a process writes to one pipe, passed on line by line: the one pipe reader of Gale.
 *
 * <p>It reads on a platform thread of its own, because a virtual thread blocked in a pipe read
 * holds its carrier, and two such threads can leave a 2-CPU server with none to run requests.
 * An endless line (a progress bar, a binary dump) is passed on in pieces of
 * {@link #MAX_LINE_BYTES}; a trailing {@code \r} is dropped; empty lines are skipped.
 */
public final class ProcessOutput {

    /** Receives each line; called on the reader's thread, so it must not block for long. */
    @FunctionalInterface
    public interface LineSink {
        void line(String line);
    }

    static final int MAX_LINE_BYTES = 16 * 1024;

    private final LineSink sink;
    private final CompletableFuture<Void> drained = new CompletableFuture<>();

    private ProcessOutput(LineSink sink) {
        this.sink = sink;
    }

    /** Starts reading a process pipe until its end, on a platform thread named {@code threadName}. */
    public static ProcessOutput read(InputStream stream, String threadName, LineSink sink) {
        ProcessOutput output = new ProcessOutput(sink);
        Thread.ofPlatform().daemon().name(threadName).start(() -> output.readAll(stream));
        return output;
    }

    /**
     * Starts reading a socket's stream (a forked instance's stdout connected to Gale) until its
     * end. A socket read parks a virtual thread without holding its carrier, so one will do.
     */
    public static ProcessOutput readSocket(InputStream stream, String threadName, LineSink sink) {
        ProcessOutput output = new ProcessOutput(sink);
        Thread.ofVirtual().name(threadName).start(() -> output.readAll(stream));
        return output;
    }

    /** Completes when the stream has ended and every line has been passed on. */
    public CompletableFuture<Void> drained() {
        return drained;
    }

    /**
     * An output stream that passes on what is written to it line by line, as a pipe's reader
     * does; for output that arrives by other means (a pod's log, which the cluster's API pushes).
     * Closing it passes on a last unfinished line. Writers must not write concurrently.
     */
    public static OutputStream lines(LineSink sink) {
        var output = new ProcessOutput(sink);
        var line = new ByteArrayOutputStream(256);
        return new OutputStream() {
            @Override
            public void write(int b) {
                output.take(line, (byte) b);
            }

            @Override
            public void write(byte[] bytes, int offset, int length) {
                for (int i = offset; i < offset + length; i++) output.take(line, bytes[i]);
            }

            @Override
            public void close() {
                if (line.size() > 0) output.emit(line);
            }
        };
    }

    private void readAll(InputStream stream) {
        var line = new ByteArrayOutputStream(256);
        byte[] buffer = new byte[8192];
        try (stream) {
            int n;
            while ((n = stream.read(buffer)) != -1) {
                for (int i = 0; i < n; i++) take(line, buffer[i]);
            }
        } catch (IOException ignored) {
            // the process is gone, or the stream was closed to stop reading
        } finally {
            if (line.size() > 0) emit(line);
            drained.complete(null);
        }
    }

    /** Adds one byte to the line being collected, passing the line on at its end or at {@link #MAX_LINE_BYTES}. */
    private void take(ByteArrayOutputStream line, byte b) {
        if (b != '\n') line.write(b);
        if (b == '\n' || line.size() >= MAX_LINE_BYTES) emit(line);
    }

    private void emit(ByteArrayOutputStream buffer) {
        String line = buffer.toString(StandardCharsets.UTF_8);
        buffer.reset();
        if (line.endsWith("\r")) line = line.substring(0, line.length() - 1);
        if (line.isEmpty()) return;
        try {
            sink.line(line);
        } catch (RuntimeException e) {
            // a failing sink loses a line, never the rest of the output
        }
    }
}
