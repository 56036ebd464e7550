package gale.e2e;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static gale.e2e.GaleHarness.text;
import static org.assertj.core.api.Assertions.assertThat;

/** Google Cloud Functions code, `def f(request)`, runs unchanged. */
class GcfStyleTest extends GaleE2E {

    @Test
    void aCloudFunctionReadsQueryArgsAndReturnsATupleWithHeaders() {
        gale.deployActive("hello", gale.bundle("hello", "main.py", """
                def hello(request):
                    name = request.args.get("name", "world")
                    return ("hello " + name, 201, {"X-Answer": "42"})
                """));

        var response = gale.get("hello", "?name=gale");

        assertThat(response.statusCode()).isEqualTo(201);
        assertThat(text(response)).isEqualTo("hello gale");
        assertThat(response.headers().firstValue("X-Answer")).hasValue("42");
        assertThat(response.headers().firstValue("X-Gale-Request-Id")).isPresent();
    }

    @Test
    void jsonFormAndRawBodiesReachTheFunctionAndJsonifyWorks() {
        gale.deployActive("echo", gale.bundle("echo", "main.py", """
                import flask
                from flask import jsonify

                def echo(request):
                    return jsonify({
                        "json": request.get_json(silent=True),
                        "form": request.form.to_dict(),
                        "raw": request.get_data(as_text=True) if not request.form else "",
                        "method": request.method,
                        "path": request.path,
                        "same_request": flask.request.method == request.method,
                    })
                """));

        var json = gale.post("echo", "", "{\"G1\": 3}", "application/json");
        var form = gale.post("echo", "", "a=1&b=two", "application/x-www-form-urlencoded");
        var raw = gale.post("echo", "/deeper/path", "plain words", "text/plain");

        assertThat(text(json)).contains("\"json\":{\"G1\":3}").contains("\"same_request\":true");
        assertThat(json.headers().firstValue("Content-Type")).hasValueSatisfying(v -> assertThat(v).startsWith("application/json"));
        assertThat(text(form)).contains("\"form\":{\"a\":\"1\",\"b\":\"two\"}");
        assertThat(text(raw)).contains("\"raw\":\"plain words\"").contains("\"path\":\"/deeper/path\"");
    }

    @Test
    void aFunctionsBodyAndContentTypeReachTheClientUntouchedWhenTheClientAcceptsGzip() {
        gale.deployActive("page", gale.bundle("page", "main.py", """
                def page(request):
                    return ("<p>" + "gale " * 2000 + "</p>", 200, {"Content-Type": "text/html"})
                """));

        var response = gale.client.call("page", "GET", "", new byte[0], Map.of("Accept-Encoding", "gzip, deflate, br"));

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("Content-Encoding")).isEmpty();
        assertThat(response.headers().allValues("Content-Type")).containsExactly("text/html");
        assertThat(text(response)).isEqualTo("<p>" + "gale ".repeat(2000) + "</p>");
    }

    @Test
    void aFunctionThatAnswersCorsPreflightItselfGetsExactlyItsOwnHeadersBack() {
        gale.deployActive("survey", gale.bundle("survey", "main.py", """
                def prediction(request):
                    headers = {"Access-Control-Allow-Origin": "*"}
                    if request.method == "OPTIONS":
                        headers["Access-Control-Allow-Methods"] = "GET"
                        headers["Access-Control-Allow-Headers"] = "Content-Type"
                        headers["Access-Control-Max-Age"] = "3600"
                        return ("", 204, headers)
                    return ("prediction=" + request.args.get("f1", "0"), 200, headers)
                """), "entryPoint", "prediction");

        var preflight = gale.client.call("survey", "OPTIONS", "", new byte[0], Map.of(
                "Origin", "https://survey.example.org", "Access-Control-Request-Method", "GET"));
        var call = gale.client.call("survey", "GET", "?f1=4", new byte[0], Map.of("Origin", "https://survey.example.org"));

        assertThat(preflight.statusCode()).isEqualTo(204);
        assertThat(preflight.headers().firstValue("Access-Control-Allow-Methods")).hasValue("GET");
        assertThat(preflight.headers().firstValue("Access-Control-Allow-Headers")).hasValue("Content-Type");
        assertThat(preflight.headers().firstValue("Access-Control-Max-Age")).hasValue("3600");
        assertThat(preflight.headers().allValues("Access-Control-Allow-Origin")).containsExactly("*");
        assertThat(text(call)).isEqualTo("prediction=4");
        assertThat(call.headers().allValues("Access-Control-Allow-Origin")).containsExactly("*");
    }

    @Test
    void galeAnswersPreflightForAFunctionDeployedWithCors() {
        gale.deployActive("plain", gale.bundle("plain", "main.py", """
                def plain(request):
                    return "ok"
                """), "cors", "https://app.example.org");

        var preflight = gale.client.call("plain", "OPTIONS", "", new byte[0], Map.of(
                "Origin", "https://app.example.org", "Access-Control-Request-Method", "POST",
                "Access-Control-Request-Headers", "content-type"));
        var call = gale.client.call("plain", "GET", "", new byte[0], Map.of("Origin", "https://app.example.org"));

        assertThat(preflight.statusCode()).isEqualTo(204);
        assertThat(preflight.headers().firstValue("Access-Control-Allow-Origin")).hasValue("https://app.example.org");
        assertThat(preflight.headers().firstValue("Access-Control-Allow-Headers")).hasValue("content-type");
        assertThat(call.headers().firstValue("Access-Control-Allow-Origin")).hasValue("https://app.example.org");
    }

    @Test
    void moduleGlobalsPersistOnAWarmInstanceAndTheWorkingDirectoryIsTheBundle() {
        gale.deployActive("counter", gale.bundle("counter",
                "main.py", """
                        import os, pickle
                        calls = 0
                        with open("model-obj/threshold.txt") as f:
                            THRESHOLD = f.read().strip()

                        def counter(request):
                            global calls
                            calls += 1
                            with open("/tmp/scratch.txt", "w") as f:
                                f.write("writable")
                            return {"calls": calls, "threshold": THRESHOLD, "cwd_has_main": os.path.exists("main.py")}
                        """,
                "model-obj/threshold.txt", "0.75\n"));

        gale.get("counter", "");
        var second = gale.get("counter", "");

        assertThat(text(second)).contains("\"calls\":2").contains("\"threshold\":\"0.75\"").contains("\"cwd_has_main\":true");
        assertThat(second.headers().firstValue("X-Gale-Cold-Start")).hasValue("false");
    }

    @Test
    void anyMethodAndSubPathReachTheFunction() {
        gale.deployActive("router", gale.bundle("router", "main.py", """
                def router(request):
                    return request.method + " " + request.path + " " + request.query_string.decode()
                """));

        var delete = gale.client.call("router", "DELETE", "/items/7?force=1", new byte[0], Map.of());
        var put = gale.client.call("router", "PUT", "/items/8", "x".getBytes(), Map.of());

        assertThat(text(delete)).isEqualTo("DELETE /items/7 force=1");
        assertThat(text(put)).isEqualTo("PUT /items/8 ");
    }
}
