package gale.e2e;

import gale.client.GaleApiException;
import gale.client.Invocation;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static gale.e2e.GaleHarness.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.awaitility.Awaitility.await;

/**
 * The disk of the data dir fills up. The data dir is a small tmpfs (mounted here, so the test
 * runs as root, as Gale's cgroups do) filled with a file until writes fail with ENOSPC, which
 * is what the blob store, the unpacker, Jetty's upload spill and SQLite then meet for real.
 * docs/reliability.md ("Faults") has the row.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class DiskFullTest {

    @TempDir
    Path tmp;

    @Test
    void aFullDiskRefusesDeploysWith507NamingTheDataDirWhileDeployedFunctionsServeAndNoLogLineIsLost() throws Exception {
        Path data = tmp.resolve("data");
        mountTmpfs(data, "64m");
        try (GaleHarness gale = new GaleHarness(tmp)) {
            gale.deployActive("steady", gale.bundle("steady", "main.py", """
                    def steady(request):
                        print("called with", request.args.get("n"))
                        return "v1"
                    """));
            assertThat(text(gale.get("steady", "?n=before"))).isEqualTo("v1");
            Stored before = stored(data);
            Path filler = fill(data);

            List<String> callsWhileFull = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                var call = gale.get("steady", "?n=full-" + i);
                assertThat(call.statusCode()).as("a deployed function keeps serving").isEqualTo(200);
                assertThat(text(call)).isEqualTo("v1");
                callsWhileFull.add(call.headers().firstValue("X-Gale-Request-Id").orElseThrow());
            }
            Path small = gale.bundle("steady-v2", "main.py", "def steady(request):\n    return 'v2'\n");
            Path big = gale.bundle("big", "main.py", "def big(request):\n    return 'big'\n");
            Files.write(big.resolve("model.bin"), randomBytes(12 << 20)); // over Jetty's 8 MB in memory: spilled to disk
            for (var deploy : List.of(Map.entry("steady", small), Map.entry("fresh", small), Map.entry("big", big))) {
                GaleApiException refused = catchThrowableOfType(GaleApiException.class,
                        () -> gale.client.deploy(deploy.getKey(), deploy.getValue(), Map.of()));
                assertThat(refused).as("deploy of " + deploy.getKey()).isNotNull();
                assertThat(refused.status()).isEqualTo(507);
                assertThat(refused.error()).contains("no space left on the disk of Gale's data dir " + data,
                        "nothing of this deploy was kept, and the active version keeps serving",
                        "Free space on that disk", "--data-dir");
                // Whichever write met the full disk first: the audit log's entry (SQLite) or the bundle (a file).
                assertThat(refused.error()).containsAnyOf("No space left on device", "database or disk is full");
            }
            assertThat(stored(data)).as("nothing half-written: no blob, no folder, no version").isEqualTo(before);
            assertThat(gale.client.versions("steady")).hasSize(1);
            assertThat(gale.client.functions()).extracting(f -> f.name()).containsExactly("steady");
            assertThat(text(gale.get("steady", "?n=after-refusals"))).isEqualTo("v1");

            Files.delete(filler);

            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(gale.client.logs("steady", 0, 1000, 0).entries())
                    .as("lines printed while the disk was full are written once there is room")
                    .extracting(e -> e.message()).contains("called with full-0", "called with full-1", "called with full-2"));
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(gale.client.invocations("steady", 100))
                    .extracting(Invocation::requestId).containsAll(callsWhileFull));
            var v2 = gale.deployActive("steady", small);
            assertThat(v2.version()).isEqualTo(2);
            assertThat(text(gale.get("steady", ""))).isEqualTo("v2");
        } finally {
            unmount(data);
        }
    }

    /** What a deploy leaves in the data dir: blobs (kept and incoming), function folders, staging folders. */
    private record Stored(List<String> blobs, List<String> incoming, List<String> functionFolders) {
    }

    private static Stored stored(Path data) throws IOException {
        return new Stored(list(data.resolve("blobs/sha256")), list(data.resolve("blobs/incoming")), list(data.resolve("functions")));
    }

    private static List<String> list(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    /** Writes a file until the disk is full; returns it. */
    private static Path fill(Path dir) throws IOException {
        Path filler = dir.resolve("filler");
        try (OutputStream out = Files.newOutputStream(filler)) {
            byte[] page = new byte[4096];
            while (true) out.write(page);
        } catch (IOException full) {
            assertThat(full).hasMessageContaining("No space left on device");
        }
        return filler;
    }

    private static byte[] randomBytes(int n) {
        byte[] bytes = new byte[n];
        new Random(7).nextBytes(bytes);
        return bytes;
    }

    private static void mountTmpfs(Path dir, String size) throws Exception {
        Files.createDirectories(dir);
        run("mount", "-t", "tmpfs", "-o", "size=" + size, "gale-test-full", dir.toString());
    }

    private static void unmount(Path dir) throws Exception {
        if (run("umount", dir.toString()) != 0) run("umount", "-l", dir.toString());
    }

    private static int run(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes());
        int code = p.waitFor();
        if (code != 0 && command[0].equals("mount")) {
            throw new AssertionError("this test mounts a tmpfs as the data dir and needs root: " + String.join(" ", command)
                    + " failed: " + output);
        }
        return code;
    }
}
