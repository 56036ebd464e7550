"""End-to-end tests of gale/_remote.py: an instance that joins Gale over TCP, as in a pod.

Each test plays Gale's side of docs/protocol.md ("Over TCP"): it listens on 127.0.0.1, starts
``python3 -m gale._remote`` in an empty working folder, as the pod's container does, sends the
CHALLENGE, checks the HELLO's proof, and sends SETUP and the archives.
"""

import hashlib
import hmac
import io
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest
import zipfile
from pathlib import Path

PYTHON_DIR = Path(__file__).resolve().parent.parent
TIMEOUT_SECONDS = 10
PREFIX = struct.Struct(">cII")
HELLO, READY, INVOKE, RESPONSE, LOG = b"H", b"R", b"I", b"r", b"L"
CHALLENGE, SETUP, ARCHIVE = b"K", b"U", b"A"
INSTANCE_ID = "hello-3-1a2b"
NONCE = "0123456789abcdef0123456789abcdef"


def encode_frame(kind, header, body=b""):
    header_bytes = json.dumps(header).encode()
    return PREFIX.pack(kind, len(header_bytes), len(body)) + header_bytes + body


def zipped(files):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, textwrap.dedent(content))
    return buffer.getvalue()


def announce(name, data):
    return {"name": name, "digest": "sha256:" + hashlib.sha256(data).hexdigest(), "bytes": len(data)}


class TcpGale:
    """Gale's end of one instance over TCP: listens, starts the remote bootstrap, exchanges frames."""

    def __init__(self, nonce=NONCE):
        self._tmp = tempfile.TemporaryDirectory(prefix="gale-remote-test-")
        self.work = Path(self._tmp.name) / "work"
        self.work.mkdir()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(TIMEOUT_SECONDS)
        environment = {k: v for k, v in os.environ.items() if not k.startswith("GALE_")}
        environment.update({
            "GALE_ADDRESS": "127.0.0.1:%d" % self._listener.getsockname()[1],
            "GALE_INSTANCE_ID": INSTANCE_ID,
            "GALE_INSTANCE_NONCE": nonce,
            "PYTHONPATH": str(PYTHON_DIR),
            "PYTHONDONTWRITEBYTECODE": "1",
        })
        self.stderr_path = Path(self._tmp.name) / "stderr"
        with open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen([sys.executable, "-m", "gale._remote"], cwd=self.work, env=environment,
                                            stdout=subprocess.DEVNULL, stderr=err)
        self._conn, _ = self._listener.accept()
        self._conn.settimeout(TIMEOUT_SECONDS)
        self._reader = self._conn.makefile("rb")

    def send(self, kind, header, body=b""):
        self._conn.sendall(encode_frame(kind, header, body))

    def receive(self):
        prefix = self._reader.read(PREFIX.size)
        if len(prefix) < PREFIX.size:
            return None
        kind, header_length, body_length = PREFIX.unpack(prefix)
        header = json.loads(self._reader.read(header_length))
        return kind, header, self._reader.read(body_length)

    def receive_skipping_logs(self):
        while True:
            frame = self.receive()
            if frame is None or frame[0] != LOG:
                return frame

    def challenge(self, protocol=1):
        """Sends a CHALLENGE; returns it and the HELLO that answers it."""
        challenge = os.urandom(32).hex()
        self.send(CHALLENGE, {"challenge": challenge, "protocol": protocol})
        return challenge, self.receive()

    def set_up(self, env, archives):
        """SETUP announcing {name: bytes}, then each archive in ARCHIVE frames of at most 1000 bytes."""
        self.send(SETUP, {"env": env, "archives": [announce(name, data) for name, data in archives.items()]})
        for data in archives.values():
            for start in range(0, len(data), 1000):
                self.send(ARCHIVE, {}, data[start:start + 1000])

    def invoke(self, path="/"):
        now_ms = int(time.time() * 1000)
        self.send(INVOKE, {"id": "req-1", "method": "GET", "path": path, "query": "", "headers": [],
                           "remoteAddr": "10.0.0.7", "scheme": "http", "host": "gale:8080",
                           "deadlineMs": now_ms + 60_000, "timeoutMs": 60_000})
        return self.receive_skipping_logs()

    def wait_exit(self):
        return self.process.wait(TIMEOUT_SECONDS)

    def stderr(self):
        return self.stderr_path.read_text(errors="replace")

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for closable in (self._reader, self._conn, self._listener):
            closable.close()
        self._tmp.cleanup()


FUNCTION_ENV = {
    "GALE_FUNCTION": "hello", "GALE_VERSION": "3", "GALE_ENTRY_POINT": "handler", "GALE_ENTRY_MODULE": "main.py",
    "GALE_SIGNATURE": "event", "GALE_CONCURRENCY": "1", "GALE_MEMORY_MB": "256", "GALE_URL_PREFIX": "/fn/hello",
    "GALE_STATE_TOKEN": "state-token-for-hello", "GREETING": "hi",
}

HANDLER = """
    import os, sys, json
    import helper
    def handler(event, context):
        return {"cwd": os.getcwd(), "greeting": os.environ["GREETING"], "helper": helper.NAME,
                "secret_visible": "GALE_INSTANCE_NONCE" in os.environ, "path0": sys.path[0],
                "files": sorted(os.listdir("."))}
"""


class RemoteJoinTest(unittest.TestCase):

    def start(self, **options):
        gale = TcpGale(**options)
        self.addCleanup(gale.close)
        return gale

    def test_answers_the_challenge_with_an_hmac_of_it_keyed_with_the_nonce_and_never_sends_the_nonce(self):
        gale = self.start()
        challenge, hello = gale.challenge()
        self.assertEqual(hello[0], HELLO)
        header = hello[1]
        self.assertEqual(header["instance"], INSTANCE_ID)
        expected = hmac.new(NONCE.encode(), f"{challenge}\n{INSTANCE_ID}".encode(), hashlib.sha256).hexdigest()
        self.assertEqual(header["proof"], expected)
        self.assertNotIn(NONCE, json.dumps(header))

    def test_unpacks_the_bundle_and_packages_then_serves_with_the_environment_from_setup(self):
        gale = self.start()
        gale.challenge()
        bundle = zipped({"main.py": HANDLER})
        packages = zipped({"helper.py": "NAME = 'from packages'\n"})
        gale.set_up(FUNCTION_ENV, {"task": bundle, "packages": packages})
        ready = gale.receive_skipping_logs()
        self.assertEqual(ready[0], READY, gale.stderr())
        self.assertEqual(ready[1]["signature"], "event")
        kind, header, body = gale.invoke()
        self.assertEqual(kind, RESPONSE, header)
        answer = json.loads(body)
        self.assertEqual(answer["cwd"], str(gale.work / "task"))
        self.assertEqual(answer["greeting"], "hi")
        self.assertEqual(answer["helper"], "from packages")
        self.assertFalse(answer["secret_visible"], "user code must not see the instance's secret")
        self.assertEqual(answer["files"], ["main.py"])

    def test_a_damaged_archive_is_refused_before_anything_is_unpacked(self):
        gale = self.start()
        gale.challenge()
        bundle = zipped({"main.py": HANDLER})
        gale.send(SETUP, {"env": FUNCTION_ENV, "archives": [dict(announce("task", bundle), digest="sha256:" + "0" * 64)]})
        gale.send(ARCHIVE, {}, bundle)
        self.assertEqual(gale.wait_exit(), 1)
        self.assertIn("archive task arrived damaged", gale.stderr())
        self.assertFalse((gale.work / "task").exists())

    def test_an_archive_longer_than_announced_is_a_protocol_error(self):
        gale = self.start()
        gale.challenge()
        bundle = zipped({"main.py": HANDLER})
        gale.send(SETUP, {"env": FUNCTION_ENV, "archives": [dict(announce("task", bundle), bytes=10)]})
        gale.send(ARCHIVE, {}, bundle)
        self.assertEqual(gale.wait_exit(), 1)
        self.assertIn("ProtocolError", gale.stderr())

    def test_an_archive_gale_does_not_send_is_refused(self):
        gale = self.start()
        gale.challenge()
        gale.send(SETUP, {"env": {}, "archives": [announce("task", b""), announce("../etc", b"x")]})
        self.assertEqual(gale.wait_exit(), 1)
        self.assertIn("announced an archive Gale does not send", gale.stderr())

    def test_another_protocol_version_exits_naming_both(self):
        gale = self.start()
        gale.send(CHALLENGE, {"challenge": "c", "protocol": 99})
        self.assertEqual(gale.wait_exit(), 2)
        self.assertIn("speaks Gale's TCP protocol 1 and Gale speaks 99", gale.stderr())

    def test_gale_closing_after_the_hello_is_a_clear_refusal(self):
        gale = self.start(nonce="not-the-secret-gale-holds")
        gale.challenge()
        gale._conn.shutdown(socket.SHUT_RDWR)
        self.assertEqual(gale.wait_exit(), 1)
        self.assertIn("Gale closed the connection before sending SETUP", gale.stderr())

    def test_without_an_address_it_says_who_starts_it(self):
        result = subprocess.run([sys.executable, "-m", "gale._remote"], cwd=PYTHON_DIR, capture_output=True, text=True,
                                env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(PYTHON_DIR)},
                                timeout=TIMEOUT_SECONDS)
        self.assertEqual(result.returncode, 1)
        self.assertIn("GALE_ADDRESS is not set", result.stderr)


class AddressTest(unittest.TestCase):

    def test_host_and_port(self):
        sys.path.insert(0, str(PYTHON_DIR))
        from gale import _remote
        self.assertEqual(_remote.split_address("10.1.2.3:7070"), ("10.1.2.3", 7070))
        self.assertEqual(_remote.split_address("[fd00::1]:7070"), ("fd00::1", 7070))
        for bad in ("gale", "gale:", ":7070", "gale:http"):
            with self.assertRaises(_remote.JoinError, msg=bad):
                _remote.split_address(bad)


if __name__ == "__main__":
    unittest.main()
