package gale.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

import static gale.e2e.GaleHarness.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The R user's story: examples/r-plumber, a plumber API started with `Rscript serve.R`,
 * deployed unchanged with the process runtime. Skipped only where R is not installed
 * (./run-tests installs r-base-core, r-cran-plumber and r-cran-ggplot2).
 */
class RPlumberTest extends GaleE2E {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final byte[] PNG_SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

    @BeforeAll
    static void deployThePlumberApi() {
        assumeTrue(onPath("Rscript"), "Rscript is not installed (apt-get install r-base-core r-cran-plumber r-cran-ggplot2)");
        gale.deployActive("r-plumber", ProcessRuntimeTest.example("r-plumber"));
    }

    @Test
    void theModelTrainedAtStartupPredictsAsJson() throws IOException {
        var response = gale.get("r-plumber", "/predict?wt=3.2&hp=150");
        JsonNode prediction = JSON.readTree(response.body());

        assertThat(response.statusCode()).as(text(response)).isEqualTo(200);
        assertThat(response.headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).startsWith("application/json"));
        // lm(mpg ~ wt + hp, mtcars): 37.227 - 3.878 * 3.2 - 0.0318 * 150
        assertThat(prediction.path("mpg").asDouble()).isCloseTo(20.05, within(0.01));
        assertThat(prediction.path("low").asDouble()).isLessThan(prediction.path("mpg").asDouble());
        assertThat(prediction.path("high").asDouble()).isGreaterThan(prediction.path("mpg").asDouble());
    }

    @Test
    void aJsonBodyWorksLikeTheQueryString() throws IOException {
        var response = gale.client.call("r-plumber", "POST", "/predict",
                "{\"wt\": 2.5, \"hp\": 110}".getBytes(StandardCharsets.UTF_8), Map.of("Content-Type", "application/json"));

        assertThat(response.statusCode()).as(text(response)).isEqualTo(200);
        assertThat(JSON.readTree(response.body()).path("mpg").asDouble()).isCloseTo(24.04, within(0.01));
    }

    @Test
    void aBadInputGetsTheApisOwn400() {
        var response = gale.get("r-plumber", "/predict?wt=heavy&hp=150");

        assertThat(response.statusCode()).isEqualTo(400);
        assertThat(response.headers().firstValue("X-Gale-Error")).isEmpty();
        assertThat(text(response)).contains("weight and horsepower as numbers");
    }

    @Test
    void theGgplotChartIsAPng() {
        var response = gale.get("r-plumber", "/chart.png?wt=3&hp=200");

        assertThat(response.statusCode()).as(text(response)).isEqualTo(200);
        assertThat(response.headers().firstValue("Content-Type")).hasValue("image/png");
        assertThat(Arrays.copyOf(response.body(), PNG_SIGNATURE.length)).isEqualTo(PNG_SIGNATURE);
        assertThat(response.body().length).isGreaterThan(10_000);
    }

    @Test
    void theHtmlPageLinksUnderTheFunctionsPrefix() {
        var response = gale.get("r-plumber", "?wt=2.8&hp=120");

        assertThat(response.statusCode()).as(text(response)).isEqualTo(200);
        assertThat(response.headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).startsWith("text/html"));
        assertThat(text(response)).contains("<h1>Fuel economy model</h1>")
                .contains("<img src=\"/fn/r-plumber/chart.png?wt=2.8&amp;hp=120\"")
                .contains("2.8 thousand lbs and 120 hp");
    }

    private static boolean onPath(String program) {
        String path = System.getenv().getOrDefault("PATH", "");
        return Arrays.stream(path.split(File.pathSeparator))
                .anyMatch(dir -> !dir.isEmpty() && Files.isExecutable(Path.of(dir, program)));
    }
}
