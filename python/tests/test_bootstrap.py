"""End-to-end tests of gale/_bootstrap.py.

Each test plays Gale's side of docs/protocol.md: it listens on a UNIX socket,
starts the bootstrap as a real subprocess in a temporary bundle, and exchanges
frames with it.
"""

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest
from collections import namedtuple
from pathlib import Path

PYTHON_DIR = Path(__file__).resolve().parent.parent
BOOTSTRAP = PYTHON_DIR / "gale" / "_bootstrap.py"
TIMEOUT_SECONDS = 10
PREFIX = struct.Struct(">cII")

HELLO, READY, LOAD_FAILED, INVOKE = b"H", b"R", b"F", b"I"
RESPONSE, ERROR, LOG, SHUTDOWN = b"r", b"E", b"L", b"S"


# --------------------------------------------------------------------------- a tiny Gale

def encode_frame(kind, header, body=b""):
    header_bytes = json.dumps(header).encode()
    return PREFIX.pack(kind, len(header_bytes), len(body)) + header_bytes + body


class Frame(namedtuple("Frame", "kind header body")):

    @property
    def status(self):
        return self.header["status"]

    @property
    def text(self):
        return self.body.decode()

    def json(self):
        return json.loads(self.body)

    def header_values(self, name):
        return [value for key, value in self.header["headers"] if key.lower() == name.lower()]

    def header_value(self, name):
        values = self.header_values(name)
        return values[0] if values else None


class FakeGale:
    """Gale's end of one instance: listens, starts the bootstrap, exchanges frames."""

    def __init__(self, files, entry_point="handler", signature="auto", concurrency=1,
                 env=None, as_module=False, entry_module="main.py"):
        self._tmp = tempfile.TemporaryDirectory(prefix="gale-test-")
        root = Path(self._tmp.name)
        self.bundle = root / "bundle"
        for name, content in files.items():
            path = self.bundle / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(content))
        self.bundle.mkdir(exist_ok=True)

        socket_path = str(root / "gale.sock")
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(socket_path)
        self._listener.listen(1)
        self._listener.settimeout(TIMEOUT_SECONDS)

        environment = {k: v for k, v in os.environ.items() if not k.startswith("GALE_")}
        environment.update({
            "GALE_SOCKET": socket_path,
            "GALE_INSTANCE_ID": "hello-3-abcd",
            "GALE_INSTANCE_NONCE": "n0nce",
            "GALE_ENTRY_POINT": entry_point,
            "GALE_ENTRY_MODULE": entry_module,
            "GALE_SIGNATURE": signature,
            "GALE_FUNCTION": "hello",
            "GALE_VERSION": "3",
            "GALE_MEMORY_MB": "512",
            "GALE_CONCURRENCY": str(concurrency),
            "GALE_URL_PREFIX": "/fn/hello",
            "PYTHONDONTWRITEBYTECODE": "1",
        })
        environment.update(env or {})
        if as_module:
            environment["PYTHONPATH"] = str(PYTHON_DIR)
            command = [sys.executable, "-m", "gale._bootstrap"]
        else:
            command = [sys.executable, str(BOOTSTRAP)]

        self.stdout_path, self.stderr_path = root / "stdout", root / "stderr"
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(command, cwd=self.bundle, env=environment,
                                            stdout=out, stderr=err)
        try:
            self._conn, _ = self._listener.accept()
        except socket.timeout:
            self.close()
            raise AssertionError(f"the bootstrap never connected; stderr: {self.process_stderr()}")
        self._conn.settimeout(TIMEOUT_SECONDS)
        self._reader = self._conn.makefile("rb")
        self._request_numbers = iter(range(1, 1_000_000))
        self.logs = []
        self.hello = self.receive()
        self.loaded = self.receive_skipping_logs()

    def send(self, kind, header, body=b""):
        self._conn.sendall(encode_frame(kind, header, body))

    def receive(self):
        """The next frame, or None at EOF."""
        prefix = self._reader.read(PREFIX.size)
        if not prefix:
            return None
        kind, header_length, body_length = PREFIX.unpack(prefix)
        header = json.loads(self._reader.read(header_length))
        return Frame(kind, header, self._reader.read(body_length))

    def receive_skipping_logs(self):
        while True:
            frame = self.receive()
            if frame is None or frame.kind != LOG:
                return frame
            self.logs.append(frame)

    def send_invoke(self, method="GET", path="/", query="", headers=(), body=b"",
                    request_id=None, host="127.0.0.1:8080", scheme="http", deadline_ms=None):
        request_id = request_id or f"req-{next(self._request_numbers)}"
        now_ms = int(time.time() * 1000)
        self.send(INVOKE, {
            "id": request_id, "method": method, "path": path, "query": query,
            "headers": [list(pair) for pair in headers], "remoteAddr": "10.0.0.7",
            "scheme": scheme, "host": host,
            "deadlineMs": deadline_ms or now_ms + 60_000, "timeoutMs": 60_000,
        }, body)
        return request_id

    def invoke(self, method="GET", path="/", **request):
        """Send one INVOKE and return its RESPONSE or ERROR frame."""
        request_id = self.send_invoke(method, path, **request)
        frame = self.receive_skipping_logs()
        assert frame is not None, f"EOF instead of an answer; stderr: {self.process_stderr()}"
        assert frame.header.get("id") == request_id, frame
        return frame

    def log_lines(self, request_id, stream=None):
        return [frame.body.decode() for frame in self.logs
                if frame.header["id"] == request_id and stream in (None, frame.header["stream"])]

    def close_connection(self):
        self._reader.close()
        self._conn.close()

    def wait_exit(self):
        return self.process.wait(TIMEOUT_SECONDS)

    def process_stderr(self):
        return self.stderr_path.read_text(errors="replace")

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for closable in (getattr(self, "_reader", None), getattr(self, "_conn", None), self._listener):
            if closable is not None:
                closable.close()
        self._tmp.cleanup()


class BootstrapTestCase(unittest.TestCase):

    def start(self, main_py=None, files=None, **options):
        files = dict(files or {})
        if main_py is not None:
            files["main.py"] = main_py
        gale = FakeGale(files, **options)
        self.addCleanup(gale.close)
        return gale

    def start_ready(self, main_py, signature=None, **options):
        gale = self.start(main_py, **options)
        self.assertEqual(gale.loaded.kind, READY, gale.loaded)
        if signature:
            self.assertEqual(gale.loaded.header["signature"], signature)
        return gale

    def assertResponse(self, frame, status=200):
        self.assertEqual(frame.kind, RESPONSE, frame.header.get("traceback", frame))
        self.assertEqual(frame.status, status, frame)
        return frame


# --------------------------------------------------------------------------- connection

class HandshakeTest(BootstrapTestCase):

    def test_hello_then_ready(self):
        gale = self.start_ready("def handler(request):\n    return 'ok'\n")
        self.assertEqual(gale.hello.kind, HELLO)
        self.assertEqual(gale.hello.header, {
            "instance": "hello-3-abcd", "nonce": "n0nce", "pid": gale.process.pid,
            "python": "%d.%d.%d" % sys.version_info[:3]})
        self.assertEqual(gale.loaded.header["signature"], "http")
        self.assertIsInstance(gale.loaded.header["loadMs"], int)

    def test_runs_as_a_module_too(self):
        gale = self.start_ready("def handler(request):\n    return 'ok'\n", as_module=True)
        self.assertEqual(self.assertResponse(gale.invoke()).text, "ok")

    def test_user_code_sees_no_secrets_and_no_bootstrap_internals(self):
        gale = self.start_ready("""
            import importlib.util, os
            def handler(request):
                return {
                    "secrets": [name for name in ("GALE_TOKEN", "GALE_ADMIN_TOKEN", "GALE_INSTANCE_NONCE")
                                if name in os.environ],
                    "function": os.environ.get("GALE_FUNCTION"),
                    "internals": importlib.util.find_spec("_requirements") is not None,
                }
        """, env={"GALE_TOKEN": "admin-secret", "GALE_ADMIN_TOKEN": "admin-secret"})
        self.assertEqual(self.assertResponse(gale.invoke()).json(),
                         {"secrets": [], "function": "hello", "internals": False})

    def test_nothing_is_written_to_the_stdout_pipe(self):
        gale = self.start_ready("print('at import')\ndef handler(request):\n    print('in call')\n    return 'ok'\n")
        self.assertResponse(gale.invoke())
        gale.send(SHUTDOWN, {})
        self.assertEqual(gale.wait_exit(), 0)
        self.assertEqual(gale.stdout_path.read_bytes(), b"")


class LoadFailureTest(BootstrapTestCase):

    def assertLoadFailed(self, gale, kind):
        self.assertEqual(gale.loaded.kind, LOAD_FAILED, gale.loaded)
        self.assertEqual(gale.loaded.header["kind"], kind, gale.loaded.header)
        self.assertNotEqual(gale.wait_exit(), 0)
        return gale.loaded.header

    def test_syntax_error(self):
        failure = self.assertLoadFailed(self.start("x = 1\ndef handler(request)\n    return 1\n"), "syntax")
        self.assertIn("(main.py, line 2)", failure["error"])
        self.assertIn("SyntaxError", failure["traceback"])

    def test_syntax_error_in_a_sibling_module(self):
        gale = self.start("import helpers\ndef handler(request):\n    return 1\n",
                          files={"helpers.py": "value = = 1\n"})
        self.assertIn("(helpers.py, line 1)", self.assertLoadFailed(gale, "syntax")["error"])

    def test_import_error_names_the_missing_module(self):
        failure = self.assertLoadFailed(self.start("import xgboost\ndef handler(request):\n    return 1\n"),
                                        "import")
        self.assertEqual(failure["error"], "No module named 'xgboost'")
        self.assertIn("main.py", failure["traceback"])

    def test_missing_entry_point_lists_the_callables(self):
        gale = self.start("""
            import os
            from json import dumps
            THRESHOLD = 0.5
            def _helper():
                pass
            def prediction(request):
                return "yes"
            def process(event, context):
                return None
        """, entry_point="predictt")
        self.assertEqual(self.assertLoadFailed(gale, "entry_point")["error"],
                         "entry point 'predictt' not found in main.py; callables defined there: prediction, process")

    def test_entry_point_that_is_not_callable(self):
        gale = self.start("THRESHOLD = 0.5\ndef prediction(request):\n    return 1\n", entry_point="THRESHOLD")
        self.assertEqual(self.assertLoadFailed(gale, "entry_point")["error"],
                         "entry point 'THRESHOLD' in main.py is a float, not a callable; "
                         "callables defined there: prediction")

    def test_missing_entry_module_lists_the_python_files(self):
        gale = self.start(files={"app.py": "", "lib/util.py": "", "README.md": ""})
        self.assertEqual(self.assertLoadFailed(gale, "entry_point")["error"],
                         "main.py not found in the bundle; .py files present: app.py, lib/util.py")

    def test_an_entry_module_in_a_package_is_imported_as_one_so_its_relative_imports_work(self):
        gale = self.start(files={
            "myapp/__init__.py": "",
            "myapp/scoring.py": "WEIGHT = 2\n",
            "myapp/api.py": "from .scoring import WEIGHT\ndef handler(request):\n    return {'module': __name__, 'weight': WEIGHT}\n",
        }, entry_module="myapp/api.py")
        self.assertEqual(gale.loaded.kind, READY, gale.loaded)
        self.assertEqual(self.assertResponse(gale.invoke()).json(), {"module": "myapp.api", "weight": 2})

    def test_a_packages_init_as_entry_module_is_the_package_itself(self):
        gale = self.start(files={
            "myapp/__init__.py": "from .views import answer\ndef handler(request):\n    return {'module': __name__, 'answer': answer()}\n",
            "myapp/views.py": "def answer():\n    return 42\n",
        }, entry_module="myapp/__init__.py")
        self.assertEqual(self.assertResponse(gale.invoke()).json(), {"module": "myapp", "answer": 42})

    def test_exception_at_import(self):
        failure = self.assertLoadFailed(self.start("""
            def load():
                raise RuntimeError("model file is corrupt")
            model = load()
        """), "error")
        self.assertEqual(failure["error"], "RuntimeError: model file is corrupt")
        self.assertIn('main.py", line 3, in load', failure["traceback"])
        self.assertNotIn("_bootstrap", failure["traceback"])

    def test_http_functions_without_flask(self):
        gale = self.start("def handler(request):\n    return 'ok'\n", files={
            "flask.py": "raise ModuleNotFoundError(\"No module named 'flask'\", name='flask')\n"})
        self.assertEqual(self.assertLoadFailed(gale, "dependency")["error"],
                         "Cloud Functions-style functions need Flask: apt-get install python3-flask "
                         "(or add flask to requirements.txt)")


# --------------------------------------------------------------------------- conventions

class CloudFunctionsTest(BootstrapTestCase):

    def test_request_args_and_path(self):
        gale = self.start_ready("""
            def handler(request):
                return f"hello {request.args['name']} via {request.method} {request.path} {request.url}"
        """, signature="http")
        response = self.assertResponse(gale.invoke("GET", "/greet/me", query="name=Ada"))
        self.assertEqual(response.text, "hello Ada via GET /greet/me http://127.0.0.1:8080/fn/hello/greet/me?name=Ada")
        self.assertEqual(response.header_value("Content-Type"), "text/html; charset=utf-8")

    def test_get_json_and_jsonify(self):
        gale = self.start_ready("""
            import flask
            def handler(request):
                return flask.jsonify(total=sum(request.get_json()["numbers"]))
        """)
        response = self.assertResponse(gale.invoke(
            "POST", "/", headers=[("Content-Type", "application/json")], body=b'{"numbers": [1, 2, 3]}'))
        self.assertEqual(response.json(), {"total": 6})
        self.assertEqual(response.header_value("Content-Type"), "application/json")

    def test_form_data(self):
        gale = self.start_ready("def handler(request):\n    return request.form.to_dict()\n")
        response = self.assertResponse(gale.invoke(
            "POST", "/", headers=[("Content-Type", "application/x-www-form-urlencoded")], body=b"a=1&b=two+words"))
        self.assertEqual(response.json(), {"a": "1", "b": "two words"})

    def test_tuple_of_body_status_and_headers(self):
        gale = self.start_ready("def handler(request):\n    return 'created', 201, {'X-Item-Id': '7'}\n")
        response = self.assertResponse(gale.invoke("POST"), 201)
        self.assertEqual((response.text, response.header_value("X-Item-Id")), ("created", "7"))

    def test_function_answering_options_gets_its_own_headers_back(self):
        gale = self.start_ready("""
            CORS = {"Access-Control-Allow-Origin": "https://app.example",
                    "Access-Control-Allow-Methods": "GET, POST",
                    "Access-Control-Max-Age": "3600"}
            def handler(request):
                if request.method == "OPTIONS":
                    return "", 204, CORS
                return "ok", 200, {"Access-Control-Allow-Origin": "https://app.example"}
        """)
        response = self.assertResponse(gale.invoke("OPTIONS", "/", headers=[("Origin", "https://app.example")]), 204)
        names = [name for name, _ in response.header["headers"] if name != "Content-Type"]
        self.assertEqual(names, ["Access-Control-Allow-Origin", "Access-Control-Allow-Methods",
                                 "Access-Control-Max-Age"])
        self.assertEqual(response.header_value("Access-Control-Max-Age"), "3600")
        self.assertEqual(response.body, b"")

    def test_response_object(self):
        gale = self.start_ready("""
            import flask
            def handler(request):
                return flask.Response(b"\\x89PNG\\x00", mimetype="image/png", headers={"Cache-Control": "no-store"})
        """)
        response = self.assertResponse(gale.invoke())
        self.assertEqual(response.body, b"\x89PNG\x00")
        self.assertEqual(response.header_value("Content-Type"), "image/png")
        self.assertEqual(response.header_value("Cache-Control"), "no-store")

    def test_abort_is_a_response_not_an_error(self):
        gale = self.start_ready("import flask\ndef handler(request):\n    flask.abort(404)\n")
        self.assertResponse(gale.invoke(), 404)

    def test_exception_becomes_error_and_the_instance_keeps_serving(self):
        gale = self.start_ready("""
            def handler(request):
                if request.path == "/boom":
                    return 1 / 0
                return "fine"
        """)
        error = gale.invoke("GET", "/boom")
        self.assertEqual(error.kind, ERROR)
        self.assertEqual(error.header["error"], "ZeroDivisionError: division by zero")
        self.assertIn('main.py", line 4, in handler', error.header["traceback"])
        self.assertIn("return 1 / 0", error.header["traceback"])
        self.assertNotIn("_bootstrap", error.header["traceback"])
        self.assertEqual(self.assertResponse(gale.invoke("GET", "/ok")).text, "fine")

    def test_every_path_reaches_the_function(self):
        gale = self.start_ready("def handler(request):\n    return request.path\n")
        for path, expected in [("/", "/"), ("/static/app.js", "/static/app.js"),
                               ("/a%20b//c/", "/a b//c/"), ("/caf%C3%A9", "/café")]:
            self.assertEqual(self.assertResponse(gale.invoke("GET", path)).text, expected)

    def test_large_bodies(self):
        gale = self.start_ready("def handler(request):\n    return request.get_data()[::-1]\n")
        body = os.urandom(3 * 1024 * 1024)
        response = self.assertResponse(gale.invoke(
            "POST", "/", headers=[("Content-Type", "application/octet-stream")], body=body))
        self.assertEqual(response.body, body[::-1])


class LambdaTest(BootstrapTestCase):

    ECHO_EVENT = """
        import json
        def lambda_handler(event, context):
            return {"statusCode": 200, "body": json.dumps(event)}
    """

    def test_event_shape(self):
        gale = self.start_ready(self.ECHO_EVENT, entry_point="lambda_handler", signature="event")
        before_ms = int(time.time() * 1000)
        response = self.assertResponse(gale.invoke(
            "POST", "/items/42", query="a=1&a=2&b=x%20y", request_id="req-event",
            headers=[("Content-Type", "text/plain"), ("X-Multi", "1"), ("X-Multi", "2")], body=b"hello"))
        event = response.json()
        request_time = event["requestContext"].pop("requestTimeEpoch")
        self.assertTrue(before_ms <= request_time <= int(time.time() * 1000))
        self.assertEqual(event, {
            "resource": "/{proxy+}",
            "path": "/fn/hello/items/42",
            "httpMethod": "POST",
            "headers": {"Content-Type": "text/plain", "X-Multi": "2"},
            "multiValueHeaders": {"Content-Type": ["text/plain"], "X-Multi": ["1", "2"]},
            "queryStringParameters": {"a": "2", "b": "x y"},
            "multiValueQueryStringParameters": {"a": ["1", "2"], "b": ["x y"]},
            "pathParameters": {"proxy": "items/42"},
            "stageVariables": None,
            "requestContext": {"requestId": "req-event", "httpMethod": "POST", "path": "/fn/hello/items/42",
                               "stage": "gale", "identity": {"sourceIp": "10.0.0.7"}},
            "body": "hello",
            "isBase64Encoded": False,
        })

    def test_a_scheduled_call_gets_an_eventbridge_scheduled_event(self):
        gale = self.start_ready(self.ECHO_EVENT, entry_point="lambda_handler", signature="event")
        event = self.assertResponse(gale.invoke(
            "POST", "/", request_id="req-sched",
            headers=[("X-Gale-Schedule", "nightly"), ("X-Gale-Schedule-Time", "2026-03-01T03:00:00Z")])).json()
        self.assertEqual(event, {
            "version": "0", "id": "req-sched", "detail-type": "Scheduled Event", "source": "gale.schedule",
            "account": "", "time": "2026-03-01T03:00:00Z", "region": "", "resources": ["gale:schedule/nightly"],
            "detail": {},
        })

    def test_a_scheduled_call_with_a_payload_gets_the_payload_as_its_event(self):
        gale = self.start_ready(self.ECHO_EVENT, entry_point="lambda_handler", signature="event")
        event = self.assertResponse(gale.invoke(
            "POST", "/", headers=[("X-Gale-Schedule", "nightly"), ("X-Gale-Schedule-Time", "2026-03-01T03:00:00Z"),
                                  ("Content-Type", "application/json")], body=b'{"kind": "full"}')).json()
        self.assertEqual(event, {"kind": "full"})

    def test_event_without_query_path_or_body(self):
        gale = self.start_ready(self.ECHO_EVENT, entry_point="lambda_handler")
        event = self.assertResponse(gale.invoke("GET", "/")).json()
        self.assertEqual([event[key] for key in ("queryStringParameters", "multiValueQueryStringParameters",
                                                 "pathParameters", "body", "isBase64Encoded")],
                         [None, None, None, None, False])

    def test_proxy_response_with_status_and_headers(self):
        gale = self.start_ready("""
            import json
            def lambda_handler(event, context):
                return {"statusCode": 201,
                        "headers": {"Content-Type": "application/json", "X-One": "1", "Set-Cookie": "lost=1"},
                        "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
                        "body": json.dumps({"created": True})}
        """, entry_point="lambda_handler")
        response = self.assertResponse(gale.invoke("POST"), 201)
        self.assertEqual(response.json(), {"created": True})
        self.assertEqual(response.header_value("Content-Type"), "application/json")
        self.assertEqual(response.header_value("X-One"), "1")
        self.assertEqual(response.header_values("Set-Cookie"), ["a=1", "b=2"])

    def test_bare_return_values(self):
        gale = self.start_ready("""
            RESULTS = {"/dict": {"a": 1}, "/list": [1, 2], "/text": "hi", "/bytes": b"\\x00\\x01", "/none": None}
            def lambda_handler(event, context):
                return RESULTS[event["path"][len("/fn/hello"):]]
        """, entry_point="lambda_handler")
        expected = {"/dict": ("application/json", b'{"a": 1}'), "/list": ("application/json", b"[1, 2]"),
                    "/text": ("text/plain; charset=utf-8", b"hi"),
                    "/bytes": ("application/octet-stream", b"\x00\x01"), "/none": (None, b"")}
        for path, (content_type, body) in expected.items():
            response = self.assertResponse(gale.invoke("GET", path))
            self.assertEqual((response.header_value("Content-Type"), response.body), (content_type, body), path)

    def test_default_content_type_of_proxy_responses(self):
        gale = self.start_ready("""
            BODIES = {"json": '{"a": 1}', "text": "plain words", "object": {"a": [1]}}
            def lambda_handler(event, context):
                return {"statusCode": 200, "body": BODIES[event["pathParameters"]["proxy"]]}
        """, entry_point="lambda_handler")
        expected = {"/json": ("application/json", b'{"a": 1}'),
                    "/text": ("text/plain; charset=utf-8", b"plain words"),
                    "/object": ("application/json", b'{"a": [1]}')}
        for path, (content_type, body) in expected.items():
            response = self.assertResponse(gale.invoke("GET", path))
            self.assertEqual((response.header_value("Content-Type"), response.body), (content_type, body), path)

    def test_base64_bodies_in_and_out(self):
        gale = self.start_ready("""
            import base64
            def lambda_handler(event, context):
                data = base64.b64decode(event["body"]) if event["isBase64Encoded"] else event["body"].encode()
                headers = {"Content-Type": "application/octet-stream",
                           "X-Was-Base64": str(event["isBase64Encoded"])}
                return {"statusCode": 200, "isBase64Encoded": True, "headers": headers,
                        "body": base64.b64encode(data[::-1]).decode()}
        """, entry_point="lambda_handler")
        cases = [("application/octet-stream", bytes(range(256)), "True"),
                 ("text/plain", b"\xff\xfe not utf-8", "True"),
                 ("image/png", b"utf-8 but still binary", "True"),
                 ("application/json", '{"text": "héllo"}'.encode(), "False")]
        for content_type, body, was_base64 in cases:
            response = self.assertResponse(gale.invoke("POST", headers=[("Content-Type", content_type)], body=body))
            self.assertEqual(response.body, body[::-1], content_type)
            self.assertEqual(response.header_value("X-Was-Base64"), was_base64, content_type)

    def test_context(self):
        gale = self.start_ready("""
            def lambda_handler(event, context):
                return {"remaining": context.get_remaining_time_in_millis(),
                        "request_id": context.aws_request_id, "function_name": context.function_name,
                        "function_version": context.function_version, "arn": context.invoked_function_arn,
                        "memory": context.memory_limit_in_mb, "log_group": context.log_group_name,
                        "log_stream": context.log_stream_name}
        """, entry_point="lambda_handler")
        deadline = int(time.time() * 1000) + 5000
        context = self.assertResponse(gale.invoke(request_id="req-ctx", deadline_ms=deadline)).json()
        self.assertTrue(3000 < context.pop("remaining") <= 5000)
        self.assertEqual(context, {"request_id": "req-ctx", "function_name": "hello", "function_version": "3",
                                   "arn": "arn:gale:function:hello", "memory": 512,
                                   "log_group": "/gale/hello", "log_stream": "hello-3-abcd"})


class WsgiTest(BootstrapTestCase):

    def test_flask_app_with_routes_under_the_prefix(self):
        gale = self.start_ready("""
            from flask import Flask, request, url_for
            app = Flask(__name__)

            @app.route("/")
            def index():
                return {"item": url_for("item", item_id=3), "external": url_for("item", item_id=3, _external=True)}

            @app.route("/items/<int:item_id>", methods=["GET", "PUT"])
            def item(item_id):
                return {"id": item_id, "method": request.method, "body": request.get_data(as_text=True)}
        """, entry_point="app", signature="wsgi")
        self.assertEqual(self.assertResponse(gale.invoke()).json(),
                         {"item": "/fn/hello/items/3", "external": "http://127.0.0.1:8080/fn/hello/items/3"})
        self.assertEqual(self.assertResponse(gale.invoke("PUT", "/items/3", body=b"new")).json(),
                         {"id": 3, "method": "PUT", "body": "new"})
        self.assertResponse(gale.invoke("GET", "/nope"), 404)

    def test_a_keep_warm_firing_is_answered_without_calling_the_app(self):
        gale = self.start_ready("""
            calls = []
            def application(environ, start_response):
                calls.append(environ["REQUEST_METHOD"])
                start_response("200 OK", [("Content-Type", "text/plain")])
                return [str(len(calls)).encode()]
        """, entry_point="application", signature="wsgi")
        warm = self.assertResponse(gale.invoke("POST", "/", headers=[("X-Gale-Schedule", "keep-warm-hello")]), 204)
        self.assertEqual(warm.header_value("X-Gale-Keep-Warm"), "1")
        other = gale.invoke("POST", "/", headers=[("X-Gale-Schedule", "nightly-report")])
        self.assertEqual(self.assertResponse(other).body, b"1")  # any other schedule's firing reaches the app

    def test_environ(self):
        gale = self.start_ready("""
            import json, sys
            closed = []

            class Body:
                def __init__(self, data):
                    self.data = data
                def __iter__(self):
                    yield self.data
                def close(self):
                    closed.append(True)

            def application(environ, start_response):
                keys = ["REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "CONTENT_TYPE",
                        "CONTENT_LENGTH", "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "REMOTE_ADDR",
                        "HTTP_X_MULTI", "HTTP_COOKIE", "HTTP_X_SNEAKY", "wsgi.url_scheme",
                        "wsgi.multithread", "wsgi.multiprocess", "wsgi.run_once"]
                seen = {key: environ.get(key) for key in keys}
                seen["wsgi.version"] = list(environ["wsgi.version"])
                seen["body"] = environ["wsgi.input"].read().decode()
                seen["errors is stderr"] = environ["wsgi.errors"] is sys.stderr
                seen["closed before"] = len(closed)
                start_response("200 OK", [("Content-Type", "application/json")])
                return Body(json.dumps(seen).encode())
        """, entry_point="application", signature="wsgi")
        request = dict(query="q=1&r=%20", host="example.com:8443", scheme="https", body=b"data", headers=[
            ("Content-Type", "text/plain"), ("Content-Length", "4"), ("X-Multi", "a"), ("X-Multi", "b"),
            ("Cookie", "a=1"), ("Cookie", "b=2"), ("X_Sneaky", "spoofed")])
        environ = self.assertResponse(gale.invoke("POST", "/caf%C3%A9/x", **request)).json()
        self.assertEqual(environ, {
            "REQUEST_METHOD": "POST", "SCRIPT_NAME": "/fn/hello", "PATH_INFO": "/caf\u00c3\u00a9/x",
            "QUERY_STRING": "q=1&r=%20", "CONTENT_TYPE": "text/plain", "CONTENT_LENGTH": "4",
            "SERVER_NAME": "example.com", "SERVER_PORT": "8443", "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "10.0.0.7", "HTTP_X_MULTI": "a, b", "HTTP_COOKIE": "a=1; b=2", "HTTP_X_SNEAKY": None,
            "wsgi.url_scheme": "https", "wsgi.multithread": False, "wsgi.multiprocess": True,
            "wsgi.run_once": False, "wsgi.version": [1, 0], "body": "data", "errors is stderr": True,
            "closed before": 0})
        self.assertEqual(self.assertResponse(gale.invoke("GET", "/")).json()["closed before"], 1)

    def test_write_callable_and_exc_info(self):
        gale = self.start_ready("""
            import sys
            def application(environ, start_response):
                path = environ["PATH_INFO"]
                if path == "/write":
                    write = start_response("202 Accepted", [("Content-Type", "text/plain")])
                    write(b"written, ")
                    return [b"returned"]
                if path == "/recover":
                    start_response("200 OK", [("Content-Type", "text/plain")])
                    try:
                        raise ValueError("changed my mind")
                    except ValueError:
                        start_response("503 Service Unavailable", [("Retry-After", "1")], sys.exc_info())
                    return [b"try later"]
                return too_late(start_response)

            def too_late(start_response):
                start_response("200 OK", [("Content-Type", "text/plain")])
                yield b"half a body"
                try:
                    raise ValueError("failed mid-body")
                except ValueError:
                    start_response("500 Internal Server Error", [], sys.exc_info())
        """, entry_point="application")
        self.assertEqual(gale.loaded.header["signature"], "wsgi")
        self.assertEqual(self.assertResponse(gale.invoke("GET", "/write"), 202).text, "written, returned")
        recovered = self.assertResponse(gale.invoke("GET", "/recover"), 503)
        self.assertEqual((recovered.text, recovered.header["headers"]), ("try later", [["Retry-After", "1"]]))
        too_late = gale.invoke("GET", "/too-late")
        self.assertEqual((too_late.kind, too_late.header["error"]), (ERROR, "ValueError: failed mid-body"))


# --------------------------------------------------------------------------- instance behaviour

class TriggerEventTest(BootstrapTestCase):
    """A trigger's event (docs/triggers.md) in each calling convention."""

    PACKAGE = {"PYTHONPATH": str(PYTHON_DIR)}  # as Gale sets it: the bootstrap imports gale._events for events
    EVENT_HEADERS = [("Content-Type", "application/json"), ("ce-specversion", "1.0"), ("ce-id", "ev-9"),
                     ("ce-source", "//gale/blobs/buckets/models"), ("ce-type", "google.cloud.storage.object.v1.finalized"),
                     ("ce-subject", "objects/m.pkl"), ("ce-time", "2026-12-06T02:17:50Z"), ("ce-sequence", "3"),
                     ("X-Gale-Trigger", "tr-abc")]
    DATA = json.dumps({"bucket": "models", "name": "m.pkl", "generation": "2", "size": "10", "etag": "sha256:ff"}).encode()

    def test_a_one_argument_function_gets_a_cloudevent_and_a_request_otherwise(self):
        gale = self.start_ready("""
            def handler(arg):
                if hasattr(arg, "args"):
                    return {"request": arg.args.get("q")}
                return {"type": arg["type"], "subject": arg["subject"], "data": arg.data}
        """, signature="http", env=self.PACKAGE)
        event = self.assertResponse(gale.invoke("POST", "/", headers=self.EVENT_HEADERS, body=self.DATA)).json()
        self.assertEqual(event, {"type": "google.cloud.storage.object.v1.finalized", "subject": "objects/m.pkl",
                                 "data": json.loads(self.DATA)})
        self.assertEqual(self.assertResponse(gale.invoke("GET", "/", query="q=1")).json(), {"request": "1"})

    def test_an_explicit_http_signature_gets_the_event_as_the_http_request_eventarc_sends(self):
        gale = self.start_ready("""
            def handler(request):
                return {"type": request.headers["ce-type"], "name": request.get_json()["name"]}
        """, signature="http", env={**self.PACKAGE, "GALE_SIGNATURE": "http"})
        answer = self.assertResponse(gale.invoke("POST", "/", headers=self.EVENT_HEADERS, body=self.DATA)).json()
        self.assertEqual(answer, {"type": "google.cloud.storage.object.v1.finalized", "name": "m.pkl"})

    def test_a_lambda_handler_gets_s3_records(self):
        gale = self.start_ready("""
            def lambda_handler(event, context):
                record = event["Records"][0]
                return {"source": record["eventSource"], "name": record["eventName"], "key": record["s3"]["object"]["key"]}
        """, entry_point="lambda_handler", signature="event", env=self.PACKAGE)
        answer = self.assertResponse(gale.invoke("POST", "/", headers=self.EVENT_HEADERS, body=self.DATA)).json()
        self.assertEqual(answer, {"source": "aws:s3", "name": "ObjectCreated:Put", "key": "m.pkl"})

    def test_a_background_function_gets_the_object_and_a_context(self):
        gale = self.start_ready("""
            def on_change(event, context):
                return {"name": event["name"], "id": context.event_id, "type": context.event_type}
        """, entry_point="on_change", signature="background", env={**self.PACKAGE, "GALE_SIGNATURE": "background"})
        answer = self.assertResponse(gale.invoke("POST", "/", headers=self.EVENT_HEADERS, body=self.DATA)).json()
        self.assertEqual(answer, {"name": "m.pkl", "id": "ev-9", "type": "google.storage.object.finalize"})

    def test_a_background_function_called_over_http_gets_the_json_body_or_the_functions_framework_envelope(self):
        gale = self.start_ready("""
            def on_change(event, context):
                return {"data": event, "id": context.event_id, "type": context.event_type}
        """, entry_point="on_change", signature="background", env={**self.PACKAGE, "GALE_SIGNATURE": "background"})
        plain = self.assertResponse(gale.invoke("POST", "/", request_id="req-bg", body=b'{"name": "x"}')).json()
        self.assertEqual(plain, {"data": {"name": "x"}, "id": "req-bg", "type": ""})
        envelope = self.assertResponse(gale.invoke("POST", "/", body=json.dumps(
            {"data": {"name": "y"}, "context": {"eventId": "e-1", "eventType": "google.storage.object.finalize"}}).encode())).json()
        self.assertEqual(envelope, {"data": {"name": "y"}, "id": "e-1", "type": "google.storage.object.finalize"})


class InstanceBehaviourTest(BootstrapTestCase):

    def test_module_globals_persist_between_calls(self):
        gale = self.start_ready("""
            calls = 0
            def handler(request):
                global calls
                calls += 1
                return str(calls)
        """)
        self.assertEqual([self.assertResponse(gale.invoke()).text for _ in range(3)], ["1", "2", "3"])

    def test_working_directory_is_the_bundle_root(self):
        gale = self.start_ready("""
            import os
            import helpers
            def handler(request):
                with open("model-obj/x.txt") as file:
                    return f"{file.read()} {helpers.double(21)} {os.getcwd()}"
        """, files={"model-obj/x.txt": "weights", "helpers.py": "def double(x):\n    return 2 * x\n"})
        self.assertEqual(self.assertResponse(gale.invoke()).text, f"weights 42 {gale.bundle.resolve()}")

    def test_classes_defined_in_main_pickle(self):
        gale = self.start_ready("""
            import pickle
            class Point:
                def __init__(self, x):
                    self.x = x
            def handler(request):
                return f"{pickle.loads(pickle.dumps(Point(3))).x} {Point.__module__} {__name__}"
        """)
        self.assertEqual(self.assertResponse(gale.invoke()).text, "3 main main")

    def test_logs_are_tagged_with_the_invocation(self):
        gale = self.start_ready("""
            import logging, sys
            logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
            print("loading")
            def handler(request):
                print("hello from", request.args["who"])
                logging.info("via logging")
                sys.stderr.write("two\\nlines\\n")
                print("no newline", end="")
                return "ok"
        """)
        self.assertEqual(gale.log_lines(None, "stdout"), ["loading\n"])
        self.assertResponse(gale.invoke(query="who=ada", request_id="req-logs"))
        self.assertEqual(gale.log_lines("req-logs", "stdout"), ["hello from ada\n", "no newline\n"])
        self.assertEqual(gale.log_lines("req-logs", "stderr"), ["INFO via logging\n", "two\nlines\n"])

    def test_concurrent_invocations_overlap(self):
        gale = self.start_ready("""
            import time
            def handler(request):
                time.sleep(0.5)
                print("done", request.args["n"])
                return request.args["n"]
        """, concurrency=4)
        started = time.monotonic()
        ids = [gale.send_invoke(query=f"n={n}", request_id=f"req-{n}") for n in range(4)]
        answers = {frame.header["id"]: frame for frame in (gale.receive_skipping_logs() for _ in ids)}
        self.assertLess(time.monotonic() - started, 1.5)  # one at a time would take 2 s
        for n, request_id in enumerate(ids):
            self.assertEqual(self.assertResponse(answers[request_id]).text, str(n))
            self.assertEqual(gale.log_lines(request_id), [f"done {n}\n"])

    def test_sys_exit_in_a_handler_fails_only_that_call(self):
        gale = self.start_ready("""
            import sys
            def handler(request):
                if request.args.get("exit"):
                    sys.exit(3)
                return "still here"
        """)
        self.assertEqual(gale.invoke(query="exit=1").header["error"], "SystemExit: 3")
        self.assertEqual(self.assertResponse(gale.invoke()).text, "still here")

    def test_shutdown_exits(self):
        gale = self.start_ready("def handler(request):\n    return 'ok'\n")
        gale.send(SHUTDOWN, {})
        self.assertEqual(gale.wait_exit(), 0)
        self.assertIsNone(gale.receive())

    def test_closed_connection_exits(self):
        gale = self.start_ready("def handler(request):\n    return 'ok'\n")
        gale.close_connection()
        self.assertEqual(gale.wait_exit(), 0)

    def test_sigterm_when_idle_exits(self):
        gale = self.start_ready("def handler(request):\n    return 'ok'\n")
        gale.process.send_signal(signal.SIGTERM)
        self.assertEqual(gale.wait_exit(), 0)

    def test_sigterm_finishes_the_current_invocation(self):
        for concurrency in (1, 2):
            with self.subTest(concurrency=concurrency):
                gale = self.start_ready("""
                    import time
                    def handler(request):
                        print("started")
                        time.sleep(0.5)
                        return "finished"
                """, concurrency=concurrency)
                ids = [gale.send_invoke() for _ in range(concurrency)]
                for _ in ids:
                    started = gale.receive()
                    self.assertEqual((started.kind, started.body), (LOG, b"started\n"))
                gale.process.send_signal(signal.SIGTERM)
                for request_id in ids:
                    answer = self.assertResponse(gale.receive_skipping_logs())
                    self.assertEqual((answer.header["id"] in ids, answer.text), (True, "finished"))
                self.assertEqual(gale.wait_exit(), 0)


if __name__ == "__main__":
    unittest.main()
