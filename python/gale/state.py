"""Shared state (docs/state.md): namespaced keys with JSON values, from a notebook, a script
or inside a function. Stdlib-only.

    from gale import state
    state.put("greeting", {"text": "hi"})     # inside a function: in the function's own namespace
    state.increment("visits")                 # atomic: no update is ever lost
    survey = state.namespace("survey")        # any other namespace (a function needs it granted:
    survey.put("open", True, ttl="1h")        #   gale deploy NAME --state-namespace survey)

    pool = state.sampler()                    # inside a function: the sampler named after it
    items = pool.draw(respondent, k=3)        # 3 items this respondent has not seen, least shown first
    pool.confirm(respondent)                  # they count; unconfirmed draws return to the pool

Inside a function, Gale hands the instance GALE_STATE_URL and GALE_STATE_TOKEN, a credential
for that function's namespaces only (never the admin token), and this module uses them by itself.
Elsewhere it finds the server like ``gale.Client`` does (GALE_URL and GALE_TOKEN, else the data
dir of a local ``gale server``) and acts as the admin; pass ``namespace=`` or use
``state.namespace(NAME)``, as there is no function's namespace to default to.
"""

import os
import threading
import urllib.parse
from collections import namedtuple

from gale.errors import ApiError, ConflictError, GaleError

__all__ = ["Entry", "Namespace", "namespace", "get", "entry", "put", "cas", "delete", "increment",
           "list", "keys", "entries", "transaction", "ConflictError", "Sampler", "sampler"]

_builtin_list = list

Entry = namedtuple("Entry", "key value version expires_at")
Entry.__doc__ = """One key: its JSON value, its version (grows with every write, never reused) and
``expires_at`` (an ISO-8601 time, or None when it never expires)."""

_PAGE = 1000
_client_lock = threading.Lock()
_client = None  # (pid, gale.client.Client): a forked process makes its own connections


def _default_client():
    global _client
    with _client_lock:
        if _client is None or _client[0] != os.getpid():
            from gale.client import Client
            token = os.environ.get("GALE_STATE_TOKEN")
            if token:
                url = os.environ.get("GALE_STATE_URL")
                if not url:
                    raise GaleError("GALE_STATE_TOKEN is set but GALE_STATE_URL is not: this instance started before "
                                    "the Gale server knew its URL; redeploy the function or restart it")
                _client = (os.getpid(), Client(url=url, token=token))
            else:
                _client = (os.getpid(), Client())
        return _client[1]


def _default_namespace():
    name = os.environ.get("GALE_FUNCTION") if os.environ.get("GALE_STATE_TOKEN") else None
    if not name:
        raise GaleError("no state namespace given: pass namespace=NAME or use gale.state.namespace(NAME) "
                        "(only inside a function does state default to the function's own namespace)")
    return name


def _ttl(ttl):
    """Seconds (a number) become "1500ms"; strings ("30s", "1h") pass through."""
    if ttl is None or isinstance(ttl, str):
        return ttl
    return f"{round(float(ttl) * 1000)}ms"


class Namespace:
    """The keys of one namespace. Thread-safe; cheap to create."""

    def __init__(self, name=None, client=None):
        self.name = name or _default_namespace()
        self._client = client

    def __repr__(self):
        return f"gale.state.Namespace({self.name!r})"

    @property
    def client(self):
        return self._client or _default_client()

    def _path(self, key=None):
        path = "/v1/state/" + urllib.parse.quote(self.name, safe="")
        if key is None:
            return path
        if not isinstance(key, str) or not key:
            raise ValueError(f"a state key is a non-empty string, got {key!r}")
        return path + "/" + urllib.parse.quote(key, safe="/")

    def entry(self, key):
        """The key's Entry, or None when it does not exist (or has expired)."""
        path = self._path(key)
        response = self.client.request("GET", path, check=False)
        if response.status == 404:
            return None
        answer = self._checked("GET", key, response)
        return _entry(answer)

    def get(self, key, default=None):
        """The key's value, or ``default`` when it does not exist."""
        found = self.entry(key)
        return default if found is None else found.value

    def put(self, key, value, ttl=None):
        """Stores ``value`` (anything JSON can hold); returns the new version. ``ttl``: seconds or "30s", "1h"."""
        return self._put(key, value, ttl, {})

    def cas(self, key, value, version, ttl=None):
        """Compare-and-set: stores ``value`` only if the key is still at ``version`` (0: only if it does not
        exist). Returns the new version, or None when the key has moved on (read it again and retry)."""
        headers = {"If-None-Match": "*"} if version == 0 else {"If-Match": f'"{int(version)}"'}
        try:
            return self._put(key, value, ttl, headers)
        except ConflictError:
            return None

    def _put(self, key, value, ttl, headers):
        query = {"ttl": _ttl(ttl)} if ttl is not None else None
        body = _json_body(value)
        path = self._path(key)
        response = self.client.request("PUT", path, body=body, query=query,
                                       headers=dict(headers, **{"Content-Type": "application/json"}), check=False)
        return self._checked("PUT", key, response)["version"]

    def delete(self, key, version=None):
        """Deletes the key; True if it existed. With ``version``, only if it is at that version
        (ConflictError otherwise)."""
        headers = {"If-Match": f'"{int(version)}"'} if version is not None else None
        path = self._path(key)
        response = self.client.request("DELETE", path, headers=headers, check=False)
        if response.status == 404:
            return False
        self._checked("DELETE", key, response)
        return True

    def increment(self, key, by=1, ttl=None):
        """Adds ``by`` (a whole number; negative to subtract) to the key atomically, counting from 0 when it
        does not exist; returns the new value."""
        if isinstance(by, bool) or not isinstance(by, int):
            raise TypeError(f"increment by a whole number, got {by!r}")
        body = {"by": by}
        if ttl is not None:
            body["ttl"] = _ttl(ttl)
        path = self._path(key)
        response = self.client.request("POST", path, body=body, query={"op": "increment"}, check=False)
        return self._checked("POST", key, response)["value"]

    def entries(self, prefix=""):
        """Every Entry whose key starts with ``prefix``, in key order (fetched a page at a time)."""
        after = None
        while True:
            query = {"prefix": prefix, "limit": _PAGE}
            if after is not None:
                query["after"] = after
            page = self.client.request("GET", self._path(), query=query).json()
            for item in page["entries"]:
                yield _entry(item)
            after = page.get("next")
            if after is None:
                return

    def list(self, prefix=""):
        """{key: value} of every key that starts with ``prefix``."""
        return {e.key: e.value for e in self.entries(prefix)}

    def keys(self, prefix=""):
        return [e.key for e in self.entries(prefix)]

    def transaction(self, ops, checks=()):
        """Applies ``ops`` all or nothing, if every check holds.

        ops: {"op": "put", "key": K, "value": V[, "ttl": T]}, {"op": "increment", "key": K[, "by": N]},
        {"op": "delete", "key": K}. checks: {"key": K, "version": N} (0: K must not exist).
        Returns one dict per op (the key's new value and version, and whether it existed); raises
        ConflictError (with ``failed_check`` and ``current_version``) when a check fails."""
        ops = [dict(op, ttl=_ttl(op["ttl"])) if op.get("ttl") is not None else op for op in ops]
        body = {"checks": _builtin_list(checks), "ops": ops}
        path = self._path() + ":transaction"
        response = self.client.request("POST", path, body=body, check=False)
        return self._checked("POST", None, response)["results"]

    def _checked(self, method, key, response):
        path = self._path(key) if key is not None else self._path()
        if response.status < 400:
            return response.json()
        from gale.client import api_error
        error = api_error(method, path, response)
        if response.status in (409, 412):
            answer = response.json() or {}
            raise ConflictError(str(error), status=response.status, method=method, path=path,
                                current_version=answer.get("currentVersion"), failed_check=answer.get("failedCheck"))
        raise error


class Sampler:
    """A sampler (docs/state.md#samplers): items drawn for respondents, each shown at most ``target``
    times, no respondent shown an item twice. Its name is a namespace: inside a function, the
    function's own name unless given, and a function may use the samplers it may use namespaces of."""

    def __init__(self, name=None, client=None):
        self.name = name or _default_namespace()
        self._client = client

    def __repr__(self):
        return f"gale.state.Sampler({self.name!r})"

    @property
    def client(self):
        return self._client or _default_client()

    def _path(self, action=""):
        return "/v1/samplers/" + urllib.parse.quote(self.name, safe="") + action

    def create(self, items, target, lease=None):
        """Creates the sampler: ``items`` are ids (strings) or dicts with an "id"; each is shown at most
        ``target`` times; a draw is leased for ``lease`` (seconds or "10m"; default 10 minutes)."""
        body = {"items": _builtin_list(items), "target": target}
        if lease is not None:
            body["lease"] = _ttl(lease)
        return self._post("", body)

    def draw(self, respondent, k=1, lease=None):
        """Up to ``k`` items ``respondent`` has not seen, least shown first, leased: confirm them
        (or release them) before the lease runs out, or they return to the pool. [] when none is left."""
        body = {"respondent": respondent, "k": k}
        if lease is not None:
            body["lease"] = _ttl(lease)
        return [item["item"] for item in self._post("/draw", body)["items"]]

    def confirm(self, respondent, items=None):
        """Counts the respondent's drawn ``items`` (ids or the items themselves; default: all it holds)
        for good; returns the ids confirmed. ConflictError when a lease ran out and the item filled up."""
        return self._post("/confirm", self._respondent(respondent, items))["confirmed"]

    def release(self, respondent, items=None):
        """Returns the respondent's drawn ``items`` (default: all it holds) to the pool now."""
        return self._post("/release", self._respondent(respondent, items))["released"]

    def stats(self):
        """{"target", "items", "confirmed", "leased", "full", "respondents", "remaining", "counts": [...]}"""
        return self.client.request("GET", self._path()).json()

    def delete(self):
        response = self.client.request("DELETE", self._path(), check=False)
        if response.status == 404:
            return False
        self._checked("DELETE", self._path(), response)
        return True

    @staticmethod
    def _respondent(respondent, items):
        body = {"respondent": respondent}
        if items is not None:
            body["items"] = [item["id"] if isinstance(item, dict) else item for item in items]
        return body

    def _post(self, action, body):
        path = self._path(action)
        return self._checked("POST", path, self.client.request("POST", path, body=body, check=False))

    @staticmethod
    def _checked(method, path, response):
        if response.status < 400:
            return response.json()
        from gale.client import api_error
        error = api_error(method, path, response)
        if response.status == 409:
            raise ConflictError(str(error), status=409, method=method, path=path)
        raise error


def sampler(name=None, client=None):
    """The sampler ``name`` (inside a function: the function's own when not given)."""
    return Sampler(name, client)


def _json_body(value):
    import json
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise TypeError(f"a state value must be JSON (dict, list, str, int, float, bool, None): {exc}") from None


def _entry(answer):
    return Entry(answer["key"], answer.get("value"), answer["version"], answer.get("expiresAt"))


def namespace(name, client=None):
    """The keys of namespace ``name``. ``client``: a gale.Client for another server or token."""
    return Namespace(name, client)


def _ns(namespace_name):
    return Namespace(namespace_name)


def get(key, default=None, namespace=None):
    return _ns(namespace).get(key, default)


def entry(key, namespace=None):
    return _ns(namespace).entry(key)


def put(key, value, ttl=None, namespace=None):
    return _ns(namespace).put(key, value, ttl)


def cas(key, value, version, ttl=None, namespace=None):
    return _ns(namespace).cas(key, value, version, ttl)


def delete(key, version=None, namespace=None):
    return _ns(namespace).delete(key, version)


def increment(key, by=1, ttl=None, namespace=None):
    return _ns(namespace).increment(key, by, ttl)


def list(prefix="", namespace=None):  # noqa: A001 - the verb of the API
    return _ns(namespace).list(prefix)


def keys(prefix="", namespace=None):
    return _ns(namespace).keys(prefix)


def entries(prefix="", namespace=None):
    return _ns(namespace).entries(prefix)


def transaction(ops, checks=(), namespace=None):
    return _ns(namespace).transaction(ops, checks)
