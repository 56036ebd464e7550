package gale.cli;

import gale.client.FunctionSummary;
import gale.client.GaleClient;
import java.util.List;
import java.util.OptionalInt;
import picocli.CommandLine.Command;

@Command(name = "ls", description = "List functions with their active version, state and URL.")
final class ListCommand extends ClientCommand {

    @Override
    int run(GaleClient client, Terminal terminal) {
        List<FunctionSummary> functions = client.functions();
        if (functions.isEmpty()) {
            terminal.out().println("No functions yet: deploy one with `gale deploy NAME --source DIR`.");
            return ExitCode.OK;
        }
        Table table = new Table("NAME", "VERSION", "STATE", "INSTANCES", "URL", "PUBLIC");
        for (FunctionSummary function : functions) {
            table.row(function.name(), version(function.activeVersion()), function.state(), function.instances(), function.url(),
                    publicness(function));
        }
        table.print(terminal.out(), terminal.colour());
        return ExitCode.OK;
    }

    /** "yes" (--allow-unauthenticated), "key" (--require-key) or "no" (private). */
    static String publicness(FunctionSummary function) {
        return function.isPublic() ? "yes" : function.requiresKey() ? "key" : "no";
    }

    /** A version number, or "-" when there is none (no ACTIVE version, or nothing deployed yet). */
    static String version(OptionalInt version) {
        return version.isPresent() ? String.valueOf(version.getAsInt()) : "-";
    }
}
