package gale.cli;

/** What {@code gale} exits with; scripts rely on these. */
final class ExitCode {

    static final int OK = 0;
    /** The operation ran and failed: a deploy FAILED, a call answered non-2xx/3xx, a map input failed, the API refused. */
    static final int FAILED = 1;
    /** The command line was wrong (picocli's default for usage errors). */
    static final int USAGE = 2;
    /** No server answered at the URL tried, or none is configured. */
    static final int UNREACHABLE = 3;

    private ExitCode() {
    }
}
