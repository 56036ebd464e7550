"""Offline checks that every example works when called the way its platform calls it.

    /usr/bin/python3 -m unittest discover -s examples -p 'test_*.py'

No Gale server is involved: each example's main.py is imported with its folder as
working directory (as Gale and Cloud Functions run it) and called directly, with a
Flask test request for Cloud Functions style, a hand-built API Gateway proxy event
for Lambda style, and Flask's test client for the WSGI app.
"""
import base64
import contextlib
import importlib.util
import inspect
import json
import os
import re
import sys
import tomllib
import types
import unittest
from pathlib import Path

import flask
import werkzeug.exceptions

import make_models

sys.dont_write_bytecode = True  # keep __pycache__ out of the bundle folders

EXAMPLES = Path(__file__).resolve().parent
# The Python bundles that serve HTTP calls; other runtimes (R, Java, any process) have their own tests.
# Examples whose function uses Gale's own services (state, samplers, blobs) need a server: their demo
# calls are made by the end-to-end tests (SamplerApiTest, GaleBinaryIT's demo run), not here.
BUNDLES = sorted(p.parent.name for p in EXAMPLES.glob("*/gale.toml")
                 if tomllib.loads(p.read_text()).get("runtime", "python3") == "python3"
                 and (p.parent / "demo-call.txt").exists()
                 and not re.search(r"^from gale import|^import gale\b", (p.parent / "main.py").read_text(), re.M))
GALE_PREFIX = "/fn"

# Stands in for the Cloud Functions framework: a Flask app whose request context the
# function runs in and which turns its return value into a response.
GCF_APP = flask.Flask("gcf-framework")


def setUpModule():
    make_models.write_models(quiet=True)


@contextlib.contextmanager
def working_directory(path):
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def load_example(name):
    """Import examples/NAME/main.py as a fresh module with the bundle as working directory."""
    path = EXAMPLES / name / "main.py"
    module_name = f"example_{name.replace('-', '_')}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # Flask(__name__) looks itself up here
    with working_directory(path.parent):
        spec.loader.exec_module(module)
    return module


def entry_point(name):
    config = tomllib.loads((EXAMPLES / name / "gale.toml").read_text())
    return config["entry-point"]


def call_http(name, module, path="/", **request):
    """Call a Cloud Functions style f(request) and return the flask.Response the platform sends."""
    function = getattr(module, entry_point(name))
    with working_directory(EXAMPLES / name), GCF_APP.test_request_context(path, **request):
        return GCF_APP.make_response(function(flask.request))


def api_gateway_event(path="/", query=None, body=None, method="POST"):
    return {
        "httpMethod": method,
        "path": path,
        "queryStringParameters": query,
        "headers": {"Content-Type": "application/json"},
        "body": body,
        "isBase64Encoded": False,
    }


def lambda_context(request_id="req-test-1"):
    return types.SimpleNamespace(
        aws_request_id=request_id,
        function_name="lambda-scorer",
        memory_limit_in_mb=256,
        get_remaining_time_in_millis=lambda: 30_000,
    )


def wsgi_client(name, module):
    """A test client that mounts the app under Gale's prefix, as SCRIPT_NAME."""
    return getattr(module, entry_point(name)).test_client(), f"http://127.0.0.1{GALE_PREFIX}/{name}"


class SurveyScorerTest(unittest.TestCase):
    NAME = "survey-scorer"

    @classmethod
    def setUpClass(cls):
        cls.module = load_example(cls.NAME)

    def call(self, query="", method="GET"):
        return call_http(self.NAME, self.module, f"/?{query}", method=method)

    def test_scores_answers_with_both_models(self):
        response = self.call("f1=6&f2=2&f3=5&f4=7")
        self.assertEqual(response.status_code, 200)
        result = json.loads(response.get_data())
        self.assertIn(result["block"], (0, 1, 2))
        self.assertTrue(0.0 <= result["interest"] <= 1.0, result)
        self.assertEqual(response.headers["Access-Control-Allow-Origin"], "*")

    def test_answers_the_cors_preflight_itself(self):
        response = self.call(method="OPTIONS")
        self.assertEqual(response.status_code, 204)
        self.assertEqual(response.get_data(), b"")
        self.assertEqual(response.headers["Access-Control-Allow-Origin"], "*")
        self.assertEqual(response.headers["Access-Control-Allow-Methods"], "GET")
        self.assertEqual(response.headers["Access-Control-Allow-Headers"], "Content-Type")
        self.assertEqual(response.headers["Access-Control-Max-Age"], "3600")

    def test_skipped_answer_counts_as_the_scale_midpoint(self):
        skipped = self.call("f1=6&f2=&f3=5&f4=7")
        neutral = self.call("f1=6&f2=4&f3=5&f4=7")
        self.assertEqual(skipped.get_data(), neutral.get_data())

    def test_rejects_a_non_numeric_answer_with_400_and_cors(self):
        response = self.call("f1=six")
        self.assertEqual(response.status_code, 400)
        self.assertIn("f1='six' is not a number", json.loads(response.get_data())["error"])
        self.assertEqual(response.headers["Access-Control-Allow-Origin"], "*")

    def test_rejects_an_answer_outside_the_scale(self):
        for bad in ("0", "8", "nan", "inf"):
            with self.subTest(f3=bad):
                self.assertEqual(self.call(f"f3={bad}").status_code, 400)

    def test_needs_its_folder_as_working_directory(self):
        # The models are opened by relative path, as on Cloud Functions: the
        # platform must start the function in the bundle root.
        spec = importlib.util.spec_from_file_location("survey_elsewhere", EXAMPLES / self.NAME / "main.py")
        with working_directory(EXAMPLES), self.assertRaises(FileNotFoundError):
            spec.loader.exec_module(importlib.util.module_from_spec(spec))


class JsonEchoTest(unittest.TestCase):
    NAME = "json-echo"

    @classmethod
    def setUpClass(cls):
        cls.module = load_example(cls.NAME)

    def test_echoes_method_path_args_and_json_body(self):
        response = call_http(self.NAME, self.module, "/sub/path?msg=hi&tag=a&tag=b",
                             method="POST", json={"features": [1, 2]})
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.get_json(), {
            "success": True,
            "method": "POST",
            "path": "/sub/path",
            "args": {"msg": "hi", "tag": ["a", "b"]},
            "json": {"features": [1, 2]},
            "contentType": "application/json",
            "bodyBytes": len(b'{"features": [1, 2]}'),
        })

    def test_a_body_that_is_not_json_echoes_as_null(self):
        response = call_http(self.NAME, self.module, "/", method="POST",
                             data="{not json", content_type="application/json")
        self.assertEqual(response.status_code, 200)
        self.assertIsNone(response.get_json()["json"])


class ModelServerTest(unittest.TestCase):
    NAME = "model-server"
    FEATURES = {"tenure_months": 14, "sessions_per_week": 3.5, "support_tickets": 2}

    def setUp(self):
        self.module = load_example(self.NAME)  # fresh globals: a cold instance

    def call(self, body, query="threshold=0.5", **request):
        return call_http(self.NAME, self.module, f"/?{query}", method="POST", json=body, **request)

    def test_predicts_from_json_features(self):
        result = self.call(self.FEATURES).get_json()
        self.assertTrue(result["success"])
        self.assertIn(result["prediction"], (0, 1))
        self.assertEqual(result["prediction"], int(result["probability"] >= 0.5))

    def test_loads_the_model_once_per_instance_and_counts_calls(self):
        self.assertIsNone(self.module.model)  # lazily loaded, not at import
        first = self.call(self.FEATURES).get_json()
        model = self.module.model
        second = self.call(self.FEATURES).get_json()
        self.assertIs(self.module.model, model)
        self.assertEqual((first["instance"]["callsServed"], second["instance"]["callsServed"]), (1, 2))
        self.assertEqual(first["instance"]["pid"], os.getpid())

    def test_model_matches_the_features_it_reads(self):
        self.call(self.FEATURES)
        self.assertEqual(self.module.model.n_features_in_, len(self.module.FEATURES))

    def test_a_missing_feature_is_a_400_naming_it(self):
        response = self.call({"tenure_months": 14})
        self.assertEqual(response.status_code, 400)
        self.assertIn("missing feature 'sessions_per_week'", response.get_json()["error"])

    def test_a_non_numeric_feature_or_threshold_is_a_400(self):
        self.assertEqual(self.call({**self.FEATURES, "support_tickets": "two"}).status_code, 400)
        self.assertEqual(self.call(self.FEATURES, query="threshold=high").status_code, 400)
        self.assertEqual(self.call(self.FEATURES, query="threshold=1.5").status_code, 400)

    def test_a_body_that_is_not_json_raises_bad_request_which_cloud_functions_answers_400(self):
        with self.assertRaises(werkzeug.exceptions.BadRequest):
            call_http(self.NAME, self.module, "/", method="POST", data="x", content_type="text/plain")


class LambdaScorerTest(unittest.TestCase):
    NAME = "lambda-scorer"
    BODY = {"amount": 420.0, "hour": 3, "foreign": True}

    @classmethod
    def setUpClass(cls):
        cls.module = load_example(cls.NAME)

    def handle(self, event):
        return self.module.lambda_handler(event, lambda_context())

    def test_scores_an_api_gateway_proxy_body(self):
        response = self.handle(api_gateway_event(query={"threshold": "0.5"}, body=json.dumps(self.BODY)))
        self.assertEqual(response["statusCode"], 200)
        self.assertEqual(response["headers"]["Content-Type"], "application/json")
        result = json.loads(response["body"])
        self.assertEqual(result["fraud"], result["probability"] >= 0.5)
        self.assertEqual(result["requestId"], "req-test-1")

    def test_reads_a_base64_encoded_body(self):
        plain = self.handle(api_gateway_event(body=json.dumps(self.BODY)))
        event = api_gateway_event(body=base64.b64encode(json.dumps(self.BODY).encode()).decode())
        event["isBase64Encoded"] = True
        self.assertEqual(self.handle(event), plain)

    def test_a_missing_or_invalid_body_is_a_400_with_a_message(self):
        cases = {
            "missing request body": api_gateway_event(body=None),
            "not valid JSON": api_gateway_event(body="{"),
            "must be a JSON object": api_gateway_event(body="[1, 2, 3]"),
            "missing hour, foreign": api_gateway_event(body='{"amount": 1}'),
            'amount must be a number, got "x"': api_gateway_event(body='{"amount": "x", "hour": 1, "foreign": 0}'),
            "threshold='x' is not a number": api_gateway_event(query={"threshold": "x"}, body=json.dumps(self.BODY)),
        }
        for message, event in cases.items():
            with self.subTest(message):
                response = self.handle(event)
                self.assertEqual(response["statusCode"], 400)
                self.assertIn(message, json.loads(response["body"])["message"])


class FlaskAppTest(unittest.TestCase):
    NAME = "flask-app"

    @classmethod
    def setUpClass(cls):
        cls.client, cls.base_url = wsgi_client(cls.NAME, load_example(cls.NAME))

    def test_links_carry_the_prefix_the_app_is_mounted_under(self):
        response = self.client.get("/", base_url=self.base_url)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.get_json()["forecast"], "/fn/flask-app/forecast/3")

    def test_forecasts_a_linear_trend(self):
        response = self.client.post("/forecast/2", base_url=self.base_url, json={"history": [1, 2, 3]})
        self.assertEqual(response.status_code, 200)
        result = response.get_json()
        self.assertEqual(result["forecast"], [4.0, 5.0])
        self.assertEqual(result["self"], "http://127.0.0.1/fn/flask-app/forecast/2")

    def test_rejects_bad_input_with_400(self):
        self.assertEqual(self.client.post("/forecast/0", base_url=self.base_url,
                                          json={"history": [1, 2]}).status_code, 400)
        self.assertEqual(self.client.post("/forecast/3", base_url=self.base_url,
                                          json={"history": [1]}).status_code, 400)

    def test_routes_keep_their_methods(self):
        self.assertEqual(self.client.get("/forecast/3", base_url=self.base_url).status_code, 405)


class BundleTest(unittest.TestCase):
    """Every example is a deployable bundle whose demo call succeeds."""

    REQUIRED_KEYS = {"runtime", "entry-point", "memory", "timeout", "concurrency",
                     "min-instances", "max-instances", "allow-unauthenticated"}

    def test_every_bundle_has_a_complete_gale_toml(self):
        for name in BUNDLES:
            with self.subTest(name):
                config = tomllib.loads((EXAMPLES / name / "gale.toml").read_text())
                self.assertLessEqual(self.REQUIRED_KEYS, config.keys())
                self.assertEqual(config["runtime"], "python3")
                self.assertTrue((EXAMPLES / name / "README.md").is_file())

    def test_every_demo_call_answers_200(self):
        self.assertTrue({"survey-scorer", "json-echo", "model-server", "lambda-scorer", "flask-app"} <= set(BUNDLES), BUNDLES)
        for name in BUNDLES:
            with self.subTest(name):
                self.assertEqual(self.demo_call(name), 200)

    def demo_call(self, name):
        """Make the call in demo-call.txt with the calling convention Gale's `auto` would pick."""
        lines = (EXAMPLES / name / "demo-call.txt").read_text().splitlines()
        target, body = lines[0], (lines[1] if len(lines) > 1 else None)
        path, _, query = target.partition("?")
        path = path or "/"
        method = "POST" if body else "GET"
        module = load_example(name)
        handler = getattr(module, entry_point(name))
        if isinstance(handler, flask.Flask):
            client, base_url = wsgi_client(name, module)
            return client.open(target, method=method, base_url=base_url, data=body,
                               content_type="application/json").status_code
        if len(inspect.signature(handler).parameters) == 2:
            event = api_gateway_event(path, dict(p.split("=", 1) for p in query.split("&") if p), body, method)
            return handler(event, lambda_context())["statusCode"]
        return call_http(name, module, target, method=method, data=body,
                         content_type="application/json" if body else None).status_code


if __name__ == "__main__":
    unittest.main()
