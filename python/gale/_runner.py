"""The code inside the ``gale-runner`` function: runs Python callables for gale.Executor.

The client deploys a bundle whose ``main.py`` is ``from gale._runner import run``,
together with a copy of the files in RUNNER_FILES, so the runner always runs the
code of the client that deployed it. Each call of a map job has the body
``{"context": CONTEXT, "input": INPUT}``, or, as the client submits its jobs with
``contextOnce`` (docs/jobs.md), ``{"contextId": ID, "input": INPUT}``; this module is
the one place that defines what they hold and what a call answers:

CONTEXT, once per job: ``{"gale": runner version the client expects, "python": "3.11",
"fn": base64 cloudpickle of the callable, "fnHash": sha256 of those bytes,
"maxResultBytes": n}``. INPUT, once per call: base64 pickle of ``(args, kwargs)``.
ID: the server's digest of CONTEXT. The runner keeps the last CONTEXT_CACHE_SIZE
contexts it loaded (the callable unpickled, without the pickled bytes) by ID; for an
ID it does not have, it answers status 428 with the header ``X-Gale-Context: missing``
and ``{"ok": false, "kind": "context", "error": "..."}``, and the server sends the same
call again as ``{"contextId": ID, "context": CONTEXT, "input": INPUT}``.

Answer, otherwise always status 200 (so the client can rebuild the original exception):
``{"ok": true, "result": base64 cloudpickle, "ms": n}`` or ``{"ok": false, "kind":
"function"|"unpickle"|"result"|"version", "error": "ValueError: ...", "type":
"builtins.ValueError", "traceback": "...", "exception": base64 pickle or null}``.

Stdlib-only at import; cloudpickle is imported when a result must be pickled.
"""

import base64
import collections
import hashlib
import json
import os
import pickle
import re
import sys
import threading
import time
import traceback

# The files a runner bundle carries in its gale/ folder; their bytes define RUNNER_VERSION.
RUNNER_FILES = ("__init__.py", "errors.py", "_runner.py")
DEFAULT_MAX_RESULT_BYTES = 8 * 1024 * 1024
PICKLE_PROTOCOL = 5
# Job contexts (and callables) a warm instance keeps: each holds a callable with its closure's data.
CONTEXT_CACHE_SIZE = 4
CONTEXT_MISSING_STATUS = 428
CONTEXT_HEADER = "X-Gale-Context"


def _runner_version(package_dir):
    """'0.1.0+<digest of RUNNER_FILES>', read from the files next to this one (which may not be
    the gale package Gale itself imported: the bundle's main.py puts its own copy first)."""
    digest = hashlib.sha256()
    release = "0"
    for name in RUNNER_FILES:
        with open(os.path.join(package_dir, name), "rb") as file:
            data = file.read()
        digest.update(name.encode() + b"\0" + data + b"\0")
        if name == "__init__.py":
            found = re.search(rb"^__version__\s*=\s*[\"']([^\"']+)", data, re.M)
            release = found.group(1).decode() if found else release
    return f"{release}+{digest.hexdigest()[:12]}"


RUNNER_VERSION = _runner_version(os.path.dirname(os.path.abspath(__file__)))
PYTHON_VERSION = "%d.%d" % sys.version_info[:2]


class Recent:
    """A mapping that keeps only its ``size`` most recently used entries (thread-safe)."""

    def __init__(self, size):
        self.size = size
        self._entries = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key, value):
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def __contains__(self, key):
        with self._lock:
            return key in self._entries

    def __len__(self):
        with self._lock:
            return len(self._entries)

    def clear(self):
        with self._lock:
            self._entries.clear()


class ContextMissing(Exception):
    """A call named a job context by its ID that this instance does not have (any more)."""

    def __init__(self, context_id):
        super().__init__(f"gale-runner does not have job context {context_id}; send it in full")
        self.context_id = context_id


# A context that loaded: its fields without the pickled callable ("fn"), and the callable.
LoadedContext = collections.namedtuple("LoadedContext", "fields function")

_callables = Recent(CONTEXT_CACHE_SIZE)  # fnHash -> callable: a warm instance unpickles each job's callable once
_contexts = Recent(CONTEXT_CACHE_SIZE)  # contextId -> LoadedContext, for calls that send only the id


def run(event, context):
    """The entry point (AWS Lambda convention, so no web framework is loaded)."""
    body = json.loads(event.get("body") or "{}")
    if "ping" in body:
        return describe()
    try:
        return answer(body)
    except ContextMissing as missing:
        return {"statusCode": CONTEXT_MISSING_STATUS,
                "headers": {CONTEXT_HEADER: "missing", "Content-Type": "application/json"},
                "body": json.dumps({"ok": False, "kind": "context", "error": str(missing)})}


def describe():
    return {"ok": True, "runner": RUNNER_VERSION, "python": "%d.%d.%d" % sys.version_info[:3]}


def answer(body, runner_version=RUNNER_VERSION):
    """The JSON answer to one call's body; raises ContextMissing for an ID without its context."""
    context_id = body.get("contextId")
    if context_id is None or "context" in body:
        return execute(body.get("context") or {}, body.get("input"), runner_version, context_id)
    loaded = _contexts.get(context_id)
    if loaded is None:
        raise ContextMissing(context_id)
    return _checked(loaded.fields, runner_version) or call(loaded.function, loaded.fields, body.get("input"))


def execute(job_context, task_input, runner_version=RUNNER_VERSION, context_id=None):
    """Run one call; returns the JSON answer described in the module docstring. Given the
    context's ID, a context whose callable loaded is kept for calls that send only the ID."""
    mismatch = _checked(job_context, runner_version)
    if mismatch:
        return mismatch
    try:
        function = _callable(job_context)
    except Exception as exc:
        return _unpickle_failure(exc)
    if context_id is not None:
        _contexts.put(context_id, LoadedContext({k: v for k, v in job_context.items() if k != "fn"}, function))
    return call(function, job_context, task_input)


def call(function, job_context, task_input):
    """Run the loaded callable on one input; returns the JSON answer."""
    try:
        args, kwargs = pickle.loads(base64.b64decode(task_input))
    except Exception as exc:
        return _unpickle_failure(exc)
    started = time.perf_counter()
    try:
        result = function(*args, **kwargs)
    except (Exception, SystemExit) as exc:
        return failure("function", exc, exc.__traceback__.tb_next)  # drop this frame: the user's code starts below
    elapsed_ms = (time.perf_counter() - started) * 1000
    return encode_result(result, job_context.get("maxResultBytes") or DEFAULT_MAX_RESULT_BYTES, elapsed_ms)


def _checked(job_context, runner_version):
    """The version answer when the context was made for another runner or Python, else None."""
    expected = job_context.get("gale")
    if expected != runner_version:
        return _mismatch(f"this gale client ships runner {expected} but the function runs {runner_version}",
                         expected, runner_version)
    if job_context.get("python") != PYTHON_VERSION:
        return _mismatch(f"the client runs Python {job_context.get('python')} but the runner runs Python "
                         f"{PYTHON_VERSION}; pickled functions only load on the same Python version",
                         expected, runner_version)
    return None


def _unpickle_failure(exc):
    exc.add_note("gale-runner could not unpickle the callable or its arguments: modules they use must be "
                 "importable on the server (install them there) or pickled by value "
                 "(cloudpickle.register_pickle_by_value); see docs/python-client.md")
    return failure("unpickle", exc, exc.__traceback__)


def _callable(job_context):
    key = job_context["fnHash"]
    function = _callables.get(key)
    if function is None:
        data = base64.b64decode(job_context["fn"])
        if hashlib.sha256(data).hexdigest() != key:
            raise ValueError("the pickled callable does not match its fnHash (corrupted job context)")
        function = pickle.loads(data)
        _callables.put(key, function)
    return function


def encode_result(result, max_bytes, elapsed_ms):
    try:
        data = _dumps(result)
    except Exception as exc:
        exc.add_note(f"the function returned a {type(result).__module__}.{type(result).__qualname__} "
                     "that cannot be pickled; return plain data instead")
        return failure("result", exc, exc.__traceback__)
    if len(data) > max_bytes:
        from gale.errors import ResultTooLargeError
        exc = ResultTooLargeError(
            f"the result ({type(result).__qualname__}) is {len(data):,} bytes pickled, over the limit of "
            f"{max_bytes:,}; return a smaller result, or write it to a blob and return its key")
        return failure("result", exc, None)
    return {"ok": True, "result": base64.b64encode(data).decode("ascii"), "ms": round(elapsed_ms, 3)}


def failure(kind, exc, tb):
    text = "".join(traceback.format_exception(type(exc), exc, tb))
    try:
        pickled = _dumps(exc)
        pickle.loads(pickled)  # some exceptions pickle but cannot be rebuilt (custom __init__)
        exception = base64.b64encode(pickled).decode("ascii")
    except Exception:
        exception = None
    return {"ok": False, "kind": kind, "error": _one_line(exc),
            "type": f"{type(exc).__module__}.{type(exc).__qualname__}",
            "traceback": text, "exception": exception}


def _mismatch(message, expected, actual):
    from gale.errors import VersionMismatchError
    exc = VersionMismatchError(message + "; the client redeploys the runner when it starts, so start a new "
                                         "gale.Executor (or upgrade the gale package on both sides)")
    answer = failure("version", exc, None)
    answer.update(client=expected, runner=actual)
    return answer


def _one_line(exc):
    from gale._bootstrap import describe_exception  # the one way Gale puts an exception on one line
    return describe_exception(exc)


def _dumps(value):
    try:
        import cloudpickle
    except ImportError:  # plain pickle still handles importable classes and plain data
        return pickle.dumps(value, protocol=PICKLE_PROTOCOL)
    return cloudpickle.dumps(value, protocol=PICKLE_PROTOCOL)
