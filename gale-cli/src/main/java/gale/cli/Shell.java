package gale.cli;

/** Text meant to be pasted into a POSIX shell. */
final class Shell {

    private Shell() {
    }

    /** Single-quotes {@code text} so the shell passes it on unchanged. */
    static String quote(String text) {
        return "'" + text.replace("'", "'\\''") + "'";
    }
}
