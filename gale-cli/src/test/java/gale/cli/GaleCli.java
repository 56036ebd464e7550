package gale.cli;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.util.Map;

/** Runs the {@code gale} command line in this JVM with captured streams and a given environment. */
final class GaleCli {

    record Result(int exitCode, String out, String err) {
    }

    private GaleCli() {
    }

    /** Not a terminal, no input: how scripts and CI run it. */
    static Result run(Map<String, String> env, String... args) {
        return run(env, false, "", args);
    }

    static Result run(Map<String, String> env, boolean interactive, String input, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Terminal terminal = new Terminal(new ByteArrayInputStream(input.getBytes(UTF_8)),
                new PrintStream(out, true, UTF_8), new PrintStream(err, true, UTF_8), interactive, false);
        int exitCode = Main.run(args, terminal, env);
        return new Result(exitCode, out.toString(UTF_8), err.toString(UTF_8));
    }
}
