package gale.cli;

import gale.client.GaleClient;
import gale.client.Job;
import gale.client.JobState;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

@Command(name = "cancel", description = "Cancel a job: queued inputs never start, running calls are abandoned.")
final class JobsCancelCommand extends ClientCommand {

    @Parameters(index = "0", paramLabel = "ID", description = "job id, e.g. job-7f3a9c")
    String id;

    @Override
    int run(GaleClient client, Terminal terminal) {
        Job job = client.cancelJob(id);
        if (job.state() != JobState.CANCELLED) {
            terminal.out().println(id + " had already ended " + job.state() + "; nothing to cancel.");
            return ExitCode.OK;
        }
        terminal.out().println("Cancelled " + id + ": " + job.counts().done() + " of " + job.inputs() + " inputs done, "
                + job.counts().cancelled() + " cancelled.");
        return ExitCode.OK;
    }
}
