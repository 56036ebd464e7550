package gale.cli;

import gale.client.GaleHome;
import gale.server.GaleServer;
import gale.server.ServerConfig;
import java.io.PrintStream;
import java.util.Map;

/** Runs a Gale server inside this process for `gale server` and `gale demo`, and tells the user how to reach it. */
final class LocalServer {

    static final String STOP_HINT = "Press Ctrl-C to stop.";

    private LocalServer() {
    }

    /** Starts the server, closes it when the JVM stops (Ctrl-C), and prints its URL and where the token is. */
    static GaleServer start(ServerConfig config, Map<String, String> env, PrintStream out) {
        GaleServer server;
        try {
            server = GaleServer.start(config);
        } catch (RuntimeException e) {
            throw new CommandFailedException("cannot start Gale on " + config.host() + ":" + config.port()
                    + " with data dir " + config.dataDir() + ": " + e.getMessage(), e);
        }
        Runtime.getRuntime().addShutdownHook(new Thread(server::closeOnShutdown, "gale-shutdown"));
        printWelcome(server, config, env, out);
        return server;
    }

    private static void printWelcome(GaleServer server, ServerConfig config, Map<String, String> env, PrintStream out) {
        String tokenFile = new GaleHome(config.dataDir()).adminTokenFile().toString();
        out.println("Gale is serving at " + server.url());
        out.println((server.tokenCreated() ? "Created the admin token in " : "Admin token: ") + tokenFile);
        out.println();
        out.println("Use it from another shell:");
        out.println("  export GALE_URL=" + server.url() + " GALE_TOKEN=$(cat " + Shell.quote(tokenFile) + ")");
        out.println("  curl -H \"Authorization: Bearer $GALE_TOKEN\" " + server.url() + "/v1/functions");
        out.println("  gale deploy NAME --source DIR");
        out.println("Or open the console at " + server.url() + "/ and sign in with the admin token.");
        if (config.dataDir().equals(GaleHome.resolve(env).dir())) {
            out.println("(`gale` commands run with this GALE_HOME or from this folder find the server without the exports.)");
        }
        out.println();
    }
}
