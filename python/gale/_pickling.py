"""The client's half of the runner's wire format (gale/_runner.py): pickling callables and
arguments, and turning the runner's answers back into results or exceptions.

cloudpickle is imported here, on first use, never when ``gale`` is imported.

Which modules travel by value: cloudpickle always pickles ``__main__`` (scripts,
notebooks) by value. Any other module is pickled *by reference* (the runner imports
it) when it was imported from an installed location -- the standard library,
site-packages or dist-packages -- and *by value* otherwise, i.e. your project's own
``.py`` files, which the server does not have.
"""

import base64
import functools
import hashlib
import inspect
import os
import pickle
import site
import sys
import sysconfig

from gale import _runner
from gale.errors import RemoteError, SerializationError

PROTOCOL = _runner.PICKLE_PROTOCOL
_INSTALLED_MARKERS = (os.sep + "site-packages" + os.sep, os.sep + "dist-packages" + os.sep)
_classified = {}  # module name -> True when it is shipped by value


def cloudpickle():
    try:
        import cloudpickle as module
    except ImportError:
        raise SerializationError("shipping Python callables to Gale needs cloudpickle: apt-get install "
                                 "python3-cloudpickle (or pip install cloudpickle); deployed functions "
                                 "can be mapped by name without it") from None
    return module


# --------------------------------------------------------------------------- local modules

@functools.lru_cache(maxsize=1)
def _installed_roots():
    roots = set()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            roots.add(os.path.realpath(path))
    for path in list(getattr(site, "getsitepackages", lambda: [])()) + [site.getusersitepackages()]:
        roots.add(os.path.realpath(path))
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix}:
        roots.add(os.path.realpath(os.path.join(prefix, "lib")))
    return tuple(sorted(root.rstrip(os.sep) + os.sep for root in roots))


def is_local_module(module):
    """True for a module the server cannot import: one not loaded from an installed location."""
    name = getattr(module, "__name__", "")
    if name == "__main__" or name == "gale" or name.startswith("gale."):
        return False
    file = getattr(module, "__file__", None)
    if not file:
        return False  # built-in, frozen or namespace package
    path = os.path.realpath(file)
    if any(marker in path for marker in _INSTALLED_MARKERS):
        return False
    return not path.startswith(_installed_roots())


def register_local_modules():
    """Ship the caller's own modules by value (see the module docstring for the rule)."""
    for name, module in list(sys.modules.items()):
        if name in _classified or module is None:
            continue
        local = is_local_module(module)
        _classified[name] = local
        if local:
            try:
                cloudpickle().register_pickle_by_value(module)
            except (ValueError, TypeError):
                _classified[name] = False


# --------------------------------------------------------------------------- pickling

def dumps(value):
    return cloudpickle().dumps(value, protocol=PROTOCOL)


def job_context(function, max_result_bytes):
    """The context of a job that runs ``function``: the callable, pickled once."""
    register_local_modules()
    try:
        data = dumps(function)
    except Exception as exc:
        raise SerializationError(explain_unpicklable(function, describe_callable(function), exc)) from exc
    return {
        "gale": _runner.RUNNER_VERSION,
        "python": _runner.PYTHON_VERSION,
        "fn": base64.b64encode(data).decode("ascii"),
        "fnHash": hashlib.sha256(data).hexdigest(),
        "maxResultBytes": max_result_bytes,
    }


def encode_call(args, kwargs, index=None):
    """The input of one call: base64 pickle of (args, kwargs)."""
    try:
        data = dumps((args, kwargs))
    except Exception as exc:
        where = f" of input {index}" if index is not None else ""
        for position, value in enumerate(args):
            if _fails(value):
                raise SerializationError(explain_unpicklable(value, f"argument {position}{where}", exc)) from exc
        for key, value in kwargs.items():
            if _fails(value):
                raise SerializationError(explain_unpicklable(value, f"keyword argument {key!r}{where}", exc)) from exc
        raise SerializationError(f"the arguments{where} cannot be pickled: {_one_line(exc)}") from exc
    return base64.b64encode(data).decode("ascii")


def describe_callable(function):
    name = getattr(function, "__qualname__", None) or type(function).__qualname__
    return f"callable {name!r}"


def explain_unpicklable(value, label, error):
    """A message naming the innermost object that cannot be pickled, e.g. a lock in a closure."""
    culprit_label, culprit = _find_unpicklable(value, label, depth=0, seen=set()) or (label, value)
    message = f"cannot ship {label} to Gale: "
    if culprit is not value:
        message += f"{culprit_label} ({_type_name(culprit)}) cannot be pickled"
    else:
        message += f"it is a {_type_name(value)} that cannot be pickled"
    message += (f" ({_one_line(error)}). Create such objects inside the function, or pass what the "
                f"function needs as plain arguments")
    return message


def _find_unpicklable(value, label, depth, seen):
    """(label, object) of the deepest part of ``value`` that fails to pickle, or None if it pickles."""
    if id(value) in seen or not _fails(value):
        return None
    seen.add(id(value))
    if depth < 4:
        for child_label, child in _parts(value, label):
            found = _find_unpicklable(child, child_label, depth + 1, seen)
            if found:
                return found
    return label, value


def _parts(value, label):
    if inspect.isfunction(value):
        closure = inspect.getclosurevars(value)
        for name, child in closure.nonlocals.items():
            yield f"closure variable {name!r} of {label}", child
        for name, child in closure.globals.items():
            yield f"global {name!r} used by {label}", child
        for position, child in enumerate(value.__defaults__ or ()):
            yield f"default argument {position} of {label}", child
        for name, child in (value.__kwdefaults__ or {}).items():
            yield f"default of {name!r} in {label}", child
    elif inspect.ismethod(value):
        yield f"the object the method {label} is bound to", value.__self__
        yield label, value.__func__
    elif isinstance(value, functools.partial):
        yield f"the function of {label}", value.func
        for position, child in enumerate(value.args):
            yield f"argument {position} of {label}", child
        for name, child in value.keywords.items():
            yield f"keyword {name!r} of {label}", child
    elif isinstance(value, (list, tuple, set, frozenset)):
        for position, child in enumerate(value):
            yield f"item {position} of {label}", child
    elif isinstance(value, dict):
        for key, child in value.items():
            yield f"entry {key!r} of {label}", child
    elif hasattr(value, "__dict__") and not isinstance(value, type):
        for name, child in vars(value).items():
            yield f"attribute {name!r} of {label}", child


def _fails(value):
    try:
        dumps(value)
    except Exception:
        return True
    return False


def _type_name(value):
    kind = type(value)
    return f"a {kind.__qualname__}" if kind.__module__ == "builtins" else f"a {kind.__module__}.{kind.__qualname__}"


def _one_line(exc):
    from gale._bootstrap import describe_exception  # the one way Gale puts an exception on one line
    return describe_exception(exc)


# --------------------------------------------------------------------------- answers

def decode_answer(answer, job_id=None, index=None, attempts=None):
    """(True, result) or (False, exception) for one runner answer."""
    if not isinstance(answer, dict) or "ok" not in answer:
        return False, RemoteError(f"the runner answered {str(answer)[:200]!r}, not a gale-runner answer",
                                  job_id=job_id, index=index, attempts=attempts)
    if answer["ok"]:
        try:
            return True, pickle.loads(base64.b64decode(answer["result"]))
        except Exception as exc:
            exc.add_note(f"while unpickling the result of input {index} of gale job {job_id}: the result's "
                         f"classes must be importable here too")
            return False, exc
    return False, remote_exception(answer, job_id, index, attempts)


def remote_exception(answer, job_id=None, index=None, attempts=None):
    """The original exception, with the remote traceback as its __cause__, when it can be
    rebuilt here; else a RemoteError."""
    remote = RemoteError(answer.get("error") or "the task failed", answer.get("traceback"), job_id=job_id,
                         index=index, attempts=attempts, exception_type=answer.get("type"))
    if answer.get("exception"):
        try:
            exc = pickle.loads(base64.b64decode(answer["exception"]))
        except Exception:
            return remote
        if isinstance(exc, BaseException):
            exc.__cause__ = remote
            exc.add_note(f"(raised by input {index} of gale job {job_id}; the remote traceback is above)")
            return exc
    return remote
