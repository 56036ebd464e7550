package gale.logs;

import java.util.Locale;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How severe a log line is, for filtering: the level the line names at its start, as Python's
 * logging ({@code WARNING:root:...}), Lambda's ({@code [ERROR] ...}) and most loggers write it;
 * otherwise a line on stderr is an ERROR (where tracebacks go) and any other line INFO.
 */
public enum LogLevel {
    DEBUG, INFO, WARNING, ERROR;

    private static final Pattern NAMED = Pattern.compile("^\\s*\\[?(DEBUG|INFO|WARN|WARNING|ERROR|CRITICAL|FATAL)\\b");

    public static LogLevel of(String stream, String message) {
        Matcher m = NAMED.matcher(message);
        if (m.find()) {
            return switch (m.group(1)) {
                case "DEBUG" -> DEBUG;
                case "INFO" -> INFO;
                case "WARN", "WARNING" -> WARNING;
                default -> ERROR;
            };
        }
        return "stderr".equals(stream) ? ERROR : INFO;
    }

    /** A level by its name in any case ({@code warn} too); empty for anything else. */
    public static Optional<LogLevel> named(String name) {
        String upper = name.trim().toUpperCase(Locale.ROOT);
        if (upper.equals("WARN")) return Optional.of(WARNING);
        for (LogLevel level : values()) {
            if (level.name().equals(upper)) return Optional.of(level);
        }
        return Optional.empty();
    }

    public String wire() {
        return name().toLowerCase(Locale.ROOT);
    }
}
