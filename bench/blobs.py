"""Blob put and get throughput (MB/s) through Gale's REST API, against a plain file copy of the
same bytes on the same disk, in the same run.

Gale: a `gale server` started here on 127.0.0.1. For each SIZE_MB, ROUNDS rounds of:
- put: `gale.blobs.put(ref, file=PATH)` of new random bytes (streamed from the file, hashed and
  written by the server, one new version each);
- get: `GET /v1/blobs/...` read to the end into a file (no cache: each round downloads);
- cached open: `gale.blobs.open(ref)` of a version already in the local cache (a 304 and an open).
Baseline: `shutil.copyfile` of the same file to another file in the same directory (the disk's
copy speed; Gale's put and get each copy once plus HTTP and SHA-256).

    python3 bench/blobs.py                     # about a minute
    SIZES_MB=1,64,256 ROUNDS=5 WARMUP=20 python3 bench/blobs.py
"""
import os
import shutil
import sys
import tempfile
import time
from unittest import mock

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from map_common import log, median, start_server, table, write_results  # noqa: E402

from gale import blobs  # noqa: E402

SIZES_MB = [int(s) for s in os.environ.get("SIZES_MB", "1,16,128").split(",")]
ROUNDS = int(os.environ.get("ROUNDS", 5))
WARMUP = int(os.environ.get("WARMUP", 20))


def random_file(directory, mb):
    path = os.path.join(directory, f"src-{mb}.bin")
    with open(path, "wb") as f:
        for _ in range(mb):
            f.write(os.urandom(1 << 20))
    return path


def measure(server, work, mb):
    client = server.client(timeout=600)
    source = random_file(work, mb)
    puts, gets, cached, copies = [], [], [], []
    ref = f"bench/size-{mb}mb"
    for round_ in range(ROUNDS):
        with open(source, "r+b") as f:  # new bytes each round, so each put makes a version
            f.write(os.urandom(16))
        started = time.perf_counter()
        blobs.put(ref, file=source, client=client)
        puts.append(time.perf_counter() - started)

        target = os.path.join(work, "got.bin")
        started = time.perf_counter()
        connection, response = blobs._send(client, "GET", blobs._path("bench", f"size-{mb}mb"), headers={"Accept": "*/*"})
        with open(target, "wb") as out:
            while True:
                chunk = response.read(1 << 20)
                if not chunk:
                    break
                out.write(chunk)
        connection.close()
        gets.append(time.perf_counter() - started)
        if os.path.getsize(target) != mb << 20:
            raise SystemExit(f"GET answered {os.path.getsize(target)} bytes, not {mb << 20}")

        with mock.patch.object(blobs, "_cache_dir", lambda: os.path.join(work, "cache")):
            blobs.get(ref, client=client)  # into the cache
            started = time.perf_counter()
            with blobs.open(ref, client=client) as f:
                f.read(1)
            cached.append(time.perf_counter() - started)

        copy = os.path.join(work, "copy.bin")
        started = time.perf_counter()
        shutil.copyfile(source, copy)
        copies.append(time.perf_counter() - started)
        os.unlink(copy)
        log(f"{mb} MB round {round_ + 1}: put {puts[-1]:.3f}s, get {gets[-1]:.3f}s, cached open {cached[-1] * 1000:.1f}ms, "
            f"copy {copies[-1]:.3f}s")
    client.close()
    return median(puts), median(gets), median(cached), median(copies)


def warm_up(server, work):
    """Puts and gets of 1 MB until the server's JIT has compiled the path (the first ones take 10x longer)."""
    client = server.client(timeout=600)
    source = random_file(work, 1)
    for i in range(WARMUP):
        blobs.put(f"warmup/k{i}", file=source, client=client)
        blobs._cache._etags.clear()
        with mock.patch.object(blobs, "_cache_dir", lambda: os.path.join(work, f"warm-cache-{i}")):
            blobs.get(f"warmup/k{i}", client=client)
    client.close()


def main():
    server = start_server()
    work = tempfile.mkdtemp(prefix="gale-bench-blobs-", dir=os.path.dirname(server.data_dir))
    rows = []
    try:
        warm_up(server, work)
        for mb in SIZES_MB:
            put, get, cached, copy = measure(server, work, mb)
            rows.append((f"{mb} MB", f"{mb / put:,.0f}", f"{mb / get:,.0f}", f"{mb / copy:,.0f}",
                         f"{copy / put:.2f}", f"{copy / get:.2f}", f"{cached * 1000:.1f}"))
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    write_results("blobs", "Blob put/get throughput vs a plain file copy", [
        table(["size", "put MB/s", "get MB/s", "file copy MB/s", "put vs copy", "get vs copy", "cached open ms"], rows),
        f"Medians of {ROUNDS} rounds, after {WARMUP} puts and gets of 1 MB (the JIT). put: gale.blobs.put(file=...) streamed over HTTP on 127.0.0.1, hashed (SHA-256) "
        "and written by the server; get: GET read to the end into a file; cached open: gale.blobs.open of a cached "
        "version (If-None-Match, 304, open). Copy: shutil.copyfile on the same disk, in the same run."],
        f"python3 bench/blobs.py  # SIZES_MB={','.join(map(str, SIZES_MB))} ROUNDS={ROUNDS} WARMUP={WARMUP}")


if __name__ == "__main__":
    main()
