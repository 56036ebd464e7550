package gale.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import gale.client.GaleApiException;
import gale.client.Job;
import gale.client.JobOptions;
import gale.client.JobRequest;
import gale.client.JobResult;
import gale.client.JobState;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Map jobs from Java: {@code GaleClient.map}, NDJSON files, result streams, cancel and single async calls,
 * against a real server and real Python instances. (The gale CLI depends on gale-server, so its classes are
 * not on this module's test classpath; gale-cli's MapEndToEndTest runs `gale map` against a real server.)
 */
class MapCliTest extends GaleE2E {

    @BeforeAll
    static void deployFunctions() {
        gale.deployActive("square", gale.bundle("square", "main.py", """
                def square(request):
                    x = request.get_json()
                    if x == 13:
                        raise ValueError("unlucky input 13")
                    return {"y": x * x}
                """), "maxInstances", 3);
        gale.deployActive("nap", gale.bundle("nap", "main.py", """
                import time
                def nap(request):
                    time.sleep(request.get_json())
                    return {"slept": request.get_json()}
                """), "maxInstances", 2);
    }

    @Test
    void mapCompletesWithEveryResultInInputOrder() {
        List<Integer> inputs = IntStream.range(0, 40).filter(i -> i != 13).boxed().toList();

        List<JobResult> results = gale.client.map("square", inputs, JobOptions.defaults().withChunkSize(3)).join();

        assertThat(results).extracting(JobResult::index).containsExactlyElementsOf(IntStream.range(0, 39).boxed().toList());
        assertThat(results).allMatch(JobResult::ok);
        assertThat(results).extracting(r -> r.result().path("y").asInt())
                .containsExactlyElementsOf(inputs.stream().map(i -> i * i).toList());
    }

    @Test
    void aFailingInputIsAFailedResultAtItsIndexAndFailsTheJob() {
        List<JobResult> results = gale.client.map("square", List.of(11, 12, 13, 14), JobOptions.defaults()).join();

        assertThat(results).extracting(JobResult::ok).containsExactly(true, true, false, true);
        JobResult unlucky = results.get(2);
        assertThat(unlucky.index()).isEqualTo(2);
        assertThat(unlucky.error()).hasValueSatisfying(e -> assertThat(e).contains("unlucky input 13"));
        assertThat(unlucky.traceback()).hasValueSatisfying(t -> assertThat(t).contains("ValueError"));
        assertThat(unlucky.status()).hasValue(500);
        assertThat(results.get(3).result().path("y").asInt()).isEqualTo(196);
        Job job = gale.client.jobs(Optional.of("square"), 1).getFirst();
        assertThat(job.state()).isEqualTo(JobState.FAILED);
        assertThat(job.counts().failed()).isEqualTo(1);
        assertThat(job.error()).hasValueSatisfying(e -> assertThat(e).contains("input 2"));
    }

    @Test
    void ndjsonFileInputsAreStreamedAndTheirResultsComeBackInOrder() throws IOException {
        Path inputs = Files.writeString(tmp.resolve("inputs-" + System.nanoTime() + ".jsonl"), "2\n3\n\n4\n");

        Job job = gale.client.submitJob(JobRequest.ndjson("square", inputs).with(JobOptions.defaults().withChunkSize(2)));
        List<JobResult> results;
        try (Stream<JobResult> stream = gale.client.results(job.id(), -1)) {
            results = stream.toList();
        }

        assertThat(job.inputs()).isEqualTo(3);
        assertThat(job.chunkSize()).isEqualTo(2);
        assertThat(results).extracting(r -> r.result().path("y").asInt()).containsExactly(4, 9, 16);
        assertThat(gale.client.job(job.id()).state()).isEqualTo(JobState.SUCCEEDED);
    }

    @Test
    void theResultStreamFollowsARunningJobAndCanStartAfterAnIndex() {
        Job job = gale.client.submitJob(JobRequest.of("nap", List.of(0.2, 0.2, 0.2, 0.2, 0.2, 0.2)));

        List<Integer> indexes;
        try (Stream<JobResult> stream = gale.client.results(job.id(), 1)) {
            indexes = stream.map(JobResult::index).toList();
        }

        assertThat(indexes).containsExactly(2, 3, 4, 5);
        assertThat(gale.client.job(job.id()).state().isFinished()).isTrue();
    }

    @Test
    void cancellingTheMapCancelsTheJobOnTheServer() {
        CompletableFuture<List<JobResult>> map = gale.client.map("nap", List.of(0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3,
                0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3), JobOptions.defaults().withParallelism(1));
        await().atMost(Duration.ofSeconds(30)).until(() -> latestNapJob().filter(j -> j.inputs() == 20)
                .map(j -> j.counts().done() >= 1).orElse(false));

        map.cancel(true);

        await().atMost(Duration.ofSeconds(30)).until(() -> latestNapJob().orElseThrow().state() == JobState.CANCELLED);
        assertThat(latestNapJob().orElseThrow().counts().cancelled()).isGreaterThan(10);
        assertThat(map).isCancelled();
    }

    @Test
    void invokeAsyncCallsTheFunctionOnceAndFailsWithItsError() {
        JsonNode answer = gale.client.invokeAsync("square", 7).join();

        assertThat(answer.path("y").asInt()).isEqualTo(49);
        assertThatThrownBy(() -> gale.client.invokeAsync("square", 13).join())
                .isInstanceOf(CompletionException.class)
                .cause()
                .isInstanceOfSatisfying(GaleApiException.class, e -> assertThat(e.status()).isEqualTo(500))
                .hasMessageContaining("square failed (function error)")
                .hasMessageContaining("unlucky input 13");
    }

    @Test
    void aJobForAFunctionThatDoesNotExistIsRefusedWithTheServersReason() {
        assertThatThrownBy(() -> gale.client.map("nope", List.of(1), JobOptions.defaults()).join())
                .cause()
                .isInstanceOf(GaleApiException.class)
                .hasMessageContaining("function 'nope' not found");
        assertThat(gale.client.jobs(Optional.of("nope"), 10)).isEmpty();
    }

    private static Optional<Job> latestNapJob() {
        return gale.client.jobs(Optional.of("nap"), 1).stream().findFirst();
    }
}
