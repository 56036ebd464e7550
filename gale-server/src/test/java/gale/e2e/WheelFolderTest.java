package gale.e2e;

import gale.client.Version;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import static gale.e2e.GaleHarness.text;
import static org.assertj.core.api.Assertions.assertThat;

/** With GALE_WHEEL_DIR set, requirements the interpreter lacks are installed offline into a per-version environment. */
class WheelFolderTest {

    @TempDir
    static Path tmp;
    static GaleHarness gale;

    @BeforeAll
    static void start() throws IOException {
        Path wheels = Files.createDirectories(tmp.resolve("wheels"));
        writeWheel(wheels.resolve("galetoy-1.0-py3-none-any.whl"), "galetoy", "1.0", "VALUE = 42\n");
        gale = new GaleHarness(tmp, config -> config.withWheelDir(wheels));
    }

    @AfterAll
    static void stop() {
        gale.close();
    }

    @Test
    void aMissingRequirementIsInstalledFromTheWheelFolderNextToSystemPackages() {
        Version v = gale.deployActive("toy", gale.bundle("toy", "main.py", """
                import galetoy, sklearn
                def toy(request):
                    return "%d %s" % (galetoy.VALUE, sklearn.__name__)
                """, "requirements.txt", "galetoy==1.0\nscikit-learn\n"));

        assertThat(v.state().name()).isEqualTo("ACTIVE");
        assertThat(text(gale.get("toy", ""))).isEqualTo("42 sklearn");
    }

    @Test
    void aRequirementTheWheelFolderLacksFailsTheDeployWithPipsReason() {
        Version v = gale.deploy("lacking", gale.bundle("lacking", "main.py", "def lacking(r):\n    return 1\n",
                "requirements.txt", "galetoy==2.0\n"));

        assertThat(v.state().name()).isEqualTo("FAILED");
        assertThat(v.reason()).hasValueSatisfying(r -> assertThat(r).contains("galetoy==2.0").contains("wheel folder"));
    }

    /** A minimal pure-Python wheel: the package, METADATA, WHEEL and RECORD. */
    static void writeWheel(Path file, String name, String version, String init) throws IOException {
        String info = name + "-" + version + ".dist-info/";
        Map<String, String> entries = Map.of(
                name + "/__init__.py", init,
                info + "METADATA", "Metadata-Version: 2.1\nName: " + name + "\nVersion: " + version + "\n",
                info + "WHEEL", "Wheel-Version: 1.0\nGenerator: gale-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
                info + "RECORD", name + "/__init__.py,,\n" + info + "METADATA,,\n" + info + "WHEEL,,\n" + info + "RECORD,,\n");
        try (OutputStream out = Files.newOutputStream(file); ZipOutputStream zip = new ZipOutputStream(out)) {
            for (var e : entries.entrySet()) {
                zip.putNextEntry(new ZipEntry(e.getKey()));
                zip.write(e.getValue().getBytes(StandardCharsets.UTF_8));
                zip.closeEntry();
            }
        }
    }
}
