"""The zygote of one function version: imports what the bundle depends on once,
then forks instances that start without paying for interpreter start-up and imports.

Gale (``gale.runtime.PythonZygote``) starts ``python3 .../gale/_zygote.py`` in the
bundle root, with the environment an instance of that version gets minus the
per-instance variables. One zygote serves exactly one function version, so
nothing it holds is ever seen by another function or version. ``GALE_ZYGOTE=0``
on the server turns zygotes off (every instance is a fresh ``_bootstrap.py``).

What is preloaded -- the bundle's dependencies, never the bundle itself:

- the imports the entry module (and the bundle's own modules it imports) runs at
  import time, found with ``ast`` without running any of it;
- the modules named inside pickle files of the bundle (read with ``pickletools``,
  never unpickled), so a model's classes (``sklearn.linear_model._logistic``) are in;
- the import names of the packages in requirements.txt;
- Flask, for Cloud Functions-style functions (the bootstrap wraps them in it);
- later, the installed modules its instances imported while loading ("learned").

A candidate is left out when the bundle has a module of the same top-level name
(the instance must import the bundle's own), when it is known not to survive
``fork()`` (CUDA runtimes: ``FORK_UNSAFE``), or when its import fails (the
instance then fails the same way and reports it). When the bundle changes
``os.environ``, ``sys.path`` or ``sys.modules`` at import time (or calls
``load_dotenv``), importing its dependencies ahead of that code could change what
they see, so only Gale's own modules are preloaded and ``note`` says why.

A module whose import leaves a thread running, keeps a file descriptor open, or
pulls in a module the bundle shadows is refused: the zygote cannot undo an
import, so it re-executes itself without that module (``GALE_ZYGOTE_REFUSED``
carries the list across) and the instance imports it itself after the fork.
Native threads (OpenBLAS's pool under numpy) are not Python threads and are not
refused: OpenBLAS stops them around ``fork()`` itself (``pthread_atfork``).

Control channel: a connection of its own to Gale's instance socket (GALE_SOCKET),
opened with a HELLO frame carrying ``GALE_ZYGOTE_ID`` and ``GALE_ZYGOTE_NONCE``
(both removed from the environment before anything is imported), then CONTROL
frames (type ``C``, docs/protocol.md) whose JSON header is the message. Gale needs
no thread per zygote to read pipes: its stdin is /dev/null and its stdout and
stderr go to a file Gale reads only to say why a zygote failed.

    Gale -> zygote   {"op": "fork", "id": "hello-1-1a2b", "env": {"GALE_SOCKET": ..., ...}, "hold": false}
                     {"op": "release", "id": "hello-1-1a2b"}    a held child may go on
                     {"op": "cancel", "id": "hello-1-1a2b"}     a held child is killed
    zygote -> Gale   {"event": "ready", "pid": 41, "ms": 1830, "preloaded": [...],
                      "refused": {"mod": "why"}, "skipped": {"mod": "why"}, "note": null}
                     {"event": "forked", "id": "hello-1-1a2b", "pid": 42}
                     {"event": "fork_failed", "id": "hello-1-1a2b", "error": "..."}
                     {"event": "exited", "pid": 42, "code": 3}      or "signal": 9
                     {"event": "learned", "modules": [...], "ms": 210}

``env`` is the whole environment of the new instance. With ``"hold": true`` the
child is reported as ``forked`` but waits, before anything of the instance runs,
until ``release`` (Gale moves it into its cgroup in between, so the instance's
whole start counts against its memory limit); ``cancel`` kills it instead. In a
sandbox the pids are those of the sandbox's PID namespace; Gale maps them to the
host's. ``ready`` may come again
after a re-execution (the control connection survives it, its descriptor number
in ``GALE_ZYGOTE_CONTROL_FD``). The end of the control connection, or the bundle
directory disappearing, ends the zygote, and the instances it forked with it:
Gale retires a zygote only once its instances are gone.

Spare child. fork() and the first writes to memory shared with the zygote
(copy-on-write faults) are most of a forked start, so whenever the zygote has
been idle for ``SPARE_AFTER_SECONDS`` it forks the next child ahead of time:
the spare does everything that does not depend on which instance it becomes,
then blocks reading a pipe. A fork request hands ``env`` to the spare (or to a
child forked there and then) and is answered at once. The spare also runs
Gale's own request path once (a throwaway Flask app and one GET through it; no
user code), and, when the bundle imports numpy or scikit-learn, their common code
(array creation, reductions, a product, input validation) on a tiny array, so the
pages those write are copied before the instance needs them (each copy-on-write
fault costs 20-40 us on a VM; a first scikit-learn prediction took some 250 of
them). A spare is replaced after the zygote imported learned modules.

The child becomes an instance exactly like a fresh ``_bootstrap.py``: it
resets the signal handlers the zygote changed, closes the zygote's descriptors
(control channel, signal pipe, other children's pipes), asks the kernel to kill it
when the zygote dies (so nothing it started outlives Gale, ``kill -9`` included), changes to the bundle
root, re-seeds ``random`` and ``numpy.random`` so instances never share random
state, forgets ``tempfile.tempdir``, makes ``os.environ`` exactly ``env``, then
runs ``_bootstrap.main()``: its own HELLO with its own instance id and nonce,
then the entry module's module-level code, as always. Instances of one version
share the zygote's ``str`` hash seed; different versions never do.
Its fds 1 and 2 are two more connections to GALE_SOCKET, each opened with a
HELLO carrying ``"stream": "stdout"`` or ``"stderr"`` and then raw bytes, so
output written straight to the descriptors (C code, subprocesses) is still
logged per instance although the zygote, not Gale, is the parent. Once loaded,
the child tells the zygote (over a pipe) which installed modules it imported,
and the zygote imports those too for the next instances, between fork requests.
"""

import ast
import gc
import importlib
import importlib.util
import json
import os
import pickletools
import select
import signal
import socket
import struct
import sys
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
BOOTSTRAP_FILE = os.path.join(HERE, "_bootstrap.py")

CONTROL = b"C"                            # the frame type of control messages (docs/protocol.md)
CONTROL_FD_VARIABLE = "GALE_ZYGOTE_CONTROL_FD"  # the control connection, carried across a re-execution
REFUSED_VARIABLE = "GALE_ZYGOTE_REFUSED"  # {module: reason}, carried across a re-execution
LEARNED_VARIABLE = "GALE_ZYGOTE_LEARNED"  # [module, ...], carried across a re-execution
MAX_REEXECUTIONS = 8                      # then preload nothing more: something keeps starting threads
FORK_UNSAFE = frozenset({"tensorflow", "jax", "jaxlib", "cupy", "pycuda"})
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".sav")
PICKLE_SCAN_BYTES = 64 << 20              # bigger pickles are models of arrays; their classes come early anyway
PICKLE_SCAN_FILES = 20
LOCAL_SCAN_FILES = 50                     # bundle modules read with ast, starting at the entry module
IDLE_CHECK_SECONDS = 2.0                  # how often an idle zygote checks that its bundle still exists
SPARE_AFTER_SECONDS = 0.05                # idle time before forking the next spare, so it never delays a start
SPARE_KEEP_SECONDS = 120.0                # a zygote that forked nothing for this long lets its spare go (memory)
CHILD_SETUP_FAILED = 70                   # exit status of a child that could not become an instance
FRAME_PREFIX = struct.Struct(">cII")      # type, header length, body length (docs/protocol.md)

_MUTATING_METHODS = frozenset({"update", "setdefault", "pop", "popitem", "clear", "insert", "append",
                               "extend", "remove", "__setitem__", "__delitem__"})
_MUTATING_FUNCTIONS = frozenset({"putenv", "unsetenv", "addsitedir", "load_dotenv"})
_STRING_OPCODES = frozenset({"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE",
                             "SHORT_BINSTRING", "BINSTRING", "STRING"})


# --------------------------------------------------------------------------- what to preload

def plan_preload(bundle_root, entry_module, signature="auto", concurrency=1):
    """(candidates, local names, note): candidates are (module, submodule_only) pairs in
    the order to import them; note says why bundle dependencies are left out, if they are."""
    local = local_names(bundle_root, entry_module)
    trees, note = scan_bundle_sources(bundle_root, os.path.join(bundle_root, entry_module), local)
    candidates = []
    if note is None:
        for tree in trees:
            candidates += imports_of(tree)
        candidates += [(name, False) for name in pickle_modules(bundle_root)]
        candidates += [(name, False) for name in requirement_modules(bundle_root)]
    if signature in ("auto", "http"):
        candidates.append(("flask", False))  # the bootstrap wraps http functions in a Flask app
    if concurrency > 1:
        candidates.append(("concurrent.futures", False))
    seen, ordered = set(), []
    for name, submodule_only in candidates:
        if name and name not in seen and name.partition(".")[0] not in local and name != "__main__":
            seen.add(name)
            ordered.append((name, submodule_only))
    return ordered, local, note


def local_names(bundle_root, entry_module):
    """Top-level names the bundle itself provides: the instance must import those from the bundle."""
    names = set()
    for directory in {bundle_root, os.path.dirname(os.path.join(bundle_root, entry_module))}:
        try:
            entries = os.listdir(directory)
        except OSError:
            continue
        for entry in entries:
            if entry.endswith(".py"):
                names.add(entry[:-3])
            elif entry.endswith((".so", ".pyd")):
                names.add(entry.split(".", 1)[0])
            elif entry.isidentifier() and os.path.isdir(os.path.join(directory, entry)):
                names.add(entry)  # a package, or a namespace package in the making
    return names


def scan_bundle_sources(bundle_root, entry_path, local):
    """Parse the entry module and the bundle modules it imports at import time.
    Returns (trees, note); note names the first statement that changes the process's
    environment or import path, after which preloading would not be faithful."""
    queue, seen, trees, note = [entry_path], set(), [], None
    while queue and len(seen) < LOCAL_SCAN_FILES:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        try:
            with open(path, "rb") as source:
                tree = ast.parse(source.read(), path)
        except (OSError, SyntaxError, ValueError):
            continue  # a broken module is reported by the instance that imports it
        trees.append(tree)
        for node in executed_nodes(tree):
            problem = mutation(node)
            if problem and note is None:
                note = (f"{os.path.relpath(path, bundle_root)} line {node.lineno} {problem} at import time, "
                        f"so its dependencies are not preloaded")
            queue += _local_files_imported(node, path, bundle_root, local)
    return trees, note


def executed_nodes(tree):
    """The nodes of a module that run when it is imported: not function bodies."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            stack += node.decorator_list if not isinstance(node, ast.Lambda) else []
            continue
        stack += reversed(list(ast.iter_child_nodes(node)))


def imports_of(tree):
    """(module, submodule_only) for each import the module runs when imported."""
    found = []
    for node in executed_nodes(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, False) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module != "__future__":
            found.append((node.module, False))
            # `from sklearn import linear_model` imports a submodule; `from os import path` does not.
            found += [(f"{node.module}.{alias.name}", True) for alias in node.names if alias.name != "*"]
    return found


def mutation(node):
    """What the node does to os.environ, sys.path or sys.modules, or None."""
    if isinstance(node, ast.Call):
        function = node.func
        name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", None)
        if name in _MUTATING_FUNCTIONS:
            return f"calls {name}()"
        if isinstance(function, ast.Attribute) and name in _MUTATING_METHODS and _is_process_state(function.value):
            return f"calls {ast.unparse(function)}()"
        return None
    if isinstance(node, (ast.Assign, ast.Delete)):
        targets = node.targets
    elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
        targets = [node.target]
    else:
        return None
    for target in targets:
        if isinstance(target, ast.Subscript) and _is_process_state(target.value):
            return f"changes {ast.unparse(target.value)}"
        if _is_process_state(target):
            return f"replaces {ast.unparse(target)}"
    return None


def _is_process_state(node):
    if isinstance(node, ast.Name):
        return node.id == "environ"
    if isinstance(node, ast.Attribute):
        if node.attr == "environ":
            return True
        return (node.attr in ("path", "modules", "meta_path", "path_hooks")
                and isinstance(node.value, ast.Name) and node.value.id == "sys")
    return False


def _local_files_imported(node, path, bundle_root, local):
    if isinstance(node, ast.Import):
        dotted = [alias.name for alias in node.names]
        bases = [os.path.dirname(path), bundle_root]
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            base = os.path.dirname(path)
            for _ in range(node.level - 1):
                base = os.path.dirname(base)
            bases = [base]
        else:
            bases = [os.path.dirname(path), bundle_root]
        module = node.module or ""
        dotted = [module] + [f"{module}.{alias.name}".lstrip(".") for alias in node.names]
    else:
        return []
    files = []
    for name in dotted:
        parts = [part for part in name.split(".") if part]
        if not parts or (not getattr(node, "level", 0) and parts[0] not in local):
            continue
        for base in bases:
            for depth in range(1, len(parts) + 1):
                stem = os.path.join(base, *parts[:depth])
                files += [f for f in (stem + ".py", os.path.join(stem, "__init__.py")) if os.path.isfile(f)]
    return files


def pickle_modules(bundle_root):
    """Modules that pickle files in the bundle refer to, found without unpickling them."""
    found, files = [], 0
    for directory, subdirs, names in os.walk(bundle_root):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith(".") and d != "__pycache__")
        for name in sorted(names):
            if name.lower().endswith(PICKLE_SUFFIXES):
                files += 1
                if files > PICKLE_SCAN_FILES:
                    return found
                found += pickled_modules(os.path.join(directory, name))
    return found


def pickled_modules(path):
    """The modules of the classes and functions a pickle refers to (GLOBAL, STACK_GLOBAL)."""
    modules, recent, memo = [], [None, None], {}  # recent: the last two values pushed, when strings
    try:
        if os.path.getsize(path) > PICKLE_SCAN_BYTES:
            return []
        with open(path, "rb") as file:
            for opcode, arg, _ in pickletools.genops(file):
                name = opcode.name
                if name in ("GLOBAL", "INST"):
                    modules.append(arg.split(" ", 1)[0])
                elif name == "STACK_GLOBAL" and isinstance(recent[0], str):
                    modules.append(recent[0])
                if name in _STRING_OPCODES:
                    recent = [recent[1], arg if isinstance(arg, str) else None]
                elif name == "MEMOIZE":
                    memo[len(memo)] = recent[1]
                elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
                    memo[arg] = recent[1]
                elif name in ("GET", "BINGET", "LONG_BINGET"):
                    recent = [recent[1], memo.get(arg)]
                elif name == "STOP":
                    break
                elif name not in ("FRAME", "PROTO"):
                    recent = [recent[1], None]
    except Exception:  # joblib's raw arrays, compression, not a pickle at all: keep what was read
        pass
    return modules


def requirement_modules(bundle_root):
    """Import names of the installed packages that requirements.txt lists."""
    path = os.path.join(bundle_root, "requirements.txt")
    if not os.path.isfile(path):
        return []
    from gale import _requirements  # stdlib only; not needed by bundles without requirements
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            text = file.read()
    except OSError:
        return []
    names = []
    for _, line in _requirements.logical_lines(text):
        if line.startswith("-"):
            continue
        try:
            requirement = _requirements.parse_requirement(line)
        except ValueError:
            continue
        if requirement.name and _requirements.marker_applies(requirement.marker):
            names += import_names(requirement.name)
    return names


def import_names(distribution_name):
    """The top-level modules an installed distribution provides ([] when not installed)."""
    from importlib import metadata
    try:
        distribution = metadata.distribution(distribution_name)
    except (metadata.PackageNotFoundError, ValueError):
        return []
    names = (distribution.read_text("top_level.txt") or "").split()
    if not names:
        for file in distribution.files or ():
            top = file.parts[0] if file.parts else ""
            if len(file.parts) > 1 and not top.endswith((".dist-info", ".egg-info", ".data")):
                names.append(top)
            elif top.endswith(".py"):
                names.append(top[:-3])
            elif top.endswith(".so"):
                names.append(top.split(".", 1)[0])
    return [name for name in dict.fromkeys(names) if name.isidentifier() and not name.startswith("_")]


# --------------------------------------------------------------------------- process state

def open_fds():
    """The file descriptors open in this process."""
    fds = set()
    for entry in os.listdir("/proc/self/fd"):
        fd = int(entry)
        try:
            os.fstat(fd)
        except OSError:
            continue  # the descriptor listdir itself used
        fds.add(fd)
    return fds


def describe_fd(fd):
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return f"fd {fd}"


def describe_exception(exc):
    """One line for an exception: the bootstrap's way (instances report errors the same way)."""
    from gale._bootstrap import describe_exception as describe
    return describe(exc)


def reseed_random():
    """Forked instances must not draw the same 'random' numbers."""
    for name in ("random", "numpy.random"):
        module = sys.modules.get(name)
        if module is not None:
            module.seed()  # no argument: fresh entropy from the OS
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "seed"):
        torch.seed()


def connect_control(bootstrap, environ):
    """Gale's control connection: opened on its instance socket with a HELLO that proves who
    this zygote is, or inherited across a re-execution. The id and nonce leave the environment
    before anything else is imported."""
    zygote_id, nonce = environ.pop("GALE_ZYGOTE_ID", ""), environ.pop("GALE_ZYGOTE_NONCE", "")
    inherited = environ.pop(CONTROL_FD_VARIABLE, None)
    if inherited is not None:
        return int(inherited)
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.connect(environ.get("GALE_SOCKET", ""))
    hello = {"instance": zygote_id, "nonce": nonce, "pid": os.getpid(), "role": "zygote"}
    connection.sendall(b"".join(bootstrap.encode_frame(bootstrap.HELLO, hello)))
    return connection.detach()


PR_SET_PDEATHSIG = 1


def parent_death_signal():
    """A function that makes the calling process receive SIGKILL when its parent exits
    (Linux's prctl), loaded once in the zygote; None where there is no such call."""
    try:
        import ctypes
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return lambda: prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def die_with_parent(parent_pid, set_death_signal):
    """In a forked child: the kernel kills it when the zygote exits, however that happens
    (so nothing outlives Gale); should the zygote have gone already, the child goes now."""
    if set_death_signal is not None:
        set_death_signal()
    if os.getppid() not in (parent_pid, 0):  # 0: a parent outside this process's PID namespace
        os._exit(CHILD_SETUP_FAILED)


# --------------------------------------------------------------------------- the zygote

class Zygote:

    def __init__(self, control, bootstrap, environ, plan=None):
        """``plan``: (candidates, local names, note) to preload instead of what the bundle in the
        working directory needs (the base zygote has no bundle)."""
        self.control = control
        self.bootstrap = bootstrap
        self.settings = bootstrap.Settings(environ)
        self.bundle_root = os.getcwd()
        self.pid = os.getpid()
        self.set_death_signal = parent_death_signal()
        self.started = time.monotonic()
        self.refused = _json_variable(environ, REFUSED_VARIABLE, {})
        self.learned = _json_variable(environ, LEARNED_VARIABLE, [])
        self.preloaded, self.skipped = [], {}
        self.learning = {}  # read end of a child's pipe -> bytes it sent so far
        self.to_learn = []
        self.learning_started = None
        self.spare = self.last_spare = None  # a forked child waiting for its instance's environment
        self.spare_not_before = 0.0
        self.last_fork = time.monotonic()
        self.discarded = set()
        self.held = {}  # instance id -> (child, its environment as JSON): forked, waiting for "release"
        self.control_buffer = b""
        self.candidates, self.local, self.note = plan or plan_preload(
            self.bundle_root, self.settings.entry_module, self.settings.signature, self.settings.concurrency)
        self.loaded_before = set(sys.modules)
        self.site_roots = tuple(os.path.join(os.path.abspath(p), "") for p in sys.path
                                if p and os.path.isdir(p) and not self._in_bundle(os.path.abspath(p)))
        self.original_handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGCHLD, signal.SIGINT)}
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        self.baseline_fds = open_fds()

    # ---- preloading

    def preload_all(self):
        for name, submodule_only in self.candidates:
            self.preload(name, submodule_only)
        for name in list(self.learned):
            self.preload(name)
        if threading.active_count() > 1:
            self.fail(f"threads are running after preloading ({self._thread_names()}); cannot fork safely")
        gc.collect()
        gc.freeze()  # children's collections then leave the preloaded objects, and their pages, alone

    def preload(self, name, submodule_only=False):
        """Imports one module unless it is unsafe or unwanted; re-executes without it if it taints the zygote."""
        if name in sys.modules or name in self.refused or name in self.skipped:
            return
        if name.partition(".")[0] in self.local:
            return
        if name.partition(".")[0] in FORK_UNSAFE:
            self.refused[name] = "known not to survive fork()"
            return
        if submodule_only and not self._is_submodule(name):
            return
        threads, fds = threading.active_count(), open_fds()
        try:
            importlib.import_module(name)
            self.preloaded.append(name)
        except BaseException as exc:  # noqa: B036 - SystemExit too; the instance reports the failure itself
            self.skipped[name] = describe_exception(exc)
        problem = self._taint(threads, fds)
        if problem:
            self.restart_without(name, problem)

    @staticmethod
    def _is_submodule(name):
        parent_name, _, attribute = name.rpartition(".")
        parent = sys.modules.get(parent_name)
        if parent is None or not hasattr(parent, "__path__"):
            return False
        if hasattr(parent, attribute) and not isinstance(getattr(parent, attribute), type(sys)):
            return False  # `from os import path`-style: an attribute, nothing more to import
        try:
            return importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            return False

    def _taint(self, threads_before, fds_before):
        if threading.active_count() > threads_before:
            return f"starts a thread at import ({self._thread_names()})"
        new_fds = open_fds() - fds_before - self.baseline_fds
        if new_fds:
            return "keeps file descriptors open (" + ", ".join(describe_fd(fd) for fd in sorted(new_fds)) + ")"
        for name in self.local:
            if name in sys.modules and name not in self.loaded_before:
                return f"imports '{name}', which the bundle's own module of that name must provide"
        for name in FORK_UNSAFE:
            if name in sys.modules:
                return f"imports {name}, which is known not to survive fork()"
        return None

    @staticmethod
    def _thread_names():
        return ", ".join(t.name for t in threading.enumerate() if t is not threading.main_thread())

    def restart_without(self, name, reason):
        """An import cannot be undone: start over in a fresh interpreter that skips it."""
        self.refused[name] = reason
        if len(self.refused) > MAX_REEXECUTIONS:
            self.fail(f"too many modules refused ({', '.join(self.refused)}); last: {name} {reason}")
        print(f"gale zygote: not preloading {name}: it {reason}; restarting without it", file=sys.stderr, flush=True)
        os.environ[REFUSED_VARIABLE] = json.dumps(self.refused)
        os.environ[LEARNED_VARIABLE] = json.dumps([m for m in self.learned if m != name])
        os.environ[CONTROL_FD_VARIABLE] = str(self.control)
        os.set_inheritable(self.control, True)
        argv = getattr(sys, "orig_argv", None) or [sys.executable] + sys.argv
        os.execv(sys.executable, argv)

    def fail(self, reason):
        """The zygote cannot serve: say why, and exit (Gale starts fresh instances instead)."""
        self.send({"event": "failed", "error": reason})
        os._exit(1)

    def _in_bundle(self, path):
        return path == self.bundle_root or path.startswith(os.path.join(self.bundle_root, ""))

    # ---- serving

    def serve(self):
        signal.set_wakeup_fd(self.wake_w, warn_on_full_buffer=False)
        signal.signal(signal.SIGCHLD, _on_signal)  # a handler, so SIGCHLD writes to the wakeup pipe
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C at `gale server` is Gale's to handle
        self.send({"event": "ready", "pid": os.getpid(), "ms": self._elapsed_ms(self.started),
                   "modules": len(sys.modules), "preloaded": self.preloaded, "learned": self.learned,
                   "refused": self.refused, "skipped": self.skipped, "note": self.note})
        self.reap()  # children of a previous execution may have exited meanwhile
        while True:
            readable, _, _ = select.select([self.control, self.wake_r, *self.learning], [], [], self._idle_timeout())
            if self.wake_r in readable:
                _drain(self.wake_r)
                self.reap()
            if self.control in readable and not self.read_control():
                return  # Gale closed the channel
            for fd in readable:
                if fd in self.learning:
                    self.read_learned(fd)
            if not readable:
                if self.to_learn and not self.control_buffer:  # a re-execution would lose half a request
                    self.learn_next()
                elif self.spare is None and time.monotonic() >= self.spare_not_before:
                    self.make_spare()
                elif self.spare is not None and time.monotonic() - self.last_fork > SPARE_KEEP_SECONDS:
                    self.discard_spare()  # an idle function keeps no spare; its next start forks one again
                    self.spare_not_before = float("inf")
                elif not os.path.isdir(self.bundle_root):
                    return  # the version was deleted

    def _idle_timeout(self):
        """How long to wait for a request before doing idle work: learning, then forking a spare."""
        if self.to_learn and not self.control_buffer:
            return 0
        if self.spare is None:
            return min(IDLE_CHECK_SECONDS, max(SPARE_AFTER_SECONDS, self.spare_not_before - time.monotonic()))
        return max(SPARE_AFTER_SECONDS, min(IDLE_CHECK_SECONDS, SPARE_KEEP_SECONDS - (time.monotonic() - self.last_fork)))

    def read_control(self):
        """Reads what Gale sent and handles each whole CONTROL frame; False once Gale closed the channel."""
        try:
            data = os.read(self.control, 1 << 16)
        except ConnectionError:
            data = b""
        if not data:
            return False
        self.control_buffer += data
        prefix = FRAME_PREFIX.size
        while len(self.control_buffer) >= prefix:
            kind, header_length, body_length = FRAME_PREFIX.unpack_from(self.control_buffer)
            end = prefix + header_length + body_length
            if len(self.control_buffer) < end:
                break
            header, self.control_buffer = self.control_buffer[prefix:prefix + header_length], self.control_buffer[end:]
            try:
                request = json.loads(header) if kind == CONTROL else None
            except ValueError as exc:
                self.send({"event": "error", "error": f"unreadable request: {exc}"})
                continue
            if isinstance(request, dict):
                self.handle(request)
            else:
                self.send({"event": "error", "error": f"unexpected frame {kind!r} on the control channel"})
        return True

    def handle(self, request):
        op = request.get("op")
        if op == "fork":
            self.fork(request)
        elif op == "release":
            self.release(str(request.get("id", "")))
        elif op == "cancel":
            held = self.held.pop(str(request.get("id", "")), None)
            if held is not None:
                self.discard(held[0])
                _kill(held[0].pid)
        else:
            self.send({"event": "error", "error": f"unknown request {request.get('op')!r}"})

    def reap(self):
        for pid, status in _exited_children():
            if self.spare is not None and pid == self.spare.pid:
                self.discard_spare()  # died before it was needed
            for instance_id, (child, _) in list(self.held.items()):
                if child.pid == pid:  # died while held: Gale learns of it from the "exited" below
                    del self.held[instance_id]
                    child.close()
            if pid in self.discarded:
                self.discarded.discard(pid)
                continue
            self.send({"event": "exited", "pid": pid, **_how_it_ended(status)})

    def send(self, message):
        data = b"".join(self.bootstrap.encode_frame(CONTROL, message))
        try:
            while data:
                data = data[os.write(self.control, data):]
        except (BrokenPipeError, ConnectionError):
            os._exit(0)  # Gale is gone

    # ---- forking

    def fork(self, request):
        """Hands the request to the spare child (or a new one) and says which pid serves it."""
        self.last_fork = time.monotonic()
        self.spare_not_before = 0.0
        instance_id = str(request.get("id", ""))
        env = request.get("env")
        if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
            self.send({"event": "fork_failed", "id": instance_id, "error": "the fork request has no string env"})
            return
        data = json.dumps(env).encode()
        if request.get("hold"):
            try:
                child = self.take_spare() or self.make_child()
            except OSError as exc:
                self.send({"event": "fork_failed", "id": instance_id, "error": describe_exception(exc)})
                return
            self.held[instance_id] = (child, data)
            self.send({"event": "forked", "id": instance_id, "pid": child.pid})
            return
        for child in (self.take_spare(), None):
            try:
                child = child or self.make_child()
                _write_all(child.request_w, data)
            except OSError as exc:  # a spare that died meanwhile, or fork() itself failed
                if child is not None:
                    self.discard(child)
                if child is None or child is not self.last_spare:
                    self.send({"event": "fork_failed", "id": instance_id, "error": describe_exception(exc)})
                    return
                continue
            self.hand_over(child)
            self.send({"event": "forked", "id": instance_id, "pid": child.pid})
            return

    def hand_over(self, child):
        os.close(child.request_w)
        if child.learn_r is not None:
            self.learning[child.learn_r] = b""

    def release(self, instance_id):
        """A held child may become its instance now; one that died meanwhile was reported as exited."""
        held = self.held.pop(instance_id, None)
        if held is None:
            return
        child, data = held
        try:
            _write_all(child.request_w, data)
        except OSError:
            child.close()  # died while held: the reap reports its exit
            return
        self.hand_over(child)

    def take_spare(self):
        self.last_spare, self.spare = self.spare, None
        return self.last_spare

    def make_child(self, spare=False):
        """Forks a child that does everything an instance needs that does not depend on which
        instance it becomes, then waits for the instance's environment on a pipe. A ``spare``
        (forked while idle) also rehearses the libraries the bundle imports."""
        if threading.active_count() > 1:
            self.fail(f"threads appeared after preloading ({self._thread_names()}); cannot fork safely")
        request_r, request_w = os.pipe()
        learn_r, learn_w = os.pipe() if self.note is None else (None, None)
        for stream in (sys.stdout, sys.stderr):
            stream.flush()  # or each child would print the zygote's buffered text again
        try:
            pid = os.fork()
        except OSError:
            for fd in (request_r, request_w, learn_r, learn_w):
                if fd is not None:
                    os.close(fd)
            raise
        if pid == 0:
            try:
                self.prepare_child(request_r, learn_w, [request_w, learn_r], spare)
            except BaseException:  # noqa: B036 - nothing may return into the zygote's loop
                traceback.print_exc()
            finally:
                os._exit(CHILD_SETUP_FAILED)
        os.close(request_r)
        if learn_w is not None:
            os.close(learn_w)
        return Child(pid, request_w, learn_r)

    def make_spare(self):
        try:
            self.spare = self.make_child(spare=True)
        except OSError as exc:
            print(f"gale zygote: cannot fork a spare child: {describe_exception(exc)}", file=sys.stderr, flush=True)
            self.spare_not_before = time.monotonic() + IDLE_CHECK_SECONDS

    def discard_spare(self):
        """The spare lacks what the zygote imported since: a new one is forked when idle."""
        spare, self.spare = self.spare, None
        if spare is not None:
            self.discard(spare)

    def discard(self, child):
        self.discarded.add(child.pid)  # its exit is nobody's business
        child.close()

    def prepare_child(self, request_r, learn_w, parent_ends, spare=False):
        """In the child: undo what is the zygote's, then wait to learn which instance to become."""
        die_with_parent(self.pid, self.set_death_signal)
        zygote_modules = frozenset(sys.modules)
        signal.set_wakeup_fd(-1)
        for signum, handler in self.original_handlers.items():
            signal.signal(signum, handler)
        zygote_fds = [self.control, self.wake_r, self.wake_w, *self.learning, *parent_ends]
        if self.spare is not None:
            zygote_fds += [self.spare.request_w, self.spare.learn_r]
        for held, _ in self.held.values():  # or a held child would never see the end of its request
            zygote_fds += [held.request_w, held.learn_r]
        for fd in zygote_fds:
            if fd is not None:
                os.close(fd)
        os.chdir(self.bundle_root)
        reseed_random()
        tempfile = sys.modules.get("tempfile")
        if tempfile is not None:
            tempfile.tempdir = None  # computed from the zygote's TMPDIR, if at all
        sys.argv[:] = [BOOTSTRAP_FILE]
        self.rehearse()
        if spare:
            self.rehearse_libraries()
        request = _read_all(request_r)
        os.close(request_r)
        if not request:
            os._exit(0)  # a discarded spare, or the zygote is gone
        self.become_instance(json.loads(request), learn_w, zygote_modules)

    def rehearse(self):
        """In a spare child: runs Gale's own request path once (a throwaway Flask app, one GET;
        no user code), so the memory pages it writes are copied now rather than during the
        instance's start and first call."""
        if self.settings.signature not in ("auto", "http") or "flask" not in sys.modules:
            return
        bootstrap = self.bootstrap
        try:
            app = bootstrap.build_flask_app(lambda request: "", bootstrap.__name__)
            bootstrap.WsgiAdapter(app, self.settings)({"method": "GET", "path": "/", "query": "", "headers": []}, b"")
        except Exception:  # noqa: S110 - only a warm-up; the instance does the real thing
            pass

    def rehearse_libraries(self):
        """In a spare child: runs the library code a call of a numpy or scikit-learn function
        nearly always takes (array creation, reductions, a product, scikit-learn's input
        validation) on a tiny array, when the bundle imports those libraries; no user code. A
        call's first run of that code otherwise writes some 200 pages shared with the zygote
        (reference counts), each a copy-on-write fault that costs 20-40 us on a VM: 5-10 ms of
        the first call, paid here by the spare instead."""
        imported = {name.partition(".")[0] for name, _ in self.candidates} | {name.partition(".")[0] for name in self.learned}
        numpy = sys.modules.get("numpy")
        if numpy is None or not imported & {"numpy", "sklearn", "scipy", "pandas"}:
            return
        try:
            x = numpy.asarray([[0.0, 1.0], [1.0, 0.0]])
            (x @ x.T).sum(axis=1)
            numpy.exp(-x).max(axis=1)
            numpy.argmax(x, axis=1)
            validation = sys.modules.get("sklearn.utils.validation")
            if validation is not None and "sklearn" in imported:
                validation.check_array(x)
        except Exception:  # noqa: S110 - only a warm-up; the instance does the real thing
            pass

    def become_instance(self, env, learn_w, zygote_modules):
        """In the child: take the instance's environment and run the bootstrap like a fresh process."""
        for name in [name for name in os.environ if name not in env]:
            del os.environ[name]
        for name, value in env.items():
            if os.environ.get(name) != value:  # only what differs: every write costs copied pages
                os.environ[name] = value
        self.connect_output(env)
        after_load = None
        if learn_w is not None:
            def after_load():
                self.report_learned(learn_w, zygote_modules)
        self.bootstrap.main(after_load)

    def connect_output(self, env):
        """Points fds 1 and 2 at connections of their own to Gale, tagged with this instance."""
        hello = {"instance": env.get("GALE_INSTANCE_ID", ""), "nonce": env.get("GALE_INSTANCE_NONCE", ""),
                 "pid": os.getpid()}
        for stream, fd in (("stdout", 1), ("stderr", 2)):
            connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                connection.connect(env.get("GALE_SOCKET", ""))
                connection.sendall(b"".join(self.bootstrap.encode_frame(
                    self.bootstrap.HELLO, dict(hello, stream=stream))))
                os.dup2(connection.fileno(), fd)
            except OSError:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, fd)
                os.close(devnull)
            finally:
                connection.close()

    def report_learned(self, learn_w, zygote_modules):
        """In the child, once loaded: the installed modules it had to import itself."""
        try:
            new = sys.modules.keys() - zygote_modules  # without touching the zygote's modules
            names = [name for name in new if self._installed(sys.modules.get(name))]
            _write_all(learn_w, json.dumps(names).encode())
        except OSError:
            pass  # the zygote is gone; nothing to teach
        finally:
            os.close(learn_w)

    def _installed(self, module):
        file = getattr(module, "__file__", None)
        if not isinstance(file, str):
            return False
        file = os.path.abspath(file)
        return not self._in_bundle(file) and file.startswith(self.site_roots)

    # ---- learning

    def read_learned(self, fd):
        data = os.read(fd, 1 << 16)
        if data:
            self.learning[fd] += data
            return
        report = self.learning.pop(fd)
        os.close(fd)
        try:
            names = json.loads(report) if report else []
        except ValueError:
            return
        for name in names:
            if isinstance(name, str) and name not in sys.modules and name not in self.to_learn:
                self.to_learn.append(name)
        if self.to_learn and self.learning_started is None:
            self.learning_started = time.monotonic()

    def learn_next(self):
        """Imports one learned module; called only when no request is waiting."""
        name = self.to_learn.pop(0)
        if name not in sys.modules:
            before = len(self.preloaded)
            self.learned.append(name)
            self.preload(name)
            if len(self.preloaded) == before:
                self.learned.remove(name)
        if not self.to_learn:
            gc.collect()
            gc.freeze()
            self.discard_spare()
            started, self.learning_started = self.learning_started, None
            self.send({"event": "learned", "modules": self.learned, "ms": self._elapsed_ms(started)})

    @staticmethod
    def _elapsed_ms(since):
        return round((time.monotonic() - since) * 1000)


class Child:
    """A forked child waiting, on ``request_w``'s pipe, for the environment of its instance."""

    def __init__(self, pid, request_w, learn_r):
        self.pid = pid
        self.request_w = request_w
        self.learn_r = learn_r  # where it reports the modules it imported; None when not learning

    def close(self):
        """Closes the zygote's ends of its pipes (a child never handed its request, or gone)."""
        for fd in (self.request_w, self.learn_r):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.request_w = self.learn_r = None


def _exited_children():
    """(pid, wait status) of each child that has exited, reaping it; stops when none is left to reap now."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        yield pid, status


def _how_it_ended(status):
    """{"code": n} or {"signal": n} for a wait status."""
    code = os.waitstatus_to_exitcode(status)
    return {"signal": -code} if code < 0 else {"code": code}


def _kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass  # gone already


def _write_all(fd, data):
    while data:
        data = data[os.write(fd, data):]


def _read_all(fd):
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _on_signal(signum, frame):
    """Installed for SIGCHLD: the wakeup pipe does the work."""


def _drain(fd):
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass


def _json_variable(environ, name, default):
    try:
        value = json.loads(environ.get(name) or "null")
    except ValueError:
        return default
    return value if isinstance(value, type(default)) else default


# --------------------------------------------------------------------------- the base zygote

BASE_PRELOAD_VARIABLE = "GALE_BASE_PRELOAD"  # comma-separated modules the base imports
ROLE_VARIABLE = "GALE_ZYGOTE_ROLE"           # "base" for the base zygote
# Variables that change what an installed module does when it is imported (thread pools, paths,
# backends). A version whose environment gives any of them another value than the base had gets
# an interpreter of its own: the base imported those modules under its own values.
IMPORT_SENSITIVE_PREFIXES = ("PYTHON", "OMP_", "OPENBLAS_", "MKL_", "NUMEXPR_", "VECLIB_", "KMP_", "GOTO",
                             "BLIS_", "LD_", "MPL", "NUMPY_", "SCIPY_", "SKLEARN_", "PANDAS_", "JOBLIB_", "TF_", "TORCH")
NAMESPACES_BUT_PID = ("ipc", "uts", "net", "cgroup", "mnt")  # mnt last: it changes the root the others are opened from
CLONE_FLAGS = {"ipc": 0x08000000, "uts": 0x04000000, "net": 0x40000000, "cgroup": 0x02000000, "pid": 0x20000000,
               "mnt": 0x00020000}
CAP_LAST_CAP_FILE = "/proc/sys/kernel/cap_last_cap"
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
LINUX_CAPABILITY_VERSION_3 = 0x20080522


class Base(Zygote):
    """The base zygote of an interpreter: imports the packages most functions use (Flask,
    numpy, scikit-learn...) once, then forks every version's zygote from itself, so those
    pages are shared copy-on-write by all functions instead of copied into each (SOCK's
    idea). It runs Gale's code and installed packages only, never a bundle's.

    Gale -> base   {"op": "zygote", "id": "zygote-hello-1-1a2b", "env": {...}, "cwd": "/bundle/dir",
                    "anchor": 4242, "python": "/usr/bin/python3", "output": "/data/run/zygotes/ID.log"}
    base -> Gale   {"event": "ready", ...} as a zygote's
                   {"event": "spawned", "id": ..., "pid": 43}     the version's zygote, by its pid on the host
                   {"event": "spawn_failed", "id": ..., "error": ...}
                   {"event": "exited", "id": ..., "pid": 43, "code": 0}   a version's zygote ended

    The child it forks for a version (``become_version_zygote``) sends its output to ``output``,
    enters the namespaces of ``anchor`` (a process Gale started in the version's bubblewrap
    sandbox: same mount, PID, IPC, UTS, cgroup and network namespaces, so the same view of the
    files), drops every capability for good, and becomes the version's zygote: it connects to
    Gale with the id and nonce in ``env`` and serves forks like any zygote. It is born in the
    sandbox's PID namespace (the base switches the namespace its children get, forks, and switches
    back), and dies with the base. A version the base cannot serve
    faithfully (another interpreter, a bundle that shadows a module the base imported or changes
    the environment at import, import-sensitive variables) gets a fresh interpreter there instead:
    the child executes ``python _zygote.py`` in the sandbox, as if Gale had started it.
    """

    def __init__(self, control, bootstrap, environ):
        names = [name.strip() for name in environ.get(BASE_PRELOAD_VARIABLE, "").split(",") if name.strip()]
        super().__init__(control, bootstrap, environ, plan=([(name, False) for name in names], set(), None))
        self.environ_at_import = dict(environ)
        self.spawned = {}  # pid -> zygote id
        self.own_pid_namespace = os.open("/proc/self/ns/pid_for_children", os.O_RDONLY)
        self.baseline_fds = open_fds()

    def serve(self):
        signal.set_wakeup_fd(self.wake_w, warn_on_full_buffer=False)
        signal.signal(signal.SIGCHLD, _on_signal)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        self.send({"event": "ready", "pid": os.getpid(), "ms": self._elapsed_ms(self.started), "modules": len(sys.modules),
                   "preloaded": self.preloaded, "learned": [], "refused": self.refused, "skipped": self.skipped, "note": None,
                   "sandboxes": can_enter_namespaces()})
        while True:
            readable, _, _ = select.select([self.control, self.wake_r], [], [], IDLE_CHECK_SECONDS)
            if self.wake_r in readable:
                _drain(self.wake_r)
                self.reap()
            if self.control in readable and not self.read_control():
                return  # Gale closed the channel

    def handle(self, request):
        if request.get("op") == "zygote":
            self.spawn(request)
        else:
            self.send({"event": "error", "error": f"unknown request {request.get('op')!r} for the base zygote"})

    def reap(self):
        for pid, status in _exited_children():
            zygote_id = self.spawned.pop(pid, None)
            if zygote_id is not None:
                self.send({"event": "exited", "id": zygote_id, "pid": pid, **_how_it_ended(status)})

    def spawn(self, request):
        zygote_id = str(request.get("id", ""))
        env, cwd, output = request.get("env"), request.get("cwd"), request.get("output")
        if not (isinstance(env, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())
                and isinstance(cwd, str) and isinstance(output, str)):
            self.send({"event": "spawn_failed", "id": zygote_id, "error": "the request needs a string env, cwd and output"})
            return
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        anchor = request.get("anchor")
        try:
            if anchor:  # the child is born in the sandbox's PID namespace: one fork, not two
                enter_namespaces(int(anchor), ("pid",))
            pid = os.fork()
        except OSError as exc:
            if anchor:
                _setns(self.own_pid_namespace, "pid")
            self.send({"event": "spawn_failed", "id": zygote_id, "error": describe_exception(exc)})
            return
        if pid == 0:
            try:
                self.become_version_zygote(request)
            except BaseException:  # noqa: B036 - nothing may return into the base's loop
                traceback.print_exc()
            finally:
                os._exit(CHILD_SETUP_FAILED)
        if anchor:
            _setns(self.own_pid_namespace, "pid")  # the base's next children are born in its own namespace again
        self.spawned[pid] = zygote_id
        self.send({"event": "spawned", "id": zygote_id, "pid": pid})

    def become_version_zygote(self, request):
        """In the forked child: leave the base behind, enter the version's sandbox, become its zygote."""
        base_modules = {name.partition(".")[0] for name in sys.modules}
        signal.set_wakeup_fd(-1)
        for signum, handler in self.original_handlers.items():
            signal.signal(signum, handler)
        output = os.open(request["output"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(output, 1)
        os.dup2(output, 2)
        os.closerange(3, _max_fd())  # the base's control channel, pipes and output go
        die_with_parent(self.pid, self.set_death_signal)
        anchor = request.get("anchor")
        if anchor:
            enter_namespaces(int(anchor), NAMESPACES_BUT_PID)  # born in its PID namespace already
        drop_privileges()
        os.setsid()  # a session of its own, without a terminal, as bubblewrap's --new-session
        os.chdir(request["cwd"])
        env = request["env"]
        for name in [name for name in os.environ if name not in env]:
            del os.environ[name]
        os.environ.update(env)
        reason = self.needs_own_interpreter(request, base_modules)
        if reason:
            python = request.get("python") or sys.executable
            print(f"gale zygote: not forked from the base zygote: {reason}", file=sys.stderr, flush=True)
            os.execv(python, [python, os.path.join(HERE, "_zygote.py")])
        sys.argv[:] = [os.path.join(HERE, "_zygote.py")]
        control = connect_control(self.bootstrap, os.environ)
        zygote = Zygote(control, self.bootstrap, os.environ)
        zygote.preload_all()
        zygote.serve()
        os._exit(0)

    def needs_own_interpreter(self, request, base_modules):
        """Why this version cannot be a fork of the base (a reason), or None when it can."""
        python = request.get("python")
        if python and os.path.abspath(python) != os.path.abspath(sys.executable):  # a virtualenv's links to the same binary
            return f"it runs on {python}, with packages of its own"
        for name in set(os.environ) | set(self.environ_at_import):
            if name.startswith(IMPORT_SENSITIVE_PREFIXES) and os.environ.get(name) != self.environ_at_import.get(name):
                return f"its environment sets {name}, which changes what imported modules do"
        settings = self.bootstrap.Settings(os.environ)
        local = local_names(os.getcwd(), settings.entry_module)
        shadowed = sorted(local & base_modules)
        if shadowed:
            return f"the bundle has its own {', '.join(shadowed)}"
        _, note = scan_bundle_sources(os.getcwd(), os.path.join(os.getcwd(), settings.entry_module), local)
        return note


def can_enter_namespaces():
    """True when this process may join other namespaces (CAP_SYS_ADMIN, as root has): only then can
    the base fork zygotes into versions' sandboxes."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) & (1 << CAP_SYS_ADMIN))
    except (OSError, ValueError):
        pass
    return False


CAP_SYS_ADMIN = 21


def enter_namespaces(pid, kinds):
    """Joins namespaces of process ``pid`` (Gale's anchor in the version's sandbox): for "pid", the
    namespace this process's children are born in. Needs CAP_SYS_ADMIN, which the base has and its
    child drops right after."""
    fds = [os.open(f"/proc/{pid}/ns/{kind}", os.O_RDONLY) for kind in kinds]
    try:
        for kind, fd in zip(kinds, fds):
            _setns(fd, kind)
    finally:
        for fd in fds:
            os.close(fd)


def _setns(fd, kind):
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_FLAGS[kind]) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"cannot enter the {kind} namespace of the sandbox ({os.strerror(error)})")


def drop_privileges():
    """Drops every capability for good (bounding set, effective, permitted, inheritable, ambient)
    and forbids gaining any (no_new_privs), as bubblewrap's --cap-drop ALL for root."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    try:
        with open(CAP_LAST_CAP_FILE) as f:
            last = int(f.read())
    except (OSError, ValueError):
        last = 63
    for cap in range(last + 1):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)  # fails without CAP_SETPCAP: then there was nothing to drop
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = (ctypes.c_uint32 * 2)(LINUX_CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()
    if libc.capset(header, data) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"cannot drop capabilities ({os.strerror(error)})")
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"cannot set no_new_privs ({os.strerror(error)})")


def _max_fd():
    try:
        return os.sysconf("SC_OPEN_MAX")
    except (OSError, ValueError):
        return 65536



def main():
    sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or ".") != HERE]
    os.dup2(2, 1)  # a stray print goes where stderr goes (a file Gale reads when the zygote fails)
    try:
        from gale import _bootstrap
    except ImportError as exc:
        print(f"gale zygote: cannot import gale._bootstrap ({exc}); PYTHONPATH must hold the folder of the gale package",
              file=sys.stderr, flush=True)
        os._exit(2)
    try:
        control = connect_control(_bootstrap, os.environ)
    except OSError as exc:
        print(f"gale zygote: cannot connect to Gale at {os.environ.get('GALE_SOCKET')!r}: {exc}", file=sys.stderr, flush=True)
        os._exit(2)
    role = os.environ.pop(ROLE_VARIABLE, "")
    zygote = (Base if role == "base" else Zygote)(control, _bootstrap, os.environ)
    zygote.preload_all()
    zygote.serve()
    os._exit(0)


if __name__ == "__main__":
    main()
