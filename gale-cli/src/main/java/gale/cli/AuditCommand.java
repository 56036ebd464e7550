package gale.cli;

import com.fasterxml.jackson.databind.JsonNode;
import gale.client.GaleClient;
import java.util.Optional;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code gale audit}: who deployed, rolled back, deleted or changed what, when, from where (docs/access.md#audit-log). */
@Command(name = "audit", description = "Show the audit log: every administrative action, who took it (admin-token or a key's name), "
        + "when, from which address, and how it ended. Newest first.")
final class AuditCommand extends ClientCommand {

    @Option(names = "--since", paramLabel = "WHEN", description = "only entries since: 1d, 12h, or a date like 2027-01-31 (default: all)")
    Optional<String> since = Optional.empty();

    @Option(names = "--function", paramLabel = "NAME", description = "only entries about this function")
    Optional<String> function = Optional.empty();

    @Option(names = "--limit", paramLabel = "N", description = "at most N entries (default: 100)")
    int limit = 100;

    @Override
    int run(GaleClient client, Terminal terminal) {
        JsonNode entries = client.audit(since, function, limit);
        if (entries.isEmpty()) {
            terminal.out().println("No audited actions" + function.map(f -> " about " + f).orElse("") + since.map(s -> " since " + s).orElse("")
                    + " yet.");
            return ExitCode.OK;
        }
        Table table = new Table("TIME", "WHO", "ACTION", "TARGET", "OUTCOME", "CLIENT", "DETAIL");
        for (JsonNode e : entries) {
            String who = e.path("actor").asText() + (e.path("keyId").isTextual() ? " (" + e.path("keyId").asText() + ")" : "");
            String outcome = e.path("outcome").asText() + (e.path("status").isInt() ? " " + e.path("status").asInt() : "");
            table.row(e.path("at").asText(), who, e.path("action").asText(), e.path("target").asText(), outcome,
                    e.path("client").asText(), e.path("detail").asText("-"));
        }
        table.print(terminal.out(), terminal.colour());
        return ExitCode.OK;
    }
}
