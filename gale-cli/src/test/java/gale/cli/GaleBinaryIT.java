package gale.cli;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Drives the real `gale` binary (the shaded jar) as separate processes, the way a user
 * does: server, deploy, call, logs, a server killed with SIGKILL and started again, and
 * the demo.
 */
class GaleBinaryIT {

    private static final Path JAR = GaleServers.JAR;
    private static final Path ROOT = Path.of(System.getProperty("gale.root", ".."));
    private static final Pattern INFO_LINE = Pattern.compile("^\\[[^\\]]*\\] INFO (\\S+) - ");

    @TempDir
    Path tmp;
    private GaleServers servers;

    record Run(int exit, String out, String err) {
    }

    @BeforeEach
    void servers() {
        servers = new GaleServers(tmp);
    }

    @AfterEach
    void stopServers() {
        servers.killAll();
    }

    @Test
    void deployCallAndSurviveAKilledServer() throws Exception {
        Path data = tmp.resolve("data");
        int port = freePort();
        Process server = startServer("server", port, data);
        Path fn = Files.createDirectories(tmp.resolve("hello"));
        Files.writeString(fn.resolve("main.py"), """
                def hello(request):
                    print("called with", request.args.get("name"))
                    return "hello " + request.args.get("name", "world")
                """);

        Run deploy = gale(data, "deploy", "hello", "--source", fn.toString(), "--allow-unauthenticated");
        Run call = gale(data, "call", "hello", "--query", "name=cli");
        Files.writeString(fn.resolve("main.py"), "def hello(request)\n    return 'broken'\n");
        Run broken = gale(data, "deploy", "hello", "--source", fn.toString());

        assertThat(deploy.exit()).as(deploy.err()).isZero();
        assertThat(deploy.out()).contains("ACTIVE");
        assertThat(call.out().trim()).isEqualTo("hello cli");
        assertThat(broken.exit()).isEqualTo(1);
        assertThat(broken.err()).contains("syntax error").contains("version 1 keeps serving");
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
                assertThat(gale(data, "logs", "hello").out()).contains("called with cli"));

        server.destroyForcibly().waitFor(10, TimeUnit.SECONDS); // kill -9: no shutdown hook runs
        startServer("server", freePort(), data);

        Run afterRestart = gale(data, "call", "hello", "--query", "name=again");
        Run versions = gale(data, "versions", "hello");
        assertThat(afterRestart.out().trim()).isEqualTo("hello again");
        assertThat(versions.out()).contains("ACTIVE").contains("FAILED");
    }

    @Test
    void withoutTheBaseZygoteEachVersionsZygoteIsAnInterpreterOfItsOwnAndServes() throws Exception {
        Path data = tmp.resolve("no-base");
        int port = freePort();
        startServer(Map.of("GALE_BASE_ZYGOTE", "0"), "server", port, data);
        Path fn = Files.createDirectories(tmp.resolve("alone"));
        Files.writeString(fn.resolve("main.py"), """
                import os, sys
                def alone(request):
                    with open("/proc/%d/cmdline" % os.getppid(), "rb") as f:
                        parent = f.read()
                    return "%s %s %s" % (os.getcwd(), b"_zygote.py" in parent, "scipy" in sys.modules)
                """);

        Run deploy = gale(data, "deploy", "alone", "--source", fn.toString(), "--allow-unauthenticated");

        assertThat(deploy.exit()).as(deploy.err()).isZero();
        // Sandboxed (/var/task), forked from a zygote of its own, which imported nothing the function does not.
        assertThat(get("http://127.0.0.1:" + port + "/fn/alone")).isEqualTo("/var/task True False");
    }

    @Test
    void theDemoDeploysEveryExampleAndTheyAnswer() throws Exception {
        Path data = tmp.resolve("demo");
        int port = freePort();
        startServer("demo", port, data, "--examples", ROOT.resolve("examples").toString());

        await().atMost(Duration.ofSeconds(120)).untilAsserted(() -> assertThat(gale(data, "ls").out())
                .contains("survey-scorer").contains("lambda-scorer").contains("flask-app").doesNotContain("DEPLOYING"));
        String survey = get("http://127.0.0.1:" + port + "/fn/survey-scorer"
                + Files.readAllLines(ROOT.resolve("examples/survey-scorer/demo-call.txt")).getFirst());
        assertThat(survey).isNotBlank();
        // a function on Gale's own services: the sampler it makes on first use, with the state credential it was handed
        String sampled = get("http://127.0.0.1:" + port + "/fn/survey-sampler"
                + Files.readAllLines(ROOT.resolve("examples/survey-sampler/demo-call.txt")).getFirst());
        assertThat(sampled).contains("\"respondent\": \"R_demo\"").contains("\"items\": [{");
        // two functions and a trigger: the retrain function published the seed model (v1) as it started
        List<String> learn = Files.readAllLines(ROOT.resolve("examples/active-learning/demo-call.txt"));
        String learned = GaleServers.postJson("http://127.0.0.1:" + port + "/fn/active-learning" + learn.get(0).replaceFirst("^/$", ""),
                learn.get(1));
        assertThat(learned).startsWith("200 ").containsPattern("\"model\":\\s*1\\b").containsPattern("\"response\":\\s*1\\b");
        assertThat(gale(data, "triggers", "active-learning-retrain").out()).contains("state:active-learning/responses/");
        assertThat(gale(data, "ls").out()).doesNotContain("FAILED");
    }

    @Test
    void theTerminalShowsGalesOwnLinesAndTheLibrariesInfoLinesOnlyWithVerbose() throws Exception {
        String quiet = serverOutput("quiet");
        String verbose = serverOutput("verbose", "--verbose");

        assertThat(quiet).contains("Gale is serving at").contains("INFO gale.server.GaleServer - Gale listening on");
        assertThat(infoLoggers(quiet)).isNotEmpty().allSatisfy(logger -> assertThat(logger).startsWith("gale."));
        assertThat(infoLoggers(verbose)).contains("gale.server.GaleServer")
                .anyMatch(logger -> logger.startsWith("org.flywaydb."))
                .anyMatch(logger -> logger.startsWith("com.zaxxer.hikari."))
                .anyMatch(logger -> logger.startsWith("org.eclipse.jetty."))
                .anyMatch(logger -> logger.startsWith("io.javalin."));
        assertThat(verbose).doesNotContain("days old"); // Javalin's age nag, switched off in GaleServer
    }

    /** Runs `gale server` on a new data dir, stops it as Ctrl-C does (SIGTERM, the same shutdown hook), returns what it printed. */
    private String serverOutput(String name, String... extra) throws Exception {
        int port = freePort();
        Process server = startServer("server", port, tmp.resolve(name), extra);
        Path log = servers.log("server", port);
        await().atMost(Duration.ofSeconds(10)).until(() -> Files.readString(log).contains(LocalServer.STOP_HINT));
        server.destroy();
        assertThat(server.waitFor(30, TimeUnit.SECONDS)).as("gale server stops on SIGTERM").isTrue();
        return Files.readString(log);
    }

    /** The loggers of the INFO lines slf4j-simple printed ("[thread] INFO logger - message"). */
    private static List<String> infoLoggers(String output) {
        return output.lines().map(INFO_LINE::matcher).filter(Matcher::find).map(m -> m.group(1)).toList();
    }

    private Process startServer(String verb, int port, Path data, String... extra) throws Exception {
        return startServer(Map.of(), verb, port, data, extra);
    }

    private Process startServer(Map<String, String> env, String verb, int port, Path data, String... extra) throws Exception {
        return servers.start(env, List.of(), verb, port, data, extra);
    }

    private Run gale(Path data, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(javaBin(), "-jar", JAR.toString()));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().put("GALE_HOME", data.toString());
        pb.environment().remove("GALE_URL");
        pb.environment().remove("GALE_TOKEN");
        Path out = Files.createTempFile(tmp, "out", ".txt");
        Path err = Files.createTempFile(tmp, "err", ".txt");
        Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("gale " + String.join(" ", args) + " did not finish");
        }
        return new Run(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
    }

    private static String get(String url) throws IOException, InterruptedException {
        return GaleServers.get(url);
    }

    private static String javaBin() {
        return GaleServers.javaBin();
    }

    private static int freePort() throws IOException {
        return GaleServers.freePort();
    }
}
