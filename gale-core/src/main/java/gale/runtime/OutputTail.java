package gale.runtime;

import java.util.ArrayDeque;

/**
 * The last few lines a process printed, so that a failure can say what it printed last
 * ("last output: Error in library(plumbr) : there is no package ..."). Thread-safe: the
 * readers of stdout and stderr add to one tail.
 */
public final class OutputTail {

    private static final int LINES = 8;
    private static final int LINE_CHARS = 300;

    private final ArrayDeque<String> lines = new ArrayDeque<>(LINES);

    /** Keeps {@code line} (stripped, shortened), dropping the oldest beyond the last {@value #LINES}. */
    public void add(String line) {
        String text = line.strip();
        if (text.isEmpty()) return;
        if (text.length() > LINE_CHARS) text = text.substring(0, LINE_CHARS) + "…";
        synchronized (lines) {
            if (lines.size() == LINES) lines.removeFirst();
            lines.addLast(text);
        }
    }

    /** The kept lines, oldest first, joined with " | "; "(none)" when there were none. */
    @Override
    public String toString() {
        synchronized (lines) {
            return lines.isEmpty() ? "(none)" : String.join(" | ", lines);
        }
    }
}
