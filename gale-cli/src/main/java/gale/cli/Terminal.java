package gale.cli;

import java.io.BufferedReader;
import java.io.Console;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Where a command reads and writes, and whether a person is watching.
 *
 * @param interactive stdin and stdout are a terminal: prompts and spinners make sense
 * @param colour      interactive and NO_COLOR is unset
 */
record Terminal(InputStream in, PrintStream out, PrintStream err, boolean interactive, boolean colour) {

    static Terminal system(Map<String, String> env) {
        boolean interactive = attachedToTerminal();
        return new Terminal(System.in, System.out, System.err, interactive, interactive && !env.containsKey("NO_COLOR"));
    }

    PrintWriter outWriter() {
        return new PrintWriter(out, true);
    }

    PrintWriter errWriter() {
        return new PrintWriter(err, true);
    }

    /** Asks a yes/no question; anything but y or yes is no. */
    boolean confirm(String question) throws IOException {
        out.print(question + " [y/N] ");
        out.flush();
        String answer = new BufferedReader(new InputStreamReader(in)).readLine();
        return answer != null && Set.of("y", "yes").contains(answer.strip().toLowerCase(Locale.ROOT));
    }

    private static boolean attachedToTerminal() {
        Console console = System.console();
        if (console == null) return false;
        try {
            // Since JDK 22 console() exists even when redirected and isTerminal() tells; compiled for 21, so reflect.
            return (boolean) Console.class.getMethod("isTerminal").invoke(console);
        } catch (ReflectiveOperationException e) {
            return true; // JDK 21: a console exists only on a terminal
        }
    }
}
