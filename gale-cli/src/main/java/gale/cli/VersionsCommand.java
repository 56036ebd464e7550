package gale.cli;

import gale.client.GaleClient;
import gale.client.Version;
import java.time.temporal.ChronoUnit;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

@Command(name = "versions", description = "List a function's versions, newest first, with why any FAILED.")
final class VersionsCommand extends ClientCommand {

    @Parameters(index = "0", paramLabel = "NAME", description = "function name")
    String name;

    @Override
    int run(GaleClient client, Terminal terminal) {
        table(client.versions(name)).print(terminal.out(), terminal.colour());
        return ExitCode.OK;
    }

    static Table table(List<Version> versions) {
        Table table = new Table("VERSION", "STATE", "CREATED", "REASON");
        for (Version version : versions) {
            table.row(version.version(), version.state(), version.createdAt().truncatedTo(ChronoUnit.SECONDS),
                    version.reason().orElse(""));
        }
        return table;
    }
}
