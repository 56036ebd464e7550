package gale.cli;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * The call `gale demo` suggests for an example, from its {@code demo-call.txt}: the path and query on
 * the first line ({@code /forecast/3} or {@code ?msg=hello}), optional JSON data on the lines below.
 */
record DemoCall(String pathAndQuery, Optional<String> data) {

    static final String FILE = "demo-call.txt";

    static DemoCall read(Path exampleFolder) throws IOException {
        Path file = exampleFolder.resolve(FILE);
        if (!Files.isRegularFile(file)) return new DemoCall("", Optional.empty());
        List<String> lines = Files.readAllLines(file);
        if (lines.isEmpty()) return new DemoCall("", Optional.empty());
        String data = String.join("\n", lines.subList(1, lines.size())).strip();
        return new DemoCall(lines.getFirst().strip(), data.isEmpty() ? Optional.empty() : Optional.of(data));
    }

    /** A curl line to paste; private functions get the token from $GALE_TOKEN. */
    String curl(URI functionUrl, boolean isPublic) {
        String suffix = pathAndQuery.isEmpty() || pathAndQuery.startsWith("/") || pathAndQuery.startsWith("?")
                ? pathAndQuery : "/" + pathAndQuery;
        StringBuilder line = new StringBuilder("curl ").append(Shell.quote(functionUrl + suffix));
        if (!isPublic) line.append(" -H \"Authorization: Bearer $GALE_TOKEN\"");
        data.ifPresent(body -> line.append(" -H 'Content-Type: application/json' -d ").append(Shell.quote(body)));
        return line.toString();
    }
}
