package gale.api.internal;

import gale.api.HttpFunction;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarOutputStream;
import java.util.zip.ZipEntry;

import static org.assertj.core.api.Assertions.assertThat;

/** The instance side of docs/protocol.md, against a stand-in for Gale on a real UNIX socket. */
class FunctionInstanceTest {

    @TempDir
    Path tmp;
    private FakeGale gale;
    private PrintStream out;
    private PrintStream err;

    @BeforeEach
    void saveStandardStreams() throws IOException {
        out = System.out;
        err = System.err;
        gale = new FakeGale(tmp);
    }

    @AfterEach
    void restoreStandardStreams() throws IOException {
        System.setOut(out);
        System.setErr(err);
        gale.close();
    }

    private CompletableFuture<Integer> start(Class<?> entryPoint) {
        return start(entryPoint.getName(), 1, new FunctionLoader(getClass().getClassLoader(), List.of()));
    }

    private CompletableFuture<Integer> start(String entryPoint, int concurrency, FunctionLoader loader) {
        var settings = new Settings(gale.socket.toString(), "fn-1-a1", "secret-nonce", entryPoint, concurrency);
        var exit = new CompletableFuture<Integer>();
        Thread.ofPlatform().name("instance-main").start(() -> {
            try {
                exit.complete(new FunctionInstance(settings, loader, Optional.empty()).run());
            } catch (Throwable t) {
                exit.completeExceptionally(t);
            }
        });
        return exit;
    }

    @Test
    void itSaysHelloWithItsIdAndNonceThenReadyThenAnswersEachInvoke() throws Exception {
        start(TestFunctions.Echo.class);

        Frame hello = gale.next();
        Frame ready = gale.next();
        gale.invoke("r1", "POST", "/sub/path", "status=201", List.of(List.of("X-In", "header value"),
                List.of("Content-Type", "application/json")), "{\"x\": 1}");
        Frame response = gale.nextAnswer();

        assertThat(hello.type()).isEqualTo(Frame.HELLO);
        assertThat(hello.header()).containsEntry("instance", "fn-1-a1").containsEntry("nonce", "secret-nonce")
                .containsEntry("pid", ProcessHandle.current().pid()).containsKeys("java", "api");
        assertThat(ready.type()).isEqualTo(Frame.READY);
        assertThat(ready.header()).containsEntry("signature", "java").containsKey("loadMs");
        assertThat(response.type()).isEqualTo(Frame.RESPONSE);
        assertThat(response.header()).containsEntry("id", "r1").containsEntry("status", 201L);
        assertThat(response.header().get("headers")).isEqualTo(List.of(List.of("X-Method", "POST"), List.of("X-Path", "/sub/path"),
                List.of("X-Header", "header value"), List.of("Content-Type", "application/json")));
        assertThat(new String(response.body(), StandardCharsets.UTF_8)).isEqualTo("{\"x\": 1}");
    }

    @Test
    void aHandlerThatThrowsGetsAnErrorWithItsOwnStackTraceAndTheInstanceServesOn() throws Exception {
        start(TestFunctions.Throws.class);
        gale.next();
        gale.next();

        gale.invoke("bad", "fail=1");
        Frame error = gale.nextAnswer();
        gale.invoke("good", "");
        Frame next = gale.nextAnswer();

        assertThat(error.type()).isEqualTo(Frame.ERROR);
        assertThat(error.header()).containsEntry("id", "bad").containsEntry("error", "java.lang.IllegalStateException: boom");
        assertThat(error.text("traceback")).startsWith("java.lang.IllegalStateException: boom")
                .contains("TestFunctions$Throws.handle").doesNotContain("gale.api.internal.FunctionInstance")
                .doesNotContain("java.util.concurrent");
        assertThat(next.type()).isEqualTo(Frame.RESPONSE);
        assertThat(new String(next.body(), StandardCharsets.UTF_8)).isEqualTo("fine");
    }

    @Test
    void whatTheFunctionPrintsIsLoggedPerLineWithTheIdOfItsCall() throws Exception {
        start(TestFunctions.Prints.class);
        gale.next(); // HELLO
        Frame loading = gale.next();
        gale.next(); // READY

        gale.invoke("r7", "");
        List<Frame> frames = new ArrayList<>();
        Frame f;
        do {
            f = gale.next();
            frames.add(f);
        } while (f.type() == Frame.LOG);

        assertThat(loading.type()).isEqualTo(Frame.LOG);
        assertThat(loading.header()).containsEntry("id", null).containsEntry("stream", "stdout");
        assertThat(new String(loading.body(), StandardCharsets.UTF_8)).isEqualTo("loading\n");
        List<String> logs = frames.stream().filter(x -> x.type() == Frame.LOG)
                .map(x -> x.text("id") + " " + x.text("stream") + " " + new String(x.body(), StandardCharsets.UTF_8)).toList();
        assertThat(logs).containsExactlyInAnyOrder("r7 stdout one\n", "r7 stderr to stderr\n", "r7 stdout two\n");
        assertThat(logs.indexOf("r7 stdout one\n")).isLessThan(logs.indexOf("r7 stdout two\n"));
        assertThat(frames.getLast().type()).as("logs come before the answer").isEqualTo(Frame.RESPONSE);
    }

    @Test
    void callsRunAtOnceUpToTheConcurrency() throws Exception {
        TestFunctions.Rendezvous.both = new CountDownLatch(2);
        start(TestFunctions.Rendezvous.class.getName(), 2, new FunctionLoader(getClass().getClassLoader(), List.of()));
        gale.next();
        gale.next();

        gale.invoke("a", "");
        gale.invoke("b", "");
        Frame first = gale.nextAnswer();
        Frame second = gale.nextAnswer();

        assertThat(new String(first.body(), StandardCharsets.UTF_8)).isEqualTo("met");
        assertThat(new String(second.body(), StandardCharsets.UTF_8)).isEqualTo("met");
    }

    @ParameterizedTest(name = "concurrency {0}: {1}")
    @CsvSource({"1, instance-main", "2, gale-invoke-1"})
    void oneCallAtATimeRunsOnTheReaderThreadWithoutAHandOff(int concurrency, String thread) throws Exception {
        start(TestFunctions.ThreadName.class.getName(), concurrency, new FunctionLoader(getClass().getClassLoader(), List.of()));
        gale.next();
        gale.next();

        gale.invoke("t1", "");
        Frame answer = gale.nextAnswer();

        assertThat(new String(answer.body(), StandardCharsets.UTF_8)).isEqualTo(thread);
    }

    @Test
    void aHandlerThatSendsNothingAnswersWithItsStatusAndNoBody() throws Exception {
        start(TestFunctions.Silent.class);
        gale.next();
        gale.next();

        gale.invoke("s", "");
        Frame response = gale.nextAnswer();

        assertThat(response.header()).containsEntry("status", 204L).containsEntry("headers", List.of());
        assertThat(response.body()).isEmpty();
    }

    @Test
    void shutdownLetsTheCallInFlightAnswerThenTheInstanceExitsWithZero() throws Exception {
        var exit = start(TestFunctions.Slow.class);
        gale.next();
        gale.next();

        gale.invoke("last", "");
        gale.shutdown();
        Frame response = gale.nextAnswer();

        assertThat(new String(response.body(), StandardCharsets.UTF_8)).isEqualTo("slow done");
        assertThat(exit.get(10, TimeUnit.SECONDS)).isZero();
    }

    @Test
    void theEndOfTheConnectionEndsTheInstance() throws Exception {
        var exit = start(TestFunctions.Echo.class);
        gale.next();
        gale.next();

        gale.disconnect();

        assertThat(exit.get(10, TimeUnit.SECONDS)).isZero();
    }

    @ParameterizedTest(name = "{0}: {1}")
    @CsvSource(delimiter = '|', value = {
            "gale.api.internal.Missing                          | entry_point | class gale.api.internal.Missing not found",
            "gale.api.internal.TestFunctions$NotAFunction       | entry_point | does not implement gale.api.HttpFunction",
            "gale.api.internal.TestFunctions$Abstract           | entry_point | is abstract",
            "gale.api.internal.TestFunctions$NoDefaultConstructor | entry_point | has no public no-argument constructor",
            "gale.api.internal.TestFunctions$NotPublic          | entry_point | is not public",
            "gale.api.internal.TestFunctions$Inner              | entry_point | is an inner class; make it `public static`",
            "gale.api.internal.TestFunctions$ThrowsInConstructor | error      | failed in its constructor: java.lang.IllegalArgumentException: no model file model.pkl",
            "gale.api.internal.TestFunctions$ThrowsInStaticInit | error       | failed in its static initialiser: java.lang.NumberFormatException",
    })
    void anEntryPointThatCannotLoadIsReportedWithWhatToFixAndTheInstanceExitsWithOne(String entryPoint, String kind,
                                                                                     String error) throws Exception {
        var exit = start(entryPoint, 1, new FunctionLoader(getClass().getClassLoader(), List.of()));
        gale.next(); // HELLO

        Frame failed = gale.nextAnswer();

        assertThat(failed.type()).isEqualTo(Frame.LOAD_FAILED);
        assertThat(failed.header()).containsEntry("kind", kind);
        assertThat(failed.text("error")).contains(error);
        assertThat(exit.get(10, TimeUnit.SECONDS)).isEqualTo(1);
    }

    @Test
    void anExceptionInTheConstructorComesWithItsStackTrace() throws Exception {
        start(TestFunctions.ThrowsInConstructor.class);
        gale.next();

        Frame failed = gale.nextAnswer();

        assertThat(failed.text("traceback")).startsWith("java.lang.IllegalArgumentException: no model file model.pkl")
                .contains("TestFunctions$ThrowsInConstructor.<init>").doesNotContain("gale.api.internal.FunctionLoader");
    }

    @Test
    void aClassNameWithTheWrongCaseOrPackageGetsTheLikelyNameSuggested() throws Exception {
        Path jar = tmp.resolve("app.jar");
        try (var out = new JarOutputStream(Files.newOutputStream(jar))) {
            for (String name : List.of("com/acme/Hello.class", "com/acme/Other.class", "com/acme/Hello$1.class")) {
                out.putNextEntry(new ZipEntry(name));
                out.closeEntry();
            }
        }
        start("acme.hello", 1, new FunctionLoader(getClass().getClassLoader(), List.of(Path.of("gale-api.jar"), jar)));
        gale.next();

        Frame failed = gale.nextAnswer();

        assertThat(failed.text("error")).isEqualTo("class acme.hello not found in app.jar; did you mean com.acme.Hello?");
    }

    @Test
    void aLibraryMissingFromTheClasspathIsNamedAsAMissingDependency() throws Exception {
        var loader = new HidingClassLoader(getClass().getClassLoader(), NeedsLibrary.class.getName(), NeedsLibrary.Library.class.getName());
        start(NeedsLibrary.class.getName(), 1, new FunctionLoader(loader, List.of()));
        gale.next();

        Frame failed = gale.nextAnswer();

        assertThat(failed.header()).containsEntry("kind", "dependency");
        assertThat(failed.text("error")).contains("needs gale.api.internal.NeedsLibrary$Library, which is not on the classpath")
                .contains("lib/");
    }

    @Test
    void theStandInServesInsteadOfTheLoadedFunctionWhenTraining() throws Exception {
        var settings = new Settings(gale.socket.toString(), "t", "n", TestFunctions.Throws.class.getName(), 1);
        HttpFunction standIn = (req, res) -> res.send("stand-in");
        Thread.ofPlatform().start(() -> {
            try {
                new FunctionInstance(settings, new FunctionLoader(getClass().getClassLoader(), List.of()), Optional.of(standIn)).run();
            } catch (IOException ignored) {
                // the test fails on the missing answer
            }
        });
        gale.next();
        gale.next();

        gale.invoke("x", "fail=1");

        assertThat(new String(gale.nextAnswer().body(), StandardCharsets.UTF_8)).isEqualTo("stand-in");
    }

    /** Defines {@code owner} itself and cannot find {@code hidden}: a jar that is missing from lib/. */
    private static final class HidingClassLoader extends ClassLoader {
        private final String owner;
        private final String hidden;

        HidingClassLoader(ClassLoader parent, String owner, String hidden) {
            super(parent);
            this.owner = owner;
            this.hidden = hidden;
        }

        @Override
        protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
            if (name.equals(hidden)) throw new ClassNotFoundException(name);
            if (!name.equals(owner)) return super.loadClass(name, resolve);
            synchronized (getClassLoadingLock(name)) {
                Class<?> loaded = findLoadedClass(name);
                if (loaded != null) return loaded;
                try (InputStream in = getParent().getResourceAsStream(name.replace('.', '/') + ".class")) {
                    byte[] bytes = in.readAllBytes();
                    return defineClass(name, bytes, 0, bytes.length);
                } catch (IOException e) {
                    throw new ClassNotFoundException(name, e);
                }
            }
        }
    }

    @Test
    void settingsAreReadFromTheEnvironmentWithSafeDefaults() {
        var s = Settings.from(Map.of("GALE_SOCKET", "/run/g.sock", "GALE_INSTANCE_ID", "i", "GALE_INSTANCE_NONCE", "n",
                "GALE_ENTRY_POINT", " example.Hello ", "GALE_CONCURRENCY", "4"));
        var defaults = Settings.from(Map.of("GALE_CONCURRENCY", "lots"));

        assertThat(s).isEqualTo(new Settings("/run/g.sock", "i", "n", "example.Hello", 4));
        assertThat(defaults.concurrency()).isEqualTo(1);
        assertThat(defaults.entryPoint()).isEmpty();
        assertThat(defaults.warmUp()).isFalse();
        assertThat(Settings.from(Map.of("GALE_WARM_UP", "1")).warmUp()).isTrue();
    }

    @Test
    void theWarmUpOfASpareJvmLinksEveryStringConcatenationShapeAndALambda() {
        // "GET 1" + "/2x" + "Hello, world!" + "warm": a shape that failed to link would stop the sum short.
        assertThat(LinkageWarmUp.run()).isEqualTo(5 + 3 + 13 + 4);
    }

    @Test
    void theRehearsalOfASpareJvmRunsTheRequestPathWithoutUserCodeOrFrames() throws Exception {
        var exit = start(TestFunctions.Echo.class);
        gale.next();
        gale.next();

        assertThat(FunctionInstance.rehearse()).isGreaterThan(20 * "{\"id\":\"warm-0\",\"status\":200}".length());
        gale.invoke("after", "real");

        assertThat(gale.nextAnswer().header()).as("nothing of the rehearsal reached Gale").containsEntry("id", "after");
        gale.disconnect();
        assertThat(exit.get(10, TimeUnit.SECONDS)).isZero();
    }
}
