package gale.client;

import java.util.List;

/**
 * Log entries oldest first, and the {@code after} to pass for the entries that follow them.
 *
 * @param next the highest {@code seq} in this page, or the {@code after} that was asked for when it is empty
 */
public record LogPage(List<LogEntry> entries, long next) {

    public LogPage {
        entries = List.copyOf(entries);
    }
}
