package gale.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SourceBundleTest {

    @TempDir
    Path dir;

    @Test
    void zipsNestedFilesUnderForwardSlashPathsInSortedOrder() throws IOException {
        write("main.py", "def hello(request): return 'hi'");
        write("requirements.txt", "flask\n");
        write("model/churn.pkl", "pickle");
        write("model/deep/weights.bin", "w");

        assertThat(zipOf(dir)).containsExactly(
                Map.entry("main.py", "def hello(request): return 'hi'"),
                Map.entry("model/churn.pkl", "pickle"),
                Map.entry("model/deep/weights.bin", "w"),
                Map.entry("requirements.txt", "flask\n"));
    }

    @Test
    void skipsVersionControlCachesVirtualenvsAndCompiledPython() throws IOException {
        write("main.py", "x = 1");
        write(".git/HEAD", "ref");
        write("__pycache__/main.cpython-312.pyc", "c");
        write("lib/__pycache__/util.cpython-312.pyc", "c");
        write("lib/util.py", "y = 2");
        write("lib/old.pyc", "c");
        write(".gale/admin-token", "secret");
        write(".venv/bin/python", "p");
        write("venv/lib/site.py", "p");
        write("node_modules/left-pad/index.js", "j");
        write(".gitignore", "venv/");

        assertThat(zipOf(dir).keySet()).containsExactly(".gitignore", "lib/util.py", "main.py");
    }

    @Test
    void aCloudFunctionsFoldersGcloudignoreIsHonouredAsGcloudReadsIt() throws IOException {
        write("main.py", "x = 1");
        write("model/churn.pkl", "m");
        write("notebooks/explore.ipynb", "{}");
        write("data/raw.csv", "1");
        write("data/keep.csv", "2");
        write("tests/test_main.py", "t");
        write("app/tests/helper.py", "h");
        write("secrets.env", "K=V");
        write(".gitignore", "*.env\n");
        write(".gcloudignore", """
                # as gcloud functions deploy would upload the folder
                #!include:.gitignore
                notebooks/
                data/*
                !data/keep.csv
                /tests
                """);

        assertThat(zipOf(dir).keySet()).containsExactly(".gitignore", "app/tests/helper.py", "data/keep.csv", "main.py",
                "model/churn.pkl");
    }

    @Test
    void aGaleignoreWinsOverAGcloudignore() throws IOException {
        write("main.py", "x = 1");
        write("big.bin", "b");
        write("small.txt", "s");
        write(".gcloudignore", "small.txt\n");
        write(".galeignore", "*.bin\n");

        assertThat(zipOf(dir).keySet()).containsExactly(".gcloudignore", "main.py", "small.txt");
    }

    @Test
    void zipsTheSameFolderToTheSameBytes() throws IOException {
        write("main.py", "x = 1");
        write("data/a.csv", "1,2");

        assertThat(zipBytes(dir)).isEqualTo(zipBytes(dir));
    }

    @Test
    void refusesAFolderWithNothingToDeploy() throws IOException {
        write("__pycache__/main.cpython-312.pyc", "c");

        assertThatThrownBy(() -> SourceBundle.of(dir))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("has no files to deploy");
    }

    @Test
    void usesAGivenZipAsItIsAndKeepsItOnClose() throws IOException {
        Path zip = write("bundle.zip", "PK");

        try (SourceBundle bundle = SourceBundle.of(zip)) {
            assertThat(bundle.zip()).isEqualTo(zip);
        }
        assertThat(zip).exists();
    }

    @Test
    void deletesTheTemporaryZipOfAFolderOnClose() throws IOException {
        write("main.py", "x = 1");

        Path zip;
        try (SourceBundle bundle = SourceBundle.of(dir)) {
            zip = bundle.zip();
            assertThat(zip).isRegularFile();
        }
        assertThat(zip).doesNotExist();
    }

    @Test
    void rejectsASourceThatIsNeitherAFolderNorAZip() throws IOException {
        Path script = write("main.py", "x = 1");

        assertThatThrownBy(() -> SourceBundle.of(script)).hasMessageContaining("is neither a folder nor a .zip file");
        assertThatThrownBy(() -> SourceBundle.of(dir.resolve("missing"))).hasMessageContaining("does not exist");
    }

    private Path write(String relative, String content) throws IOException {
        Path file = dir.resolve(relative);
        Files.createDirectories(file.getParent());
        return Files.writeString(file, content);
    }

    static Map<String, String> zipOf(Path folder) throws IOException {
        return entries(zipBytes(folder));
    }

    static Map<String, String> entries(byte[] zip) throws IOException {
        Map<String, String> entries = new LinkedHashMap<>();
        try (ZipInputStream in = new ZipInputStream(new ByteArrayInputStream(zip))) {
            for (ZipEntry entry = in.getNextEntry(); entry != null; entry = in.getNextEntry()) {
                entries.put(entry.getName(), new String(in.readAllBytes()));
            }
        }
        return entries;
    }

    private static byte[] zipBytes(Path folder) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        SourceBundle.zipFolder(folder, out);
        return out.toByteArray();
    }
}
