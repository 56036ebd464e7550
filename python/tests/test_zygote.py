"""Tests of gale/_zygote.py.

Each test plays Gale: it starts a real zygote in a temporary bundle, accepts its
control connection on a UNIX socket (HELLO, then CONTROL frames both ways: fork
requests in, events out), and accepts the forked instances on the same socket
(main connection plus the stdout and stderr connections), exchanging frames as
docs/protocol.md describes.
"""

import json
import os
import queue
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import unittest
from pathlib import Path

PYTHON_DIR = Path(__file__).resolve().parent.parent
ZYGOTE = PYTHON_DIR / "gale" / "_zygote.py"
TIMEOUT_SECONDS = 30
PREFIX = struct.Struct(">cII")
HELLO, READY, INVOKE, RESPONSE, ERROR, LOG, CONTROL = b"H", b"R", b"I", b"r", b"E", b"L", b"C"

sys.path.insert(0, str(PYTHON_DIR))
from gale import _zygote  # noqa: E402

try:
    import numpy  # noqa: F401
    HAVE_NUMPY = True
except ImportError:
    HAVE_NUMPY = False


def encode_frame(kind, header, body=b""):
    header_bytes = json.dumps(header).encode()
    return PREFIX.pack(kind, len(header_bytes), len(body)) + header_bytes + body


def read_frame(reader):
    prefix = reader.read(PREFIX.size)
    if not prefix:
        return None
    kind, header_length, body_length = PREFIX.unpack(prefix)
    header = json.loads(reader.read(header_length))
    return kind, header, reader.read(body_length)


class UnbufferedReader:
    """Reads exactly what is asked of a socket and nothing more, so that the bytes after a frame
    stay in the socket for whoever reads next."""

    def __init__(self, connection):
        self.connection = connection

    def read(self, size):
        data = b""
        while len(data) < size:
            chunk = self.connection.recv(size - len(data))
            if not chunk:
                break
            data += chunk
        return data


class ForkedInstance:
    """The three connections of one forked instance, as Gale's listener sees them."""

    def __init__(self, hello, connection, reader, outputs):
        self.hello = hello
        self.connection = connection
        self.reader = reader
        self.outputs = outputs  # "stdout"/"stderr" -> socket carrying raw bytes
        self.loaded = self.next_frame()

    def next_frame(self):
        while True:
            frame = read_frame(self.reader)
            if frame is None or frame[0] != LOG:
                return frame

    def invoke(self):
        """One GET; the body of the RESPONSE (the tests' handlers answer JSON)."""
        self.connection.sendall(encode_frame(INVOKE, {
            "id": "req-1", "method": "GET", "path": "/", "query": "", "headers": [],
            "remoteAddr": "127.0.0.1", "scheme": "http", "host": "localhost",
            "deadlineMs": int(time.time() * 1000) + 60_000, "timeoutMs": 60_000}))
        frame = self.next_frame()
        assert frame is not None and frame[0] == RESPONSE, frame
        return json.loads(frame[2])

    def read_output(self, stream, until):
        data = b""
        connection = self.outputs[stream]
        connection.settimeout(TIMEOUT_SECONDS)
        while until not in data:
            chunk = connection.recv(4096)
            if not chunk:
                break
            data += chunk
        return data

    def close(self):
        for closable in (self.reader, self.connection, *self.outputs.values()):
            closable.close()


class FakeGale:
    """Gale's end of a zygote: starts it, asks for forks, accepts the instances."""

    def __init__(self, files, env=None, site_files=None, signature="auto", base_preload=None, version_env=None):
        """With ``base_preload`` (modules), a base zygote is started first and the version's zygote
        is forked from it (without a sandbox: the base's child is the zygote)."""
        self._tmp = tempfile.TemporaryDirectory(prefix="gale-zygote-test-")
        root = Path(self._tmp.name)
        self.bundle = root / "bundle"
        self.bundle.mkdir()
        for name, content in files.items():
            path = self.bundle / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(textwrap.dedent(content))
        site = root / "site"  # installed packages of the test, outside the bundle
        site.mkdir()
        for name, content in (site_files or {}).items():
            (site / name).write_text(textwrap.dedent(content))

        self.socket_path = str(root / "gale.sock")
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(self.socket_path)
        self._listener.listen(16)
        self._listener.settimeout(TIMEOUT_SECONDS)

        self.env = {k: v for k, v in os.environ.items() if not k.startswith("GALE_")}
        self.env.update({
            "GALE_SOCKET": self.socket_path, "GALE_FUNCTION": "hello", "GALE_VERSION": "1",
            "GALE_ENTRY_POINT": "handler", "GALE_SIGNATURE": signature, "GALE_MEMORY_MB": "256",
            "GALE_CONCURRENCY": "1", "GALE_URL_PREFIX": "/fn/hello",
            "PYTHONPATH": os.pathsep.join([str(PYTHON_DIR), str(site)]), "PYTHONDONTWRITEBYTECODE": "1",
        })
        self.env.update(env or {})
        self.stderr_path = root / "zygote-output"
        self.base = None
        if base_preload is None:
            with open(self.stderr_path, "wb") as output:  # Gale sends stdout and stderr to a file
                self.process = subprocess.Popen(
                    [sys.executable, str(ZYGOTE)], cwd=self.bundle, stdin=subprocess.DEVNULL, stdout=output, stderr=output,
                    env=dict(self.env, GALE_ZYGOTE_ID="zygote-hello-1", GALE_ZYGOTE_NONCE="zygote-n0nce"))
            self.pid = self.process.pid
        else:
            self.base = FakeBase(self, root, base_preload)
            self.process = self.base.process
            self.env.update(version_env or {})  # the version's own variables, which the base did not import under
            self.pid = self.base.spawn("zygote-hello-1", dict(self.env, GALE_ZYGOTE_ID="zygote-hello-1",
                                                               GALE_ZYGOTE_NONCE="zygote-n0nce"), self.bundle, self.stderr_path)
        self.control, self.control_reader, self.control_hello = self.accept_control()
        self.events = queue.Queue()
        threading.Thread(target=self._read_events, daemon=True).start()
        self.instances = []
        self.ready = self.event("ready")

    def accept_control(self):
        connection, _ = self._listener.accept()
        reader = connection.makefile("rb")  # one reader for the whole connection: its buffer may hold the next frames
        kind, hello, _ = read_frame(reader)
        assert kind == HELLO and hello == {"instance": "zygote-hello-1", "nonce": "zygote-n0nce",
                                           "pid": self.pid, "role": "zygote"}, hello
        connection.settimeout(None)
        return connection, reader, hello

    def send(self, message):
        self.control.sendall(encode_frame(CONTROL, message))

    def _read_events(self):
        reader = self.control_reader
        try:
            while True:
                frame = read_frame(reader)
                if frame is None:
                    break
                assert frame[0] == CONTROL, frame
                self.events.put(frame[1])
        except (OSError, ValueError):
            pass
        self.events.put(None)

    def event(self, kind):
        """The next event of that kind; others before it are kept in self.seen."""
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while True:
            try:
                event = self.events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {kind} event from the zygote; stderr: {self.stderr()}") from None
            if event is None:
                raise AssertionError(f"the zygote exited before {kind}; stderr: {self.stderr()}")
            self.seen = getattr(self, "seen", []) + [event]
            if event["event"] == kind:
                return event

    def fork(self, instance_id="hello-1-a", nonce="n0nce", **env):
        """Asks for an instance and accepts its connections; returns (pid, ForkedInstance)."""
        instance_env = dict(self.env, GALE_INSTANCE_ID=instance_id, GALE_INSTANCE_NONCE=nonce, **env)
        self.send({"op": "fork", "id": instance_id, "env": instance_env})
        forked = self.event("forked")
        assert forked["id"] == instance_id, forked
        instance = self.accept(instance_id)
        self.instances.append(instance)
        return forked["pid"], instance

    def accept(self, instance_id):
        main, outputs = None, {}
        while main is None or len(outputs) < 2:
            connection, _ = self._listener.accept()
            connection.settimeout(TIMEOUT_SECONDS)
            kind, hello, _ = read_frame(UnbufferedReader(connection))  # raw bytes may follow an output's HELLO
            assert kind == HELLO and hello["instance"] == instance_id, hello
            if "stream" in hello:
                outputs[hello["stream"]] = connection
            else:
                main = (hello, connection, connection.makefile("rb"))
        return ForkedInstance(*main, outputs)

    def stderr(self):
        return self.stderr_path.read_text(errors="replace")

    def close(self):
        for instance in self.instances:
            instance.close()
        if self.base is not None:
            _kill_quietly(self.pid)
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.control.close()
        if self.base is not None:
            self.base.control.close()
        self._listener.close()
        self._tmp.cleanup()


class FakeBase:
    """Gale's end of a base zygote: starts it with modules to import, asks it for a version's zygote."""

    def __init__(self, gale, root, preload):
        self.output = root / "base-output"
        with open(self.output, "wb") as output:
            self.process = subprocess.Popen(
                [sys.executable, str(ZYGOTE)], cwd=root, stdin=subprocess.DEVNULL, stdout=output, stderr=output,
                env=dict(gale.env, GALE_ZYGOTE_ID="zygote-base", GALE_ZYGOTE_NONCE="base-n0nce", GALE_ZYGOTE_ROLE="base",
                         GALE_BASE_PRELOAD=",".join(preload)))
        connection, _ = gale._listener.accept()
        connection.settimeout(TIMEOUT_SECONDS)
        self.control = connection
        # one buffered reader for the whole connection: a second one would miss the frames that
        # arrived with HELLO and sit in the first one's buffer (the "ready" of a fast base)
        self.reader = connection.makefile("rb")
        kind, hello, _ = read_frame(self.reader)
        assert kind == HELLO and hello["instance"] == "zygote-base" and hello["nonce"] == "base-n0nce", hello
        self.ready = self.event("ready")

    def event(self, kind):
        while True:
            frame = read_frame(self.reader)
            if frame is None:
                raise AssertionError(f"the base zygote exited before {kind}; output: {self.output.read_text(errors='replace')}")
            if frame[1]["event"] == kind:
                return frame[1]

    def spawn(self, zygote_id, env, bundle, output, anchor=None):
        """Has the base fork a version's zygote (into the namespaces of process ``anchor``, if given); returns its pid."""
        request = {"op": "zygote", "id": zygote_id, "env": env, "cwd": str(bundle), "python": sys.executable,
                   "output": str(output)}
        if anchor:
            request["anchor"] = anchor
        self.control.sendall(encode_frame(CONTROL, request))
        spawned = self.event("spawned")
        assert spawned["id"] == zygote_id, spawned
        return spawned["pid"]


def _kill_quietly(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def reporting(source):
    """A main.py whose handler answers what its report() returns, as JSON."""
    return "import json, os, sys\ndef handler(request):\n    return json.dumps(report())\n" + textwrap.dedent(source)


def wait_for_children(parent, count):
    """The pids of the parent's children once there are `count` of them."""
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        if len(children) >= count:
            return [int(pid) for pid in children]
        time.sleep(0.02)
    raise AssertionError(f"process {parent} did not get {count} children")


def wait_until_gone(pid):
    """Waits until process `pid` has exited (a zombie counts as gone: it runs nothing)."""
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return
        if state in ("Z", "X"):
            return
        time.sleep(0.02)
    raise AssertionError(f"process {pid} is still running")


class ZygoteTestCase(unittest.TestCase):

    def start(self, files, **options):
        gale = FakeGale(files, **options)
        self.addCleanup(gale.close)
        return gale


class ForkTest(ZygoteTestCase):

    def test_a_forked_instance_says_its_own_hello_and_its_parent_is_the_zygote(self):
        gale = self.start({"main.py": reporting("""
            def report():
                return {"pid": os.getpid(), "parent": os.getppid()}
        """)})

        pid, instance = gale.fork("hello-1-a", nonce="secret-a")

        self.assertEqual(instance.hello["nonce"], "secret-a")
        self.assertEqual(instance.hello["pid"], pid)
        self.assertEqual(instance.loaded[0], READY, instance.loaded)
        self.assertEqual(instance.invoke(), {"pid": pid, "parent": gale.process.pid})

    def test_two_instances_get_their_own_ids_and_processes(self):
        gale = self.start({"main.py": reporting("""
            def report():
                return {"id": os.environ["GALE_INSTANCE_ID"], "pid": os.getpid()}
        """)})

        pid_a, a = gale.fork("hello-1-a")
        pid_b, b = gale.fork("hello-1-b")

        self.assertEqual(a.invoke(), {"id": "hello-1-a", "pid": pid_a})
        self.assertEqual(b.invoke(), {"id": "hello-1-b", "pid": pid_b})
        self.assertNotEqual(pid_a, pid_b)

    def test_the_instance_gets_the_environment_of_the_fork_request_and_the_bundle_as_directory(self):
        gale = self.start({"main.py": reporting("""
            def report():
                return {"env": {k: os.environ.get(k) for k in ("HOME", "TMPDIR", "ONLY_IN_ZYGOTE", "PER_INSTANCE",
                                                              "GALE_INSTANCE_NONCE", "GALE_INSTANCE_ID")},
                        "cwd": os.getcwd(), "argv0": os.path.basename(sys.argv[0]),
                        "tmp": __import__("tempfile").gettempdir()}
        """)}, env={"ONLY_IN_ZYGOTE": "1"})
        home = tempfile.mkdtemp()
        self.addCleanup(os.rmdir, home)
        env = {k: v for k, v in gale.env.items() if k != "ONLY_IN_ZYGOTE"}
        gale.env = env

        _, instance = gale.fork("hello-1-a", HOME=home, TMPDIR=home, PER_INSTANCE="yes")

        self.assertEqual(instance.invoke(), {
            "env": {"HOME": home, "TMPDIR": home, "ONLY_IN_ZYGOTE": None, "PER_INSTANCE": "yes",
                    "GALE_INSTANCE_NONCE": None, "GALE_INSTANCE_ID": "hello-1-a"},
            "cwd": str(gale.bundle), "argv0": "_bootstrap.py", "tmp": home})

    def test_module_level_code_runs_in_each_instance_and_never_in_the_zygote(self):
        gale = self.start({"main.py": reporting("""
            open("loaded-%d" % os.getpid(), "w").close()
            def report():
                return sorted(f for f in os.listdir(".") if f.startswith("loaded-"))
        """)})
        self.assertEqual([f for f in os.listdir(gale.bundle) if f.startswith("loaded-")], [])

        pid_a, a = gale.fork("hello-1-a")
        pid_b, b = gale.fork("hello-1-b")

        self.assertEqual(b.invoke(), sorted([f"loaded-{pid_a}", f"loaded-{pid_b}"]))
        self.assertNotIn("main", gale.ready["preloaded"])

    def test_the_zygotes_descriptors_are_closed_in_the_instance(self):
        gale = self.start({"main.py": reporting("""
            def report():
                fds = {}
                for fd in sorted(int(n) for n in os.listdir("/proc/self/fd")):
                    try:
                        fds[fd] = os.readlink("/proc/self/fd/%d" % fd)
                    except OSError:
                        pass  # the directory being listed
                return fds
        """)})

        _, instance = gale.fork()
        fds = {int(fd): target for fd, target in instance.invoke().items()}

        self.assertEqual(fds[0], os.devnull)
        self.assertTrue(fds[1].startswith("socket:") and fds[2].startswith("socket:"), fds)
        others = {fd: target for fd, target in fds.items() if fd > 2}
        self.assertEqual(len(others), 1, f"only the instance's own connection should be left: {fds}")
        self.assertTrue(next(iter(others.values())).startswith("socket:"), fds)

    def test_signal_handlers_the_zygote_set_are_reset(self):
        gale = self.start({"main.py": reporting("""
            import signal
            def report():
                return {"chld": signal.getsignal(signal.SIGCHLD) == signal.SIG_DFL,
                        "int": signal.getsignal(signal.SIGINT) is signal.default_int_handler,
                        "wakeup": signal.set_wakeup_fd(-1)}
        """)})

        _, instance = gale.fork()

        # Python installs its KeyboardInterrupt handler only when SIGINT was not ignored at start
        # (a job started with `cmd &` inherits SIGINT ignored); the instance gets what Python gave it
        interrupts = signal.getsignal(signal.SIGINT) is not signal.SIG_IGN
        self.assertEqual(instance.invoke(), {"chld": True, "int": interrupts, "wakeup": -1})

    def test_random_state_is_reseeded_in_every_instance(self):
        numpy_line = "import numpy" if HAVE_NUMPY else ""
        gale = self.start({"main.py": reporting("""
            %s
            import random
            def report():
                values = [random.random()]
                if "numpy" in sys.modules:
                    values.append(float(sys.modules["numpy"].random.rand()))
                return values
        """ % numpy_line)})
        if HAVE_NUMPY:
            self.assertIn("numpy", gale.ready["preloaded"])

        _, a = gale.fork("hello-1-a")
        _, b = gale.fork("hello-1-b")
        first, second = a.invoke(), b.invoke()

        self.assertEqual(len(first), 2 if HAVE_NUMPY else 1)
        for x, y in zip(first, second):
            self.assertNotEqual(x, y)

    def test_bytes_written_to_fds_1_and_2_reach_the_instances_stream_connections(self):
        gale = self.start({"main.py": reporting("""
            def report():
                os.write(1, b"raw out\\n")
                os.write(2, b"raw err\\n")
                return "ok"
        """)})

        _, instance = gale.fork()
        instance.invoke()

        self.assertEqual(instance.read_output("stdout", b"\n"), b"raw out\n")
        self.assertEqual(instance.read_output("stderr", b"\n"), b"raw err\n")

    def test_the_exit_status_of_an_instance_is_reported(self):
        gale = self.start({"main.py": """
            import os
            def handler(request):
                os._exit(3)
        """})
        pid_a, a = gale.fork("hello-1-a")
        pid_b, _ = gale.fork("hello-1-b")

        a.connection.sendall(encode_frame(INVOKE, {"id": "r", "method": "GET", "path": "/", "query": "",
                                                   "headers": [], "deadlineMs": 0, "timeoutMs": 1000}))
        exited = gale.event("exited")
        os.kill(pid_b, signal.SIGKILL)
        killed = gale.event("exited")

        self.assertEqual(exited, {"event": "exited", "pid": pid_a, "code": 3})
        self.assertEqual(killed, {"event": "exited", "pid": pid_b, "signal": 9})

    def test_an_idle_zygote_keeps_a_spare_child_and_the_next_instance_is_that_child(self):
        gale = self.start({"main.py": reporting("""
            def report():
                return os.getpid()
        """)})
        spare = wait_for_children(gale.process.pid, 1)[0]

        pid, instance = gale.fork()

        self.assertEqual(pid, spare)
        self.assertEqual(instance.invoke(), spare)
        replacement = wait_for_children(gale.process.pid, 2)
        self.assertIn(spare, replacement)

    @unittest.skipUnless(HAVE_NUMPY, "needs numpy")
    def test_a_spare_child_has_run_numpys_common_code_before_its_instances_first_call(self):
        # Running library code the first time in a forked process writes pages shared with the
        # zygote (reference counts): copy-on-write faults, which the spare pays ahead of time.
        gale = self.start({"main.py": reporting("""
            import resource
            import numpy
            def report():
                before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
                x = numpy.asarray([[0.0, 1.0], [1.0, 0.0]])
                (x @ x.T).sum(axis=1)
                return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
        """)})
        wait_for_children(gale.process.pid, 1)

        _, instance = gale.fork()

        self.assertLess(instance.invoke(), 40, "page faults of the first numpy call (over 100 without the rehearsal)")

    def test_a_spare_that_died_is_replaced_and_the_instance_still_starts(self):
        gale = self.start({"main.py": reporting("""
            def report():
                return os.getpid()
        """)})
        spare = wait_for_children(gale.process.pid, 1)[0]
        os.kill(spare, signal.SIGKILL)
        time.sleep(0.2)

        pid, instance = gale.fork()

        self.assertNotEqual(pid, spare)
        self.assertEqual(instance.invoke(), pid)
        self.assertNotIn("exited", [event["event"] for event in gale.seen])  # a spare is nobody's instance

    def test_closing_the_control_channel_ends_the_zygote_and_its_instances(self):
        gale = self.start({"main.py": reporting("""
            def report():
                return "here"
        """)})
        pid, instance = gale.fork()
        self.assertEqual(instance.invoke(), "here")

        gale.control.shutdown(socket.SHUT_RDWR)  # what Gale's death looks like to the zygote

        self.assertEqual(gale.process.wait(TIMEOUT_SECONDS), 0)
        self.assertIsNone(instance.next_frame(), "the instance's connection ends: it died with its zygote")
        wait_until_gone(pid)

    def test_an_instance_dies_when_its_zygote_is_killed(self):
        gale = self.start({"main.py": reporting("""
            def report():
                return "here"
        """)})
        pid, instance = gale.fork()
        spare = [child for child in wait_for_children(gale.process.pid, 2) if child != pid][0]

        gale.process.kill()
        gale.process.wait(TIMEOUT_SECONDS)

        wait_until_gone(pid)
        wait_until_gone(spare)

    def test_the_zygote_refuses_a_frame_that_is_not_a_control_message(self):
        gale = self.start({"main.py": reporting("""
            def report():
                return 1
        """)})

        gale.control.sendall(encode_frame(INVOKE, {"op": "fork"}))

        self.assertIn("unexpected frame", gale.event("error")["error"])


class PreloadTest(ZygoteTestCase):

    def test_imports_of_the_entry_module_and_pickled_classes_are_preloaded(self):
        import fractions
        import pickle
        gale = self.start({
            "main.py": """
                import pickle, os
                from xml.dom import minidom
                from os import path
                import helpers
                with open("model.pkl", "rb") as f:
                    MODEL = pickle.load(f)
                def handler(request):
                    return str(MODEL)
            """,
            "helpers.py": "import colorsys\n",
            "model.pkl": pickle.dumps(fractions.Fraction(1, 3)),
        })

        preloaded = gale.ready["preloaded"]

        for module in ("xml.dom", "xml.dom.minidom", "fractions", "colorsys"):
            self.assertIn(module, preloaded)
        self.assertNotIn("os.path", preloaded)
        self.assertNotIn("helpers", preloaded)

    def test_a_module_the_bundle_provides_is_never_preloaded(self):
        gale = self.start({
            "main.py": "import colorsys\ndef handler(request):\n    return colorsys.MINE\n",
            "colorsys.py": "MINE = 'bundle'\n",
        })

        self.assertNotIn("colorsys", gale.ready["preloaded"])
        _, instance = gale.fork()
        self.assertEqual(instance.loaded[0], READY)

    def test_a_module_that_starts_a_thread_is_refused_and_the_instance_imports_it_itself(self):
        gale = self.start({"main.py": reporting("""
            import spinner, colorsys
            import threading
            def report():
                return {"threads": threading.active_count(), "spinner": spinner.STARTED_IN == os.getpid()}
        """)}, site_files={"spinner.py": """
            import os, threading, time
            STARTED_IN = os.getpid()
            threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()
        """})

        self.assertIn("spinner", gale.ready["refused"])
        self.assertIn("thread", gale.ready["refused"]["spinner"])
        self.assertIn("colorsys", gale.ready["preloaded"])
        self.assertEqual(gale.ready["pid"], gale.process.pid)  # re-executed in place
        _, instance = gale.fork()
        self.assertEqual(instance.invoke(), {"threads": 2, "spinner": True})

    def test_a_module_that_keeps_a_socket_open_is_refused(self):
        gale = self.start({"main.py": "import chatty\ndef handler(request):\n    return 'ok'\n"},
                          site_files={"chatty.py": """
            import socket
            CONNECTION = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        """})

        self.assertIn("chatty", gale.ready["refused"])
        self.assertIn("socket", gale.ready["refused"]["chatty"])

    def test_a_failing_import_is_skipped_and_left_to_the_instance_to_report(self):
        gale = self.start({"main.py": "import broken\ndef handler(request):\n    return 'ok'\n"},
                          site_files={"broken.py": "raise RuntimeError('no licence')\n"})

        self.assertEqual(gale.ready["skipped"], {"broken": "RuntimeError: no licence"})
        _, instance = gale.fork()
        self.assertEqual(instance.loaded[0], b"F")
        self.assertIn("no licence", instance.loaded[1]["error"])

    def test_changing_the_environment_at_import_time_turns_dependency_preloading_off(self):
        gale = self.start({"main.py": """
            import os
            os.environ["OMP_NUM_THREADS"] = "1"
            import colorsys
            def handler(request):
                return 'ok'
        """})

        self.assertNotIn("colorsys", gale.ready["preloaded"])
        self.assertIn("main.py line 3", gale.ready["note"])
        self.assertIn("os.environ", gale.ready["note"])

    def test_modules_an_instance_imported_while_loading_are_learned_for_the_next(self):
        gale = self.start({"main.py": """
            import importlib
            importlib.import_module("xml.dom.minidom")  # invisible to the scan
            def handler(request):
                return 'ok'
        """})
        self.assertNotIn("xml.dom.minidom", gale.ready["preloaded"])

        _, instance = gale.fork()
        learned = gale.event("learned")

        self.assertEqual(instance.loaded[0], READY)
        self.assertIn("xml.dom.minidom", learned["modules"])
        self.assertNotIn("main", learned["modules"])


SHARED_DEP = {"shared_dep.py": """
    import os
    LOADED_BY = os.getpid()
"""}

SHARED_DEP_REPORT = reporting("""
    import shared_dep
    def report():
        with open("/proc/%d/stat" % os.getppid()) as f:
            zygote_parent = int(f.read().rsplit(")", 1)[1].split()[1])
        return {"loadedBy": shared_dep.LOADED_BY, "file": shared_dep.__file__, "zygote": os.getppid(),
                "zygoteParent": zygote_parent}
""")


class BaseZygoteTest(ZygoteTestCase):
    """The base zygote imports shared packages once; versions' zygotes are forked from it."""

    def test_as_root_the_base_forks_a_zygote_into_a_sandbox_and_its_later_children_are_born_outside_again(self):
        gale = self.start({"main.py": reporting("""
            def report():
                return {"pidNamespace": os.readlink("/proc/self/ns/pid"), "pid": os.getpid()}
        """)}, base_preload=[])
        if os.geteuid() != 0:  # joining namespaces needs CAP_SYS_ADMIN: the base says it cannot, and Gale starts zygotes itself
            self.assertFalse(gale.base.ready["sandboxes"])
            return
        self.assertTrue(gale.base.ready["sandboxes"])
        anchor = subprocess.Popen(["bwrap", "--die-with-parent", "--unshare-pid", "--ro-bind", "/", "/", "--proc", "/proc",
                                   "--dev", "/dev", "--", "/bin/sleep", "600"])
        self.addCleanup(anchor.wait)
        self.addCleanup(anchor.kill)
        sleep = wait_for_children(wait_for_children(anchor.pid, 1)[0], 1)[0]
        env = dict(gale.env, GALE_ZYGOTE_ID="zygote-boxed", GALE_ZYGOTE_NONCE="boxed-n0nce")

        boxed = gale.base.spawn("zygote-boxed", env, gale.bundle, gale.stderr_path, anchor=sleep)
        connection, _ = gale._listener.accept()
        self.addCleanup(connection.close)
        reader = connection.makefile("rb")
        kind, hello, _ = read_frame(reader)
        while read_frame(reader)[1]["event"] != "ready":
            pass
        connection.sendall(encode_frame(CONTROL, {"op": "fork", "id": "boxed-1",
                                                  "env": dict(gale.env, GALE_INSTANCE_ID="boxed-1", GALE_INSTANCE_NONCE="x")}))
        instance = gale.accept("boxed-1")
        self.addCleanup(instance.close)
        inside = instance.invoke()
        _, outside = gale.fork()  # the version zygote without a sandbox, spawned before: unaffected
        later = gale.base.spawn("zygote-later", dict(gale.env, GALE_ZYGOTE_ID="zygote-later", GALE_ZYGOTE_NONCE="n"),
                                gale.bundle, gale.stderr_path)

        host_namespace = os.readlink("/proc/self/ns/pid")
        self.assertEqual(hello["instance"], "zygote-boxed")
        self.assertNotEqual(inside["pidNamespace"], host_namespace)
        self.assertLess(inside["pid"], 100, "a pid of the sandbox's namespace")
        self.assertEqual(os.readlink(f"/proc/{boxed}/ns/pid"), inside["pidNamespace"], "the zygote is in the sandbox")
        self.assertEqual(outside.invoke()["pidNamespace"], host_namespace)
        self.assertEqual(os.readlink(f"/proc/{later}/ns/pid"), host_namespace, "the base's later children are born outside")
        os.kill(later, signal.SIGKILL)

    def test_a_versions_zygote_is_forked_from_the_base_and_its_instances_use_the_bases_imports(self):
        gale = self.start({"main.py": SHARED_DEP_REPORT}, site_files=SHARED_DEP, base_preload=["shared_dep"])
        self.assertIn("shared_dep", gale.base.ready["preloaded"])

        pid, instance = gale.fork()
        report = instance.invoke()

        self.assertEqual(report["loadedBy"], gale.process.pid, "the module object is the base's, imported once")
        self.assertEqual(report["zygote"], gale.pid)
        self.assertEqual(report["zygoteParent"], gale.process.pid)
        self.assertNotEqual(gale.pid, gale.process.pid)

    def test_a_bundle_with_its_own_module_of_a_base_modules_name_gets_an_interpreter_of_its_own(self):
        gale = self.start({"main.py": SHARED_DEP_REPORT, "shared_dep.py": "import os\nLOADED_BY = 'the bundle'\n"},
                          site_files=SHARED_DEP, base_preload=["shared_dep"])

        _, instance = gale.fork()
        report = instance.invoke()

        self.assertEqual(report["loadedBy"], "the bundle")
        self.assertIn("not forked from the base zygote: the bundle has its own shared_dep", gale.stderr())

    def test_an_import_sensitive_variable_of_the_function_gets_an_interpreter_of_its_own(self):
        gale = self.start({"main.py": SHARED_DEP_REPORT}, site_files=SHARED_DEP, base_preload=["shared_dep"],
                          version_env={"OMP_NUM_THREADS": "3"})

        _, instance = gale.fork()
        report = instance.invoke()

        self.assertEqual(report["loadedBy"], gale.pid, "the version's zygote imported it itself, under its variables")
        self.assertIn("its environment sets OMP_NUM_THREADS", gale.stderr())

    def test_the_version_zygote_has_no_capabilities_left(self):
        gale = self.start({"main.py": reporting("""
            def report():
                with open("/proc/self/status") as f:
                    fields = dict(line.split(":", 1) for line in f if ":" in line)
                return {k: fields[k].strip() for k in ("CapEff", "CapPrm", "CapBnd", "NoNewPrivs")}
        """)}, base_preload=[])

        _, instance = gale.fork()
        status = instance.invoke()

        self.assertEqual((status["CapEff"], status["CapPrm"], status["NoNewPrivs"]), ("0000000000000000", "0000000000000000", "1"))
        if os.geteuid() == 0:  # the base has every capability as root: its child must have dropped the bounding set too
            self.assertEqual(status["CapBnd"], "0000000000000000")


class ScanTest(unittest.TestCase):
    """The static part: what a bundle is found to depend on, without running it."""

    def bundle(self, files):
        directory = tempfile.TemporaryDirectory()
        self.addCleanup(directory.cleanup)
        for name, content in files.items():
            path = Path(directory.name) / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(content))
        return directory.name

    def test_requirements_become_import_names(self):
        # scikit-learn is installed (Debian's python3-sklearn, in GALE_APT_PACKAGES); not-installed-pkg is not.
        root = self.bundle({"requirements.txt": "scikit-learn>=1.0  # the model\n-r other.txt\nnot-installed-pkg\n"})

        self.assertEqual(_zygote.requirement_modules(root), ["sklearn"])

    def test_only_imports_that_run_at_import_time_count(self):
        root = self.bundle({"main.py": """
            import a
            try:
                import b
            except ImportError:
                b = None
            class C:
                import c
            def f():
                import d
            from e.f import g, h
            from . import rel
        """})

        candidates, _, note = _zygote.plan_preload(root, "main.py", signature="event")

        self.assertIsNone(note)
        self.assertEqual(candidates, [("a", False), ("b", False), ("c", False), ("e.f", False),
                                      ("e.f.g", True), ("e.f.h", True)])

    def test_flask_is_preloaded_for_cloud_functions_style_functions_only(self):
        root = self.bundle({"main.py": "def handler(request):\n    return 'ok'\n"})

        self.assertIn(("flask", False), _zygote.plan_preload(root, "main.py", "http")[0])
        self.assertIn(("flask", False), _zygote.plan_preload(root, "main.py", "auto")[0])
        self.assertNotIn(("flask", False), _zygote.plan_preload(root, "main.py", "event")[0])

    def test_changes_to_the_environment_or_import_path_are_found(self):
        for line in ("os.environ['X'] = '1'", "os.environ.update(X='1')", "sys.path.insert(0, 'lib')",
                     "os.putenv('X', '1')", "del os.environ['X']", "sys.modules['x'] = None",
                     "load_dotenv()", "environ.setdefault('X', '1')"):
            with self.subTest(line):
                root = self.bundle({"main.py": f"import os, sys\n{line}\nimport json\n"})
                self.assertIsNotNone(_zygote.plan_preload(root, "main.py", "event")[2])
        for line in ("x = os.environ.get('X')", "y = os.environ['X']", "print(sys.path)"):
            with self.subTest(line):
                root = self.bundle({"main.py": f"import os, sys\n{line}\n"})
                self.assertIsNone(_zygote.plan_preload(root, "main.py", "event")[2])

    def test_a_change_in_a_bundle_module_the_entry_module_imports_counts_too(self):
        root = self.bundle({"main.py": "import settings\nimport json\n",
                            "settings.py": "import os\nos.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'\n"})

        candidates, _, note = _zygote.plan_preload(root, "main.py", "event")

        self.assertEqual(candidates, [])
        self.assertIn("settings.py line 2", note)


if __name__ == "__main__":
    unittest.main()
