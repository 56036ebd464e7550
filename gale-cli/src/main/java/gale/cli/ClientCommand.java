package gale.cli;

import gale.client.GaleClient;
import java.util.concurrent.Callable;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** A command that talks to a running server through the admin API. */
abstract class ClientCommand implements Callable<Integer> {

    @ParentCommand
    GaleCommand gale;

    @Spec
    CommandSpec spec;

    @Mixin
    ClientOptions connection;

    @Override
    public final Integer call() throws Exception {
        try (GaleClient client = connection.connect(gale.env())) {
            return run(client, gale.terminal());
        }
    }

    /** Does the work and returns the {@link ExitCode}. */
    abstract int run(GaleClient client, Terminal terminal) throws Exception;
}
