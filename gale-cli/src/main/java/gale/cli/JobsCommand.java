package gale.cli;

import gale.client.GaleClient;
import gale.client.Job;
import java.util.List;
import java.util.Optional;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "jobs", description = "List map jobs, newest first; show, cancel or redrive one with a subcommand.",
        subcommands = {JobsShowCommand.class, JobsCancelCommand.class, JobsRedriveCommand.class})
final class JobsCommand extends ClientCommand {

    @Option(names = "--function", paramLabel = "NAME", description = "only the jobs of this function")
    Optional<String> function = Optional.empty();

    @Option(names = "--limit", paramLabel = "N", defaultValue = "50",
            description = "how many of the latest jobs to list (default: ${DEFAULT-VALUE})")
    int limit;

    @Override
    int run(GaleClient client, Terminal terminal) {
        List<Job> jobs = client.jobs(function, limit);
        if (jobs.isEmpty()) {
            terminal.out().println("No jobs" + function.map(name -> " of " + name).orElse("")
                    + " yet: start one with `gale map FUNCTION --input FILE`.");
            return ExitCode.OK;
        }
        table(jobs).print(terminal.out(), terminal.colour());
        return ExitCode.OK;
    }

    static Table table(List<Job> jobs) {
        Table table = new Table("ID", "FUNCTION", "STATE", "DONE/TOTAL", "FAILED", "ELAPSED");
        for (Job job : jobs) {
            table.row(job.id(), job.function(), job.state(), JobFormat.doneOfTotal(job), job.counts().failed(),
                    JobFormat.duration(job.elapsed()));
        }
        return table;
    }
}
