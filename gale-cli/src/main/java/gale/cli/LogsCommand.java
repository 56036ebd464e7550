package gale.cli;

import gale.client.GaleClient;
import gale.client.LogEntry;
import gale.client.LogPage;
import java.io.PrintStream;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "logs", description = "Print a function's latest log lines; -f keeps following new ones.")
final class LogsCommand extends ClientCommand {

    private static final int PAGE = 1000;
    /** Seconds the server holds a follow request open waiting for a new line. */
    private static final int FOLLOW_WAIT_SECONDS = 20;
    private static final DateTimeFormatter TIME =
            DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);

    @Parameters(index = "0", paramLabel = "NAME", description = "function name")
    String name;

    @Option(names = {"-f", "--follow"}, description = "keep printing new lines until Ctrl-C")
    boolean follow;

    @Option(names = "--limit", paramLabel = "N", defaultValue = "100",
            description = "how many of the latest lines to print (default: ${DEFAULT-VALUE})")
    int limit;

    @Override
    int run(GaleClient client, Terminal terminal) {
        PrintStream out = terminal.out();
        LogPage page = client.latestLogs(name, limit);
        page.entries().forEach(entry -> out.println(format(entry)));
        while (follow && !Thread.currentThread().isInterrupted()) {
            page = client.logs(name, page.next(), PAGE, FOLLOW_WAIT_SECONDS);
            page.entries().forEach(entry -> out.println(format(entry)));
        }
        return ExitCode.OK;
    }

    /** {@code 2026-11-25T11:40:00.123Z scorer v3 scorer-3-a1b2 b3c1 stdout| message}; "-" for what a line lacks. */
    static String format(LogEntry entry) {
        return TIME.format(entry.time()) + " " + entry.function() + " v" + entry.version() + " "
                + entry.instance().orElse("-") + " " + entry.requestId().orElse("-") + " "
                + entry.stream() + "| " + entry.message();
    }
}
