package gale.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import java.util.concurrent.CompletableFuture;

import static gale.e2e.GaleHarness.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Map jobs run a deployed function over many inputs, durably, in order, without starving HTTP traffic. */
class MapJobsTest extends GaleE2E {

    static JobsHttp jobs;

    @BeforeAll
    static void deployFunctions() {
        jobs = new JobsHttp(gale);
        gale.deployActive("square", gale.bundle("square", "main.py", """
                import os
                def square(request):
                    x = request.get_json()
                    if isinstance(x, dict) and "context" in x:
                        return {"y": x["input"] * x["context"]["scale"]}
                    if x == 13:
                        raise ValueError("unlucky input 13")
                    return {"y": x * x, "pid": os.getpid()}
                """), "maxInstances", 3);
        // The contextOnce protocol of docs/jobs.md, kept per instance in a module global.
        gale.deployActive("keeper", gale.bundle("keeper", "main.py", """
                import json, os
                contexts = {}
                full_contexts = {}  # contextId -> times this instance received the context in full

                def handler(event, context):
                    body = json.loads(event["body"])
                    if body["input"] == -1:
                        return {"statusCode": 428, "body": json.dumps({"keys": sorted(body)})}  # its own: no X-Gale-Context
                    context_id = body.get("contextId")
                    if context_id and "context" in body:
                        full_contexts[context_id] = full_contexts.get(context_id, 0) + 1
                        contexts[context_id] = body["context"]
                    ctx = body["context"] if "context" in body else contexts.get(context_id)
                    if ctx is None:
                        return {"statusCode": 428, "headers": {"X-Gale-Context": "missing"}, "body": "{}"}
                    return {"y": body["input"] * ctx["scale"], "pid": os.getpid(), "keys": sorted(body),
                            "fullContexts": full_contexts.get(context_id, 0)}
                """), "entryPoint", "handler", "maxInstances", 2);
        gale.deployActive("nap", gale.bundle("nap", "main.py", """
                import time
                def nap(request):
                    time.sleep(request.get_json()["s"])
                    return {"slept": request.get_json()["s"]}
                """), "maxInstances", 2);
    }

    @Test
    void aJobMapsTheFunctionOverItsInputsAndReturnsResultsInInputOrder() {
        JsonNode job = jobs.submit("{\"function\": \"square\", \"inputs\": " + range(0, 40) + ", \"chunkSize\": 4}");

        JsonNode end = jobs.awaitEnd(job.path("id").asText());
        List<JsonNode> results = jobs.results(job.path("id").asText(), false);

        assertThat(end.path("state").asText()).isEqualTo("FAILED"); // input 13 raises
        assertThat(end.path("counts").path("done").asInt()).isEqualTo(39);
        assertThat(end.path("counts").path("failed").asInt()).isEqualTo(1);
        assertThat(end.path("error").asText()).contains("input 13").contains("unlucky");
        assertThat(results).hasSize(40);
        for (int i = 0; i < 40; i++) {
            assertThat(results.get(i).path("index").asInt()).isEqualTo(i);
            if (i != 13) assertThat(results.get(i).path("result").path("y").asInt()).isEqualTo(i * i);
        }
        assertThat(results.get(13).path("ok").asBoolean()).isFalse();
        assertThat(results.get(13).path("traceback").asText()).contains("Traceback").contains("ValueError");
        assertThat(results.get(13).path("attempts").asInt()).isEqualTo(1);
    }

    @Test
    void theContextIsSentWithEveryInput() {
        JsonNode job = jobs.submit("{\"function\": \"square\", \"inputs\": [1, 2, 3], \"context\": {\"scale\": 10}}");

        jobs.awaitEnd(job.path("id").asText());

        assertThat(jobs.results(job.path("id").asText(), false)).extracting(r -> r.path("result").path("y").asInt())
                .containsExactly(10, 20, 30);
    }

    @Test
    void aLaterJobCanNameAnEarlierJobsContextInsteadOfSendingItAgain() {
        JsonNode first = jobs.submit("{\"function\": \"square\", \"inputs\": [1, 2], \"context\": {\"scale\": 7}}");
        String contextId = first.path("contextId").asText();
        assertThat(contextId).hasSize(64); // SHA-256 of the context's JSON

        JsonNode second = jobs.submit("{\"function\": \"square\", \"inputs\": [3, 4], \"contextRef\": \"" + contextId + "\"}");
        jobs.awaitEnd(second.path("id").asText());

        assertThat(second.path("contextId").asText()).isEqualTo(contextId);
        assertThat(jobs.results(second.path("id").asText(), false)).extracting(r -> r.path("result").path("y").asInt())
                .containsExactly(21, 28);
        assertThat(second.has("contextRef")).as("not an option of the job").isFalse();
    }

    @Test
    void anUnknownContextRefIsAConflictAndCreatesNothing() {
        int before = jobs.send("GET", "/v1/jobs?limit=1000", null, null).json().size();

        var answer = jobs.send("POST", "/v1/jobs", "application/json",
                "{\"function\": \"square\", \"inputs\": [1], \"contextRef\": \"" + "0".repeat(64) + "\"}");

        assertThat(answer.status()).isEqualTo(409);
        assertThat(answer.text()).contains("unknown contextRef").contains("send the context itself");
        assertThat(jobs.send("GET", "/v1/jobs?limit=1000", null, null).json().size()).isEqualTo(before);
    }

    @Test
    void withContextOnceEachInstanceGetsTheContextOnceAndTheResendIsNoAttempt() {
        String job = "{\"function\": \"keeper\", \"inputs\": " + range(0, 30) + ", \"context\": {\"scale\": 7},"
                + " \"contextOnce\": true, \"parallelism\": 2, \"retryBackoff\": \"30s\"}";
        JsonNode first = jobs.awaitEnd(jobs.submit(job).path("id").asText());
        JsonNode second = jobs.awaitEnd(jobs.submit(job).path("id").asText());

        for (JsonNode end : List.of(first, second)) {
            List<JsonNode> results = jobs.results(end.path("id").asText(), false);
            assertThat(end.path("state").asText()).as(results.toString()).isEqualTo("SUCCEEDED");
            assertThat(end.path("contextOnce").asBoolean()).isTrue();
            assertThat(end.path("elapsedMs").asLong()).as("a resend waits no backoff").isLessThan(30_000);
            assertThat(results).extracting(r -> r.path("index").asInt()).containsExactlyElementsOf(rangeList(0, 30));
            assertThat(results).extracting(r -> r.path("result").path("y").asInt())
                    .containsExactlyElementsOf(rangeList(0, 30).stream().map(i -> i * 7).toList());
            assertThat(results).allSatisfy(r -> assertThat(r.path("attempts").asInt()).isEqualTo(1));
        }
        List<JsonNode> all = new ArrayList<>(jobs.results(first.path("id").asText(), false));
        all.addAll(jobs.results(second.path("id").asText(), false));
        Map<Integer, Integer> fullContextsByInstance = new HashMap<>();
        all.forEach(r -> fullContextsByInstance.merge(r.path("result").path("pid").asInt(),
                r.path("result").path("fullContexts").asInt(), Math::max));
        assertThat(fullContextsByInstance).as("instances (pid -> full contexts received), over both jobs")
                .hasSizeBetween(1, 2).allSatisfy((pid, full) -> assertThat(full).isEqualTo(1));
        assertThat(all.getLast().path("result").path("keys")).extracting(JsonNode::asText).containsExactly("contextId", "input");
    }

    @Test
    void withoutContextOnceTheBodyIsContextAndInputAsBefore() {
        JsonNode end = jobs.awaitEnd(jobs.submit("{\"function\": \"keeper\", \"inputs\": [1, 2], \"context\": {\"scale\": 3}}")
                .path("id").asText());

        List<JsonNode> results = jobs.results(end.path("id").asText(), false);
        assertThat(end.path("contextOnce").asBoolean()).isFalse();
        assertThat(results).extracting(r -> r.path("result").path("y").asInt()).containsExactly(3, 6);
        assertThat(results).allSatisfy(r -> assertThat(r.path("result").path("keys")).extracting(JsonNode::asText)
                .containsExactly("context", "input"));
    }

    @Test
    void aFunctionsOwn428IsItsAnswerNotARequestForTheContext() {
        JsonNode end = jobs.awaitEnd(jobs.submit("{\"function\": \"keeper\", \"inputs\": [2, -1],"
                + " \"context\": {\"scale\": 5}, \"contextOnce\": true}").path("id").asText());

        List<JsonNode> results = jobs.results(end.path("id").asText(), false);
        assertThat(results.get(0).path("result").path("y").asInt()).isEqualTo(10);
        assertThat(results.get(1).path("ok").asBoolean()).isFalse();
        assertThat(results.get(1).path("status").asInt()).isEqualTo(428);
        assertThat(results.get(1).path("error").asText()).as("not sent again with the context").contains("[\"contextId\", \"input\"]");
        assertThat(results.get(1).path("attempts").asInt()).isEqualTo(1);
    }

    @Test
    void aCrashedCallIsRetriedAndReportedOnce() {
        gale.deployActive("flaky", gale.bundle("flaky", "main.py", """
                import os
                def flaky(request):
                    n = request.get_json()
                    marker = "/tmp/flaky-%s-%d" % (os.environ.get("RUN", "x"), n)
                    if n % 3 == 0 and not os.path.exists(marker):
                        open(marker, "w").close()
                        os._exit(1)
                    return {"n": n}
                """), "env", Map.of("RUN", Long.toString(System.nanoTime())));
        JsonNode job = jobs.submit("{\"function\": \"flaky\", \"inputs\": " + range(0, 9) + ", \"retryBackoff\": \"10ms\"}");

        JsonNode end = jobs.awaitEnd(job.path("id").asText());
        List<JsonNode> results = jobs.results(job.path("id").asText(), false);

        assertThat(end.path("state").asText()).as(results.toString()).isEqualTo("SUCCEEDED");
        assertThat(results).extracting(r -> r.path("result").path("n").asInt()).containsExactly(0, 1, 2, 3, 4, 5, 6, 7, 8);
        assertThat(results.get(3).path("attempts").asInt()).isEqualTo(2);
        assertThat(results.get(1).path("attempts").asInt()).isEqualTo(1);
    }

    @Test
    void stopOnErrorCancelsTheRest() {
        JsonNode job = jobs.submit("{\"function\": \"square\", \"inputs\": " + range(10, 60)
                + ", \"stopOnError\": true, \"parallelism\": 1}");

        JsonNode end = jobs.awaitEnd(job.path("id").asText());

        assertThat(end.path("state").asText()).isEqualTo("FAILED");
        assertThat(end.path("counts").path("cancelled").asInt()).isPositive();
        assertThat(end.path("counts").path("done").asInt()).isLessThan(49);
    }

    @Test
    void cancellingAJobStopsItAndQueuedInputsNeverStart() {
        JsonNode job = jobs.submit("{\"function\": \"nap\", \"inputs\": " + naps(40, 0.3) + ", \"parallelism\": 2}");
        String id = job.path("id").asText();
        await().atMost(Duration.ofSeconds(20)).until(() -> jobs.job(id).path("counts").path("done").asInt() >= 2);

        JsonNode cancelled = jobs.send("DELETE", "/v1/jobs/" + id, null, null).json();

        assertThat(cancelled.path("state").asText()).isEqualTo("CANCELLED");
        assertThat(cancelled.path("counts").path("cancelled").asInt()).isGreaterThan(30);
        int doneAtCancel = cancelled.path("counts").path("done").asInt();
        assertThat(jobs.awaitEnd(id).path("counts").path("done").asInt()).isEqualTo(doneAtCancel);
    }

    @Test
    void httpCallsAreServedBeforeQueuedJobTasks() {
        JsonNode job = jobs.submit("{\"function\": \"nap\", \"inputs\": " + naps(30, 0.4) + "}");
        String id = job.path("id").asText();
        await().atMost(Duration.ofSeconds(20)).until(() -> jobs.job(id).path("counts").path("running").asInt() >= 2);

        var response = gale.post("nap", "", "{\"s\": 0}", "application/json");
        JsonNode during = jobs.job(id);

        assertThat(text(response)).contains("slept");
        assertThat(during.path("counts").path("queued").asInt()).as("the job still had queued inputs").isGreaterThan(10);
        jobs.send("DELETE", "/v1/jobs/" + id, null, null);
    }

    @Test
    void resultsCanBeFollowedAsTheyFinish() {
        JsonNode job = jobs.submit("{\"function\": \"nap\", \"inputs\": " + naps(6, 0.2) + "}");

        var streamed = CompletableFuture.supplyAsync(() -> jobs.results(job.path("id").asText(), true));

        assertThat(streamed.join()).extracting(r -> r.path("index").asInt()).containsExactly(0, 1, 2, 3, 4, 5);
    }

    @Test
    void aSubmitThatWaitsGetsTheJobThenEveryResultInOneAnswerAndTheResultsAreStored() {
        for (String inputs : List.of("[7]", "[1, 2, 3, 4, 5]")) { // one task runs while the request waits; more are streamed
            List<JsonNode> lines = jobs.submitAndWait("{\"function\": \"square\", \"inputs\": " + inputs + "}");
            String id = lines.getFirst().path("id").asText();
            List<JsonNode> results = lines.subList(1, lines.size());

            assertThat(id).startsWith("job-");
            assertThat(results).extracting(r -> r.path("index").asInt()).isEqualTo(IntStream.range(0, results.size()).boxed().toList());
            assertThat(results).extracting(r -> r.path("result").path("y").asInt())
                    .isEqualTo(jobs.results(id, false).stream().map(r -> r.path("result").path("y").asInt()).toList());
            assertThat(results.size()).isEqualTo(inputs.split(",").length);
            assertThat(jobs.awaitEnd(id).path("state").asText()).isEqualTo("SUCCEEDED");
        }
    }

    @Test
    void aWaitedSingleCallThatFailsIsAFailedResultAndAFailedJob() {
        List<JsonNode> lines = jobs.submitAndWait("{\"function\": \"square\", \"inputs\": [13]}");

        assertThat(lines).hasSize(2);
        assertThat(lines.get(0).path("state").asText()).isEqualTo("FAILED");
        assertThat(lines.get(1).path("ok").asBoolean()).isFalse();
        assertThat(lines.get(1).path("error").asText()).contains("unlucky");
        assertThat(jobs.results(lines.get(0).path("id").asText(), false).getFirst().path("ok").asBoolean()).isFalse();
    }

    @Test
    void aJobRunsAsManyCallsAtOnceAsItsParallelismAndNoMore() {
        gale.deployActive("span", gale.bundle("span", "main.py", """
                import time
                def span(request):
                    start = time.time()
                    time.sleep(0.1)
                    return {"start": start, "end": time.time()}
                """), "maxInstances", 4);
        String id = jobs.submit("{\"function\": \"span\", \"inputs\": " + range(0, 16) + ", \"parallelism\": 2}").path("id").asText();
        jobs.awaitEnd(id);

        List<double[]> spans = jobs.results(id, false).stream()
                .map(r -> new double[]{r.path("result").path("start").asDouble(), r.path("result").path("end").asDouble()}).toList();
        int most = 0;
        for (double[] s : spans) {
            int overlapping = (int) spans.stream().filter(o -> o[0] <= s[0] && s[0] < o[1]).count();
            most = Math.max(most, overlapping);
        }
        assertThat(spans).hasSize(16);
        assertThat(most).isEqualTo(2);
    }

    @Test
    void aFollowerOfAJobGetsEveryResultEvenWhenTheLastOnesFinishTogether() {
        // Two instances finish the last two naps at about the same time: the batch writer may hold
        // the last outcome (gathering for others) while the job ends; the job must not be seen
        // over before that outcome is stored, or the follower stops one result short.
        for (int round = 0; round < 12; round++) {
            JsonNode job = jobs.submit("{\"function\": \"nap\", \"inputs\": " + naps(6, 0.03) + "}");

            List<JsonNode> streamed = jobs.results(job.path("id").asText(), true);

            String id0 = job.path("id").asText();
            assertThat(streamed).as("round %d; after: %s %s", round, jobs.awaitEnd(id0), jobs.results(id0, false)).extracting(r -> r.path("index").asInt()).containsExactly(0, 1, 2, 3, 4, 5);
        }
    }

    @Test
    void ndjsonInputsWork() {
        JobsHttp.Answer a = jobs.send("POST", "/v1/jobs?function=square&chunkSize=2", "application/x-ndjson", "2\n3\n\n4\n");

        assertThat(a.status()).isEqualTo(201);
        jobs.awaitEnd(a.json().path("id").asText());
        assertThat(jobs.results(a.json().path("id").asText(), false)).extracting(r -> r.path("result").path("y").asInt())
                .containsExactly(4, 9, 16);
    }

    @Test
    void badJobsAreRejectedWithAClearMessageAndNothingIsCreated() {
        int before = jobs.send("GET", "/v1/jobs?limit=1000", null, null).json().size();

        assertThat(jobs.send("POST", "/v1/jobs", "application/json", "{\"function\": \"nope\", \"inputs\": [1]}"))
                .satisfies(a -> assertThat(a.status()).isEqualTo(400)).satisfies(a -> assertThat(a.text()).contains("not found"));
        assertThat(jobs.send("POST", "/v1/jobs", "application/json", "{\"function\": \"square\", \"inputs\": []}").text())
                .contains("no inputs");
        assertThat(jobs.send("POST", "/v1/jobs", "application/json", "{\"function\": \"square\", \"inputs\": 5}").text())
                .contains("JSON array");
        assertThat(jobs.send("POST", "/v1/jobs", "application/json", "this is not json").text()).contains("not valid JSON");
        assertThat(jobs.send("POST", "/v1/jobs?function=square", "application/x-ndjson", "1\n{oops\n").text())
                .contains("line 2");
        assertThat(jobs.send("POST", "/v1/jobs", "application/json", "{\"function\": \"square\", \"inputs\": [1], \"chunkSize\": 0}").text())
                .contains("chunkSize");
        assertThat(jobs.send("GET", "/v1/jobs?limit=1000", null, null).json().size()).isEqualTo(before);
        assertThat(jobs.send("GET", "/v1/jobs/job-000000000000", null, null).status()).isEqualTo(404);
    }

    static String range(int from, int to) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = from; i < to; i++) sb.append(i == from ? "" : ",").append(i);
        return sb.append("]").toString();
    }

    static List<Integer> rangeList(int from, int to) {
        return IntStream.range(from, to).boxed().toList();
    }

    static String naps(int n, double seconds) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < n; i++) sb.append(i == 0 ? "" : ",").append("{\"s\": ").append(seconds).append("}");
        return sb.append("]").toString();
    }
}
