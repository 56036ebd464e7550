package gale.cli;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import org.junit.jupiter.api.Test;

class TableTest {

    @Test
    void alignsColumnsTwoSpacesApartAndLeavesTheLastOneUnpadded() {
        Table table = new Table("NAME", "VERSION", "URL")
                .row("scorer", 3, "http://127.0.0.1:8080/fn/scorer")
                .row("flask-app", "-", "");

        assertThat(printed(table, false)).isEqualTo("""
                NAME       VERSION  URL
                scorer     3        http://127.0.0.1:8080/fn/scorer
                flask-app  -
                """);
    }

    @Test
    void keepsAMultiLineCellOnItsRow() {
        Table table = new Table("VERSION", "REASON").row(2, "Traceback:\n  File main.py\nImportError");

        assertThat(printed(table, false)).endsWith("2        Traceback: File main.py ImportError\n");
    }

    @Test
    void makesTheHeaderBoldOnlyWhenColourIsOn() {
        Table table = new Table("NAME").row("scorer");

        assertThat(printed(table, true)).startsWith("\u001B[1mNAME\u001B[0m\n");
        assertThat(printed(table, false)).doesNotContain("\u001B");
    }

    @Test
    void refusesARowWithTheWrongNumberOfCells() {
        assertThatThrownBy(() -> new Table("NAME", "STATE").row("scorer"))
                .hasMessageContaining("needs 2 cells, got 1");
    }

    private static String printed(Table table, boolean colour) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        table.print(new PrintStream(out, true, UTF_8), colour);
        return out.toString(UTF_8).replace(System.lineSeparator(), "\n");
    }
}
