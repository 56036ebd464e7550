package gale.cli;

import gale.client.GaleClient;
import java.util.concurrent.Callable;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * A command that talks to a running server through the admin API. It may sit under another client
 * command ({@code gale jobs show}); then --url and --token given to the parent count too.
 */
abstract class ClientCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    ClientOptions connection;

    @Override
    public final Integer call() throws Exception {
        GaleCommand gale = (GaleCommand) spec.root().userObject();
        try (GaleClient client = effectiveConnection().connect(gale.env())) {
            return run(client, gale.terminal());
        }
    }

    /** Does the work and returns the {@link ExitCode}. */
    abstract int run(GaleClient client, Terminal terminal) throws Exception;

    /** This command's --url and --token, else its parents'. */
    private ClientOptions effectiveConnection() {
        ClientOptions effective = connection;
        for (CommandSpec parent = spec.parent(); parent != null; parent = parent.parent()) {
            if (parent.userObject() instanceof ClientCommand command) effective = effective.or(command.connection);
        }
        return effective;
    }
}
