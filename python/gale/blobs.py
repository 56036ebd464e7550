"""Versioned blobs with aliases (docs/blobs.md): models and data files, from a notebook, a script
or inside a function. Stdlib-only.

    from gale import blobs
    blobs.put("models/churn.pkl", file="churn.pkl")        # bucket "models", key "churn.pkl": v1, v2, ...
    blobs.alias("models/churn.pkl", "prod", 1)             # or split={1: 90, 2: 10} for a canary

    model = blobs.load("models/churn.pkl@prod", pickle.load)   # in a function, at import
    def predict(request):
        return {"churn": model.value.predict(...)}          # the alias moved? the new model, once loaded

A reference is ``BUCKET/KEY``, ``BUCKET/KEY@ALIAS`` or ``BUCKET/KEY`` with ``version=N``. Reads go
through a cache of files named by their digest (inside an instance, in its scratch dir; elsewhere
``~/.cache/gale/blobs``), revalidated with the server by ETag, so a model is downloaded once per
version. Inside a function this module uses GALE_STATE_URL and GALE_STATE_TOKEN (the function's own
credential: its own bucket, named after it, and those granted with ``--blob-bucket``); elsewhere it
finds the server like ``gale.Client`` and acts as the admin.
"""

import hashlib
import io
import json
import os
import random
import sys
import tempfile
import threading
import urllib.parse
from collections import namedtuple

from gale.errors import GaleError

__all__ = ["Version", "put", "get", "open", "path", "versions", "ls", "alias", "resolve", "delete", "watch", "load",
           "Loaded"]

_builtin_open = open
_CHUNK = 1 << 20

Version = namedtuple("Version", "bucket key version digest bytes content_type metadata created_at")
Version.__doc__ = "One version of a key: v1, v2, ... each naming its bytes by SHA-256 digest."


def _client(client):
    if client is not None:
        return client
    from gale.state import _default_client  # the same server and credential as gale.state
    return _default_client()


def _split(ref):
    """"bucket/key@alias" -> (bucket, key, alias or None)."""
    if not isinstance(ref, str) or "/" not in ref:
        raise ValueError(f"a blob reference is 'BUCKET/KEY' or 'BUCKET/KEY@ALIAS' (e.g. 'models/churn.pkl@prod'), got {ref!r}")
    bucket, key = ref.split("/", 1)
    alias = None
    if "@" in key:
        key, alias = key.rsplit("@", 1)
    if not bucket or not key:
        raise ValueError(f"a blob reference names a bucket and a key, got {ref!r}")
    return bucket, key, alias


def _path(bucket, key=None, alias=None, action=None):
    path = "/v1/blobs/" + urllib.parse.quote(bucket, safe="")
    if key is not None:
        path += "/" + urllib.parse.quote(key, safe="/")
        if alias:
            path += "@" + urllib.parse.quote(alias, safe="")
        if action:
            path += ":" + action
    return path


def _version(d):
    return Version(d["bucket"], d["key"], d["version"], d["digest"], d["bytes"], d.get("contentType"),
                   d.get("metadata"), d.get("createdAt"))


def _sticky():
    """Inside an instance, the same side of a split for all its reads (one model per instance)."""
    return os.environ.get("GALE_INSTANCE_ID") or f"pid-{os.getpid()}"


# ------------------------------------------------------------------ streaming HTTP

def _send(client, method, path, body=None, headers=None, query=None, timeout=None):
    """One request on a connection of its own, the answer not yet read: (connection, response)."""
    connection = client._new_connection(timeout or client.timeout)
    connection.blocksize = _CHUNK  # a streamed body goes out in 1 MB writes, not http.client's 8 KB
    try:
        connection.request(method, client._target(path, query), body=body, headers=client._headers(headers or {}))
        return connection, connection.getresponse()
    except BaseException:
        connection.close()
        raise


def _raise(client, method, path, response):
    from gale.client import Response, api_error
    raise api_error(method, path, Response(response.status, response.headers, response.read()))


# ------------------------------------------------------------------ writes and metadata

def put(ref, data=None, *, file=None, content_type=None, metadata=None, client=None):
    """Stores ``data`` (bytes or text) or ``file`` (a path or a binary file object, streamed) as the key's
    next version; the same bytes as the latest version make no new one. Returns its Version."""
    bucket, key, alias = _split(ref)
    if alias:
        raise ValueError(f"put stores bytes under a key, not an alias: {ref!r}; point the alias with blobs.alias()")
    if (data is None) == (file is None):
        raise TypeError("put takes data (bytes or str) or file (a path or a binary file object), not both")
    headers = {"Content-Type": content_type or "application/octet-stream"}
    if metadata is not None:
        headers["X-Gale-Blob-Metadata"] = json.dumps(metadata, separators=(",", ":"))
    c = _client(client)
    path = _path(bucket, key)
    opened = None
    try:
        if data is not None:
            body = data.encode() if isinstance(data, str) else bytes(data)
        elif isinstance(file, (str, os.PathLike)):
            body = opened = _builtin_open(file, "rb")
            headers["Content-Length"] = str(os.fstat(opened.fileno()).st_size)
        else:
            body = file
            try:
                headers["Content-Length"] = str(os.fstat(file.fileno()).st_size - file.tell())
            except (AttributeError, OSError, io.UnsupportedOperation):
                pass  # http.client sends it chunked
        connection, response = _send(c, "PUT", path, body, headers, timeout=max(c.timeout, 600))
        try:
            if response.status >= 400:
                _raise(c, "PUT", path, response)
            return _version(json.loads(response.read()))
        finally:
            connection.close()
    finally:
        if opened is not None:
            opened.close()


def versions(ref, client=None):
    """Every Version of a key, newest first."""
    bucket, key, _ = _split(ref)
    return [_version(v) for v in _client(client)._json("GET", _path(bucket, key, action="versions"))["versions"]]


def ls(bucket, prefix="", client=None):
    """The latest Version of each key of ``bucket`` that starts with ``prefix``, in key order (every page)."""
    c = _client(client)
    out, after = [], None
    while True:
        page = c._json("GET", _path(bucket), query={"prefix": prefix, "after": after, "limit": 1000})
        out.extend(_version(v) for v in page["keys"])
        after = page.get("next")
        if not after:
            return out


def alias(ref, name, version=None, *, split=None, client=None):
    """Points alias ``name`` of a key at ``version``, or splits it: ``split={7: 90, 8: 10}`` (weights add up
    to 100). Returns the alias as a dict with its targets and per-version ``calls``."""
    bucket, key, _ = _split(ref)
    if (version is None) == (split is None):
        raise TypeError("alias takes a version or split={7: 90, 8: 10}, not both")
    body = {"version": int(version)} if version is not None else {"split": {str(int(v)): int(w) for v, w in split.items()}}
    return _client(client)._json("PUT", _path(bucket, key, action="aliases/" + name), body=body)


def delete(ref, version=None, client=None):
    """Deletes a key (every version and alias), one ``version``, or with ``ref`` ending in @ALIAS the alias."""
    bucket, key, name = _split(ref)
    path = _path(bucket, key, action="aliases/" + name) if name else _path(bucket, key)
    _client(client).request("DELETE", path, query={"version": version} if version is not None else None)


# ------------------------------------------------------------------ reads through the cache

def _cache_dir():
    if os.environ.get("GALE_STATE_TOKEN"):  # inside an instance: its scratch dir, gone with it
        base = os.environ.get("TMPDIR") or tempfile.gettempdir()
        return os.path.join(base, "gale-blobs")
    return os.path.join(os.path.expanduser("~"), ".cache", "gale", "blobs")


class _Cache:
    """Files named by digest (immutable, so never stale), and per reference the ETag last seen."""

    def __init__(self):
        self._lock = threading.Lock()
        self._etags = {}  # (url, path, version) -> (etag, Version)

    def fetch(self, client, bucket, key, alias=None, version=None, sticky=None, method="GET"):
        """(Version, file path): revalidated with If-None-Match, downloaded only when the digest is new."""
        path = _path(bucket, key, alias)
        query = {"version": version} if version is not None else None
        ref = (client.url, path, version)
        with self._lock:
            known = self._etags.get(ref)
        headers = {"Accept": "*/*"}
        if sticky:
            headers["X-Gale-Sticky"] = sticky
        if known and os.path.exists(self.file(known[1].digest)):
            headers["If-None-Match"] = known[0]
        connection, response = _send(client, method, path, headers=headers, query=query, timeout=max(client.timeout, 600))
        try:
            if response.status == 304:
                response.read()
                return known[1], self.file(known[1].digest)
            if response.status >= 400:
                _raise(client, method, path, response)
            found = self._from_headers(bucket, key, response)
            target = self.file(found.digest)
            if not os.path.exists(target):
                self._download(response, found, target)
            else:
                response.read() if method == "HEAD" else _drain(response)
            with self._lock:
                self._etags[ref] = (response.headers.get("ETag"), found)
            return found, target
        finally:
            connection.close()

    def peek(self, client, bucket, key, alias, sticky):
        """The Version the reference names now, from a HEAD (no download, and not counted as a call)."""
        headers = {"Accept": "*/*", "X-Gale-Sticky": sticky} if sticky else {"Accept": "*/*"}
        path = _path(bucket, key, alias)
        connection, response = _send(client, "HEAD", path, headers=headers)
        try:
            response.read()
            if response.status >= 400:
                from gale.client import Response, api_error
                raise api_error("HEAD", path, Response(response.status, response.headers, b""))
            return self._from_headers(bucket, key, response)
        finally:
            connection.close()

    @staticmethod
    def _from_headers(bucket, key, response):
        h = response.headers
        metadata = h.get("X-Gale-Blob-Metadata")
        return Version(bucket, key, int(h.get("X-Gale-Blob-Version")), h.get("X-Gale-Blob-Digest"),
                       int(h.get("Content-Length") or 0), h.get("Content-Type"),
                       json.loads(metadata) if metadata else None, None)

    @staticmethod
    def file(digest):
        return os.path.join(_cache_dir(), "sha256", digest.split(":", 1)[1])

    @staticmethod
    def _download(response, found, target):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        sha = hashlib.sha256()
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(target), prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as out:
                while True:
                    chunk = response.read(_CHUNK)
                    if not chunk:
                        break
                    sha.update(chunk)
                    out.write(chunk)
            if "sha256:" + sha.hexdigest() != found.digest:
                raise GaleError(f"the bytes of {found.bucket}/{found.key} v{found.version} arrived damaged "
                                f"(their SHA-256 is not {found.digest}); read it again")
            os.replace(tmp, target)  # whole or not at all: a reader never sees a half-written file
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise


def _drain(response):
    while response.read(_CHUNK):
        pass


_cache = _Cache()


def path(ref, version=None, client=None, sticky=None):
    """(Version, local file path) of the reference, through the cache. Do not write to the file."""
    bucket, key, name = _split(ref)
    if name and version is not None:
        raise ValueError(f"{ref!r} names an alias; pass a version or an alias, not both")
    inside = os.environ.get("GALE_STATE_TOKEN")
    return _cache.fetch(_client(client), bucket, key, name, version, sticky or (_sticky() if inside else None))


def open(ref, version=None, client=None, sticky=None):
    """A binary file object of the reference's bytes (``models/churn@prod``, or ``version=N``), read through
    the cache. Its ``blob_version`` attribute is the Version it holds."""
    found, file = path(ref, version, client, sticky)
    f = _builtin_open(file, "rb")
    try:
        f.blob_version = found
    except AttributeError:
        pass
    return f


def get(ref, version=None, client=None, sticky=None):
    """The reference's bytes (through the cache)."""
    with open(ref, version, client, sticky) as f:
        return f.read()


def resolve(ref, client=None, sticky=None):
    """The Version an alias (or the latest) names now, without reading its bytes. Not counted as a call."""
    bucket, key, name = _split(ref)
    return _cache.peek(_client(client), bucket, key, name, sticky)


# ------------------------------------------------------------------ following an alias

def _invocation_id():
    """The id of the call this thread serves inside an instance (the bootstrap's), else None."""
    for name in ("gale._bootstrap", "__main__"):
        current = getattr(sys.modules.get(name), "current_invocation_id", None)
        if current is not None:
            return current()
    return None


def _point(sticky):
    """0-99 from the SHA-256 of ``sticky``: the same pick as the server's for X-Gale-Sticky."""
    return int.from_bytes(hashlib.sha256(sticky.encode()).digest()[:4], "big") % 100


def _targets(client, bucket, key, name):
    """((version, weight), ...) the alias names now."""
    answer = client._json("GET", _path(bucket, key, action="aliases/" + name))
    return tuple((t["version"], t["weight"]) for t in answer["targets"])


class Loaded:
    """A value loaded from a blob that follows its alias; ``value`` is always a fully loaded one.

    A background thread asks every ``interval`` seconds what the alias names; when that changed, it
    loads the new version(s) and only then swaps them in (one assignment), so a request never sees a
    half-loaded model. A split alias (``@prod = v7 90%, v8 10%``) holds both versions and picks one
    per call by weight: the same one for every read during one call (from the call's id), so
    ``value`` and ``version`` agree. Each call counts once for the version it got, and the counts
    reach the server with the next poll (``gale blobs alias`` shows them).
    """

    def __init__(self, ref, loader, interval, client, sticky):
        self.ref = ref
        self.bucket, self.key, self.alias = _split(ref)
        self._loader = loader
        self._client = client
        self._sticky = sticky
        self._lock = threading.Lock()  # one refresh at a time
        self._counts_lock = threading.Lock()
        self._counts = {}
        self._local = threading.local()
        self._state = self._load_state(self._current_targets(), {})
        self._stop = threading.Event()
        self.interval = interval
        self._thread = None
        if interval:
            self._thread = threading.Thread(target=self._follow, name=f"gale-blobs-watch {ref}", daemon=True)
            self._thread.start()

    # ---- reading

    def current(self):
        """(Version, value) serving now; inside a call, the same pair for every read during it."""
        targets, loaded = self._state
        version = targets[0][0]
        if len(targets) > 1:
            call = _invocation_id()
            sticky = call or self._sticky
            point = _point(sticky) if sticky else random.randrange(100)
            version = targets[0][0] if point < targets[0][1] else targets[1][0]
        self._count(version)
        return loaded[version]

    @property
    def value(self):
        return self.current()[1]

    @property
    def version(self):
        return self.current()[0]

    def __getattr__(self, name):  # model.predict(...) reaches the loaded value
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.value, name)

    def __repr__(self):
        targets, _ = self._state
        return f"gale.blobs.Loaded({self.ref!r}, " + ", ".join(f"v{v} {w}%" for v, w in targets) + ")"

    def _count(self, version):
        """One count per call (reads outside a call are not counted), for an alias only."""
        call = _invocation_id()
        if not self.alias or call is None or getattr(self._local, "counted", None) == call:
            return
        self._local.counted = call
        with self._counts_lock:
            self._counts[version] = self._counts.get(version, 0) + 1

    # ---- loading

    def _current_targets(self):
        c = _client(self._client)
        if self.alias:
            return _targets(c, self.bucket, self.key, self.alias)
        return ((_cache.peek(c, self.bucket, self.key, None, None).version, 100),)

    def _load_state(self, targets, loaded):
        """(targets, {version: (Version, value)}), loading the versions not in ``loaded``; the others are kept."""
        fresh = {}
        for version, _ in targets:
            if version in loaded:
                fresh[version] = loaded[version]
            else:
                with open(f"{self.bucket}/{self.key}", version=version, client=self._client) as f:
                    fresh[version] = (f.blob_version, self._loader(f))
        return targets, fresh

    def refresh(self):
        """Asks what the alias names now; loads and swaps in what is new. True if it swapped."""
        with self._lock:
            targets = self._current_targets()
            current_targets, loaded = self._state
            if targets == current_targets:
                return False
            self._state = self._load_state(targets, loaded)  # the swap: one assignment, after every version loaded
            return True

    def _report(self):
        """Sends the calls counted since the last report (kept for the next one if that fails)."""
        if not self.alias:
            return
        with self._counts_lock:
            counts, self._counts = self._counts, {}
        if not counts:
            return
        try:
            _client(self._client)._json("POST", _path(self.bucket, self.key, action="aliases/" + self.alias),
                                        body={"calls": {str(v): n for v, n in counts.items()}})
        except Exception:
            with self._counts_lock:  # not lost: sent with the next poll
                for v, n in counts.items():
                    self._counts[v] = self._counts.get(v, 0) + n
            raise

    def _follow(self):
        while not self._stop.wait(self.interval):
            try:
                self.refresh()
            except Exception as e:  # the old value keeps serving; say why the new one did not come
                print(f"gale.blobs: could not follow {self.ref}: {e}", file=sys.stderr, flush=True)
            try:
                self._report()
            except Exception as e:
                print(f"gale.blobs: could not report the calls of {self.ref}: {e}", file=sys.stderr, flush=True)

    def close(self):
        """Stops following the alias (the counts not yet sent are sent now)."""
        self._stop.set()
        self._report()


def load(ref, loader, interval=5.0, client=None, sticky=None):
    """Loads ``loader(file)`` from the reference now, and follows it: every ``interval`` seconds it asks
    what the alias names; when that changed, the new version is downloaded, loaded, and swapped in whole.
    A split alias holds both versions and picks per call by weight. Returns a Loaded whose ``value`` is
    the current result (``interval=None``: load once, never follow; ``refresh()`` by hand)."""
    return Loaded(ref, loader, interval, client, sticky)


def watch(ref, callback, interval=5.0, client=None, sticky=None):
    """Calls ``callback(version, file_path)`` now for each version the reference names, and again for each
    new one when the alias moves. Returns the Loaded that follows it (``close()`` stops it)."""
    def loader(f):
        callback(f.blob_version, f.name)
        return f.name
    return Loaded(ref, loader, interval, client, sticky)
