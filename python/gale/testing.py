"""Helpers for testing code that uses gale.Executor.

``FakeGale`` is an in-process server with the admin and jobs API of docs/api.md and
docs/jobs.md, whose functions are Python callables run in threads; the gale-runner
bundle the executor deploys runs this package's own runner code. ``LocalGale`` starts
a real ``gale server`` on a free port with a temporary data dir.
"""

import email.parser
import email.policy
import hashlib
import io
import itertools
import json
import os
import shutil
import signal
import sys
import socket
import subprocess
import tempfile
import threading
import time
import traceback
import urllib.parse
import urllib.request
import zipfile
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from gale import _runner
from gale.errors import GaleError

TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED")


class FunctionError(Exception):
    """Raised by a fake function's handler to answer with a given status (default 500) and headers."""

    def __init__(self, message, status=500, headers=None):
        super().__init__(message)
        self.status = status
        self.headers = dict(headers or {})


# --------------------------------------------------------------------------- the fake server

class FakeFunction:
    def __init__(self, name, handler, config):
        self.name = name
        self.handler = handler  # JSON body -> JSON result; raises to fail the call
        self.config = {"maxInstances": 10, **(config or {})}
        self.version = 1
        self.calls = 0


class FakeJob:
    def __init__(self, job_id, function, spec):
        self.id = job_id
        self.function = function
        self.spec = spec
        self.inputs = spec["inputs"]
        self.results = [None] * len(self.inputs)
        self.state = "RUNNING"
        self.running = 0
        self.created = time.monotonic()
        self.finished = None
        self.changed = threading.Condition()
        self.full_contexts_sent = 0  # calls whose body carried the whole context

    def view(self):
        done = sum(1 for r in self.results if r is not None and r["ok"])
        failed = sum(1 for r in self.results if r is not None and not r["ok"])
        elapsed = (self.finished or time.monotonic()) - self.created
        rate = (done + failed) / elapsed if elapsed > 0 else 0.0
        left = len(self.inputs) - done - failed
        return {"id": self.id, "function": self.function.name, "version": self.function.version,
                "state": self.state, "inputs": len(self.inputs),
                "counts": {"queued": left - self.running, "running": self.running, "done": done, "failed": failed},
                "parallelism": self.spec.get("parallelism") or self.function.config["maxInstances"],
                "chunkSize": self.spec.get("chunkSize", 1), "elapsedMs": round(elapsed * 1000, 1),
                "throughputPerSec": round(rate, 2), "etaMs": round(left / rate * 1000) if rate else None,
                "error": None}


class FakeGale:
    """An in-process stand-in for a Gale server (admin API, /fn calls and map jobs)."""

    def __init__(self, token="fake-token", runner_version=None):
        self.token = token
        self.runner_version = runner_version or _runner.RUNNER_VERSION
        self.functions = {}
        self.jobs = {}
        self.deploys = []  # (name, config, files) of each deploy
        self.requests = []  # (method, path) of each request
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server = None

    # lifecycle
    def start(self):
        fake = self

        class Handler(_FakeHandler):
            gale = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fake-gale", daemon=True).start()
        return self

    def stop(self):
        for job in list(self.jobs.values()):
            self._end(job, "CANCELLED")
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self):
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # functions
    def add_function(self, name, handler, config=None):
        """Deploy a fake function: ``handler(json_body) -> json_result``."""
        self.functions[name] = FakeFunction(name, handler, config)
        return self.functions[name]

    def deploy(self, name, config, files):
        self.deploys.append((name, config, files))
        main = files.get("main.py", b"").decode()
        if "gale._runner" not in main:
            raise ValueError("FakeGale only deploys gale-runner bundles; use add_function for others")
        previous = self.functions.get(name)
        function = self.add_function(name, self._run_runner, config)
        function.version = previous.version + 1 if previous else 1
        return function

    def _run_runner(self, body):
        if "ping" in body:
            return dict(_runner.describe(), runner=self.runner_version)
        try:
            return _runner.answer(body, runner_version=self.runner_version)
        except _runner.ContextMissing as missing:
            raise FunctionError(str(missing), _runner.CONTEXT_MISSING_STATUS, {_runner.CONTEXT_HEADER: "missing"})

    def call(self, function, body):
        """(status, json, headers) of one call, as the gateway would answer it."""
        function.calls += 1
        try:
            return 200, function.handler(body), {}
        except FunctionError as exc:
            return exc.status, {"error": str(exc), "traceback": ""}, exc.headers
        except Exception as exc:
            return 500, {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}, {}

    # jobs
    def submit(self, spec):
        function = self.functions.get(spec.get("function"))
        if function is None:
            raise _HttpError(400, f"unknown function {spec.get('function')!r}")
        if not isinstance(spec.get("inputs"), list) or not spec["inputs"]:
            raise _HttpError(400, "inputs must be a non-empty JSON array")
        job = FakeJob(f"job-{next(self._ids):06x}", function, spec)
        self.jobs[job.id] = job
        workers = spec.get("parallelism") or function.config["maxInstances"]
        threading.Thread(target=self._run_job, args=(job, workers), daemon=True).start()
        return job

    def _run_job(self, job, workers):
        context = job.spec.get("context")
        chunk = job.spec.get("chunkSize") or 1
        chunks = [range(i, min(i + chunk, len(job.inputs))) for i in range(0, len(job.inputs), chunk)]
        context_id = None
        if context is not None and job.spec.get("contextOnce"):  # docs/jobs.md: the context once per instance
            context_id = hashlib.sha256(json.dumps(context, separators=(",", ":")).encode()).hexdigest()

        def call_with_context(index):
            if context is None:
                return self.call(job.function, job.inputs[index])
            full = {"context": context, "input": job.inputs[index]}
            if context_id is not None:
                status, answer, headers = self.call(job.function, {"contextId": context_id, "input": job.inputs[index]})
                if status != _runner.CONTEXT_MISSING_STATUS or headers.get(_runner.CONTEXT_HEADER) != "missing":
                    return status, answer, headers
                full["contextId"] = context_id
            with job.changed:
                job.full_contexts_sent += 1
            return self.call(job.function, full)

        def run_chunk(indexes):
            for index in indexes:
                if job.state != "RUNNING":
                    return
                with job.changed:
                    job.running += 1
                started = time.perf_counter()
                status, answer, _ = call_with_context(index)
                duration = (time.perf_counter() - started) * 1000
                if status == 200:
                    line = {"index": index, "ok": True, "result": answer, "durationMs": duration, "attempts": 1}
                else:
                    line = {"index": index, "ok": False, "error": answer["error"], "traceback": answer["traceback"],
                            "status": status, "attempts": 1}
                with job.changed:
                    job.running -= 1
                    if job.state == "RUNNING":
                        job.results[index] = line
                    job.changed.notify_all()
                if not line["ok"] and job.spec.get("stopOnError"):
                    self._end(job, "FAILED")
                    return

        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(run_chunk, chunks))
        failed = any(r is not None and not r["ok"] for r in job.results)
        self._end(job, "FAILED" if failed else "SUCCEEDED")

    def _end(self, job, state):
        with job.changed:
            if job.state not in TERMINAL:
                job.state = state
                job.finished = time.monotonic()
            job.changed.notify_all()

    def cancel(self, job):
        self._end(job, "CANCELLED")
        return job


class _HttpError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class _FakeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    gale = None  # set by FakeGale.start

    def log_message(self, *args):
        pass

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def _dispatch(self, method):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        parts = [urllib.parse.unquote(p) for p in url.path.strip("/").split("/")]
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.gale.requests.append((method, url.path))
        try:
            if parts == ["healthz"]:
                return self._json(200, {"status": "ok"})
            if self.headers.get("Authorization") != f"Bearer {self.gale.token}":
                raise _HttpError(401, "missing or wrong admin token")
            if parts[0] == "fn" and len(parts) >= 2:
                return self._call(parts[1], body)
            if parts[:2] == ["v1", "functions"]:
                return self._functions(method, parts[2:], body)
            if parts[:2] == ["v1", "jobs"]:
                return self._jobs(method, parts[2:], query, body)
            raise _HttpError(404, f"no route {method} {url.path}")
        except _HttpError as exc:
            self._json(exc.status, {"error": str(exc), "status": exc.status})

    def _call(self, name, body):
        function = self.gale.functions.get(name)
        if function is None:
            raise _HttpError(404, f"no function {name}")
        status, answer, headers = self.gale.call(function, json.loads(body) if body else None)
        if status >= 500:
            headers = dict(headers, **{"X-Gale-Error": "function"})
        self._json(status, answer, headers)

    def _functions(self, method, rest, body):
        if not rest:
            return self._json(200, [self._summary(f) for f in self.gale.functions.values()])
        function = self.gale.functions.get(rest[0])
        if method == "POST" and rest[1:] == ["versions"]:
            config, files = _parse_deploy(self.headers.get("Content-Type"), body)
            function = self.gale.deploy(rest[0], config, files)
            return self._json(202, {"function": function.name, "version": function.version, "state": "DEPLOYING"})
        if function is None:
            raise _HttpError(404, f"no function {rest[0]}")
        if method == "GET" and len(rest) == 1:
            return self._json(200, self._summary(function))
        if method == "GET" and len(rest) == 3 and rest[1] == "versions":
            return self._json(200, {"function": function.name, "version": int(rest[2]), "state": "ACTIVE",
                                    "config": function.config})
        raise _HttpError(404, "no such route")

    @staticmethod
    def _summary(function):
        return {"name": function.name, "activeVersion": function.version, "latestVersion": function.version,
                "state": "ACTIVE", "config": function.config}

    def _jobs(self, method, rest, query, body):
        if method == "POST" and not rest:
            job = self.gale.submit(json.loads(body))
            if query.get("wait") == "true":  # the job, then its results as they finish
                return self._results(job, -1, True, status=201, first=job.view())
            return self._json(201, job.view())
        job = self.gale.jobs.get(rest[0]) if rest else None
        if job is None:
            raise _HttpError(404, "no such job")
        if method == "GET" and len(rest) == 1:
            return self._json(200, job.view())
        if method == "DELETE" and len(rest) == 1:
            return self._json(200, self.gale.cancel(job).view())
        if method == "GET" and rest[1:] == ["results"]:
            return self._results(job, int(query.get("after", -1)), query.get("wait") == "true")
        raise _HttpError(404, "no such route")

    def _results(self, job, after, wait, status=200, first=None):
        self.send_response(status)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if first is not None:
            data = json.dumps(first).encode() + b"\n"
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        index = after + 1
        while index < len(job.inputs):
            with job.changed:
                while job.results[index] is None and wait and job.state not in TERMINAL:
                    job.changed.wait(1.0)
                line = job.results[index]
            if line is None:
                break
            data = json.dumps(line).encode() + b"\n"
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
            index += 1
        with job.changed:  # like the real one, a waiting stream ends when the job ends
            while wait and job.state not in TERMINAL:
                job.changed.wait(1.0)
        self.wfile.write(b"0\r\n\r\n")

    def _json(self, status, value, headers=None):
        data = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, header in (headers or {}).items():
            self.send_header(name, header)
        self.end_headers()
        self.wfile.write(data)


def _parse_deploy(content_type, body):
    """(config dict, {path: bytes}) from a multipart/form-data deploy."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    parts = {part.get_param("name", header="content-disposition"): part.get_payload(decode=True)
             for part in message.iter_parts()}
    if "config" not in parts or "bundle" not in parts:
        raise _HttpError(400, "a deploy needs the parts config and bundle")
    with zipfile.ZipFile(io.BytesIO(parts["bundle"])) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    return json.loads(parts["config"]), files


# --------------------------------------------------------------------------- a real server

def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def find_gale_launcher():
    """$GALE_BIN, else the repository's ./gale next to python/, else `gale` on PATH."""
    if os.environ.get("GALE_BIN"):
        return os.environ["GALE_BIN"]
    here = os.path.dirname(os.path.abspath(__file__))
    candidate = os.path.join(here, os.pardir, os.pardir, "gale")
    if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
        return os.path.normpath(candidate)
    return shutil.which("gale")


class LocalGale:
    """A real ``gale server`` on 127.0.0.1 with a temporary data dir; stop() ends it."""

    def __init__(self, launcher=None, port=None, data_dir=None, args=(), start_timeout=600.0):
        self.launcher = launcher or find_gale_launcher()
        self.port = port or free_port()
        self._temporary = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="gale-test-")
        self.args = list(args)
        self.start_timeout = start_timeout
        self.process = None
        self.log_path = os.path.join(self.data_dir, "server.log")
        self.token = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        try:
            return self._start()
        except BaseException:
            self.stop()  # ends the process group if it started, removes a temporary data dir
            raise

    def _start(self):
        if not self.launcher:
            raise GaleError("no gale launcher found: set GALE_BIN or put `gale` on PATH")
        command = [self.launcher, "server", "--port", str(self.port), "--data-dir", self.data_dir, *self.args]
        with open(self.log_path, "ab") as log:
            try:
                self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                                stdin=subprocess.DEVNULL,
                                                start_new_session=True)  # its own group: stop() ends the JVM too
            except OSError as exc:
                raise GaleError(f"cannot run the gale launcher {self.launcher}: {exc}") from exc
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise GaleError(f"`{' '.join(command)}` exited with status {self.process.returncode} before "
                                f"answering /healthz:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        else:
            raise GaleError(f"gale server did not answer /healthz within {self.start_timeout:g}s:\n{self.log_tail()}")
        with open(os.path.join(self.data_dir, "admin-token"), encoding="utf-8") as file:
            self.token = file.readline().strip()
        return self

    @classmethod
    def for_test_module(cls, module_name, **options):
        """(started server, None), or (None, why) when it could not be built or started: a test
        module's setUpModule keeps both and its tests skip with the reason, which is printed here."""
        server = cls(**options)
        try:
            return server.start(), None
        except GaleError as exc:
            if os.environ.get("CI"):
                raise  # in CI a server that does not start is a failure, never a quiet skip
            reason = f"the Gale server could not be built or started ({server.launcher}): {exc}"
            print(f"\n*** {module_name}: skipping the tests that need a server: {reason}", file=sys.stderr)
            return None, reason

    def log_tail(self, lines=40):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as file:
                return "".join(file.readlines()[-lines:])
        except OSError:
            return "(no server log)"

    def client(self, **options):
        from gale.client import Client
        return Client(self.url, self.token, **options)

    def executor(self, **options):
        from gale.executor import Executor
        return Executor(self.url, self.token, **options)

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
                try:
                    os.killpg(self.process.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.process.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if self._temporary and os.environ.get("GALE_KEEP_TEST_DATA") != "1":
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
