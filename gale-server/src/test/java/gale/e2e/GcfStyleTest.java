package gale.e2e;

import org.junit.jupiter.api.Test;

import static gale.e2e.GaleHarness.text;
import static org.assertj.core.api.Assertions.assertThat;

class GcfStyleTest extends GaleE2E {
    @Test
    void aCloudFunctionReadsQueryArgsAndReturnsATupleWithHeaders() {
        gale.deployActive("hello", gale.bundle("hello", "main.py", """
                def hello(request):
                    name = request.args.get("name", "world")
                    return ("hello " + name, 201, {"X-Answer": "42"})
                """), "entryPoint", "hello");

        var response = gale.get("hello", "?name=gale");

        assertThat(response.statusCode()).isEqualTo(201);
        assertThat(text(response)).isEqualTo("hello gale");
        assertThat(response.headers().firstValue("X-Answer")).hasValue("42");
        assertThat(response.headers().firstValue("X-Gale-Request-Id")).isPresent();
    }
}
