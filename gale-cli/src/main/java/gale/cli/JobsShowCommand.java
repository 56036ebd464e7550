package gale.cli;

import gale.client.GaleClient;
import gale.client.Job;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

@Command(name = "show", description = "Show a job: state, counts, speed, time left and why it failed.")
final class JobsShowCommand extends ClientCommand {

    @Parameters(index = "0", paramLabel = "ID", description = "job id, e.g. job-7f3a9c")
    String id;

    @Override
    int run(GaleClient client, Terminal terminal) {
        DescribeCommand.printMap(fields(client.job(id)), "", terminal.out());
        return ExitCode.OK;
    }

    static Map<String, Object> fields(Job job) {
        Map<String, Object> fields = new LinkedHashMap<>();
        fields.put("id", job.id());
        fields.put("function", job.function());
        fields.put("state", job.state());
        fields.put("inputs", job.inputs());
        fields.put("done", job.counts().done());
        fields.put("failed", job.counts().failed());
        fields.put("cancelled", job.counts().cancelled());
        fields.put("running", job.counts().running());
        fields.put("queued", job.counts().queued());
        fields.put("parallelism", job.parallelism());
        fields.put("chunk size", job.chunkSize());
        fields.put("created", seconds(Optional.of(job.createdAt())));
        fields.put("started", seconds(job.startedAt()));
        fields.put("finished", seconds(job.finishedAt()));
        fields.put("elapsed", JobFormat.duration(job.elapsed()));
        fields.put("rate", JobFormat.rate(job.throughputPerSec()));
        fields.put("eta", job.eta().map(JobFormat::duration).orElse("-"));
        if (job.maxCpuSeconds().isPresent()) {
            fields.put("cpu budget", JobFormat.number(job.maxCpuSeconds().getAsDouble()) + " CPU-s, "
                    + (job.cpuSeconds().isPresent() ? JobFormat.number(job.cpuSeconds().getAsDouble()) : "?") + " used");
        }
        fields.put("error", job.error().orElse("-"));
        return fields;
    }

    private static String seconds(Optional<Instant> time) {
        return time.map(t -> t.truncatedTo(ChronoUnit.SECONDS).toString()).orElse("-");
    }
}
