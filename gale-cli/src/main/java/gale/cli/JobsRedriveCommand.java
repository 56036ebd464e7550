package gale.cli;

import gale.client.GaleClient;
import gale.client.Job;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

@Command(name = "redrive", description = "Run a finished job's inputs that failed for good again, into the same job's results "
        + "(on the version active now; the inputs that succeeded keep their results). Follow it with `gale jobs show ID`.")
final class JobsRedriveCommand extends ClientCommand {

    @Parameters(index = "0", paramLabel = "ID", description = "job id, e.g. job-7f3a9c")
    String id;

    @Override
    int run(GaleClient client, Terminal terminal) {
        Job job = client.redriveJob(id);
        int queued = job.counts().queued() + job.counts().running();
        terminal.out().println("Redriving " + id + ": " + queued + " input" + (queued == 1 ? "" : "s") + " that failed run again; "
                + job.counts().done() + " of " + job.inputs() + " keep their results.");
        return ExitCode.OK;
    }
}
