"""A small client for Gale's admin API (docs/api.md) and map jobs (docs/jobs.md).

Stdlib-only. The server is found like the ``gale`` CLI finds it: the ``url`` and
``token`` arguments, else ``GALE_URL`` and ``GALE_TOKEN``, else the data dir of a
local ``gale server`` (``$GALE_HOME``, else ``./.gale``), where the server writes
``server.json`` ({"url": ...}) and ``admin-token``.
"""

import http.client
import io
import json
import os
import re
import threading
import time
import urllib.parse
import uuid
import zipfile

from gale.errors import ApiError, GaleError, GaleUnreachableError

DEFAULT_TIMEOUT = 60.0
# A results stream waits for tasks; after this long without a line it reconnects.
STREAM_READ_TIMEOUT = 120.0
# Most bytes read from a results stream at once; a line (one result) can be megabytes.
STREAM_READ_BYTES = 1 << 20
# Folders that never belong in a bundle (the same list as the CLI's).
SKIPPED_FOLDERS = frozenset({".git", "__pycache__", ".gale", ".venv", "venv", "node_modules"})
_STALE_CONNECTION_ERRORS = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class DeployError(GaleError):
    """A deploy ended FAILED; ``version`` is the version as the server described it."""

    def __init__(self, message, version=None):
        super().__init__(message)
        self.version = version or {}


class Response:
    """One HTTP answer: ``status``, ``headers`` (case-insensitive), ``body`` (bytes)."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body) if self.body else None

    def __repr__(self):
        return f"<Response {self.status}, {len(self.body)} bytes>"


def resolve_server(url=None, token=None, environ=None):
    """(url, token, where the url came from), following the CLI's rules."""
    env = os.environ if environ is None else environ
    home = env.get("GALE_HOME") or ".gale"
    source = "the url argument"
    if not url and env.get("GALE_URL"):
        url, source = env["GALE_URL"], "GALE_URL"
    if not url:
        url, source = _read_server_url(os.path.join(home, "server.json")), f"{home}/server.json"
    if not url:
        raise GaleUnreachableError(
            f"no Gale server configured: pass url=..., set GALE_URL, or start `gale server` "
            f"(it writes {os.path.abspath(home)}/server.json, which the client reads)")
    if token is None:
        token = env.get("GALE_TOKEN") or _read_first_line(os.path.join(home, "admin-token"))
    return url.rstrip("/"), token, source


def _read_server_url(path):
    try:
        with open(path, encoding="utf-8") as file:
            url = json.load(file).get("url")
    except FileNotFoundError:
        return None
    except (OSError, ValueError, AttributeError) as exc:
        raise GaleUnreachableError(f"cannot read {path} ({exc}): delete it and restart `gale server`, "
                                   f"or set GALE_URL") from None
    return url or None


def _read_first_line(path):
    try:
        with open(path, encoding="utf-8") as file:
            return file.readline().strip() or None
    except FileNotFoundError:
        return None


class Client:
    """Talks to one Gale server. Thread-safe: each thread keeps its own keep-alive connection."""

    def __init__(self, url=None, token=None, timeout=DEFAULT_TIMEOUT):
        self.url, self.token, self.url_source = resolve_server(url, token)
        parts = urllib.parse.urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise GaleError(f"Gale URL {self.url!r} (from {self.url_source}) is not an http(s) URL")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._base_path = parts.path.rstrip("/")
        self.timeout = timeout
        self._local = threading.local()
        self._connections = set()
        self._connections_lock = threading.Lock()
        self._idle_streams = []  # keep-alive connections of streams that ended cleanly, for the next stream

    def __repr__(self):
        return f"gale.Client({self.url!r})"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Close the keep-alive connections of every thread."""
        with self._connections_lock:
            connections, self._connections = self._connections, set()
            connections.update(self._idle_streams)
            self._idle_streams = []
        for connection in connections:
            connection.close()

    def release(self):
        """Close the calling thread's keep-alive connection (for threads about to end)."""
        self._drop_connection()

    # ----------------------------------------------------------------- HTTP

    def _new_connection(self, timeout):
        cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        return cls(self._host, self._port, timeout=timeout)

    def _headers(self, extra):
        headers = {"Accept": "application/json", "User-Agent": "gale-python"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        headers.update(extra or {})
        return headers

    def request(self, method, path, body=None, headers=None, query=None, timeout=None, check=True):
        """Send one request and read the whole answer. ``body`` may be bytes, or any
        JSON value (sent as application/json). Raises ApiError for 4xx/5xx when ``check``."""
        headers = dict(headers or {})
        if body is not None and not isinstance(body, (bytes, bytearray)):
            body = json.dumps(body, separators=(",", ":")).encode()
            headers.setdefault("Content-Type", "application/json")
        target = self._target(path, query)
        for attempt in (1, 2):
            connection, reused = self._connection()
            try:
                connection.timeout = timeout or self.timeout
                if connection.sock is not None:
                    connection.sock.settimeout(connection.timeout)
                connection.request(method, target, body=body, headers=self._headers(headers))
                answer = connection.getresponse()
                response = Response(answer.status, answer.headers, answer.read())
                if answer.will_close:
                    self._drop_connection()
                break
            except _STALE_CONNECTION_ERRORS:
                self._drop_connection()
                if reused and attempt == 1:
                    continue  # the server closed an idle keep-alive connection; the request never arrived
                raise self._unreachable(method, path)
            except (OSError, http.client.HTTPException) as exc:
                self._drop_connection()
                if isinstance(exc, TimeoutError):
                    raise GaleError(f"{method} {self.url}{path}: no answer within {connection.timeout:g}s") from exc
                raise self._unreachable(method, path, exc) from exc
        if check and response.status >= 400:
            raise api_error(method, path, response)
        return response

    def _target(self, path, query):
        target = self._base_path + path
        if query:
            target += "?" + urllib.parse.urlencode({k: _query_value(v) for k, v in query.items() if v is not None})
        return target

    def _connection(self):
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            return connection, True
        connection = self._new_connection(self.timeout)
        self._local.connection = connection
        with self._connections_lock:
            self._connections.add(connection)
        return connection, False

    def _drop_connection(self):
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            with self._connections_lock:
                self._connections.discard(connection)
            connection.close()

    def _unreachable(self, method, path, exc=None):
        reason = f": {exc}" if exc else ""
        return GaleUnreachableError(f"{method} {self.url}{path} failed{reason}; no Gale server answers at "
                                    f"{self.url} (from {self.url_source}). Start one with `gale server`, "
                                    f"or point GALE_URL at a running one")

    def _json(self, method, path, body=None, query=None, timeout=None):
        return self.request(method, path, body=body, query=query, timeout=timeout).json()

    def stream_lines(self, path, query=None, read_timeout=STREAM_READ_TIMEOUT, method="GET", body=None, on_answer=None):
        """An NDJSON stream (GET, or a POST of a JSON ``body``) on a connection of its own; yields one
        parsed line at a time. A stream read to its end leaves its connection open for the next one.
        ``on_answer`` is called with the http.client response once its headers are in."""
        headers = {"Accept": "application/x-ndjson"}
        if body is not None:
            body = json.dumps(body, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
        connection, reused = self._stream_connection(read_timeout)
        ended = False
        try:
            try:
                connection.request(method, self._target(path, query), body=body, headers=self._headers(headers))
                answer = connection.getresponse()
            except _STALE_CONNECTION_ERRORS as exc:
                if not reused:
                    raise self._unreachable(method, path, exc) from exc
                connection.close()  # the server closed it while idle; the request never arrived
                connection, reused = self._stream_connection(read_timeout, idle=False)
                connection.request(method, self._target(path, query), body=body, headers=self._headers(headers))
                answer = connection.getresponse()
            if answer.status >= 400:
                raise api_error(method, path, Response(answer.status, answer.headers, answer.read()))
            if on_answer is not None:
                on_answer(answer)
            for line in _lines(answer):
                line = line.strip()
                if line:
                    yield json.loads(line)
            answer.close()  # read to its end: the connection is ready for the next request
            ended = not answer.will_close
        except TimeoutError:
            raise  # the caller decides whether a quiet stream is worth reconnecting
        except (OSError, http.client.HTTPException) as exc:
            raise self._unreachable(method, path, exc) from exc
        finally:
            if ended:
                with self._connections_lock:
                    self._idle_streams.append(connection)
            else:
                connection.close()

    def _stream_connection(self, read_timeout, idle=True):
        """(connection, reused): an idle one a finished stream left, else a new one."""
        connection = None
        if idle:
            with self._connections_lock:
                connection = self._idle_streams.pop() if self._idle_streams else None
        if connection is None:
            return self._new_connection(read_timeout), False
        connection.timeout = read_timeout
        if connection.sock is not None:
            connection.sock.settimeout(read_timeout)
        return connection, True

    # ----------------------------------------------------------------- functions

    def health(self):
        return self._json("GET", "/healthz")

    def functions(self):
        return _items(self._json("GET", "/v1/functions"))

    def function(self, name):
        """The function's summary with its versions (ApiError with status 404 when there is none)."""
        return self._json("GET", f"/v1/functions/{_quote(name)}")

    def version(self, name, version):
        return self._json("GET", f"/v1/functions/{_quote(name)}/versions/{int(version)}")

    def delete_function(self, name):
        self.request("DELETE", f"/v1/functions/{_quote(name)}")

    def deploy(self, name, source, config=None, wait=True, timeout=300.0):
        """Deploy a new version: ``source`` is a folder, a .zip file, zip bytes, or a dict
        {path in bundle: str or bytes}. ``config`` holds only the keys to set (docs/api.md).
        With ``wait``, returns once the version is ACTIVE and raises DeployError if it FAILED."""
        bundle = make_bundle(source)
        boundary = "gale-" + uuid.uuid4().hex
        body = _multipart(boundary, [
            ("config", None, "application/json", json.dumps(config or {}).encode()),
            ("bundle", "bundle.zip", "application/zip", bundle),
        ])
        path = f"/v1/functions/{_quote(name)}/versions"
        version = self.request("POST", path, body=body, timeout=max(self.timeout, 120.0),
                               headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}).json()
        return self.wait_for_version(name, version, timeout) if wait else version

    def wait_for_version(self, name, version, timeout=300.0):
        deadline = time.monotonic() + timeout
        delay = 0.05
        while version.get("state") == "DEPLOYING":
            if time.monotonic() > deadline:
                raise DeployError(f"{name} v{version.get('version')} still DEPLOYING after {timeout:g}s", version)
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
            version = self.version(name, version["version"])
        if version.get("state") == "FAILED":
            raise DeployError(f"deploy of {name} v{version.get('version')} failed: {version.get('reason')}", version)
        return version

    def call(self, name, body=None, path="", method="POST", query=None, headers=None, timeout=None, check=True):
        """Call a deployed function like any HTTP client: ``/fn/NAME[/path]``. A dict or list
        ``body`` is sent as JSON. Returns a Response; raises ApiError on 4xx/5xx when ``check``."""
        if path and not path.startswith("/"):
            path = "/" + path
        return self.request(method, f"/fn/{_quote(name)}{path}", body=body, headers=headers, query=query,
                            timeout=timeout, check=check)

    # ----------------------------------------------------------------- access keys (docs/access.md)

    def create_key(self, name, scopes, rate=None, burst=None, expires=None):
        """Create an access key: ``scopes`` like ["deploy", "invoke:scorer"], ``rate`` like "10/s",
        ``expires`` a duration ("30d") or a date. The answer's ``secret`` is the key, shown this once."""
        body = {"name": name, "scopes": list(scopes), "rate": rate, "burst": burst}
        if expires is not None:
            duration = re.fullmatch(r"\d+(\.\d+)?\s*(ms|s|m|h|d)?", str(expires).strip(), re.IGNORECASE)
            body["expiresIn" if duration else "expiresAt"] = str(expires)
        return self._json("POST", "/v1/keys", body={k: v for k, v in body.items() if v is not None})

    def keys(self, all=False):
        """Keys (never the keys themselves): name, id, scopes, rate, state, created, last used, expiry."""
        return self._json("GET", "/v1/keys", query={"all": "true" if all else None})

    def revoke_key(self, name):
        """Revoke the live key with this name or id: refused (401) from its next request on."""
        return self._json("DELETE", f"/v1/keys/{_quote(name)}")

    def audit(self, since=None, function=None, limit=None):
        """Audit log entries, newest first: ``since`` "1d", "12h" or a date; ``function`` a name."""
        return self._json("GET", "/v1/audit", query={"since": since, "function": function, "limit": limit})

    # ----------------------------------------------------------------- async calls (docs/async.md)

    def call_async(self, name, body=None, path="", method="POST", query=None, headers=None):
        """Call a function in the background (``Prefer: respond-async``): Gale stores the call before
        answering and retries it with the function's backoff. Returns the invocation id; follow it
        with :meth:`invocation` or :meth:`wait_invocation`."""
        answer = self.call(name, body=body, path=path, method=method, query=query,
                           headers=dict(headers or {}, Prefer="respond-async"))
        return answer.json()["invocationId"]

    def invocation(self, invocation_id):
        """An async call's status (QUEUED, RUNNING, SUCCEEDED, DEAD), attempts, result and error."""
        return self._json("GET", f"/v1/invocations/{_quote(invocation_id)}")

    def wait_invocation(self, invocation_id, timeout=300.0, poll=0.2):
        """The invocation once it SUCCEEDED or is DEAD; raises GaleError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            info = self.invocation(invocation_id)
            if info.get("status") in ("SUCCEEDED", "DEAD"):
                return info
            if time.monotonic() >= deadline:
                raise GaleError(f"invocation {invocation_id} is still {info.get('status')} after {timeout:g}s")
            time.sleep(poll)

    def dead_letters(self, name, limit=None):
        """The function's async calls whose last attempt failed, newest first, with input, error and traceback."""
        return _items(self._json("GET", f"/v1/functions/{_quote(name)}/dead-letters", query={"limit": limit}))

    def redrive(self, name, ids=None):
        """Queue the function's dead letters again (all, or those ``ids``), on the version now active."""
        return self._json("POST", f"/v1/functions/{_quote(name)}/dead-letters:redrive", body={"ids": list(ids)} if ids else {})

    def purge_dead_letters(self, name):
        return self._json("DELETE", f"/v1/functions/{_quote(name)}/dead-letters")

    # ----------------------------------------------------------------- triggers (docs/triggers.md)

    def triggers(self, name):
        """The function's triggers, each with its events' counts: pending, delivered, dead."""
        return _items(self._json("GET", f"/v1/functions/{_quote(name)}/triggers"))

    def add_trigger(self, name, source, events=None):
        """Call the function with each change under ``source`` (``state:NS/PREFIX`` or ``blob:BUCKET/PREFIX``)."""
        body = {"source": source}
        if events:
            body["events"] = list(events)
        return self._json("POST", f"/v1/functions/{_quote(name)}/triggers", body=body)

    def remove_trigger(self, name, trigger_id):
        return self.request("DELETE", f"/v1/functions/{_quote(name)}/triggers/{_quote(trigger_id)}")

    # ----------------------------------------------------------------- jobs

    def submit_job(self, function, inputs, context=None, parallelism=None, chunk_size=None, task_timeout=None,
                   retries=None, retry_backoff=None, stop_on_error=None, retry_function_errors=None,
                   context_once=None, context_ref=None, max_cpu_seconds=None):
        """POST /v1/jobs; returns the job (docs/jobs.md). Options left at None take the server's default.
        ``context_ref`` names the context of an earlier job (its ``contextId``) instead of sending it
        again; a server that does not hold it answers 409 (ApiError with status 409).
        ``max_cpu_seconds`` is the job's CPU budget (docs/cost.md): once its tasks used that much CPU
        time it starts no more and ends STOPPED_BUDGET, its results so far kept."""
        spec = _job_spec(function, inputs, context=context, parallelism=parallelism, chunkSize=chunk_size,
                         taskTimeout=_duration(task_timeout), retries=retries, retryBackoff=_duration(retry_backoff),
                         stopOnError=stop_on_error, retryFunctionErrors=retry_function_errors,
                         contextOnce=context_once, contextRef=context_ref, maxCpuSeconds=max_cpu_seconds)
        return self._json("POST", "/v1/jobs", body=spec, timeout=max(self.timeout, 120.0))

    def submit_job_and_follow(self, function, inputs, read_timeout=STREAM_READ_TIMEOUT, **options):
        """POST /v1/jobs?wait=true: one request that submits the job and streams its results.
        Returns (job, results, complete): the job as submit_job returns it, an iterator over its
        results in input order, as ``results(id, wait=True)`` yields them, and whether the whole
        answer is in already (the server ran the job while the request waited: reading the results
        waits for nothing). Same options as submit_job."""
        spec = _job_spec(function, inputs, context=options.get("context"), parallelism=options.get("parallelism"),
                         chunkSize=options.get("chunk_size"), taskTimeout=_duration(options.get("task_timeout")),
                         retries=options.get("retries"), retryBackoff=_duration(options.get("retry_backoff")),
                         stopOnError=options.get("stop_on_error"),
                         retryFunctionErrors=options.get("retry_function_errors"),
                         contextOnce=options.get("context_once"), contextRef=options.get("context_ref"),
                         maxCpuSeconds=options.get("max_cpu_seconds"))
        answered = {}
        lines = self.stream_lines("/v1/jobs", {"wait": "true"}, read_timeout, method="POST", body=spec,
                                  on_answer=lambda answer: answered.update(complete=not answer.chunked))
        try:
            job = next(lines)
        except StopIteration:
            raise GaleError("POST /v1/jobs?wait=true: the server answered without the job") from None
        return job, lines, answered.get("complete", False)

    def job(self, job_id):
        return self._json("GET", f"/v1/jobs/{_quote(job_id)}")

    def jobs(self, function=None, limit=None):
        return _items(self._json("GET", "/v1/jobs", query={"function": function, "limit": limit}))

    def results(self, job_id, after=-1, wait=True, read_timeout=STREAM_READ_TIMEOUT):
        """The job's results in input order, from index ``after + 1``, as dicts. With ``wait``
        the stream stays open and yields each result when it and all before it are done."""
        query = {"after": after, "wait": "true" if wait else None}
        return self.stream_lines(f"/v1/jobs/{_quote(job_id)}/results", query, read_timeout)

    def cancel(self, job_id):
        return self._json("DELETE", f"/v1/jobs/{_quote(job_id)}")

    # ----------------------------------------------------------------- cost (docs/cost.md)

    def cost(self, function=None, since=None, job=None, prices=None):
        """The cost report: what functions (``function``, or all) used since ``since`` ("30d", "12h",
        "2025-06-01"; the server's default is 30 days), or what map job ``job`` used, priced on each
        platform of the server's price table, with ``prices`` (a dict of prices-file keys) laid over it."""
        query = {"function": function, "since": since, "job": job}
        if prices is None:
            return self._json("GET", "/v1/cost", query=query)
        return self._json("POST", "/v1/cost", body=prices, query=query)


def _job_spec(function, inputs, **options):
    spec = {"function": function, "inputs": list(inputs)}
    spec.update({key: value for key, value in options.items() if value is not None})
    return spec


def _lines(answer):
    """The lines of a streamed body as they arrive. A line can be megabytes (a job result), so the
    body is read in the pieces the socket has, not in the small steps of readline."""
    pieces = []
    while True:
        data = answer.read1(STREAM_READ_BYTES)
        if not data:
            break
        start = 0
        while (end := data.find(b"\n", start)) >= 0:
            pieces.append(data[start:end])
            yield b"".join(pieces)
            pieces, start = [], end + 1
        if start < len(data):
            pieces.append(data[start:])
    if pieces:
        yield b"".join(pieces)


def api_error(method, path, response):
    try:
        message = (response.json() or {}).get("error")
    except (ValueError, AttributeError):
        message = None
    message = message or response.text.strip()[:500] or http.client.responses.get(response.status, "")
    return ApiError(f"{method} {path}: {response.status} {message}", status=response.status, method=method,
                    path=path)


def _items(value):
    if isinstance(value, dict):
        for key in ("items", "functions", "jobs", "versions"):
            if isinstance(value.get(key), list):
                return value[key]
    return value


def _quote(segment):
    return urllib.parse.quote(str(segment), safe="")


def _query_value(value):
    return ("true" if value else "false") if isinstance(value, bool) else value


def _duration(value):
    """Seconds (a number) become "1500ms"; strings ("60s") pass through."""
    if value is None or isinstance(value, str):
        return value
    return f"{round(float(value) * 1000)}ms"


def _multipart(boundary, parts):
    out = io.BytesIO()
    for name, filename, content_type, content in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out.write(f"--{boundary}\r\nContent-Disposition: {disposition}\r\nContent-Type: {content_type}\r\n\r\n".encode())
        out.write(content)
        out.write(b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue()


def make_bundle(source):
    """Zip bytes for a folder, a .zip path, zip bytes, or a {path: str|bytes} dict. Entries are
    sorted and carry a fixed timestamp, so the same files give the same bytes."""
    if isinstance(source, (bytes, bytearray)):
        return bytes(source)
    if isinstance(source, dict):
        files = {name: content.encode() if isinstance(content, str) else bytes(content)
                 for name, content in source.items()}
    else:
        path = os.fspath(source)
        if os.path.isfile(path) and path.lower().endswith(".zip"):
            with open(path, "rb") as file:
                return file.read()
        if not os.path.isdir(path):
            raise GaleError(f"bundle source {path} is neither a folder nor a .zip file")
        files = _folder_files(path)
    if not files:
        raise GaleError(f"bundle source {source!r} has no files to deploy")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, files[name])
    return out.getvalue()


def _folder_files(folder):
    files = {}
    ignore = _IgnoreRules.of(folder)
    for directory, subdirs, names in os.walk(folder):
        relative = os.path.relpath(directory, folder).replace(os.sep, "/")
        prefix = "" if relative == "." else relative + "/"
        subdirs[:] = sorted(d for d in subdirs if d not in SKIPPED_FOLDERS and not ignore.ignores(prefix + d, True))
        for name in names:
            if name.endswith(".pyc") or ignore.ignores(prefix + name, False):
                continue
            full = os.path.join(directory, name)
            with open(full, "rb") as file:
                files[prefix + name] = file.read()
    return files


class _IgnoreRules:
    """What a deploy leaves out of a folder: its ``.galeignore``, else its ``.gcloudignore``, in
    gitignore syntax (the last matching pattern decides, ``!`` re-includes, a trailing ``/``
    matches folders only, a ``/`` inside anchors to the folder), with gcloud's
    ``#!include:FILE``; the ignore file itself is left out. The Java CLI reads the same rules."""

    FILES = (".galeignore", ".gcloudignore")

    def __init__(self, rules):
        self.rules = rules  # [(regex, negated, directories only)]

    @classmethod
    def of(cls, folder):
        for name in cls.FILES:
            path = os.path.join(folder, name)
            if os.path.isfile(path):
                rules = [cls._rule("/" + name)]
                cls._read(folder, path, rules, 0)
                return cls([r for r in rules if r is not None])
        return cls([])

    @classmethod
    def _read(cls, folder, path, rules, depth):
        with open(path, encoding="utf-8", errors="replace") as file:
            for line in file.read().splitlines():
                if line.startswith("#!include:"):  # another file's patterns (gcloud), inside the folder only
                    root = os.path.abspath(folder)
                    included = os.path.normpath(os.path.join(root, line[len("#!include:"):].strip()))
                    if depth < 4 and included.startswith(os.path.join(root, "")) and os.path.isfile(included):
                        cls._read(folder, included, rules, depth + 1)
                    continue
                rules.append(cls._rule(line))

    @staticmethod
    def _rule(line):
        line = line.rstrip("\n")
        if not line.strip() or line.startswith("#"):
            return None
        if not line.endswith("\\ "):
            line = line.rstrip()
        negated = line.startswith("!")
        if negated:
            line = line[1:]
        elif line.startswith("\\!") or line.startswith("\\#"):
            line = line[1:]
        directories_only = line.endswith("/")
        line = line.rstrip("/")
        if not line:
            return None
        anchored = "/" in line
        line = line.lstrip("/")
        regex = "".join(_glob_part(part) for part in re.split(r"(\*\*/|/\*\*$|/\*\*/)", line))
        regex = ("^" if anchored else "(^|.*/)") + regex + "$"
        return re.compile(regex, re.S), negated, directories_only

    def ignores(self, path, directory):
        for regex, negated, directories_only in reversed(self.rules):
            if directories_only and not directory:
                continue
            if regex.match(path):
                return not negated
        return False


def _glob_part(part):
    """One piece of a gitignore pattern as a regex: ** between slashes spans folders, * and ? stay in one."""
    if part == "**/":
        return "(.*/)?"
    if part == "/**":
        return "/.*"
    if part == "/**/":
        return "/(.*/)?"
    out, i = [], 0
    while i < len(part):
        c = part[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = part.find("]", i + 1)
            if end == -1:
                out.append("\\[")
            else:
                body = part[i + 1:end].replace("\\", "\\\\")
                out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
                i = end
        elif c == "\\" and i + 1 < len(part):
            i += 1
            out.append(re.escape(part[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)
