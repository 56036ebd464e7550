package gale.cli;

import com.fasterxml.jackson.databind.JsonNode;
import gale.client.GaleClient;
import picocli.CommandLine.Command;

/** {@code gale nodes}: the nodes sharing the server's store, with their load (docs/postgresql.md). */
@Command(name = "nodes", description = "List the Gale nodes sharing this server's store (one on SQLite, several on one PostgreSQL "
        + "--store) with their state, last heartbeat and load: instances, calls in flight, map jobs they run.")
final class NodesCommand extends ClientCommand {

    @Override
    int run(GaleClient client, Terminal terminal) {
        Table table = new Table("NODE", "URL", "STATE", "HEARTBEAT", "INSTANCES", "IN-FLIGHT", "JOBS");
        for (JsonNode n : client.nodes().path("nodes")) {
            String id = n.path("id").asText() + (n.path("self").asBoolean() ? " (this)" : "");
            table.row(id, n.path("url").asText(), n.path("state").asText(), ago(n.path("heartbeatAgoMs").asLong()),
                    n.path("instances").asInt(), n.path("inFlight").asInt(), n.path("jobs").asInt());
        }
        table.print(terminal.out(), terminal.colour());
        return ExitCode.OK;
    }

    /** 0.4s ago, 12s ago. */
    static String ago(long ms) {
        return ms < 10_000 ? String.format(java.util.Locale.ROOT, "%.1fs ago", ms / 1000.0) : (ms / 1000) + "s ago";
    }
}
