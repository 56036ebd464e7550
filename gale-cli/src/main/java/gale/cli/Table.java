package gale.cli;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** Plain aligned columns, two spaces apart, the last one unpadded: easy to read and to {@code awk}. */
final class Table {

    private static final String BOLD = "\u001B[1m";
    private static final String RESET = "\u001B[0m";

    private final List<String> headers;
    private final List<List<String>> rows = new ArrayList<>();

    Table(String... headers) {
        this.headers = List.of(headers);
    }

    /** Adds a row; cells are printed with {@code String.valueOf} and line breaks become spaces. */
    Table row(Object... cells) {
        if (cells.length != headers.size()) {
            throw new IllegalArgumentException("a row of " + headers + " needs " + headers.size() + " cells, got " + cells.length);
        }
        rows.add(Arrays.stream(cells).map(cell -> String.valueOf(cell).strip().replaceAll("\\s*\\R\\s*", " ")).toList());
        return this;
    }

    /** Prints the table; the header is bold when {@code colour} is set. */
    void print(PrintStream out, boolean colour) {
        int[] widths = widths();
        String header = line(headers, widths);
        out.println(colour ? BOLD + header + RESET : header);
        rows.forEach(row -> out.println(line(row, widths)));
    }

    private int[] widths() {
        int[] widths = headers.stream().mapToInt(String::length).toArray();
        for (List<String> row : rows) {
            for (int i = 0; i < widths.length; i++) widths[i] = Math.max(widths[i], row.get(i).length());
        }
        return widths;
    }

    private static String line(List<String> cells, int[] widths) {
        StringBuilder line = new StringBuilder();
        for (int i = 0; i < cells.size(); i++) {
            boolean last = i == cells.size() - 1;
            line.append(last ? cells.get(i) : String.format("%-" + widths[i] + "s  ", cells.get(i)));
        }
        return line.toString().stripTrailing();
    }
}
