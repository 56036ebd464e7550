package gale.triggers;

import java.util.Locale;

/** What a schedule does with slots that passed while Gale was down (or too busy to fire them on time). */
public enum CatchUp {
    /** Fire the most recent missed slot once; the older ones are skipped. The default. */
    LAST,
    /** Skip every missed slot and wait for the next one. */
    NONE;

    public String wire() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static CatchUp parse(String text) {
        for (CatchUp c : values()) {
            if (c.wire().equalsIgnoreCase(text == null ? "" : text.trim())) return c;
        }
        throw new InvalidScheduleException("catch-up '" + text + "' is not known; use last (run the most recent missed slot once "
                + "after a downtime) or none (skip missed slots)");
    }
}
