package gale.cli;

import gale.client.GaleClient;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParameterException;

@Command(name = "rm", description = "Delete a function with all its versions and bundles (its state and blob buckets stay).")
final class RemoveCommand extends ClientCommand {

    @Parameters(index = "0", paramLabel = "NAME", description = "function name")
    String name;

    @Option(names = {"-y", "--yes"}, description = "do not ask; required when stdin is not a terminal")
    boolean yes;

    @Override
    int run(GaleClient client, Terminal terminal) throws Exception {
        if (!yes && !terminal.interactive()) {
            throw new ParameterException(spec.commandLine(),
                    "refusing to delete " + name + " without --yes: there is no terminal to ask on");
        }
        if (!yes && !terminal.confirm("Delete " + name + " with all its versions and bundles?")) {
            terminal.err().println("Kept " + name + ".");
            return ExitCode.FAILED;
        }
        client.delete(name);
        terminal.out().println("Deleted " + name + ".");
        return ExitCode.OK;
    }
}
