package gale.api.internal;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;

/** The run a class-data archive is made from: a whole instance life against a stand-in for Gale, user code loaded but not called. */
class TrainingTest {

    private PrintStream out;
    private PrintStream err;
    private final ByteArrayOutputStream errors = new ByteArrayOutputStream();

    @BeforeEach
    void captureStderr() {
        out = System.out;
        err = System.err;
        System.setErr(new PrintStream(errors, true, StandardCharsets.UTF_8));
    }

    @AfterEach
    void restore() {
        System.setOut(out);
        System.setErr(err);
    }

    @Test
    void aFunctionThatLoadsTrainsWithoutItsHandlerBeingCalled() throws Exception {
        var settings = new Settings("", "", "", TestFunctions.Throws.class.getName(), 1); // its handler would fail the calls

        int code = Training.run(settings);

        assertThat(code).isZero();
        assertThat(System.out).isSameAs(out);
        assertThat(errors.toString(StandardCharsets.UTF_8)).isEmpty();
    }

    @Test
    void aFunctionThatCannotLoadFailsTheTrainingWithTheReason() throws Exception {
        int code = Training.run(new Settings("", "", "", "gale.api.internal.NoSuchFunction", 1));

        assertThat(code).isEqualTo(1);
        assertThat(errors.toString(StandardCharsets.UTF_8)).contains("gale training: class gale.api.internal.NoSuchFunction not found");
    }
}
