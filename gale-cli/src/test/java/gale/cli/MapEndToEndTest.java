package gale.cli;

import static org.assertj.core.api.Assertions.assertThat;

import gale.server.GaleServer;
import gale.server.ServerConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `gale map` and `gale jobs` against a real server with real Python instances, as a user runs them. */
class MapEndToEndTest {

    @TempDir
    static Path tmp;
    static GaleServer server;
    static Map<String, String> env;

    @BeforeAll
    static void startAndDeploy() throws IOException {
        server = GaleServer.start(ServerConfig.defaults(tmp.resolve("data")).withPort(0));
        env = Map.of("GALE_URL", server.url(), "GALE_TOKEN", server.adminToken());
        Path source = Files.createDirectories(tmp.resolve("square"));
        Files.writeString(source.resolve("main.py"), """
                def square(request):
                    x = request.get_json()
                    if x == 13:
                        raise ValueError("unlucky input 13")
                    return {"y": x * x}
                """);
        GaleCli.Result deploy = GaleCli.run(env, "deploy", "square", "--source", source.toString(), "--max-instances", "3");
        assertThat(deploy.exitCode()).as(deploy.err()).isEqualTo(ExitCode.OK);
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
    }

    @Test
    void writesTheResultOfEveryInputInInputOrder() throws IOException {
        Path inputs = Files.writeString(tmp.resolve("inputs.jsonl"),
                IntStream.range(20, 80).mapToObj(i -> i + "\n").collect(Collectors.joining()));

        GaleCli.Result result = GaleCli.run(env, "map", "square", "--input", inputs.toString(), "--chunk-size", "4");

        assertThat(result.exitCode()).as(result.err()).isEqualTo(ExitCode.OK);
        assertThat(result.out()).isEqualTo(IntStream.range(20, 80).mapToObj(i -> "{\"y\":" + i * i + "}\n")
                .collect(Collectors.joining()));
        assertThat(result.err()).matches("job job-[0-9a-f]+ SUCCEEDED: 60 inputs in .+ \\(.+/s\\), 0 failed\n");
    }

    @Test
    void aFailingInputExitsOneAndIsNamedByItsIndex() throws IOException {
        Path inputs = Files.writeString(tmp.resolve("unlucky.jsonl"), "11\n12\n13\n14\n");

        GaleCli.Result result = GaleCli.run(env, "map", "square", "--input", inputs.toString());

        assertThat(result.exitCode()).isEqualTo(ExitCode.FAILED);
        assertThat(result.out()).isEqualTo("{\"y\":121}\n{\"y\":144}\nnull\n{\"y\":196}\n");
        assertThat(result.err()).contains("input 2 failed: ", "unlucky input 13", "(HTTP 500)")
                .containsPattern("job job-[0-9a-f]+ FAILED: 4 inputs in .+, 1 failed\n");
    }

    @Test
    void readsStdinAndWritesWholeResultsToAFile() throws IOException {
        Path output = tmp.resolve("full.jsonl");

        GaleCli.Result result = GaleCli.run(env, false, "2\n\n3\n", "map", "square", "-i", "-", "-o", output.toString(), "--full");

        assertThat(result.exitCode()).as(result.err()).isEqualTo(ExitCode.OK);
        assertThat(Files.readAllLines(output)).hasSize(2)
                .allSatisfy(line -> assertThat(line).contains("\"ok\":true", "\"status\":200", "\"attempts\":1"))
                .satisfies(lines -> assertThat(lines.get(1)).startsWith("{\"index\":1,\"ok\":true,\"result\":{\"y\":9}"));
    }

    @Test
    void listsAndShowsTheJobsOfAFunction() throws IOException {
        Path inputs = Files.writeString(tmp.resolve("one.jsonl"), "5\n");
        GaleCli.run(env, "map", "square", "--input", inputs.toString());

        GaleCli.Result list = GaleCli.run(env, "jobs", "--function", "square", "--limit", "1");
        String id = list.out().lines().skip(1).findFirst().orElseThrow().split(" ")[0];
        GaleCli.Result show = GaleCli.run(env, "jobs", "show", id);

        assertThat(list.out()).startsWith("ID ").contains(" square ", " SUCCEEDED ", " 1/1 ");
        assertThat(show.out()).contains("state:       SUCCEEDED\n", "inputs:      1\n");
    }
}
