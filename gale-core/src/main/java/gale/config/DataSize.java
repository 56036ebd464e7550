package gale.config;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A number of bytes written the way people write memory limits: "512MB", "1GB", "1.5GiB", "300k". */
public record DataSize(long bytes) {

    private static final Pattern FORMAT = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*([kmgt]?i?b?)?", Pattern.CASE_INSENSITIVE);

    public DataSize {
        if (bytes < 0) throw new IllegalArgumentException("a data size cannot be negative, got " + bytes);
    }

    public static DataSize ofMegabytes(long mb) {
        return new DataSize(mb * 1024 * 1024);
    }

    /** Parses "512MB", "512M", "1GB", "1GiB", "1024" (bytes). MB and MiB both mean 2^20, as Cloud Functions and Lambda do. */
    public static DataSize parse(String text) {
        Matcher m = FORMAT.matcher(text == null ? "" : text.trim());
        if (!m.matches()) {
            throw new IllegalArgumentException("'" + text + "' is not a size; write it like 256MB, 1GB or 1048576");
        }
        double value = Double.parseDouble(m.group(1));
        String unit = m.group(2) == null ? "" : m.group(2).toLowerCase(Locale.ROOT);
        long multiplier = switch (unit.isEmpty() ? 'b' : unit.charAt(0)) {
            case 'b' -> 1L;
            case 'k' -> 1L << 10;
            case 'm' -> 1L << 20;
            case 'g' -> 1L << 30;
            case 't' -> 1L << 40;
            default -> throw new IllegalArgumentException("'" + text + "' has an unknown unit");
        };
        return new DataSize(Math.round(value * multiplier));
    }

    public long megabytes() {
        return bytes / (1024 * 1024);
    }

    @Override
    public String toString() {
        if (bytes % (1L << 30) == 0 && bytes > 0) return (bytes >> 30) + "GB";
        if (bytes % (1L << 20) == 0 && bytes > 0) return (bytes >> 20) + "MB";
        if (bytes % (1L << 10) == 0 && bytes > 0) return (bytes >> 10) + "KB";
        return bytes + "B";
    }
}
