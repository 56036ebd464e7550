"""The process inside a Gale function instance that runs on another machine than Gale (a pod).

Such an instance has no UNIX socket to Gale. Gale starts ``python3 -m gale._remote`` in an
empty working folder with ``GALE_ADDRESS`` (host:port of Gale's instance port),
``GALE_INSTANCE_ID`` and ``GALE_INSTANCE_NONCE``. This module connects over TCP, answers
Gale's CHALLENGE with an HMAC of it keyed with the nonce (so the secret never crosses the
network), and receives in SETUP the environment the instance runs with and the archives of
its files: the bundle, unpacked into ``task/``, which becomes the working directory, and the
packages its requirements installed, unpacked into ``packages/`` and put on the path. Each
archive's SHA-256 is checked before it is unpacked. Then it is an instance like any other:
``gale._bootstrap`` loads the user's code on the same connection. docs/protocol.md, "Over
TCP", specifies the frames.

Standard library only, like the bootstrap.
"""

import hashlib
import hmac
import os
import shutil
import socket
import sys
import tempfile
import zipfile

from gale import _bootstrap

CHALLENGE = b"K"
SETUP = b"U"
ARCHIVE = b"A"
TCP_PROTOCOL = 1  # as gale.runtime.InstanceListener.TCP_PROTOCOL
ARCHIVE_NAMES = ("task", "packages")
CONNECT_TIMEOUT_SECONDS = 30


class JoinError(Exception):
    """The instance could not join Gale; the message says why and what to do."""

    exit_code = 1


class VersionMismatch(JoinError):
    """Gale speaks another version of the TCP protocol than this bootstrap."""

    exit_code = 2


def split_address(address):
    """(host, port) of ``host:port`` or ``[v6]:port``."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise JoinError(f"GALE_ADDRESS must be HOST:PORT, got {address!r}")
    return host.strip("[]"), int(port)


def connect(address):
    """A channel to Gale's instance port; blocking, without a timeout once connected."""
    host, port = split_address(address)
    try:
        sock = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_SECONDS)
    except OSError as exc:
        raise JoinError(f"cannot connect to Gale at {address}: {exc}; is the Gale node's instance "
                        "port reachable from this pod (a NetworkPolicy, --advertise-address)?") from None
    sock.settimeout(None)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return _bootstrap.Channel(sock)


def proof(nonce, challenge, instance_id):
    """What Gale expects back for its challenge: hex HMAC-SHA256 of "challenge\\nid", keyed with the nonce."""
    message = f"{challenge}\n{instance_id}".encode()
    return hmac.new(nonce.encode(), message, hashlib.sha256).hexdigest()


def expect(channel, kind, what):
    frame = channel.receive()
    if frame is None:
        raise JoinError(f"Gale closed the connection before sending {what}; does it expect this instance "
                        "(a wrong secret, or the instance was given up)? See Gale's log")
    if frame[0] != kind:
        raise _bootstrap.ProtocolError(f"expected {what}, got frame type {frame[0]!r}")
    return frame[1], frame[2]


def join(channel, instance_id, nonce):
    """CHALLENGE, HELLO, SETUP: returns the SETUP header (the environment and the archives to come)."""
    challenge, _ = expect(channel, CHALLENGE, "its CHALLENGE")
    if challenge.get("protocol") != TCP_PROTOCOL:
        raise VersionMismatch(f"this bootstrap speaks Gale's TCP protocol {TCP_PROTOCOL} and Gale speaks "
                        f"{challenge.get('protocol')}: run the function image of the same Gale release as the node")
    channel.send(_bootstrap.HELLO, {
        "instance": instance_id,
        "proof": proof(nonce, str(challenge.get("challenge", "")), instance_id),
        "pid": os.getpid(),
        "python": "%d.%d.%d" % sys.version_info[:3],
    })
    setup, _ = expect(channel, SETUP, "SETUP")
    if not isinstance(setup.get("env"), dict) or not isinstance(setup.get("archives"), list):
        raise _bootstrap.ProtocolError("SETUP without env and archives")
    for archive in setup["archives"]:
        if (not isinstance(archive, dict) or archive.get("name") not in ARCHIVE_NAMES
                or not isinstance(archive.get("bytes"), int) or archive["bytes"] < 0):
            raise _bootstrap.ProtocolError(f"SETUP announced an archive Gale does not send: {archive!r}")
    if "task" not in [archive["name"] for archive in setup["archives"]]:
        raise _bootstrap.ProtocolError("SETUP announced no task archive (the bundle)")
    return setup


def receive_archives(channel, archives, work_dir):
    """Receives each archive SETUP announced (checked by join) in ARCHIVE frames, checks its digest
    and unpacks it into work_dir/NAME."""
    for archive in archives:
        name, digest, size = archive["name"], str(archive.get("digest", "")), archive["bytes"]
        with tempfile.TemporaryFile(dir=work_dir) as spool:
            sha256 = hashlib.sha256()
            received = 0
            while received < size:
                _, body = expect(channel, ARCHIVE, f"the rest of archive {name} ({size - received} bytes)")
                if not body or received + len(body) > size:
                    raise _bootstrap.ProtocolError(f"archive {name} got {len(body)} more bytes, {size - received} were due")
                sha256.update(body)
                spool.write(body)
                received += len(body)
            actual = "sha256:" + sha256.hexdigest()
            if not hmac.compare_digest(actual, digest):
                raise JoinError(f"archive {name} arrived damaged: digest {actual}, Gale announced {digest}")
            spool.seek(0)
            target = os.path.join(work_dir, name)
            shutil.rmtree(target, ignore_errors=True)
            with zipfile.ZipFile(spool) as zipped:
                zipped.extractall(target)  # drops absolute paths and '..' parts


def _take_packages(work_dir):
    """Puts unpacked packages first on the path, for user code and for Python processes it starts."""
    packages = os.path.join(work_dir, "packages")
    if not os.path.isdir(packages):
        return
    sys.path.insert(0, packages)
    inherited = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = packages + (os.pathsep + inherited if inherited else "")


def main():
    address = os.environ.get("GALE_ADDRESS", "")
    instance_id = os.environ.get("GALE_INSTANCE_ID", "")
    nonce = os.environ.pop("GALE_INSTANCE_NONCE", "")
    if not address:
        sys.exit("gale: GALE_ADDRESS is not set; Gale starts this program in a pod")
    work_dir = os.getcwd()
    # `python3 -m` put the working folder first on the path; user code gets its own folder there instead.
    sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or ".") != work_dir]
    try:
        channel = connect(address)
        setup = join(channel, instance_id, nonce)
        receive_archives(channel, setup["archives"], work_dir)
    except JoinError as exc:
        print(f"gale: {exc}", file=sys.stderr, flush=True)
        sys.exit(exc.exit_code)
    except (OSError, _bootstrap.ProtocolError, zipfile.BadZipFile) as exc:
        print(f"gale: could not join Gale at {address}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)
    os.environ.update({str(k): str(v) for k, v in setup["env"].items()})
    _take_packages(work_dir)
    os.chdir(os.path.join(work_dir, "task"))
    _bootstrap.main(channel=channel)


if __name__ == "__main__":
    main()
