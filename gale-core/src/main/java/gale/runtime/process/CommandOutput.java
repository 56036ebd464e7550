package gale.runtime.process;

import gale.runtime.Instance;
import gale.runtime.InstanceObserver;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * What an instance's command prints: each line of stdout and stderr goes to the
 * function's logs, and the last few are kept so that a failed start can say why in the
 * deploy's reason ("last output: Error in library(plumbr) : there is no package ...").
 */
final class CommandOutput {

    private static final int TAIL_LINES = 8;
    private static final int TAIL_LINE_CHARS = 300;
    /** A longer line (a binary dump, a progress bar without newlines) is logged in pieces. */
    private static final int MAX_LINE_BYTES = 16 * 1024;

    private final Instance instance;
    private final InstanceObserver observer;
    private final ArrayDeque<String> tail = new ArrayDeque<>(TAIL_LINES);
    private final CompletableFuture<Void> drained;

    /** Starts reading both streams of {@code process} on virtual threads. */
    CommandOutput(Instance instance, Process process, InstanceObserver observer) {
        this.instance = instance;
        this.observer = observer;
        this.drained = CompletableFuture.allOf(read(process.getInputStream(), "stdout"),
                read(process.getErrorStream(), "stderr"));
    }

    /** Completes when both streams have ended: everything printed has been passed on. */
    CompletableFuture<Void> drained() {
        return drained;
    }

    /** The last lines printed, oldest first, joined with " | "; "(none)" when there were none. */
    synchronized String tail() {
        return tail.isEmpty() ? "(none)" : String.join(" | ", tail);
    }

    private CompletableFuture<Void> read(InputStream stream, String name) {
        var done = new CompletableFuture<Void>();
        Thread.ofPlatform().daemon().name("gale-" + name + "-" + instance.id()).start(() -> {
            var line = new ByteArrayOutputStream(256);
            try (stream) {
                int b;
                while ((b = stream.read()) != -1) {
                    if (b != '\n') line.write(b);
                    if (b == '\n' || line.size() >= MAX_LINE_BYTES) emit(name, line);
                }
            } catch (IOException ignored) {
                // the process is gone
            } finally {
                if (line.size() > 0) emit(name, line);
                done.complete(null);
            }
        });
        return done;
    }

    private void emit(String stream, ByteArrayOutputStream buffer) {
        String line = buffer.toString(StandardCharsets.UTF_8);
        buffer.reset();
        if (line.endsWith("\r")) line = line.substring(0, line.length() - 1);
        if (line.isEmpty()) return;
        keep(line.strip());
        observer.log(instance, Optional.empty(), stream, line);
    }

    private synchronized void keep(String line) {
        if (line.isEmpty()) return;
        if (tail.size() == TAIL_LINES) tail.removeFirst();
        tail.addLast(line.length() > TAIL_LINE_CHARS ? line.substring(0, TAIL_LINE_CHARS) + "…" : line);
    }
}
