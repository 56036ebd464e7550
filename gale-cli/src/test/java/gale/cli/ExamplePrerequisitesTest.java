package gale.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ExamplePrerequisitesTest {

    @TempDir
    Path tmp;
    Path example;
    Path bin;

    @BeforeEach
    void anRPlumberExample() throws IOException {
        example = Files.createDirectories(tmp.resolve("r-api"));
        bin = Files.createDirectories(tmp.resolve("bin"));
        Files.writeString(example.resolve("gale.toml"), "runtime = \"process\"\ncommand = \"Rscript serve.R\"\n");
        Files.writeString(example.resolve("serve.R"), "library(plumber)\nlibrary(stats)\npr_run(pr(\"api.R\"))\n");
        Files.writeString(example.resolve("api.R"), "suppressMessages(library(\"ggplot2\"))\n");
    }

    @Test
    void anRExampleWithoutRscriptOnPathNeedsRWithItsPackages() {
        assertThat(ExamplePrerequisites.unmet(example, Map.of("PATH", bin.toString())))
                .contains("needs R with ggplot2 and plumber: apt-get install r-base-core r-cran-ggplot2 r-cran-plumber");
    }

    @Test
    void anRExampleNeedsOnlyThePackagesRCannotLoad() throws IOException {
        fakeRscript("echo ggplot2");

        assertThat(ExamplePrerequisites.unmet(example, Map.of("PATH", bin.toString())))
                .contains("needs the R package ggplot2: apt-get install r-cran-ggplot2");
    }

    @Test
    void anRExampleWhosePackagesAllLoadCanRun() throws IOException {
        fakeRscript("exit 0");

        assertThat(ExamplePrerequisites.unmet(example, Map.of("PATH", bin.toString()))).isEmpty();
    }

    @Test
    void anRThatFailsLoadsNothing() throws IOException {
        fakeRscript("echo 'Error: R is broken'; exit 1");

        assertThat(ExamplePrerequisites.unmet(example, Map.of("PATH", bin.toString())))
                .contains("needs the R packages ggplot2 and plumber: apt-get install r-cran-ggplot2 r-cran-plumber");
    }

    @Test
    void realRNamesThePackagesItCannotLoad() throws IOException { // ./run-tests installs R with plumber and ggplot2
        Files.writeString(example.resolve("api.R"), "library(ggplot2)\nlibrary(galeNoSuchPackage)\n");

        assertThat(ExamplePrerequisites.unmet(example, Map.of("PATH", "/usr/bin:/bin")))
                .contains("needs the R package galeNoSuchPackage: apt-get install r-cran-galenosuchpackage");
    }

    @Test
    void aProcessExampleNeedsItsProgramOnPath() throws IOException {
        Files.writeString(example.resolve("gale.toml"), "runtime = \"process\"\ncommand = \"PORT_X=1 exec node server.js\"\n");

        assertThat(ExamplePrerequisites.unmet(example, Map.of("PATH", bin.toString()))).contains("needs node on PATH");
        assertThat(ExamplePrerequisites.unmet(example, Map.of("PATH", "/usr/bin:/bin")))
                .isEqualTo(Files.isExecutable(Path.of("/usr/bin/node")) ? Optional.empty() : Optional.of("needs node on PATH"));
    }

    @Test
    void pythonAndJavaExamplesNeedNothingGaleDoesNotInstall() throws IOException {
        for (String runtime : List.of("python3", "java21")) {
            Files.writeString(example.resolve("gale.toml"), "runtime = \"" + runtime + "\"\n");
            assertThat(ExamplePrerequisites.unmet(example, Map.of("PATH", bin.toString()))).as(runtime).isEmpty();
        }
    }

    @Test
    void theProgramIsTheFirstWordAfterExecAndAssignments() {
        assertThat(ExamplePrerequisites.program("exec LANG=C /opt/r/bin/Rscript serve.R")).contains("/opt/r/bin/Rscript");
        assertThat(ExamplePrerequisites.program("python3 server.py")).contains("python3");
        assertThat(ExamplePrerequisites.program("  ")).isEmpty();
    }

    /** An Rscript that ignores its arguments and runs {@code body}, as the only program on PATH. */
    private void fakeRscript(String body) throws IOException {
        Path rscript = bin.resolve("Rscript");
        Files.writeString(rscript, "#!/bin/sh\n" + body + "\n");
        Files.setPosixFilePermissions(rscript, PosixFilePermissions.fromString("rwxr-xr-x"));
    }
}
