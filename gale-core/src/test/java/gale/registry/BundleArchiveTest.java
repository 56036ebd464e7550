package gale.registry;

import gale.config.DataSize;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class BundleArchiveTest {

    private static final BundleLimits SMALL = new BundleLimits(DataSize.ofMegabytes(1), DataSize.ofMegabytes(1), 100);

    @TempDir
    Path tmp;

    @Test
    void theDefaultsLetAFolderWithModelsThroughAndStopBombsAndFileFloods() {
        assertThat(BundleLimits.DEFAULT.expanded()).isEqualTo(DataSize.parse("1GB"));
        assertThat(BundleLimits.DEFAULT.upload()).isEqualTo(DataSize.parse("1GB"));
        assertThat(BundleLimits.DEFAULT.files()).isEqualTo(10_000);
    }

    @Test
    void aBombThatDeclaresItsSizeIsRefusedBeforeAnythingIsWritten() throws IOException {
        Path zip = zip("bomb.zip", "main.py", zeros(2 << 20));
        Path target = tmp.resolve("out");

        assertThatThrownBy(() -> BundleArchive.unpack(zip, target, SMALL))
                .hasMessageContaining("declares more than this server's limit of 1MB unpacked")
                .hasMessageContaining("--max-bundle-expanded");
        assertThat(target).doesNotExist();
    }

    @Test
    void aBombThatLiesAboutItsSizeIsStoppedAtTheLimitAndWhatWasWrittenIsDeleted() throws IOException {
        Path zip = zip("liar.zip", "main.py", "def f(r):\n    return 1\n".getBytes(), "model.bin", zeros(3 << 20));
        claimSizes(zip, 1);
        Path target = tmp.resolve("out");

        assertThatThrownBy(() -> BundleArchive.unpack(zip, target, SMALL))
                .hasMessageContaining("unpacks to more than this server's limit of 1MB");
        assertThat(target).doesNotExist();
    }

    @Test
    void tooManyEntriesAreRefusedBeforeAnythingIsWritten() throws IOException {
        Object[] entries = new Object[2 * 101];
        for (int i = 0; i < 101; i++) {
            entries[2 * i] = "f" + i + ".txt";
            entries[2 * i + 1] = new byte[0];
        }
        Path zip = zip("many.zip", entries);
        Path target = tmp.resolve("out");

        assertThatThrownBy(() -> BundleArchive.unpack(zip, target, SMALL))
                .hasMessageContaining("has 101 entries, over this server's limit of 100")
                .hasMessageContaining("--max-bundle-files");
        assertThat(target).doesNotExist();
    }

    @Test
    void pathsLongerThanFileSystemsAllowAreRefusedNamingTheEntry() throws IOException {
        Path deep = zip("deep.zip", "a/".repeat(600) + "main.py", new byte[1]);
        Path wide = zip("wide.zip", "x".repeat(300) + "/main.py", new byte[1]);

        assertThatThrownBy(() -> BundleArchive.unpack(deep, tmp.resolve("deep"), SMALL))
                .hasMessageContaining("a path of 1207 characters").hasMessageContaining("at most 1024");
        assertThatThrownBy(() -> BundleArchive.unpack(wide, tmp.resolve("wide"), SMALL))
                .hasMessageContaining("over 255 bytes");
    }

    @Test
    void entriesOutsideTheBundleAreRefusedNamingTheEntry() throws IOException {
        Path up = zip("up.zip", "../evil.py", new byte[1]);
        Path absolute = zip("abs.zip", "/tmp/evil.py", new byte[1]);

        assertThatThrownBy(() -> BundleArchive.unpack(up, tmp.resolve("up"), SMALL)).hasMessageContaining("'../evil.py' points outside");
        assertThatThrownBy(() -> BundleArchive.unpack(absolute, tmp.resolve("abs"), SMALL)).hasMessageContaining("'/tmp/evil.py' points outside");
        assertThat(tmp.resolve("evil.py")).doesNotExist();
    }

    @Test
    void theSameFileTwiceIsRefusedInsteadOfFailingTheServer() throws IOException {
        Path zip = zip("twice.zip", "main.py", "one".getBytes(), "mainXpy", "two".getBytes());
        rename(zip, "mainXpy", "main.py");

        assertThatThrownBy(() -> BundleArchive.unpack(zip, tmp.resolve("out"), SMALL))
                .isInstanceOf(BundleArchive.InvalidBundleException.class)
                .hasMessageContaining("'main.py' clashes with another entry");
    }

    @Test
    void aFileAndAFolderOfOneNameAreRefused() throws IOException {
        Path zip = zip("clash.zip", "lib", "file".getBytes(), "lib/main.py", "x".getBytes());

        assertThatThrownBy(() -> BundleArchive.unpack(zip, tmp.resolve("out"), SMALL))
                .isInstanceOf(BundleArchive.InvalidBundleException.class)
                .hasMessageContaining("'lib/main.py' clashes");
    }

    @Test
    void aBundleWithinTheLimitsUnpacksFromInsideItsSingleFolder() throws IOException {
        Path zip = zip("ok.zip", "hello/main.py", "def hello(r):\n    return 1\n".getBytes(), "hello/model.bin", zeros(1000));

        BundleArchive.unpack(zip, tmp.resolve("out"), SMALL);

        assertThat(tmp.resolve("out/main.py")).exists();
        assertThat(tmp.resolve("out/model.bin")).hasSize(1000);
    }

    @Test
    void aBundleWhoseSingleFolderIsAPythonPackageKeepsIt() throws IOException {
        Path zip = zip("pkg.zip", "myapp/__init__.py", new byte[0], "myapp/web.py", "app = None\n".getBytes());

        BundleArchive.unpack(zip, tmp.resolve("out"), SMALL);

        assertThat(tmp.resolve("out/myapp/web.py")).exists();
        assertThat(tmp.resolve("out/myapp/__init__.py")).exists();
    }

    // ---- zips

    /** A zip of pairs of entry name and content, deflated. */
    private Path zip(String file, Object... namesAndContents) throws IOException {
        Path zip = tmp.resolve(file);
        try (OutputStream raw = Files.newOutputStream(zip); ZipOutputStream out = new ZipOutputStream(raw)) {
            for (int i = 0; i < namesAndContents.length; i += 2) {
                out.putNextEntry(new ZipEntry((String) namesAndContents[i]));
                out.write((byte[]) namesAndContents[i + 1]);
                out.closeEntry();
            }
        }
        return zip;
    }

    private static byte[] zeros(int n) {
        return new byte[n];
    }

    /** Rewrites every entry's uncompressed size in the central directory, the way a zip bomb hides. */
    static void claimSizes(Path zip, int size) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(zip)).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i + 46 <= b.capacity(); i++) {
            if (b.getInt(i) == 0x02014b50) b.putInt(i + 24, size); // central directory header: uncompressed size
        }
        Files.write(zip, b.array());
    }

    /** Renames entries in place (local headers and central directory); both names must have the same length. */
    private static void rename(Path zip, String from, String to) throws IOException {
        String bytes = new String(Files.readAllBytes(zip), StandardCharsets.ISO_8859_1);
        Files.write(zip, bytes.replace(from, to).getBytes(StandardCharsets.ISO_8859_1));
    }
}
