package gale.cli;

import java.io.PrintStream;
import java.time.Duration;
import java.util.Optional;

/**
 * A one-line progress indicator ("| deploying scorer version 4 (3s)") for a person at a terminal;
 * does nothing when output goes to a file or a pipe. Close it before printing anything else.
 */
final class Spinner implements AutoCloseable {

    private static final String FRAMES = "|/-\\";
    private static final Duration FRAME = Duration.ofMillis(120);

    private final PrintStream out;
    private final String label;
    private final Optional<Thread> thread;

    private Spinner(PrintStream out, String label, boolean visible) {
        this.out = out;
        this.label = label;
        this.thread = visible ? Optional.of(Thread.ofVirtual().name("gale-spinner").start(this::spin)) : Optional.empty();
    }

    static Spinner start(Terminal terminal, String label) {
        return new Spinner(terminal.out(), label, terminal.interactive());
    }

    @Override
    public void close() throws InterruptedException {
        if (thread.isEmpty()) return;
        thread.get().interrupt();
        thread.get().join();
        out.print("\r" + " ".repeat(label.length() + 16) + "\r");
        out.flush();
    }

    private void spin() {
        long start = System.nanoTime();
        for (int frame = 0; !Thread.currentThread().isInterrupted(); frame++) {
            long seconds = Duration.ofNanos(System.nanoTime() - start).toSeconds();
            out.print("\r" + FRAMES.charAt(frame % FRAMES.length()) + " " + label + " (" + seconds + "s)");
            out.flush();
            try {
                Thread.sleep(FRAME);
            } catch (InterruptedException e) {
                return;
            }
        }
    }
}
