package gale.e2e;

import gale.client.GaleApiException;
import gale.client.Invocation;
import gale.client.Schedule;
import gale.client.LogEntry;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * Schedules on a real server with real Python functions. The server allows intervals of a second
 * (gale server --min-schedule-interval 1s) so slots come every two seconds, not every minute.
 */
class SchedulesTest {

    @TempDir
    static Path tmp;
    static GaleHarness gale;

    @BeforeAll
    static void startGale() {
        gale = new GaleHarness(tmp, c -> c.withMinScheduleInterval(Duration.ofSeconds(1)));
    }

    @AfterAll
    static void stopGale() {
        if (gale != null) gale.close();
    }

    private static final String LAMBDA = """
            import json
            def lambda_handler(event, context):
                print("event", json.dumps(event, sort_keys=True))
                return {"statusCode": 200, "body": "ok"}
            """;

    private static List<Schedule.Firing> firings(String name) {
        return gale.client.firings(name, 1000);
    }

    private static List<String> messages(String function) {
        return gale.client.latestLogs(function, 10_000).entries().stream().map(LogEntry::message).toList();
    }

    private static List<String> eventLines(String function) {
        return messages(function).stream().filter(m -> m.startsWith("event ")).toList();
    }

    private static final String ZAPPA_APP = """
            from flask import Flask
            app = Flask(__name__)

            @app.route("/", methods=["GET", "POST"])
            def index():
                print("the app ran", flush=True)  # a keep-warm firing must not get here
                return "index"
            """;

    private static Path zappaProject(String settings) {
        return gale.bundle("warm-zappa", "app.py", ZAPPA_APP, "zappa_settings.json", settings);
    }

    @Test
    void aZappaProjectsKeepWarmBecomesAScheduleThatWarmsWithoutCallingTheAppAndKeepWarmFalseRemovesIt() {
        String name = "keep-warm-warm-zappa";
        gale.deployActive("warm-zappa", zappaProject("""
                {"dev": {"app_function": "app.app", "keep_warm_expression": "rate(1 minute)"}}"""));

        Schedule schedule = gale.client.schedule(name);
        assertThat(schedule.function()).isEqualTo("warm-zappa");
        assertThat(schedule.description()).isEqualTo("every 1m");
        assertThat(messages("warm-zappa")).contains("keep_warm: schedule " + name + " warms it every 1m (rate(1 minute))");

        // The same schedule, faster, to see firings within the test: each warms an instance, the app never runs.
        gale.client.putSchedule(name, Map.of("function", "warm-zappa", "every", "1s"));
        await().atMost(Duration.ofSeconds(30)).until(() -> firings(name).stream().filter(f -> f.outcome().equals("ok")).count() >= 2);
        assertThat(firings(name).getLast().status()).contains(204);
        assertThat(messages("warm-zappa")).doesNotContain("the app ran");
        assertThat(GaleHarness.text(gale.get("warm-zappa", "/"))).isEqualTo("index"); // an ordinary call still reaches it

        // Redeployed with Zappa's default (keep_warm true, no expression): rate(4 minutes).
        gale.deployActive("warm-zappa", zappaProject("""
                {"dev": {"app_function": "app.app"}}"""));
        assertThat(gale.client.schedule(name).description()).isEqualTo("every 4m");

        gale.deployActive("warm-zappa", zappaProject("""
                {"dev": {"app_function": "app.app", "keep_warm": false}}"""));
        assertThat(gale.client.schedules(Optional.of("warm-zappa"))).isEmpty();
        assertThat(messages("warm-zappa")).contains("keep_warm false: schedule " + name + " removed");
    }

    @Test
    void aZappaKeepWarmExpressionThatIsNotAnAwsScheduleIsRefusedAtDeploy() {
        assertThatThrownBy(() -> gale.client.deploy("bad-zappa", zappaProject("""
                {"dev": {"app_function": "app.app", "keep_warm_expression": "every 4 minutes"}}"""), Map.of()))
                .isInstanceOf(GaleApiException.class)
                .hasMessageContaining("keep_warm_expression 'every 4 minutes' cannot become a schedule")
                .hasMessageContaining("rate(N minutes|hours|days)");
        assertThat(gale.client.schedules(Optional.empty())).noneMatch(s -> s.function().equals("bad-zappa"));
    }

    @Test
    void aScheduleFiresWhileScaledToZeroPausesResumesAndAfterARestartRunsAMissedSlotOnce() throws Exception {
        // Instances stop 200 ms after each call, so every firing finds the function scaled to zero.
        gale.deployActive("ticker", gale.bundle("ticker", "main.py", LAMBDA), "entryPoint", "lambda_handler", "idleTimeout", "200ms",
                "schedule", Map.of("every", "2s"));
        Schedule schedule = gale.client.schedule("ticker");
        assertThat(schedule.function()).isEqualTo("ticker");
        assertThat(schedule.description()).isEqualTo("every 2s");
        assertThat(schedule.catchUp()).isEqualTo("last");

        await().atMost(Duration.ofSeconds(30)).until(() -> firings("ticker").stream().filter(f -> f.outcome().equals("ok")).count() >= 3);
        List<Invocation> calls = gale.client.invocations("ticker", 100);
        assertThat(calls).filteredOn(Invocation::coldStart).hasSizeGreaterThanOrEqualTo(2);
        Schedule.Firing first = firings("ticker").getLast();
        assertThat(calls).extracting(Invocation::requestId).contains(first.requestId().orElseThrow());
        assertThat(first.status()).contains(200);
        // A Lambda handler gets an EventBridge-like scheduled event for each slot.
        await().atMost(Duration.ofSeconds(10)).until(() -> !eventLines("ticker").isEmpty());
        assertThat(eventLines("ticker").getFirst()).contains("\"detail-type\": \"Scheduled Event\"")
                .contains("\"source\": \"gale.schedule\"").contains("\"resources\": [\"gale:schedule/ticker\"]");

        // Paused: no slot fires; resumed: it fires again.
        assertThat(gale.client.pauseSchedule("ticker").paused()).isTrue();
        int whilePaused = firings("ticker").size();
        Thread.sleep(4_500);
        assertThat(firings("ticker")).hasSize(whilePaused);
        assertThat(gale.client.resumeSchedule("ticker").nextFireAt()).isPresent();
        await().atMost(Duration.ofSeconds(15)).until(() -> firings("ticker").size() > whilePaused);

        // Down for three slots or more: after the restart, the newest missed slot fires once.
        gale.server.close();
        Instant stopped = Instant.now();
        Thread.sleep(7_000);
        gale.start();
        Instant restarted = Instant.now();
        await().atMost(Duration.ofSeconds(20)).until(() -> firings("ticker").getFirst().slot().isAfter(restarted.plusSeconds(2)));

        List<Schedule.Firing> all = firings("ticker");
        assertThat(all.stream().map(Schedule.Firing::slot).distinct().count()).isEqualTo(all.size());
        List<Schedule.Firing> inDowntime = all.stream()
                .filter(f -> f.slot().isAfter(stopped) && f.slot().isBefore(restarted.minusSeconds(2))).toList();
        List<Schedule.Firing> late = all.stream().filter(f -> f.lateMs() > 1_000).toList();
        assertThat(late).as("catch-up firings (more than 1 s late): %s", all).hasSize(1);
        assertThat(late.getFirst().slot()).isAfter(stopped);
        assertThat(inDowntime.size()).as("slots of the downtime fired: %s", all).isLessThanOrEqualTo(1);
        // The function saw each slot once.
        await().atMost(Duration.ofSeconds(10)).until(() -> eventLines("ticker").size() >= all.size() - 1);
        Map<String, Long> perSlot = eventLines("ticker").stream().map(l -> l.replaceAll(".*\"time\": \"([^\"]+)\".*", "$1"))
                .collect(Collectors.groupingBy(Function.identity(), Collectors.counting()));
        assertThat(perSlot.values()).allMatch(n -> n == 1);

        gale.client.deleteSchedule("ticker");
        assertThat(gale.client.schedules(Optional.empty())).extracting(Schedule::name).doesNotContain("ticker");
    }

    @Test
    void anHttpFunctionGetsThePayloadAndTheScheduleHeadersAndAnOutsiderCannotFakeThem() throws Exception {
        gale.deployActive("nightly", gale.bundle("nightly", "main.py", """
                def nightly(request):
                    print("call", request.headers.get("X-Gale-Schedule"), request.headers.get("X-Gale-Schedule-Time"),
                          request.get_json(silent=True))
                    return "done"
                """));
        Map<String, Object> settings = new LinkedHashMap<>();
        settings.put("function", "nightly");
        settings.put("every", "1s");
        settings.put("payload", Map.of("kind", "full"));
        Schedule created = gale.client.putSchedule("nightly-full", settings);
        assertThat(created.payload()).contains("{\"kind\":\"full\"}");
        assertThat(gale.client.schedules(Optional.of("nightly"))).extracting(Schedule::name).containsExactly("nightly-full");

        await().atMost(Duration.ofSeconds(20)).until(() -> messages("nightly").stream()
                .anyMatch(m -> m.startsWith("call nightly-full 20") && m.endsWith("{'kind': 'full'}")));
        gale.client.pauseSchedule("nightly-full");

        // The function is public: a caller without the admin token cannot make a call look scheduled.
        HttpResponse<String> anonymous = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                        URI.create(gale.server.url() + "/fn/nightly")).header("X-Gale-Schedule", "fake")
                .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(anonymous.statusCode()).isEqualTo(200);
        await().atMost(Duration.ofSeconds(10)).until(() -> messages("nightly").contains("call None None None"));
        assertThat(messages("nightly")).noneMatch(m -> m.startsWith("call fake"));
    }

    @Test
    void deletingAFunctionDeletesItsSchedules() {
        gale.deployActive("doomed", gale.bundle("doomed", "main.py", LAMBDA), "entryPoint", "lambda_handler", "schedule", Map.of("cron", "0 3 * * *",
                "timeZone", "Europe/Berlin", "catchUp", "none"));
        Schedule s = gale.client.schedule("doomed");
        assertThat(s.description()).isEqualTo("0 3 * * * (Europe/Berlin)");
        assertThat(s.catchUp()).isEqualTo("none");
        gale.client.delete("doomed");
        assertThatThrownBy(() -> gale.client.schedule("doomed")).isInstanceOf(GaleApiException.class)
                .hasMessageContaining("schedule 'doomed' not found");
    }

    @Test
    void everyHostileScheduleGetsA4xxThatSaysWhatToDo() {
        gale.deployActive("target", gale.bundle("target", "main.py", LAMBDA), "entryPoint", "lambda_handler");
        assertRefused(400, Map.of("function", "target", "cron", "61 * * * *"), "the minute 61 in '61' is outside 0-59");
        assertRefused(400, Map.of("function", "target", "cron", "0 9 * * *", "timeZone", "Mars/Olympus"),
                "unknown time zone 'Mars/Olympus': use an IANA name such as Europe/Berlin");
        assertRefused(400, Map.of("function", "target", "every", "0s"), "shorter than this server's minimum of 1s");
        assertRefused(400, Map.of("function", "target", "every", "5m", "cron", "* * * * *"), "needs exactly one of");
        assertRefused(400, Map.of("function", "target"), "got neither");
        assertRefused(400, Map.of("function", "target", "every", "5m", "catchUp", "all"), "catch-up 'all' is not known");
        assertRefused(400, Map.of("function", "target", "every", "5m", "when", "now"), "unknown key 'when'");
        assertRefused(400, Map.of("function", "target", "every", 5), "'every' must be a string");
        assertRefused(404, Map.of("function", "ghost", "every", "5m"), "function 'ghost' not found; deploy it first");

        assertThatThrownBy(() -> gale.client.pauseSchedule("nope")).isInstanceOf(GaleApiException.class)
                .hasMessageContaining("schedule 'nope' not found").matches(e -> ((GaleApiException) e).status() == 404);

        // A deploy with a bad schedule is refused whole: no new version, no schedule.
        int versions = gale.client.versions("target").size();
        assertThatThrownBy(() -> gale.client.deploy("target", gale.bundle("target", "main.py", LAMBDA),
                Map.of("entryPoint", "lambda_handler", "schedule", Map.of("cron", "0 0 30 2 *"))))
                .isInstanceOf(GaleApiException.class).hasMessageContaining("would never fire");
        assertThat(gale.client.versions("target")).hasSize(versions);
        assertThat(gale.client.schedules(Optional.of("target"))).isEmpty();
    }

    private static void assertRefused(int status, Map<String, Object> settings, String message) {
        assertThatThrownBy(() -> gale.client.putSchedule("bad", settings)).isInstanceOf(GaleApiException.class)
                .hasMessageContaining(message).matches(e -> ((GaleApiException) e).status() == status, "status " + status);
    }
}
