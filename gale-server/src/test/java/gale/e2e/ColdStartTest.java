package gale.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import gale.runtime.Isolation;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static gale.e2e.GaleHarness.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;
import static org.awaitility.Awaitility.await;

/**
 * Instances are forked from a zygote per function version that has imported the
 * dependencies, so a cold start skips interpreter start-up and imports, while each
 * instance still runs the module's own code and connects as itself.
 *
 * <p>In the sandbox a zygote and its instances live in a PID namespace of their own, so
 * the pids they see are not the host's, and a new zygote's may repeat an old one's. The tests
 * here deploy with {@code sandbox = "off"}, where an instance's parent pid is its zygote's on
 * the host; a zygote is told apart by that pid and its start time (a reused pid starts later).
 * Instances are told apart by GALE_INSTANCE_ID. SandboxTest covers the sandboxed zygote's life.
 */
class ColdStartTest extends GaleE2E {

    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * Reports the instance, its process, the process that ran the module-level code, and its
     * parent: whether it runs _zygote.py, and which zygote it is ("PID:START", its pid and start time).
     */
    private static final String WHO_AM_I = """
            import json, os, random, time
            LOADED_IN = os.getpid()
            def parent():
                try:
                    with open("/proc/%d/cmdline" % os.getppid(), "rb") as f:
                        command = f.read().split(b"\\0")
                    with open("/proc/%d/stat" % os.getppid()) as f:
                        started = f.read().rsplit(")", 1)[1].split()[19]
                except OSError:  # orphaned after its zygote died: the new parent may be unreadable
                    return False, ""
                return any(arg.endswith(b"_zygote.py") for arg in command), "%d:%s" % (os.getppid(), started)
            def who(request):
                time.sleep(float(request.args.get("s", "0")))
                if request.args.get("exit"):
                    os._exit(0)
                is_zygote, zygote = parent()
                return json.dumps({"instance": os.environ["GALE_INSTANCE_ID"], "pid": os.getpid(), "loadedIn": LOADED_IN,
                                   "parentIsZygote": is_zygote, "zygote": zygote, "random": random.random()})
            """;

    @Test
    void instancesAreForkedFromTheZygoteAndEachRunsTheModuleLevelCodeItself() {
        gale.deployActive("forked", gale.bundle("forked", "main.py", WHO_AM_I), "entryPoint", "who", "sandbox", "off", "maxInstances", 2);

        var first = gale.client.callAsync("forked", "GET", "?s=1", new byte[0], Map.of());
        var second = gale.client.callAsync("forked", "GET", "?s=1", new byte[0], Map.of());
        JsonNode a = json(first.join());
        JsonNode b = json(second.join());

        assertThat(a.path("instance").asText()).isNotEqualTo(b.path("instance").asText());
        assertThat(a.path("pid").asLong()).isNotEqualTo(b.path("pid").asLong());
        assertThat(a.path("zygote").asText()).isEqualTo(b.path("zygote").asText());
        assertThat(a.path("parentIsZygote").asBoolean()).isTrue();
        assertThat(a.path("loadedIn").asLong()).isEqualTo(a.path("pid").asLong());
        assertThat(b.path("loadedIn").asLong()).isEqualTo(b.path("pid").asLong());
        assertThat(a.path("random").asDouble()).isNotEqualTo(b.path("random").asDouble());
    }

    @Test
    void twoFunctionsNeverShareAZygote() {
        gale.deployActive("left", gale.bundle("left", "main.py", WHO_AM_I), "entryPoint", "who", "sandbox", "off");
        gale.deployActive("right", gale.bundle("right", "main.py", WHO_AM_I), "entryPoint", "who", "sandbox", "off");

        JsonNode left = json(gale.get("left", ""));
        JsonNode right = json(gale.get("right", ""));

        assertThat(left.path("parentIsZygote").asBoolean()).isTrue();
        assertThat(right.path("parentIsZygote").asBoolean()).isTrue();
        assertThat(left.path("zygote").asText()).isNotEqualTo(right.path("zygote").asText());
    }

    @Test
    void aKilledZygoteTakesItsInstancesAndANewOneServesTheNextCall() {
        gale.deployActive("phoenix", gale.bundle("phoenix", "main.py", WHO_AM_I), "entryPoint", "who", "sandbox", "off");
        JsonNode before = json(gale.get("phoenix", ""));
        ProcessHandle zygote = zygote(before.path("zygote").asText());
        ProcessHandle instance = ProcessHandle.of(before.path("pid").asLong()).orElseThrow();

        zygote.destroyForcibly();
        await().atMost(Duration.ofSeconds(10)).until(() -> !zygote.isAlive() && !instance.isAlive());
        await().atMost(Duration.ofSeconds(10)).until(() -> gale.client.function("phoenix").instances() == 0);
        HttpResponse<byte[]> cold = gale.get("phoenix", "");
        JsonNode after = json(cold);

        assertThat(cold.headers().firstValue("X-Gale-Cold-Start")).hasValue("true");
        assertThat(after.path("instance").asText()).isNotEqualTo(before.path("instance").asText());
        assertThat(after.path("zygote").asText()).isNotEqualTo(before.path("zygote").asText());
        assertThat(after.path("parentIsZygote").asBoolean()).isTrue();
    }

    @Test
    void aSandboxedVersionsZygoteIsForkedFromTheBaseZygoteAndFindsTheCommonPackagesImported() throws Exception {
        gale.deployActive("sharer", gale.bundle("sharer", "main.py", """
                import json, os, sys
                AT_IMPORT = sorted(m for m in ("flask", "numpy", "scipy", "sklearn") if m in sys.modules)
                def sharer(request):
                    return json.dumps({"atImport": AT_IMPORT})
                """)); // sandboxed: the zygote is forked into the version's sandbox

        JsonNode report = json(gale.get("sharer", ""));

        // The bundle imports none of them; only the base zygote can have.
        assertThat(report.path("atImport").toString()).contains("numpy", "scipy", "sklearn");
    }

    @Test
    void aBundleWithItsOwnModuleOfACommonPackagesNameImportsItsOwn() throws Exception {
        gale.deployActive("shadow", gale.bundle("shadow", "numpy.py", "WHOSE = 'the bundle'\n", "main.py", """
                import numpy
                def shadow(request):
                    return numpy.WHOSE
                """));

        assertThat(GaleHarness.text(gale.get("shadow", ""))).isEqualTo("the bundle");
    }

    @Test
    void afterScaleToZeroTheNextCallIsAColdStartForkedFromTheSameZygote() {
        gale.deployActive("napper", gale.bundle("napper", "main.py", WHO_AM_I), "entryPoint", "who", "sandbox", "off", "idleTimeout", "1s");
        var warm = gale.get("napper", "");
        String zygote = json(warm).path("zygote").asText();

        await().atMost(Duration.ofSeconds(10)).until(() -> gale.client.function("napper").instances() == 0);
        var cold = gale.get("napper", "");

        assertThat(warm.headers().firstValue("X-Gale-Cold-Start")).hasValue("false");
        assertThat(cold.headers().firstValue("X-Gale-Cold-Start")).hasValue("true");
        assertThat(json(cold).path("zygote").asText()).isEqualTo(zygote);
    }

    @Test
    void aDeployPrewarmsTheZygoteUnlessPrewarmIsOff() {
        gale.deployActive("eager", gale.bundle("eager", "main.py", WHO_AM_I), "entryPoint", "who", "sandbox", "off");
        gale.deployActive("lazy", gale.bundle("lazy", "main.py", WHO_AM_I), "entryPoint", "who", "sandbox", "off",
                "prewarm", false, "idleTimeout", "1s");

        // (zygotesServing also counts the processes a zygote forked: they share its command line)
        assertThat(zygotesServing("eager")).isPositive();
        await().atMost(Duration.ofSeconds(10)).until(() -> gale.client.function("lazy").instances() == 0);
        await().atMost(Duration.ofSeconds(5)).until(() -> zygotesServing("lazy") == 0);

        HttpResponse<byte[]> cold = gale.get("lazy", ""); // makes the zygote, which then stays for later cold starts
        assertThat(cold.statusCode()).isEqualTo(200);
        assertThat(json(cold).path("parentIsZygote").asBoolean()).isTrue();
    }

    @Test
    void aVersionThatFailsToLoadLeavesNoZygoteBehind() {
        var version = gale.deploy("broken", gale.bundle("broken", "main.py", "import json\ndef broken(request) return 1\n"));

        assertThat(version.state().name()).isEqualTo("FAILED");
        await().atMost(Duration.ofSeconds(5)).until(() -> zygotesServing("broken") == 0);
    }

    @Test
    void bytesAForkedInstanceWritesStraightToItsStdoutAndStderrAreLoggedWithItsId() {
        gale.deployActive("raw", gale.bundle("raw", "main.py", """
                import os, subprocess
                def raw(request):
                    os.write(1, b"straight to fd 1\\n")
                    subprocess.run(["sh", "-c", "echo from a subprocess >&2"], check=True)
                    return "ok"
                """));

        gale.get("raw", "");

        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            var entries = gale.client.logs("raw", 0, 1000, 0).entries();
            assertThat(entries).anySatisfy(e -> {
                assertThat(e.message()).isEqualTo("straight to fd 1");
                assertThat(e.stream()).isEqualTo("stdout");
                assertThat(e.instance()).hasValueSatisfying(i -> assertThat(i).startsWith("raw-1-"));
            });
            assertThat(entries).anySatisfy(e -> {
                assertThat(e.message()).isEqualTo("from a subprocess");
                assertThat(e.stream()).isEqualTo("stderr");
            });
        });
    }

    @Test
    void aColdStartOfAScikitLearnScorerDoesNotPayForTheImports() throws Exception {
        assumeThat(pythonHas("sklearn")).as("python3 can import sklearn").isTrue();
        Path source = gale.bundle("scorer", "main.py", """
                import pickle
                import sklearn
                with open("model.pkl", "rb") as f:
                    MODEL = pickle.load(f)
                def scorer(request):
                    return str(MODEL.predict([[float(request.args.get("x", "0"))] * 4])[0])
                """);
        trainModel(source.resolve("model.pkl"));
        gale.deployActive("scorer", source, "idleTimeout", "1s");
        await().atMost(Duration.ofSeconds(10)).until(() -> gale.client.function("scorer").instances() == 0);

        long started = System.nanoTime();
        var cold = gale.get("scorer", "?x=1");
        long coldMillis = (System.nanoTime() - started) / 1_000_000;
        long freshMillis = freshLoadMillis(source);

        assertThat(cold.statusCode()).isEqualTo(200);
        assertThat(cold.headers().firstValue("X-Gale-Cold-Start")).hasValue("true");
        assertThat(coldMillis).as("cold start through Gale (ms), against a fresh python3 loading the model (%d ms)", freshMillis)
                .isLessThan(freshMillis / 3);
    }

    // ---- spare instances

    /** Says, at import, which instance ran the module-level code, and in which process. */
    private static final String ANNOUNCED = """
            import json, os
            print("loaded", os.environ["GALE_INSTANCE_ID"], os.getpid(), flush=True)
            def who(request):
                return json.dumps({"instance": os.environ["GALE_INSTANCE_ID"], "pid": os.getpid()})
            """;

    @Test
    void afterScaleToZeroTheColdStartIsHandedASpareInstanceThatRanTheModuleCodeAheadOfTheCall() throws Exception {
        gale.deployActive("early", gale.bundle("early", "main.py", ANNOUNCED), "entryPoint", "who", "sandbox", "off",
                "idleTimeout", "1s", "maxInstances", 1, "memory", "200MB");
        String first = json(gale.get("early", "")).path("instance").asText();
        await().atMost(Duration.ofSeconds(10)).until(() -> gale.client.function("early").instances() == 0);

        // With max-instances 1 the spare waits until no instance runs; it loads while no call is pending.
        String spare = await().atMost(Duration.ofSeconds(10)).until(() -> loaded("early").keySet().stream()
                .filter(id -> !id.equals(first)).findFirst(), Optional::isPresent).orElseThrow();
        assertThat(gale.client.function("early").instances()).as("a spare is no pool's instance").isZero();
        cgroupsHere().ifPresent(isolation -> assertThat(memoryLimitOf(isolation, spare)).as("the spare's own cgroup")
                .isEqualTo(200L << 20));
        var cold = gale.get("early", "");

        assertThat(cold.headers().firstValue("X-Gale-Cold-Start")).hasValue("true");
        assertThat(json(cold).path("instance").asText()).isEqualTo(spare);
        assertThat(json(cold).path("pid").asLong()).isEqualTo(loaded("early").get(spare));
        assertThat(loaded("early")).as("each instance ran the module code once").hasSize(2);
    }

    @Test
    void aSpareInstanceGoesWithItsVersion() {
        gale.deployActive("doomed", gale.bundle("doomed", "main.py", ANNOUNCED), "entryPoint", "who", "sandbox", "off");
        // The first instance serves; fewer than max-instances run, so a spare is made beside it.
        var pids = await().atMost(Duration.ofSeconds(10)).until(() -> loaded("doomed").values(), p -> p.size() == 2);
        List<ProcessHandle> firstVersion = pids.stream().map(pid -> ProcessHandle.of(pid).orElseThrow()).toList();

        gale.deployActive("doomed", gale.bundle("doomed2", "main.py", ANNOUNCED), "entryPoint", "who", "sandbox", "off");

        // Version 1's bundle stays (a rollback may want it): only retiring its zygote ends its spare.
        await().atMost(Duration.ofSeconds(10)).until(() -> firstVersion.stream().noneMatch(ProcessHandle::isAlive));
    }

    @Test
    void aSpareThatDiesWhileLoadingIsNotMadeAgainUntilTheVersionStartsAnInstance() throws Exception {
        Path marks = Files.createTempDirectory(tmp, "marks").resolve("loads");
        gale.deployActive("flaky", gale.bundle("flaky", "main.py", """
                import os
                with open(%s, "a") as f:
                    f.write("x")
                if os.path.exists(%s + ".crash"):
                    os._exit(3)
                def flaky(request):
                    return "ok"
                """.formatted(pythonString(marks), pythonString(marks))), "sandbox", "off", "idleTimeout", "1s", "maxInstances", 1);
        await().atMost(Duration.ofSeconds(10)).until(() -> gale.client.function("flaky").instances() == 0);
        await().atMost(Duration.ofSeconds(10)).until(() -> Files.readString(marks).length() == 2); // a spare loaded
        assertThat(text(gale.get("flaky", ""))).isEqualTo("ok"); // ... and served
        Files.writeString(Path.of(marks + ".crash"), "");
        await().atMost(Duration.ofSeconds(10)).until(() -> gale.client.function("flaky").instances() == 0);

        await().atMost(Duration.ofSeconds(10)).until(() -> Files.readString(marks).length() == 3); // the next spare crashed
        Thread.sleep(2000); // upkeep runs five times a second: a loop would show
        assertThat(Files.readString(marks)).hasSize(3);
        Files.delete(Path.of(marks + ".crash"));
        assertThat(text(gale.get("flaky", ""))).isEqualTo("ok");
    }

    /** The instances of {@code function} that announced, at import, that they loaded: id -> pid. */
    private static Map<String, Long> loaded(String function) {
        Map<String, Long> found = new LinkedHashMap<>();
        for (var entry : gale.client.logs(function, 0, 1000, 0).entries()) {
            String[] words = entry.message().split(" ");
            if (words.length == 3 && words[0].equals("loaded")) found.put(words[1], Long.parseLong(words[2]));
        }
        return found;
    }

    private static Optional<Isolation> cgroupsHere() {
        Isolation isolation = Isolation.probe("gale-test");
        return isolation.cgroupMode() == Isolation.CgroupMode.NONE ? Optional.empty() : Optional.of(isolation);
    }

    private static long memoryLimitOf(Isolation isolation, String instance) {
        try {
            return Cgroups.memoryLimit(isolation, instance);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    private static String pythonString(Path path) {
        return "'" + path + "'"; // a temporary folder: no quotes or backslashes in it
    }

    /** What a fresh interpreter takes just to import scikit-learn and unpickle the model, on this machine now. */
    private static long freshLoadMillis(Path bundle) throws Exception {
        long started = System.nanoTime();
        Process p = new ProcessBuilder("/usr/bin/python3", "-c", "import pickle, sklearn; pickle.load(open('model.pkl', 'rb'))")
                .directory(bundle.toFile()).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as(output).isZero();
        return (System.nanoTime() - started) / 1_000_000;
    }

    // ---- helpers

    private static JsonNode json(HttpResponse<byte[]> response) {
        assertThat(response.statusCode()).as(text(response)).isEqualTo(200);
        try {
            return JSON.readTree(response.body());
        } catch (IOException e) {
            throw new AssertionError("not JSON: " + text(response), e);
        }
    }

    /** The interpreter running _zygote.py (not bubblewrap, whose command line names it too). */
    private static boolean isZygote(long pid) {
        try {
            List<String> command = List.of(Files.readString(Path.of("/proc", Long.toString(pid), "cmdline")).split("\0"));
            return !command.getFirst().endsWith("bwrap") && command.stream().anyMatch(arg -> arg.endsWith("_zygote.py"));
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** The zygote process, found on the host by the HOME its instances report (its pid in the sandbox is not the host's). */
    /** The zygote process a function reported as "PID:START". */
    private static ProcessHandle zygote(String pidAndStart) {
        long pid = Long.parseLong(pidAndStart.substring(0, pidAndStart.indexOf(':')));
        return ProcessHandle.of(pid).filter(p -> isZygote(p.pid()))
                .orElseThrow(() -> new AssertionError("no zygote process " + pidAndStart));
    }

    /** Zygote processes working in a bundle of this function (on this test's server). */
    private static long zygotesServing(String function) {
        String functionDir = "/" + function + "/";
        return ProcessHandle.allProcesses().filter(p -> {
            try {
                String cwd = Files.readSymbolicLink(Path.of("/proc", Long.toString(p.pid()), "cwd")).toString();
                return cwd.startsWith(gale.dataDir.toString()) && cwd.contains(functionDir) && isZygote(p.pid());
            } catch (IOException | UnsupportedOperationException e) {
                return false;
            }
        }).count();
    }

    private static boolean pythonHas(String module) throws Exception {
        return new ProcessBuilder("/usr/bin/python3", "-c", "import " + module).start().waitFor() == 0;
    }

    private static void trainModel(Path file) throws Exception {
        Process p = new ProcessBuilder("/usr/bin/python3", "-c", """
                import pickle, sys
                import numpy as np
                from sklearn.linear_model import LogisticRegression
                rng = np.random.default_rng(7)
                x = rng.normal(size=(200, 4))
                model = LogisticRegression().fit(x, (x.sum(axis=1) > 0).astype(int))
                with open(sys.argv[1], "wb") as f:
                    pickle.dump(model, f)
                """, file.toString()).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as(output).isZero();
    }
}
