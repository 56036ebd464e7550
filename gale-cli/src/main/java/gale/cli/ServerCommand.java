package gale.cli;

import gale.server.GaleServer;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.ParentCommand;

@Command(name = "server", description = "Run a Gale server in the foreground until Ctrl-C; its web console is at / (docs/console.md).")
final class ServerCommand implements Callable<Integer> {

    @ParentCommand
    GaleCommand gale;

    @Mixin
    ServerOptions options;

    @Override
    public Integer call() throws Exception {
        options.applyLogLevels();
        GaleServer server = LocalServer.start(options.config(gale.env()), gale.env(), gale.terminal().out());
        gale.terminal().out().println(LocalServer.STOP_HINT);
        server.join();
        return ExitCode.OK;
    }
}
