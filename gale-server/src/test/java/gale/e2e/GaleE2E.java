package gale.e2e;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

/** One real Gale server per test class (starting one costs about a second). */
abstract class GaleE2E {

    @TempDir
    static Path tmp;
    static GaleHarness gale;

    @BeforeAll
    static void startGale() {
        gale = new GaleHarness(tmp);
    }

    @AfterAll
    static void stopGale() {
        if (gale != null) gale.close();
    }
}
