package gale.console;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** The console's files as the jar serves them: every one listed, every reference between them served. */
class ConsoleAssetsTest {

    private static final Path OWN = Path.of("src", "main", "resources", "gale", "console");

    @Test
    void everyFileOfTheConsoleIsServedAndEveryServedFileExists() throws IOException {
        List<String> onDisk;
        try (Stream<Path> files = Files.list(OWN)) {
            onDisk = files.filter(Files::isRegularFile).map(p -> p.getFileName().toString()).sorted().toList();
        }
        assertThat(ConsoleAssets.FILES).containsExactlyInAnyOrderElementsOf(onDisk);
        ConsoleAssets.load(); // fails naming a listed file the jar lacks, vendored ones included
    }

    @Test
    void everyScriptStyleAndModuleThePagesLoadIsServed() throws IOException {
        List<String> served = new ArrayList<>(ConsoleAssets.FILES);
        served.addAll(ConsoleAssets.VENDORED.keySet());
        Pattern reference = Pattern.compile("(?:from\\s+|import\\s+|href=|src=)['\"](?:\\./|/console/)([^'\"]+)['\"]");
        int references = 0;
        for (String file : ConsoleAssets.FILES) {
            if (!file.endsWith(".js") && !file.endsWith(".html")) continue;
            Matcher m = reference.matcher(Files.readString(OWN.resolve(file)));
            while (m.find()) {
                references++;
                assertThat(served).as(file + " loads " + m.group(1)).contains(m.group(1));
            }
        }
        assertThat(references).isGreaterThan(20);
    }

    @Test
    void noScriptWritesMarkupFromStrings() throws IOException {
        for (String file : ConsoleAssets.FILES) {
            if (!file.endsWith(".js")) continue;
            assertThat(Files.readString(OWN.resolve(file))).as(file)
                    .doesNotContain("innerHTML").doesNotContain("outerHTML").doesNotContain("insertAdjacentHTML")
                    .doesNotContain("document.write").doesNotContain("eval(");
        }
    }
}
