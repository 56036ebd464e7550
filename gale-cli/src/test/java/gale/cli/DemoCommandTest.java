package gale.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DemoCommandTest {

    static final Path EXAMPLES = Path.of(System.getProperty("gale.root", "..")).resolve("examples");

    @TempDir
    Path bin;

    @BeforeEach
    void aPathWithPython3Only() throws IOException { // python3 runs http-echo
        Path python3 = Files.writeString(bin.resolve("python3"), "#!/bin/sh\nexec /usr/bin/python3 \"$@\"\n");
        python3.toFile().setExecutable(true);
    }

    @Test
    void withoutRscriptOnPathTheDemoLeavesOutOnlyRPlumberWithOneLineSayingHowToEnableIt() throws IOException {
        List<Path> examples = DemoCommand.exampleFolders(EXAMPLES);

        Map<Path, String> leftOut = DemoCommand.leftOut(examples, Map.of("PATH", bin.toString()));

        assertThat(leftOut).containsOnlyKeys(EXAMPLES.resolve("r-plumber"));
        assertThat(leftOut.get(EXAMPLES.resolve("r-plumber"))).isEqualTo(
                "r-plumber: left out (needs R with ggplot2 and plumber: apt-get install r-base-core r-cran-ggplot2 r-cran-plumber)");
    }

    @Test
    void anExamplesSubFolderWithAGaleTomlIsASecondFunctionNamedAfterBoth() throws IOException {
        List<Path> examples = DemoCommand.exampleFolders(EXAMPLES);

        Path retrain = EXAMPLES.resolve("active-learning").resolve("retrain");
        assertThat(examples).contains(retrain);
        assertThat(examples.indexOf(retrain)).isEqualTo(examples.indexOf(EXAMPLES.resolve("active-learning")) + 1);
        assertThat(DemoCommand.name(retrain)).isEqualTo("active-learning-retrain");
        assertThat(DemoCommand.name(EXAMPLES.resolve("active-learning"))).isEqualTo("active-learning");
    }

    @Test
    void withRAndItsPackagesTheDemoDeploysEveryExample() throws IOException {
        Path rscript = Files.writeString(bin.resolve("Rscript"), "#!/bin/sh\nexit 0\n"); // every package loads
        rscript.toFile().setExecutable(true);

        assertThat(DemoCommand.leftOut(DemoCommand.exampleFolders(EXAMPLES), Map.of("PATH", bin.toString()))).isEmpty();
    }
}
