package gale.cli;

import java.util.Map;

/** The {@code gale} command. */
public final class Main {

    private Main() {
    }

    public static void main(String[] args) {
        Map<String, String> env = System.getenv();
        System.exit(run(args, Terminal.system(env), env));
    }

    /** Runs one command line and returns its {@link ExitCode}. */
    static int run(String[] args, Terminal terminal, Map<String, String> env) {
        return GaleCommand.commandLine(terminal, env).execute(args);
    }
}
