package gale.cli;

/** The command could not do its work for a reason the message explains; exits with {@link ExitCode#FAILED}. */
final class CommandFailedException extends RuntimeException {

    CommandFailedException(String message, Throwable cause) {
        super(message, cause);
    }
}
