package gale.e2e;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static gale.e2e.GaleHarness.text;
import static org.assertj.core.api.Assertions.assertThat;

/** AWS Lambda handlers and whole Flask (WSGI) apps, as Zappa deploys them, run unchanged. */
class LambdaAndWsgiTest extends GaleE2E {

    @Test
    void aLambdaHandlerGetsAnApiGatewayProxyEventAndItsResponseDictIsServed() {
        gale.deployActive("scorer", gale.bundle("scorer", "main.py", """
                import json

                def lambda_handler(event, context):
                    body = json.loads(event["body"]) if event.get("body") else {}
                    return {
                        "statusCode": 200,
                        "headers": {"Content-Type": "application/json", "X-Fn": context.function_name},
                        "body": json.dumps({
                            "sum": body.get("a", 0) + body.get("b", 0),
                            "method": event["httpMethod"],
                            "q": event["queryStringParameters"],
                            "request_id": context.aws_request_id,
                            "memory": context.memory_limit_in_mb,
                            "remaining_ok": 0 < context.get_remaining_time_in_millis() <= 30000,
                        }),
                    }
                """), "entryPoint", "lambda_handler", "timeout", "30s", "memory", "512MB");

        var response = gale.post("scorer", "?mode=fast", "{\"a\": 2, \"b\": 3}", "application/json");

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("X-Fn")).hasValue("scorer");
        String requestId = response.headers().firstValue("X-Gale-Request-Id").orElseThrow();
        assertThat(text(response)).contains("\"sum\": 5").contains("\"method\": \"POST\"")
                .contains("\"q\": {\"mode\": \"fast\"}").contains("\"request_id\": \"" + requestId + "\"")
                .contains("\"memory\": 512").contains("\"remaining_ok\": true");
    }

    @Test
    void aLambdaHandlerReturningABareDictGetsA200JsonResponse() {
        gale.deployActive("bare", gale.bundle("bare", "main.py", """
                def handler(event, context):
                    return {"msg": "hello from gale"}
                """), "entryPoint", "handler");

        var response = gale.get("bare", "");

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(text(response)).contains("\"msg\"").contains("hello from gale");
        assertThat(response.headers().firstValue("Content-Type")).hasValueSatisfying(v -> assertThat(v).contains("json"));
    }

    @Test
    void aWholeFlaskAppServesItsOwnRoutesUnderTheFunctionPath() {
        gale.deployActive("webapp", gale.bundle("webapp", "main.py", """
                from flask import Flask, jsonify, request, url_for

                app = Flask(__name__)

                @app.route("/")
                def index():
                    return jsonify(predict_url=url_for("predict", n=3))

                @app.route("/predict/<int:n>", methods=["POST"])
                def predict(n):
                    return jsonify(n=n, doubled=n * 2, payload=request.get_json())
                """), "entryPoint", "app");

        var index = gale.get("webapp", "/");
        var predict = gale.post("webapp", "/predict/21", "{\"x\": 1}", "application/json");
        var missing = gale.get("webapp", "/nope");

        assertThat(text(index)).contains("/fn/webapp/predict/3");
        assertThat(text(predict)).contains("\"doubled\":42").contains("\"payload\":{\"x\":1}");
        assertThat(missing.statusCode()).isEqualTo(404);
        assertThat(missing.headers().firstValue("X-Gale-Error")).isEmpty();
    }

    @Test
    void aFlaskAppInAPackageDeploysWithItsEntryPointWrittenTheGunicornOrZappaWay() {
        Path project = gale.bundle("pkgapp", "myapp/__init__.py", "", "myapp/scores.py", """
                def score(n):
                    return n * 3
                """, "myapp/web.py", """
                from flask import Flask
                from .scores import score

                app = Flask(__name__)

                @app.route("/score/<int:n>")
                def scored(n):
                    return {"score": score(n), "module": __name__}
                """);

        gale.deployActive("pkgapp", project, "entryPoint", "myapp.web:app");
        gale.deployActive("zappa-style", project, "entryPoint", "myapp.web.app");

        assertThat(text(gale.get("pkgapp", "/score/5"))).contains("\"score\":15").contains("\"module\":\"myapp.web\"");
        assertThat(text(gale.get("zappa-style", "/score/2"))).contains("\"score\":6");
    }

    @Test
    void aZappaProjectDeploysAsItIsWithItsStagesSettings() {
        Path project = gale.bundle("zappa-project", "app.py", """
                import os
                from flask import Flask

                app = Flask(__name__)

                @app.route("/model")
                def model():
                    return {"model": os.environ["MODEL_NAME"], "stage": os.environ["STAGE"]}
                """, "zappa_settings.json", """
                {"dev": {"app_function": "app.app", "aws_region": "eu-west-1", "project_name": "survey",
                         "s3_bucket": "zappa-survey-dev", "environment_variables": {"MODEL_NAME": "churn-v2", "STAGE": "dev"},
                         "timeout_seconds": 45, "keep_warm": true}}
                """);

        gale.deployActive("survey-zappa", project); // no entry point, no flags: the project as Zappa deploys it

        assertThat(text(gale.get("survey-zappa", "/model"))).contains("\"model\":\"churn-v2\"").contains("\"stage\":\"dev\"");
        assertThat(gale.client.functionJson("survey-zappa")).contains("\"timeout\":\"45s\"");
        var platformLines = gale.client.logs("survey-zappa", 0, 100, 0).entries().stream().map(e -> e.message()).toList();
        assertThat(platformLines).contains("read zappa_settings.json stage 'dev': app_function, environment_variables, timeout_seconds")
                .contains("ignored (AWS settings with nothing to steer here): aws_region, project_name, s3_bucket");
    }
}
