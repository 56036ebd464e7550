package gale.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DemoCallTest {

    static final URI URL = URI.create("http://127.0.0.1:8080/fn/json-echo");

    @TempDir
    Path example;

    @Test
    void readsThePathAndQueryFromTheFirstLineAndDataFromTheRest() throws IOException {
        Files.writeString(example.resolve("demo-call.txt"), "?msg=hello&tag=a\n{\"msg\": \"hi\",\n \"n\": 1}\n");

        assertThat(DemoCall.read(example)).isEqualTo(new DemoCall("?msg=hello&tag=a", Optional.of("{\"msg\": \"hi\",\n \"n\": 1}")));
    }

    @Test
    void suggestsThePlainUrlWithoutADemoCallFile() throws IOException {
        assertThat(DemoCall.read(example).curl(URL, true)).isEqualTo("curl 'http://127.0.0.1:8080/fn/json-echo'");
    }

    @Test
    void quotesUrlAndDataForTheShellAndPostsTheDataAsJson() {
        DemoCall call = new DemoCall("/forecast/3", Optional.of("{\"name\": \"O'Brien\"}"));

        assertThat(call.curl(URL, true)).isEqualTo("curl 'http://127.0.0.1:8080/fn/json-echo/forecast/3'"
                + " -H 'Content-Type: application/json' -d '{\"name\": \"O'\\''Brien\"}'");
    }

    @Test
    void sendsTheTokenToAPrivateFunction() {
        assertThat(new DemoCall("", Optional.empty()).curl(URL, false))
                .isEqualTo("curl 'http://127.0.0.1:8080/fn/json-echo' -H \"Authorization: Bearer $GALE_TOKEN\"");
    }
}
