package gale.cli;

import gale.client.GaleClient;
import gale.client.Schedule;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "schedules",
        description = "List schedules with their next and last firing; pause, resume or remove one with a subcommand. "
                + "A function gets one with `gale deploy NAME ... --schedule \"*/5 * * * *\"` or `--every 4m`.",
        subcommands = {SchedulesCommand.Pause.class, SchedulesCommand.Resume.class, SchedulesCommand.Remove.class,
                SchedulesCommand.Firings.class})
final class SchedulesCommand extends ClientCommand {

    @Option(names = "--function", paramLabel = "NAME", description = "only the schedules of this function")
    Optional<String> function = Optional.empty();

    @Override
    int run(GaleClient client, Terminal terminal) {
        List<Schedule> schedules = client.schedules(function);
        if (schedules.isEmpty()) {
            terminal.out().println("No schedules" + function.map(name -> " of " + name).orElse("")
                    + " yet: add one with `gale deploy NAME --source DIR --schedule \"*/5 * * * *\"` (or --every 4m).");
            return ExitCode.OK;
        }
        Table table = new Table("NAME", "FUNCTION", "SCHEDULE", "STATE", "NEXT", "LAST", "OUTCOME");
        for (Schedule s : schedules) {
            table.row(s.name(), s.function(), s.description(), s.paused() ? "PAUSED" : "ACTIVE",
                    s.nextFireAt().map(Instant::toString).orElse("-"),
                    s.lastFiring().map(f -> f.slot().toString()).orElse("-"),
                    s.lastFiring().map(SchedulesCommand::outcome).orElse("-"));
        }
        table.print(terminal.out(), terminal.colour());
        return ExitCode.OK;
    }

    private static String outcome(Schedule.Firing f) {
        return f.outcome() + f.status().map(s -> " " + s).orElse("");
    }

    @Command(name = "pause", description = "Stop a schedule firing until it is resumed.")
    static final class Pause extends ClientCommand {
        @Parameters(index = "0", paramLabel = "NAME", description = "schedule name (a function's own schedule has its name)")
        String name;

        @Override
        int run(GaleClient client, Terminal terminal) {
            client.pauseSchedule(name);
            terminal.out().println("Paused " + name + ": it fires again after `gale schedules resume " + name + "`.");
            return ExitCode.OK;
        }
    }

    @Command(name = "resume", description = "Fire a paused schedule again, from its next slot (slots passed while paused are not run).")
    static final class Resume extends ClientCommand {
        @Parameters(index = "0", paramLabel = "NAME", description = "schedule name")
        String name;

        @Override
        int run(GaleClient client, Terminal terminal) {
            Schedule s = client.resumeSchedule(name);
            terminal.out().println("Resumed " + name + ": next at " + s.nextFireAt().map(Instant::toString).orElse("-") + ".");
            return ExitCode.OK;
        }
    }

    @Command(name = "rm", description = "Remove a schedule (the function stays).")
    static final class Remove extends ClientCommand {
        @Parameters(index = "0", paramLabel = "NAME", description = "schedule name")
        String name;

        @Override
        int run(GaleClient client, Terminal terminal) {
            client.deleteSchedule(name);
            terminal.out().println("Removed schedule " + name + ".");
            return ExitCode.OK;
        }
    }

    @Command(name = "firings", description = "The latest slots a schedule fired, newest first, with how late and how each call ended.")
    static final class Firings extends ClientCommand {
        @Parameters(index = "0", paramLabel = "NAME", description = "schedule name")
        String name;

        @Option(names = "--limit", paramLabel = "N", defaultValue = "20", description = "how many (default: ${DEFAULT-VALUE})")
        int limit;

        @Override
        int run(GaleClient client, Terminal terminal) {
            List<Schedule.Firing> firings = client.firings(name, limit);
            if (firings.isEmpty()) {
                terminal.out().println(name + " has not fired yet.");
                return ExitCode.OK;
            }
            Table table = new Table("SLOT", "LATE", "OUTCOME", "NODE", "REQUEST", "ERROR");
            for (Schedule.Firing f : firings) {
                table.row(f.slot(), f.lateMs() + " ms", outcome(f), f.node().orElse("-"), f.requestId().orElse("-"), f.error().orElse(""));
            }
            table.print(terminal.out(), terminal.colour());
            return ExitCode.OK;
        }
    }
}
