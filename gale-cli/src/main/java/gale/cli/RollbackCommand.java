package gale.cli;

import gale.client.FunctionSummary;
import gale.client.GaleClient;
import java.util.Optional;
import java.util.OptionalInt;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

@Command(name = "rollback", description = {"Serve an earlier version of a function again.",
        "It takes all calls at once: a pinned traffic split is unpinned (tags stay; see gale traffic)."})
final class RollbackCommand extends ClientCommand {

    @Parameters(index = "0", paramLabel = "NAME", description = "function name")
    String name;

    @Parameters(index = "1", arity = "0..1", paramLabel = "VERSION",
            description = "version to serve (default: the ACTIVE version before the current one)")
    Optional<Integer> version = Optional.empty();

    @Override
    int run(GaleClient client, Terminal terminal) {
        FunctionSummary function = client.rollback(name, version.map(OptionalInt::of).orElse(OptionalInt.empty()));
        terminal.out().println(name + " now serves version " + ListCommand.version(function.activeVersion()) + " at " + function.url());
        return ExitCode.OK;
    }
}
