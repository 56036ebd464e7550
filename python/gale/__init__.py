"""Gale's Python package.

Client side (docs/python-client.md): ``gale.Client`` talks to the admin API,
``gale.Executor`` runs calls and map jobs like concurrent.futures, ``gale.Pipeline``
chains parallel and sequential steps, ``gale.state`` keeps shared state (docs/state.md),
``gale.blobs`` versioned blobs such as models (docs/blobs.md). They are loaded on first use, so
``import gale`` stays cheap and stdlib-only.

Server side: ``gale._bootstrap`` runs inside every function instance and speaks the
instance protocol (docs/protocol.md); ``gale._requirements`` checks a bundle's
requirements.txt; ``gale._runner`` runs pickled callables inside the gale-runner
function.
"""

__version__ = "0.1.0"

# name -> module that defines it, imported on first access (PEP 562)
_EXPORTS = {
    "Client": "gale.client",
    "DeployError": "gale.client",
    "Executor": "gale.executor",
    "TaskFuture": "gale.executor",
    "wait": "gale.executor",
    "as_completed": "gale.executor",
    "Pipeline": "gale.pipeline",
    "parallel": "gale.pipeline",
    "sequential": "gale.pipeline",
    "GaleError": "gale.errors",
    "GaleUnreachableError": "gale.errors",
    "ApiError": "gale.errors",
    "RemoteError": "gale.errors",
    "SerializationError": "gale.errors",
    "VersionMismatchError": "gale.errors",
    "ResultTooLargeError": "gale.errors",
    "ConflictError": "gale.errors",
}

__all__ = ["__version__", "state", "blobs", *_EXPORTS]


def __getattr__(name):
    if name in ("state", "blobs"):  # a module: `from gale import state`, or gale.state after `import gale`
        import importlib
        return importlib.import_module("gale." + name)
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'gale' has no attribute {name!r}")
    import importlib
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
