package gale.cli;

import gale.client.GaleApiException;
import gale.client.GaleUnreachableException;
import gale.client.NoGaleServerException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import picocli.CommandLine;
import picocli.CommandLine.IExecutionExceptionHandler;
import picocli.CommandLine.ParseResult;

/** Turns what a command threw into one line on stderr and an {@link ExitCode}; bugs keep their stack trace. */
final class Failures implements IExecutionExceptionHandler {

    @Override
    public int handleExecutionException(Exception failure, CommandLine command, ParseResult parsed) throws Exception {
        PrintWriter err = command.getErr();
        switch (failure) {
            case GaleUnreachableException unreachable -> {
                err.println("ERROR: " + unreachable.getMessage());
                err.println("Start a server with `gale server`, or point --url or GALE_URL at a running one.");
                return ExitCode.UNREACHABLE;
            }
            case NoGaleServerException none -> {
                err.println("ERROR: " + none.getMessage());
                return ExitCode.UNREACHABLE;
            }
            case CommandFailedException failed -> {
                err.println("ERROR: " + failed.getMessage());
                return ExitCode.FAILED;
            }
            case GaleApiException api -> {
                err.println("ERROR: " + api.getMessage());
                return ExitCode.FAILED;
            }
            case UncheckedIOException io -> {
                err.println("ERROR: " + io.getMessage() + ": " + io.getCause().getMessage());
                return ExitCode.FAILED;
            }
            case IllegalArgumentException invalid -> {
                err.println("ERROR: " + invalid.getMessage());
                return ExitCode.USAGE;
            }
            default -> throw failure;
        }
    }
}
