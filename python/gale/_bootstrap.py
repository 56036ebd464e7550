"""The process inside every Gale function instance.

Gale starts ``python3 .../gale/_bootstrap.py`` with the bundle root as working
directory, or has the version's zygote (gale/_zygote.py) fork a process that
calls ``main()`` the same way. This module connects to Gale's UNIX socket,
loads the user's entry module, and then answers INVOKE frames by calling the
user's function in one of three conventions (Cloud Functions, Lambda, WSGI).
The wire format and the meaning of every frame are specified in
docs/protocol.md; keep the two in sync.

Only the standard library is imported up front: Flask is imported when the
function uses the Cloud Functions convention and nowhere else.
"""

import base64
import importlib.util
import inspect
import io
import json
import os
import signal
import socket
import struct
import sys
import threading
import time
import traceback
from urllib.parse import parse_qsl, unquote, unquote_to_bytes

# Frame types (docs/protocol.md, "Frames").
HELLO = b"H"
READY = b"R"
LOAD_FAILED = b"F"
INVOKE = b"I"
RESPONSE = b"r"
ERROR = b"E"
LOG = b"L"
SHUTDOWN = b"S"

MAX_FRAME_BYTES = 1 << 30
_FRAME_PREFIX = struct.Struct(">cII")
_READ_BUFFER_BYTES = 64 * 1024
_LONGEST_PARTIAL_LINE = 64 * 1024  # an endless line (a progress bar) is logged in pieces
_LOG_FRAME_CHARS = 64 * 1024  # output goes out in LOG frames of at most this, so a huge print costs no huge copies

SIGNATURES = ("http", "event", "wsgi", "background")
HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
SECRET_VARIABLES = ("GALE_TOKEN", "GALE_ADMIN_TOKEN", "GALE_INSTANCE_NONCE")
FLASK_MISSING = ("Cloud Functions-style functions need Flask: apt-get install "
                 "python3-flask (or add flask to requirements.txt)")

# Bodies that Lambda users expect base64-encoded even when they happen to be UTF-8.
BINARY_MEDIA_PREFIXES = ("image/", "audio/", "video/", "font/")
BINARY_MEDIA_TYPES = frozenset({
    "application/octet-stream", "application/pdf", "application/zip",
    "application/gzip", "application/x-tar", "application/wasm",
    "application/protobuf", "application/x-protobuf",
})


class ProtocolError(Exception):
    """Gale sent something that is not a valid frame; the connection is unusable."""


class LoadFailure(Exception):
    """The user's code could not be loaded; becomes a LOAD_FAILED frame."""

    def __init__(self, kind, error, traceback_text=""):
        super().__init__(error)
        self.kind = kind
        self.error = error
        self.traceback_text = traceback_text


class _Terminated(BaseException):
    """Raised by the SIGTERM handler to interrupt a blocking read between invocations."""


# --------------------------------------------------------------------------- frames

def encode_frame(kind, header, body=b""):
    """The frame as a list of byte strings, ready for socket.sendmsg."""
    header_bytes = json.dumps(header, separators=(",", ":")).encode()
    if len(header_bytes) + len(body) > MAX_FRAME_BYTES:
        raise ValueError(f"a frame of {len(header_bytes) + len(body)} bytes is over the 1 GiB limit")
    head = _FRAME_PREFIX.pack(kind, len(header_bytes), len(body)) + header_bytes
    return [head, body] if body else [head]


class Channel:
    """The instance's end of the socket: whole frames in, whole frames out."""

    def __init__(self, sock):
        self._sock = sock
        self._reader = sock.makefile("rb", buffering=_READ_BUFFER_BYTES)
        self._write_lock = threading.Lock()

    @classmethod
    def connect(cls, path):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(path)
        return cls(sock)

    def send(self, kind, header, body=b""):
        self.send_frame(encode_frame(kind, header, body))

    def send_frame(self, parts):
        with self._write_lock:
            unsent = sum(map(len, parts)) - self._sock.sendmsg(parts)
            if unsent:
                self._sock.sendall(b"".join(parts)[-unsent:])

    def receive(self):
        """The next (kind, header, body), or None when Gale closed the connection."""
        prefix = self._reader.read(_FRAME_PREFIX.size)
        if not prefix:
            return None
        if len(prefix) < _FRAME_PREFIX.size:
            raise ProtocolError("connection closed in the middle of a frame")
        kind, header_length, body_length = _FRAME_PREFIX.unpack(prefix)
        if header_length + body_length > MAX_FRAME_BYTES:
            raise ProtocolError(f"frame of {header_length + body_length} bytes is over the 1 GiB limit")
        header_bytes = self._read_exactly(header_length)
        body = self._read_exactly(body_length) if body_length else b""
        try:
            header = json.loads(header_bytes) if header_bytes else {}
        except ValueError as exc:
            raise ProtocolError(f"frame header is not JSON: {exc}") from None
        if not isinstance(header, dict):
            raise ProtocolError("frame header is not a JSON object")
        return kind, header, body

    def _read_exactly(self, length):
        data = self._reader.read(length)
        if len(data) != length:
            raise ProtocolError("connection closed in the middle of a frame")
        return data


# --------------------------------------------------------------------------- logs

_invocation = threading.local()


def current_invocation_id():
    return getattr(_invocation, "id", None)


class LogStream(io.TextIOBase):
    """Replaces sys.stdout/sys.stderr: each whole line becomes a LOG frame tagged
    with the id of the invocation running on the writing thread."""

    def __init__(self, channel, name, fd):
        super().__init__()
        self._channel = channel
        self._stream = name
        self._fd = fd
        self._lock = threading.Lock()
        self._partial_lines = {}  # invocation id (None outside invocations) -> unfinished line

    encoding = "utf-8"
    errors = "backslashreplace"
    line_buffering = True

    @property
    def name(self):
        return f"<{self._stream}>"

    def writable(self):
        return True

    def isatty(self):
        return False

    def fileno(self):
        # Code that hands sys.stdout to a subprocess gets the real pipe, which
        # Gale logs with the instance id only (docs/protocol.md, "Logs").
        return self._fd

    def flush(self):
        """Whole lines are already sent; partial ones wait for their newline or
        for the end of the invocation."""

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        invocation_id = current_invocation_id()
        with self._lock:
            pending = self._partial_lines.pop(invocation_id, "") + text
            cut = pending.rfind("\n") + 1
            if len(pending) - cut > _LONGEST_PARTIAL_LINE:
                cut = len(pending)
            if cut < len(pending):
                self._partial_lines[invocation_id] = pending[cut:]
        if cut:
            self._send(invocation_id, pending, cut)
        return len(text)

    def end_invocation(self, invocation_id):
        with self._lock:
            rest = self._partial_lines.pop(invocation_id, None)
        if rest:
            self._send(invocation_id, rest, len(rest))

    def flush_all(self):
        with self._lock:
            pending, self._partial_lines = self._partial_lines, {}
        for invocation_id, rest in pending.items():
            self._send(invocation_id, rest, len(rest))

    def _send(self, invocation_id, text, end):
        """text[:end] as LOG frames of whole lines, each at most _LOG_FRAME_CHARS; a longer line goes in pieces.
        Slicing the text as it goes keeps a print of 100 MB from costing copies of 100 MB (the memory limit)."""
        header = {"id": invocation_id, "stream": self._stream}
        start = 0
        while start < end:
            stop = min(end, start + _LOG_FRAME_CHARS)
            if stop < end:
                newline = text.rfind("\n", start, stop)
                if newline >= start:
                    stop = newline + 1
            piece = text[start:stop]
            if not piece.endswith("\n"):
                piece += "\n"
            self._channel.send(LOG, header, piece.encode("utf-8", "backslashreplace"))
            start = stop


# --------------------------------------------------------------------------- settings

class Settings:
    """The GALE_* environment, read once."""

    def __init__(self, env):
        self.socket_path = env.get("GALE_SOCKET", "")
        self.instance_id = env.get("GALE_INSTANCE_ID", "")
        self.nonce = env.get("GALE_INSTANCE_NONCE", "")
        self.function = env.get("GALE_FUNCTION", "")
        self.entry_point = env.get("GALE_ENTRY_POINT") or self.function.replace("-", "_")
        self.entry_module = env.get("GALE_ENTRY_MODULE") or "main.py"
        self.signature = (env.get("GALE_SIGNATURE") or "auto").strip().lower()
        self.version = env.get("GALE_VERSION", "")
        self.memory_mb = _int_or(env.get("GALE_MEMORY_MB"), 256)
        self.concurrency = max(1, _int_or(env.get("GALE_CONCURRENCY"), 1))
        self.url_prefix = env.get("GALE_URL_PREFIX", "").rstrip("/")


def _int_or(text, default):
    try:
        return int(text)
    except (TypeError, ValueError):
        return default


# --------------------------------------------------------------------------- loading

def load_function(settings, bundle_root):
    """Import the entry module and wrap its entry point; returns (signature, adapter)."""
    module = import_entry_module(bundle_root, settings.entry_module)
    function = resolve_entry_point(module, settings.entry_point, settings.entry_module)
    signature = detect_signature(function, settings.signature)
    if signature == "event":
        return signature, EventAdapter(function, settings)
    if signature == "background":
        return signature, BackgroundAdapter(function, settings)
    adapter = WsgiAdapter(build_flask_app(function, module.__name__) if signature == "http" else function, settings)
    if signature == "http" and settings.signature == "auto":
        # def f(cloud_event): a trigger's event comes as a CloudEvent; an explicit http signature gets the request.
        adapter = CloudEventAdapter(function, adapter)
    return signature, adapter


def import_entry_module(bundle_root, module_file):
    path = os.path.join(bundle_root, module_file)
    if not os.path.isfile(path):
        raise LoadFailure("entry_point", f"{module_file} not found in the bundle; "
                                         f".py files present: {describe_python_files(bundle_root)}")
    # The module's own directory first, then the bundle root, as `python3 main.py` would.
    for directory in (bundle_root, os.path.dirname(path)):
        if sys.path[:1] != [directory]:
            sys.path.insert(0, directory)
    name = _module_name(bundle_root, module_file)
    try:
        if "." in name:  # a package's module, imported as such: its relative imports work (`myapp.api:app`)
            return importlib.import_module(name)
        return _exec_module(name, path)
    except SyntaxError as exc:
        raise LoadFailure("syntax", _describe_syntax_error(exc, bundle_root), format_user_traceback(exc))
    except ImportError as exc:
        raise LoadFailure("import", str(exc), format_user_traceback(exc))
    except (Exception, SystemExit) as exc:
        raise LoadFailure("error", describe_exception(exc), format_user_traceback(exc))


def _module_name(bundle_root, module_file):
    """The name to import ``module_file`` by: its dotted path when it sits in a package (its folder
    has an ``__init__.py``, every part a Python name), else its file's stem, as ``python3 main.py``."""
    parts = os.path.normpath(module_file)[:-len(".py")].split(os.sep)
    folder = os.path.join(bundle_root, *parts[:-1])
    if len(parts) > 1 and all(p.isidentifier() for p in parts) and os.path.isfile(os.path.join(folder, "__init__.py")):
        return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
    return parts[-1]


def _exec_module(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    # Registered under its own name before running, like a normal import, so
    # pickle and `from main import X` inside the bundle find the same module.
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def describe_python_files(root, limit=20):
    found = []
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith(".") and d != "__pycache__")
        for file in sorted(files):
            if file.endswith(".py"):
                found.append(os.path.relpath(os.path.join(directory, file), root))
                if len(found) > limit:
                    return ", ".join(found[:limit]) + ", ..."
    return ", ".join(found) if found else "none"


def resolve_entry_point(module, name, module_file):
    if not name:
        raise LoadFailure("entry_point", "no entry point configured (GALE_ENTRY_POINT is empty)")
    missing = object()
    function = getattr(module, name, missing)
    if function is missing:
        problem = f"entry point '{name}' not found in {module_file}"
    elif not callable(function):
        problem = f"entry point '{name}' in {module_file} is a {type(function).__name__}, not a callable"
    else:
        return function
    defined = ", ".join(callables_defined_in(module)) or "none"
    raise LoadFailure("entry_point", f"{problem}; callables defined there: {defined}")


def callables_defined_in(module):
    names = []
    for name, value in vars(module).items():
        if name.startswith("_") or not callable(value):
            continue
        # Functions and classes must come from the module itself (not `from x import y`);
        # callable instances such as a Flask app count wherever their class lives.
        if inspect.isfunction(value) or inspect.isclass(value) or inspect.isbuiltin(value):
            if getattr(value, "__module__", None) != module.__name__:
                continue
        names.append(name)
    return names


def detect_signature(function, requested):
    if requested in SIGNATURES:
        return requested
    if requested != "auto":
        raise LoadFailure("error", f"GALE_SIGNATURE must be auto, http, event, wsgi or background, not '{requested}'")
    flask = sys.modules.get("flask")
    if flask is not None and isinstance(function, flask.Flask):
        return "wsgi"
    parameters = _positional_parameters(function)
    if parameters[:2] == ["environ", "start_response"]:
        return "wsgi"
    return "event" if len(parameters) == 2 else "http"


def _positional_parameters(function):
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return []
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [p.name for p in parameters if p.kind in positional]


def build_flask_app(function, import_name):
    """One Flask app whose every route calls the user's function, as Cloud Functions does."""
    try:
        import flask
    except ImportError as exc:
        message = FLASK_MISSING if exc.name == "flask" else f"Flask is installed but cannot be imported: {exc}"
        raise LoadFailure("dependency", message, format_user_traceback(exc)) from None

    # import_name makes templates/ in the bundle work; no static folder, so
    # /static/... reaches the function like every other path.
    app = flask.Flask(import_name, static_folder=None)
    app.config["PROPAGATE_EXCEPTIONS"] = True  # raised errors become ERROR frames, not HTML 500s
    app.url_map.merge_slashes = False  # "/a//b" is the function's business, not a redirect

    def view(path):
        return function(flask.request)

    for rule, defaults in (("/", {"path": ""}), ("/<path:path>", None)):
        app.add_url_rule(rule, "function", view, defaults=defaults, methods=HTTP_METHODS,
                         provide_automatic_options=False)
    return app.wsgi_app


# --------------------------------------------------------------------------- errors

def describe_exception(exc):
    """'ZeroDivisionError: division by zero', on one line."""
    try:
        lines = str(exc).strip().splitlines()
    except Exception:  # a broken __str__ must not take the instance down
        lines = ["<exception str() failed>"]
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def _describe_syntax_error(exc, bundle_root):
    file = exc.filename or "?"
    if os.path.isabs(file) and file.startswith(bundle_root + os.sep):
        file = os.path.relpath(file, bundle_root)
    return f"{exc.msg} ({file}, line {exc.lineno})"


def format_user_traceback(exc):
    """The traceback without the leading frames of Gale's own plumbing."""
    plumbing = _plumbing_directories()
    tb = exc.__traceback__
    while tb is not None and _is_plumbing(tb.tb_frame.f_code.co_filename, plumbing):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


def _plumbing_directories():
    directories = []
    for name in ("flask", "werkzeug"):
        module = sys.modules.get(name)
        if module is not None and getattr(module, "__file__", None):
            directories.append(os.path.dirname(module.__file__) + os.sep)
    return tuple(directories)


def _is_plumbing(filename, directories):
    return (filename == __file__ or filename.startswith("<frozen importlib")
            or (bool(directories) and filename.startswith(directories)))


# --------------------------------------------------------------------------- WSGI

class WsgiAdapter:
    """Calls a WSGI application (the user's, or the Flask app wrapping an http function)."""

    def __init__(self, app, settings):
        self.app = app
        self.base_environ = {
            "SCRIPT_NAME": settings.url_prefix,
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.version": (1, 0),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": settings.concurrency > 1,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,
        }

    def __call__(self, header, body):
        if is_keep_warm(header):
            return 204, [("X-Gale-Keep-Warm", "1")], b""
        return run_wsgi(self.app, build_environ(header, body, self.base_environ))


KEEP_WARM_PREFIX = "keep-warm-"


def is_keep_warm(header):
    """A keep-warm schedule's firing (a Zappa project's keep_warm, docs/schedules.md): like Zappa's handler,
    the instance answers it without running a request through the app. The gateway drops X-Gale-Schedule
    from callers without the admin token, so only a schedule can send it."""
    for name, value in header.get("headers") or ():
        if name.lower() == "x-gale-schedule" and value.startswith(KEEP_WARM_PREFIX):
            return True
    return False


def build_environ(header, body, base_environ):
    """The PEP 3333 environ for one INVOKE frame."""
    environ = base_environ.copy()
    scheme = header.get("scheme") or "http"
    server_name, server_port = split_host(header.get("host"), scheme)
    environ.update({
        "REQUEST_METHOD": header["method"],
        "PATH_INFO": wsgi_path(header["path"]),
        "QUERY_STRING": header.get("query") or "",
        "SERVER_NAME": server_name,
        "SERVER_PORT": server_port,
        "REMOTE_ADDR": header.get("remoteAddr") or "",
        "wsgi.url_scheme": scheme,
        "wsgi.input": io.BytesIO(body),
    })
    has_length = bool(body)
    for name, value in header.get("headers") or ():
        key = name.upper().replace("-", "_")
        if key == "CONTENT_TYPE":
            environ[key] = value
        elif key == "CONTENT_LENGTH":
            has_length = True  # the body is complete, so its real length wins
        elif "_" not in name:  # like gunicorn: X_User would be spoofable as X-User
            key = "HTTP_" + key
            if key in environ:
                value = environ[key] + ("; " if key == "HTTP_COOKIE" else ", ") + value
            environ[key] = value
    if has_length:
        environ["CONTENT_LENGTH"] = str(len(body))
    return environ


def wsgi_path(path):
    """Percent-decoded, as bytes-in-a-latin-1-str, which is what WSGI wants in PATH_INFO."""
    if "%" not in path and path.isascii():
        return path
    return unquote_to_bytes(path).decode("latin-1")


def split_host(host, scheme):
    default_port = "443" if scheme == "https" else "80"
    if not host:
        return "localhost", default_port
    name, colon, port = host.rpartition(":")
    if not colon or name.endswith(":") or not port.isdigit():  # no port, or a bare IPv6 address
        return host, default_port
    return name, port


def run_wsgi(app, environ):
    """Call a WSGI app and collect (status, headers, body)."""
    started = []
    chunks = []

    def write(data):
        if data:
            chunks.append(data)

    def start_response(status, headers, exc_info=None):
        if exc_info is not None:
            try:
                if chunks:  # a real server would have sent the headers by now
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif started:
            raise AssertionError("start_response called a second time without exc_info")
        started[:] = (status, headers)
        return write

    iterable = app(environ, start_response)
    try:
        for chunk in iterable:
            if chunk:
                chunks.append(chunk)
    finally:
        close = getattr(iterable, "close", None)
        if close is not None:
            close()
    if not started:
        raise RuntimeError("the WSGI application returned without calling start_response")
    status, headers = started
    return int(status.split(None, 1)[0]), headers, b"".join(chunks)


# --------------------------------------------------------------------------- Lambda

class EventAdapter:
    """Calls handler(event, context) with an API Gateway (REST, proxy) event."""

    def __init__(self, handler, settings):
        self.handler = handler
        self.settings = settings

    def __call__(self, header, body):
        event = self.build_event(header, body)
        context = LambdaContext(header, self.settings)
        return lambda_response(self.handler(event, context))

    def build_event(self, header, body):
        triggered = _trigger_event(header, body)
        if triggered is not None:
            from gale import _events
            return _events.lambda_event(triggered)
        scheduled = scheduled_event(header, body)
        if scheduled is not None:
            return scheduled
        path = unquote(header["path"])
        full_path = self.settings.url_prefix + path
        method = header["method"]
        headers, multi_headers = {}, {}
        content_type = ""
        for name, value in header.get("headers") or ():
            headers[name] = value
            multi_headers.setdefault(name, []).append(value)
            if name.lower() == "content-type":
                content_type = value
        query, multi_query = {}, {}
        for name, value in parse_qsl(header.get("query") or "", keep_blank_values=True):
            query[name] = value
            multi_query.setdefault(name, []).append(value)
        event_body, is_base64 = _event_body(body, content_type)
        return {
            "resource": "/{proxy+}",
            "path": full_path,
            "httpMethod": method,
            "headers": headers,
            "multiValueHeaders": multi_headers,
            "queryStringParameters": query or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": {"proxy": path[1:]} if path != "/" else None,
            "stageVariables": None,
            "requestContext": {
                "requestId": header.get("id"),
                "httpMethod": method,
                "path": full_path,
                "stage": "gale",
                "identity": {"sourceIp": header.get("remoteAddr")},
                "requestTimeEpoch": int(time.time() * 1000),
            },
            "body": event_body,
            "isBase64Encoded": is_base64,
        }


def _trigger_event(header, body):
    """The CloudEvent of a trigger's delivery (docs/triggers.md), or None; cheap for every other call."""
    for name, _ in header.get("headers") or ():
        if name.lower() == "x-gale-trigger":
            from gale import _events  # only functions that get events pay for the module
            return _events.from_request(header, body)
    return None


class CloudEventAdapter:
    """A one-argument function: its HTTP calls get a Flask request; a trigger's event gets a CloudEvent,
    as the Functions Framework passes one to ``def f(cloud_event)``."""

    def __init__(self, function, http_adapter):
        self.function = function
        self.http_adapter = http_adapter

    def __call__(self, header, body):
        event = _trigger_event(header, body)
        if event is None:
            return self.http_adapter(header, body)
        return lambda_response(self.function(event))


class BackgroundAdapter:
    """A Cloud Functions background function, ``def f(data, context)`` (signature "background"): a trigger's
    event arrives as Cloud Storage's object (or the state change) and a context; an HTTP call's JSON body is
    the data, or ``{"data": ..., "context": {...}}`` as the Functions Framework accepts it."""

    def __init__(self, function, settings):
        self.function = function
        self.settings = settings

    def __call__(self, header, body):
        from gale import _events
        event = _trigger_event(header, body)
        if event is not None:
            data, context = _events.background(event)
        else:
            data, context = self.from_http(header, body, _events)
        return lambda_response(self.function(data, context))

    @staticmethod
    def from_http(header, body, events):
        try:
            data = json.loads(body) if body else None
        except ValueError:
            data = body.decode("utf-8", "replace")
        context = {}
        if isinstance(data, dict) and "data" in data and isinstance(data.get("context"), dict):
            data, context = data["data"], data["context"]
        return data, events.BackgroundContext(context.get("eventId", header.get("id")), context.get("timestamp"),
                                              context.get("eventType", ""), context.get("resource", ""))


def scheduled_event(header, body):
    """The event of a call a Gale schedule made, or None for any other call.

    Gale's scheduler sends X-Gale-Schedule and X-Gale-Schedule-Time (the gateway drops them from
    any caller without the admin token). As EventBridge does for Lambda: without a payload the
    handler gets a "Scheduled Event"; with one, the payload is the event (EventBridge Scheduler's
    input)."""
    name = slot = None
    for key, value in header.get("headers") or ():
        lower = key.lower()
        if lower == "x-gale-schedule":
            name = value
        elif lower == "x-gale-schedule-time":
            slot = value
    if name is None:
        return None
    if body:
        return json.loads(body)
    return {
        "version": "0",
        "id": header.get("id"),
        "detail-type": "Scheduled Event",
        "source": "gale.schedule",
        "account": "",
        "time": slot,
        "region": "",
        "resources": [f"gale:schedule/{name}"],
        "detail": {},
    }


def _event_body(body, content_type):
    if not body:
        return None, False
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type not in BINARY_MEDIA_TYPES and not media_type.startswith(BINARY_MEDIA_PREFIXES):
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode("ascii"), True


class LambdaContext:
    """What AWS Lambda passes as `context`, with the fields handlers actually use."""

    identity = None
    client_context = None

    def __init__(self, header, settings):
        self.aws_request_id = header.get("id")
        self.function_name = settings.function
        self.function_version = str(settings.version)
        self.invoked_function_arn = f"arn:gale:function:{settings.function}"
        self.memory_limit_in_mb = settings.memory_mb
        self.log_group_name = f"/gale/{settings.function}"
        self.log_stream_name = settings.instance_id
        deadline = header.get("deadlineMs")
        if deadline is None:
            deadline = int(time.time() * 1000) + int(header.get("timeoutMs") or 60_000)
        self._deadline_ms = deadline

    def get_remaining_time_in_millis(self):
        return max(0, self._deadline_ms - int(time.time() * 1000))


def lambda_response(result):
    """Map a Lambda handler's return value to (status, headers, body) like API Gateway does."""
    if isinstance(result, dict) and "statusCode" in result:
        return _proxy_response(result)
    if result is None:
        return 200, [], b""
    if isinstance(result, str):
        return 200, [("Content-Type", "text/plain; charset=utf-8")], result.encode()
    if isinstance(result, (bytes, bytearray)):
        return 200, [("Content-Type", "application/octet-stream")], bytes(result)
    return 200, [("Content-Type", "application/json")], json.dumps(result).encode()


def _proxy_response(result):
    multi_headers = result.get("multiValueHeaders") or {}
    repeated = {name.lower() for name in multi_headers}
    # As in API Gateway, multiValueHeaders wins over headers for the same name.
    headers = [(name, str(value)) for name, value in (result.get("headers") or {}).items()
               if name.lower() not in repeated]
    headers += [(name, str(value)) for name, values in multi_headers.items() for value in values]

    body = result.get("body")
    if body is None:
        body = b""
    elif isinstance(body, str):
        body = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
    elif not isinstance(body, (bytes, bytearray)):
        body = json.dumps(body).encode()

    if body and not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", _guess_content_type(body, result.get("isBase64Encoded"))))
    return int(result["statusCode"]), headers, bytes(body)


def _guess_content_type(body, is_base64):
    if is_base64:
        return "application/octet-stream"
    text = body.strip()
    if (text.startswith(b"{") and text.endswith(b"}")) or (text.startswith(b"[") and text.endswith(b"]")):
        return "application/json"
    return "text/plain; charset=utf-8"


# --------------------------------------------------------------------------- the instance

class Instance:
    """One function instance: connect, load, serve, exit."""

    def __init__(self, settings, bundle_root, after_load=None, channel=None):
        self.settings = settings
        self.bundle_root = bundle_root
        self.after_load = after_load  # the zygote's hook (gale/_zygote.py); called once READY is sent
        self.channel = channel  # connected and greeted already when the instance joined over TCP (gale/_remote.py)
        self.adapter = None
        self.log_streams = ()
        self.stopping = False
        self._waiting_for_frame = False

    def run(self):
        signal.signal(signal.SIGTERM, self._on_sigterm)
        if self.channel is None:
            self.channel = Channel.connect(self.settings.socket_path)
            self.channel.send(HELLO, {
                "instance": self.settings.instance_id,
                "nonce": self.settings.nonce,
                "pid": os.getpid(),
                "python": "%d.%d.%d" % sys.version_info[:3],
            })
        self._capture_output()
        if not self._load():
            self.exit(1)
        if self.after_load is not None:
            self.after_load()
        try:
            self._serve()
        except (ConnectionError, _Terminated):
            pass  # Gale went away, or SIGTERM arrived between invocations
        self.exit(0)

    def _capture_output(self):
        stdout = LogStream(self.channel, "stdout", 1)
        stderr = LogStream(self.channel, "stderr", 2)
        self.log_streams = (stdout, stderr)
        sys.stdout, sys.stderr = stdout, stderr

    def _load(self):
        started = time.monotonic()
        try:
            signature, self.adapter = load_function(self.settings, self.bundle_root)
        except LoadFailure as failure:
            self.channel.send(LOAD_FAILED, {"kind": failure.kind, "error": failure.error,
                                            "traceback": failure.traceback_text})
            return False
        load_ms = round((time.monotonic() - started) * 1000)
        self.channel.send(READY, {"signature": signature, "loadMs": load_ms})
        return True

    def _serve(self):
        if self.settings.concurrency == 1:
            self._serve_frames(self.handle)
            return
        from concurrent.futures import ThreadPoolExecutor  # not needed, so not paid for, at concurrency 1
        pool = ThreadPoolExecutor(self.settings.concurrency, thread_name_prefix="gale-invoke")
        try:
            self._serve_frames(lambda header, body: pool.submit(self.handle, header, body))
        finally:
            if self.stopping:  # SIGTERM: the calls in flight answer first
                pool.shutdown(wait=True)

    def _serve_frames(self, dispatch):
        while not self.stopping:
            self._waiting_for_frame = True
            try:
                frame = self.channel.receive()
            finally:
                self._waiting_for_frame = False
            if frame is None:
                return
            kind, header, body = frame
            if kind == INVOKE:
                dispatch(header, body)
            elif kind == SHUTDOWN:
                return
            else:
                raise ProtocolError(f"unexpected frame type {kind!r}")

    def handle(self, header, body):
        """Answer one INVOKE with exactly one RESPONSE or ERROR."""
        invocation_id = header.get("id")
        _invocation.id = invocation_id
        try:
            status, headers, out = self.adapter(header, body)
            frame = encode_frame(RESPONSE, {"id": invocation_id, "status": status, "headers": headers}, out)
        except (Exception, SystemExit) as exc:  # a stray sys.exit() fails the call, not the instance
            frame = encode_frame(ERROR, {"id": invocation_id, "error": describe_exception(exc),
                                         "traceback": format_user_traceback(exc)})
        finally:
            _invocation.id = None
            for stream in self.log_streams:
                stream.end_invocation(invocation_id)
        try:
            self.channel.send_frame(frame)
        except ConnectionError:
            pass  # Gale is gone; the reader sees EOF and exits

    def _on_sigterm(self, signum, frame):
        self.stopping = True
        if self._waiting_for_frame:
            raise _Terminated()

    def exit(self, code):
        try:
            for stream in self.log_streams:
                stream.flush_all()
        except OSError:
            pass
        for stream in (sys.__stdout__, sys.__stderr__):
            try:
                stream.flush()
            except (OSError, ValueError, AttributeError):
                pass
        os._exit(code)


# --------------------------------------------------------------------------- process setup

def _forget_script_directory():
    """Run as a script, Python put gale/ itself on sys.path; user code must not
    import our internals as top-level modules."""
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or ".") != here]


def _scrub_secrets(environ):
    for name in SECRET_VARIABLES:
        environ.pop(name, None)


def _occupy_standard_fds():
    """If Gale started us with fd 0, 1 or 2 closed, the socket could land there and
    a stray print from C code would corrupt the protocol; park /dev/null on them."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            os.open(os.devnull, os.O_RDWR)  # takes the lowest free descriptor, i.e. fd


def main(after_load=None, channel=None):
    """Run the instance; never returns. A zygote's forked child calls this too, with
    ``after_load`` to hear when user code has loaded; an instance that joined over TCP
    (gale/_remote.py) with its ``channel``, HELLO sent."""
    _forget_script_directory()
    settings = Settings(os.environ)
    _scrub_secrets(os.environ)
    if channel is None and not settings.socket_path:
        sys.exit("gale bootstrap: GALE_SOCKET is not set; this program is started by Gale")
    _occupy_standard_fds()
    instance = Instance(settings, os.getcwd(), after_load, channel)
    try:
        instance.run()
    except ProtocolError as exc:
        print(f"gale bootstrap: ProtocolError: {exc}", file=sys.__stderr__)
        instance.exit(1)
    except OSError as exc:
        if instance.channel is None:
            print(f"gale bootstrap: cannot connect to Gale at {settings.socket_path}: {exc}", file=sys.__stderr__)
        else:  # e.g. EBADF: user code closed the descriptor (os.closerange(3, ...) in a library)
            print(f"gale bootstrap: lost the connection to Gale ({type(exc).__name__}: {exc}); did the function "
                  "close a file descriptor it did not open?", file=sys.__stderr__)
        instance.exit(1)


if __name__ == "__main__":
    main()
