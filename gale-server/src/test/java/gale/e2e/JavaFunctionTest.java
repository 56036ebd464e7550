package gale.e2e;

import gale.client.Version;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static gale.e2e.GaleHarness.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Java functions (runtime java21) end to end: real server, real JVM instances. Function jars
 * are compiled here ({@link JavaBundles}) against the gale-api jar the server ships, and
 * examples/java-hello is deployed as the Maven project it is.
 */
class JavaFunctionTest {

    /** Maven builds the project on deploy: a minute or more on a busy machine, more when ~/.m2 lacks a plugin. */
    private static final Duration MAVEN_DEPLOY_WAIT = Duration.ofMinutes(5);
    private static final String API_PROPERTY = "gale.api.jar";

    private static final String HELLO = """
            package example;

            import gale.api.HttpFunction;
            import gale.api.Request;
            import gale.api.Response;
            import java.util.TreeMap;

            public class Hello implements HttpFunction {
                public void handle(Request req, Response res) {
                    String name = req.query("name").orElse("world");
                    System.out.println("hello " + name + " from " + req.requestId());
                    switch (req.path()) {
                        case "/fail" -> throw new IllegalStateException("no greeting for " + name);
                        case "/echo" -> res.status(201).header("X-Echo", req.header("x-test").orElse("-"))
                                .contentType(req.contentType().orElse("application/octet-stream")).send(req.body());
                        case "/env" -> res.send(new TreeMap<>(System.getenv()) + " home=" + System.getProperty("user.home"));
                        default -> res.send("Hello, " + name + "! (" + req.method() + " " + req.path() + ")");
                    }
                }
            }
            """;

    /** Says when it was made: at a JVM's start, before any call. */
    private static final String BORN = """
            package example;

            import gale.api.HttpFunction;
            import gale.api.Request;
            import gale.api.Response;

            public class Born implements HttpFunction {
                private final long born = System.currentTimeMillis();

                public Born() {
                    System.out.println("born " + born);
                }

                public void handle(Request req, Response res) {
                    res.send(born + " " + System.getenv().getOrDefault("GALE_WARM_UP", "-"));
                }
            }
            """;

    @TempDir
    static Path tmp;
    static GaleHarness gale;
    private static String previousApiProperty;

    @BeforeAll
    static void startGale() {
        previousApiProperty = System.getProperty(API_PROPERTY);
        // Until gale-api is on gale-server's classpath (through gale-core), point Gale at the module's classes.
        if (JavaFunctionTest.class.getClassLoader().getResource("gale/api/internal/Bootstrap.class") == null) {
            Path classes = Path.of("..", "gale-api", "target", "classes").toAbsolutePath().normalize();
            assertThat(classes.resolve("gale/api/internal/Bootstrap.class")).as("gale-api is built (./mvnw -pl gale-api compile)").exists();
            System.setProperty(API_PROPERTY, classes.toString());
        }
        gale = new GaleHarness(tmp);
    }

    @AfterAll
    static void stopGale() {
        if (gale != null) gale.close();
        if (previousApiProperty == null) System.clearProperty(API_PROPERTY);
        else System.setProperty(API_PROPERTY, previousApiProperty);
    }

    @Test
    void aJavaFunctionAnswersFromItsQueryHeadersAndBody() {
        gale.deployActive("hello-java", jarBundle("hello-java", Map.of("example/Hello.java", HELLO)),
                "runtime", "java21", "entryPoint", "example.Hello");

        var greeting = gale.get("hello-java", "/sub/path?name=Ada%20L");
        var echo = gale.client.call("hello-java", "POST", "/echo", "{\"x\": [1, 2]}".getBytes(StandardCharsets.UTF_8),
                Map.of("Content-Type", "application/json", "X-Test", "t1"));

        assertThat(greeting.statusCode()).isEqualTo(200);
        assertThat(text(greeting)).isEqualTo("Hello, Ada L! (GET /sub/path)");
        assertThat(greeting.headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).startsWith("text/plain"));
        assertThat(echo.statusCode()).isEqualTo(201);
        assertThat(text(echo)).isEqualTo("{\"x\": [1, 2]}");
        assertThat(echo.headers().firstValue("X-Echo")).hasValue("t1");
        assertThat(echo.headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).startsWith("application/json"));
    }

    @Test
    void anExceptionIs500BlamingTheFunctionWithTheStackTraceInTheLogs() {
        gale.deployActive("throwing-java", jarBundle("throwing-java", Map.of("example/Hello.java", HELLO)),
                "runtime", "java21", "entryPoint", "example.Hello");

        var failed = gale.get("throwing-java", "/fail?name=Bob");
        var next = gale.get("throwing-java", "?name=Bob");

        assertThat(failed.statusCode()).isEqualTo(500);
        assertThat(failed.headers().firstValue("X-Gale-Error")).hasValue("function");
        assertThat(text(failed)).contains("java.lang.IllegalStateException: no greeting for Bob").contains("gale logs throwing-java");
        assertThat(text(next)).startsWith("Hello, Bob!");
        String requestId = failed.headers().firstValue("X-Gale-Request-Id").orElseThrow();
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(gale.client.logs("throwing-java", 0, 1000, 0).entries())
                .anySatisfy(e -> {
                    assertThat(e.requestId()).hasValue(requestId);
                    assertThat(e.message()).contains("at example.Hello.handle(Hello.java:");
                }));
    }

    @Test
    void whatTheFunctionPrintsIsLoggedWithTheRequestId() {
        gale.deployActive("chatty-java", jarBundle("chatty-java", Map.of("example/Hello.java", HELLO)),
                "runtime", "java21", "entryPoint", "example.Hello");

        var response = gale.get("chatty-java", "?name=Log");
        String requestId = response.headers().firstValue("X-Gale-Request-Id").orElseThrow();

        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(gale.client.logs("chatty-java", 0, 1000, 0).entries())
                .anySatisfy(e -> {
                    assertThat(e.message()).isEqualTo("hello Log from " + requestId);
                    assertThat(e.stream()).isEqualTo("stdout");
                    assertThat(e.requestId()).hasValue(requestId);
                    assertThat(e.instance()).hasValueSatisfying(i -> assertThat(i).startsWith("chatty-java-1-"));
                }));
    }

    @Test
    void aClassThatDoesNotExistFailsTheDeploySayingWhyAndTheOldVersionKeepsServing() {
        Path bundle = jarBundle("typo-java", Map.of("example/Hello.java", HELLO));
        gale.deployActive("typo-java", bundle, "runtime", "java21", "entryPoint", "example.Hello");

        Version failed = gale.deploy("typo-java", bundle, "runtime", "java21", "entryPoint", "example.hello", "allowUnauthenticated", true);
        var stillServing = gale.get("typo-java", "?name=v1");

        assertThat(failed.state().name()).isEqualTo("FAILED");
        assertThat(failed.reason()).hasValueSatisfying(r -> assertThat(r)
                .contains("entry point error: class example.hello not found in app.jar; did you mean example.Hello?"));
        assertThat(text(stillServing)).startsWith("Hello, v1!");
        assertThat(gale.client.function("typo-java").activeVersion()).hasValue(1);
    }

    @Test
    void aClassThatIsNotAFunctionFailsTheDeploySayingWhatToImplement() {
        Version failed = gale.deploy("plain-java", jarBundle("plain-java", Map.of("example/Plain.java",
                "package example; public class Plain { public String handle() { return \"no\"; } }")),
                "runtime", "java21", "entryPoint", "example.Plain");

        assertThat(failed.state().name()).isEqualTo("FAILED");
        assertThat(failed.reason()).hasValueSatisfying(r -> assertThat(r).contains("does not implement gale.api.HttpFunction"));
    }

    @Test
    void aBundleWithoutAJarOrAPomFailsTheDeploySayingWhatToDeploy() {
        Version failed = gale.deploy("nojar-java", gale.bundle("nojar-java", "Hello.java", HELLO),
                "runtime", "java21", "entryPoint", "example.Hello");

        assertThat(failed.state().name()).isEqualTo("FAILED");
        assertThat(failed.reason()).hasValueSatisfying(r -> assertThat(r).contains("the bundle has no jar").contains("Maven project"));
    }

    @Test
    void theFirstCallAfterScalingToZeroIsAColdStartThatUsesTheClassDataArchive() throws IOException {
        gale.deployActive("cold-java", jarBundle("cold-java", Map.of("example/Hello.java", HELLO)),
                "runtime", "java21", "entryPoint", "example.Hello", "idleTimeout", "1s");
        assertThat(gale.get("cold-java", "").headers().firstValue("X-Gale-Cold-Start")).hasValue("false");
        Path javaDir = gale.dataDir.resolve("functions/cold-java/1/java");
        await().atMost(Duration.ofSeconds(60)).until(() -> archives(javaDir).size() == 1);

        await().atMost(Duration.ofSeconds(15)).until(() -> gale.client.function("cold-java").instances() == 0);
        var cold = gale.get("cold-java", "?name=cold");

        assertThat(cold.statusCode()).isEqualTo(200);
        assertThat(text(cold)).startsWith("Hello, cold!");
        assertThat(cold.headers().firstValue("X-Gale-Cold-Start")).hasValue("true");
        assertThat(Files.exists(archives(javaDir).getFirst().resolveSibling(archives(javaDir).getFirst().getFileName() + ".failed")))
                .isFalse();
    }

    @Test
    void aColdStartTakesTheSpareJvmReadiedBeforeItWhichCountsAsNoInstanceAndGoesWithItsVersion() throws Exception {
        gale.deployActive("spare-java", jarBundle("spare-java", Map.of("example/Born.java", BORN)),
                "runtime", "java21", "entryPoint", "example.Born", "idleTimeout", "1s");
        gale.get("spare-java", "");
        // The first instance stops when idle; the spare (started after the archive's training) stays, and is no instance.
        await().atMost(Duration.ofSeconds(120)).until(() -> gale.client.function("spare-java").instances() == 0
                && jvmsOf("spare-java").size() == 1 && constructed("spare-java") == 2);
        long spare = jvmsOf("spare-java").getFirst().pid();
        long before = System.currentTimeMillis();

        var cold = gale.get("spare-java", "");

        assertThat(cold.headers().firstValue("X-Gale-Cold-Start")).hasValue("true");
        assertThat(Long.parseLong(text(cold).split(" ")[0])).as("the instance was made before the call").isLessThan(before);
        assertThat(text(cold).split(" ")[1]).as("a spare links before READY").isEqualTo("1");
        await().atMost(Duration.ofSeconds(60)).until(() -> jvmsOf("spare-java").stream().anyMatch(p -> p.pid() != spare)); // the next spare
        gale.client.delete("spare-java");
        await().atMost(Duration.ofSeconds(30)).until(() -> jvmsOf("spare-java").isEmpty());
    }

    @Test
    void aVersionDeployedWithoutPrewarmGetsNoSpareJvm() throws Exception {
        gale.deployActive("lazy-java", jarBundle("lazy-java", Map.of("example/Born.java", BORN)),
                "runtime", "java21", "entryPoint", "example.Born", "idleTimeout", "1s", "prewarm", false);
        gale.get("lazy-java", "");
        Path javaDir = gale.dataDir.resolve("functions/lazy-java/1/java");
        await().atMost(Duration.ofSeconds(60)).until(() -> archives(javaDir).size() == 1);
        await().atMost(Duration.ofSeconds(15)).until(() -> gale.client.function("lazy-java").instances() == 0);
        long before = System.currentTimeMillis();

        var cold = gale.get("lazy-java", "");

        assertThat(Long.parseLong(text(cold).split(" ")[0])).as("a JVM started for the call").isGreaterThanOrEqualTo(before);
        assertThat(text(cold).split(" ")[1]).as("a JVM started for a waiting call does not warm up").isEqualTo("-");
        assertThat(jvmsOf("lazy-java")).hasSize(1);
    }

    /** The instance JVMs of a function's version 1 (not its training runs), found by their scratch folder. */
    private static List<ProcessHandle> jvmsOf(String function) {
        return ProcessHandle.allProcesses().filter(p -> p.info().command().orElse("").endsWith("/java")).filter(p -> {
            List<String> args = List.of(p.info().arguments().orElse(new String[0]));
            return args.contains("gale.api.internal.Bootstrap") && !args.contains("--train")
                    && args.stream().anyMatch(a -> a.startsWith("-Djava.io.tmpdir=") && a.contains("/" + function + "-1-"));
        }).toList();
    }

    /** How many instances of the function have been constructed (each prints "born" at construction). */
    private static long constructed(String function) {
        return gale.client.logs(function, 0, 1000, 0).entries().stream().filter(e -> e.message().startsWith("born ")).count();
    }

    @Test
    void userCodeSeesItsOwnVariablesAndAScratchHomeButNothingOfTheServer() {
        gale.deployActive("env-java", jarBundle("env-java", Map.of("example/Hello.java", HELLO)),
                "runtime", "java21", "entryPoint", "example.Hello", "env", Map.of("MODEL", "v2"));

        String env = text(gale.get("env-java", "/env"));

        assertThat(env).contains("MODEL=v2").contains("GALE_FUNCTION=env-java").contains("GALE_CONCURRENCY=1")
                .doesNotContain(gale.server.adminToken()).doesNotContain("JAVA_TOOL_OPTIONS")
                .doesNotContain("home=" + System.getProperty("user.home") + "\n");
        assertThat(env.substring(env.indexOf(" home=") + 6)).contains("env-java-1-");
    }

    @Test
    void aFunctionNeedsMemoryForAJvm() {
        Version failed = gale.deploy("tiny-java", jarBundle("tiny-java", Map.of("example/Hello.java", HELLO)),
                "runtime", "java21", "entryPoint", "example.Hello", "memory", "32MB");

        assertThat(failed.state().name()).isEqualTo("FAILED");
        assertThat(failed.reason()).hasValueSatisfying(r -> assertThat(r).contains("at least 64MB"));
    }

    @Test
    void theJavaHelloExampleIsBuiltWithMavenOnDeployAndServesWithTheSettingsOfItsGaleToml() {
        Path example = Path.of("..", "examples", "java-hello").toAbsolutePath().normalize();

        Version v = deployAndWait("java-hello", example, MAVEN_DEPLOY_WAIT); // its gale.toml says java21, example.Hello, public
        assertThat(v.state().name()).as(v.reason().orElse("")).isEqualTo("ACTIVE");
        var greeting = gale.get("java-hello", "?name=Maven");
        var echo = gale.post("java-hello", "/echo", "{\"from\": \"maven\"}", "application/json");

        assertThat(text(greeting)).isEqualTo("Hello, Maven!");
        assertThat(text(echo)).isEqualTo("{\"from\": \"maven\"}");
        assertThat(echo.headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).startsWith("application/json"));
    }

    @Test
    void aMavenBuildThatFailsFailsTheDeployWithMavensError() throws IOException {
        Path project = gale.bundle("broken-maven", "src/main/java/example/Broken.java", """
                package example;
                public class Broken implements gale.api.HttpFunction {
                    public void handle(gale.api.Request req, gale.api.Response res) { res.send(undefinedVariable); }
                }
                """);
        Files.copy(Path.of("..", "examples", "java-hello", "pom.xml"), project.resolve("pom.xml"));

        Version failed = deployAndWait("broken-maven", project, MAVEN_DEPLOY_WAIT, "runtime", "java21", "entryPoint", "example.Broken");

        assertThat(failed.state().name()).isEqualTo("FAILED");
        assertThat(failed.reason()).hasValueSatisfying(r -> assertThat(r)
                .contains("the Maven build failed").contains("Broken.java").contains("undefinedVariable"));
    }

    // ---------------------------------------------------------------- helpers

    private static Version deployAndWait(String name, Path source, Duration wait, Object... flags) {
        Map<String, Object> config = new java.util.LinkedHashMap<>();
        for (int i = 0; i < flags.length; i += 2) config.put((String) flags[i], flags[i + 1]);
        Version v = gale.client.deploy(name, source, config);
        return gale.client.awaitVersion(name, v.version(), wait);
    }

    private static Path jarBundle(String name, Map<String, String> sources) {
        return JavaBundles.jarBundle(gale, name, sources);
    }

    private static List<Path> archives(Path javaDir) throws IOException {
        if (!Files.isDirectory(javaDir)) return List.of();
        try (Stream<Path> files = Files.list(javaDir)) {
            return files.filter(p -> p.getFileName().toString().matches("classes-[0-9a-f]+\\.(aot|jsa)")).toList();
        }
    }
}
