"""State increments/s and sampler draws/s from 64 concurrent HTTP clients, against
hand-written SQLite loops doing the same work.

Gale: a `gale server` started here on 127.0.0.1; wrk (2 threads, CLIENTS connections) for
DURATION seconds each, after a WARMUP-second run (the JIT):
- POST /v1/state/NS/KEY?op=increment on one hot key, and spread over 64 keys. The run checks
  that no update was lost: the keys' sum must be at least wrk's completed requests and exceed
  them by no more than the requests in flight when wrk stopped (CLIENTS).
- POST /v1/samplers/bench/draw, k=1, a new respondent each time, from a sampler of ITEMS
  items (target high enough never to run out). The run checks that the leases held equal the
  draws answered (give or take those in flight).
Every write is answered only once committed to the store's SQLite file (WAL, synchronous=NORMAL).

Baselines, measured in the same run on the same machine, with Python's sqlite3 on a file with
the same settings, one `BEGIN IMMEDIATE ... COMMIT` transaction per operation, from one thread
and from CLIENTS threads with a connection each (busy_timeout 10 s):
- an increment: `UPDATE counters SET v = v + 1`;
- a draw: select the least-shown item below the target the respondent has not seen (through an
  index on the count, as Gale's), insert the draw, add one to the item's count (the statements
  Gale's sampler runs, minus lease expiry).

    python3 bench/state_ops.py                    # about two minutes
    CLIENTS=64 DURATION=10 python3 bench/state_ops.py

Needs wrk (bench/install-packages). Modal documents "a few dozen ms" per Dict operation;
the issue's goal is >= 5,000 increments/s on 2 CPUs.
"""
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from map_common import log, start_server, table, write_results  # noqa: E402

CLIENTS = int(os.environ.get("CLIENTS", 64))
DURATION = int(os.environ.get("DURATION", 10))
WARMUP = int(os.environ.get("WARMUP", 5))
SQLITE_SECONDS = float(os.environ.get("SQLITE_SECONDS", 5))
ITEMS = int(os.environ.get("ITEMS", 100))
HERE = os.path.dirname(os.path.abspath(__file__))

WRK_SCRIPT = """
local keys = tonumber(os.getenv("STATE_KEYS"))
local token = os.getenv("STATE_TOKEN")
local ns = os.getenv("STATE_NS")
local n = 0
request = function()
  n = n + 1
  local key = keys == 1 and "hits" or ("k" .. (n % keys))
  return wrk.format("POST", "/v1/state/" .. ns .. "/" .. key .. "?op=increment",
                    {["Authorization"] = "Bearer " .. token, ["Content-Length"] = "0"}, nil)
end
"""


DRAW_SCRIPT = """
local token = os.getenv("STATE_TOKEN")
local threads = 0
local n = 0
setup = function(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
request = function()
  n = n + 1
  local body = '{"respondent":"r' .. tid .. '-' .. n .. '","k":1}'
  return wrk.format("POST", "/v1/samplers/" .. os.getenv("STATE_NS") .. "/draw",
                    {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
end
"""


def wrk(server, namespace, keys, seconds, script=WRK_SCRIPT):
    """wrk's GALE_BENCH figures for `seconds` of `script` (increments over `keys` keys of `namespace` by default)."""
    with open(os.path.join(HERE, "wrk_report.lua")) as report:
        script = script + report.read()
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as file:
        file.write(script)
    env = dict(os.environ, STATE_KEYS=str(keys), STATE_TOKEN=server.token, STATE_NS=namespace)
    try:
        out = subprocess.run(["wrk", "-t2", f"-c{CLIENTS}", f"-d{seconds}s", "-s", file.name, server.url],
                             capture_output=True, text=True, env=env, timeout=seconds + 60).stdout
    finally:
        os.unlink(file.name)
    line = next((l for l in out.splitlines() if l.startswith("GALE_BENCH")), None)
    if line is None:
        raise SystemExit(f"wrk printed no GALE_BENCH line:\n{out}")
    return {k: float(v) for k, v in re.findall(r"(\w+)=([\d.]+)", line)}


def api(server, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(server.url + path, data=data, method=method,
                                     headers={"Authorization": f"Bearer {server.token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request) as answer:
        return json.load(answer)


def stored_sum(server, namespace):
    total, after = 0, None
    while True:
        page = api(server, "GET", f"/v1/state/{namespace}?limit=1000" + (f"&after={after}" if after else ""))
        total += sum(e["value"] for e in page["entries"])
        after = page["next"]
        if after is None:
            return total


def gale_rows(server):
    rows = []
    wrk(server, "warmup", 64, WARMUP)
    for keys in (1, 64):
        namespace = f"bench-{keys}"
        result = wrk(server, namespace, keys, DURATION)
        stored = stored_sum(server, namespace)
        lost = result["requests"] - stored
        if lost > 0 or stored - result["requests"] > CLIENTS or result["non2xx"] or result["socket_errors"]:
            raise SystemExit(f"increments lost or failed on {keys} key(s): wrk completed {result['requests']:.0f}, "
                             f"stored sum {stored}, non-2xx {result['non2xx']:.0f}, socket errors {result['socket_errors']:.0f}")
        log(f"gale, {keys} key(s): {result['rps']:.0f}/s, p50 {result['p50_us'] / 1000:.1f} ms, "
            f"p99 {result['p99_us'] / 1000:.1f} ms; {stored} stored for {result['requests']:.0f} answered")
        rows.append((f"increments: Gale over HTTP, {CLIENTS} clients, {keys} key{'s' if keys > 1 else ''}", result["rps"],
                     result["p50_us"] / 1000, result["p99_us"] / 1000))
    return rows


def gale_draw_rows(server):
    items = [f"item-{i}" for i in range(ITEMS)]
    for name in ("warmup-draws", "bench"):
        api(server, "POST", f"/v1/samplers/{name}", {"items": items, "target": 1_000_000, "lease": "1h"})
    wrk(server, "warmup-draws", 1, WARMUP, DRAW_SCRIPT)
    result = wrk(server, "bench", 1, DURATION, DRAW_SCRIPT)
    stats = api(server, "GET", "/v1/samplers/bench")
    if (stats["leased"] < result["requests"] or stats["leased"] - result["requests"] > CLIENTS
            or result["non2xx"] or result["socket_errors"]):
        raise SystemExit(f"draws lost or failed: wrk completed {result['requests']:.0f}, leases held {stats['leased']}, "
                         f"non-2xx {result['non2xx']:.0f}, socket errors {result['socket_errors']:.0f}")
    log(f"gale draws: {result['rps']:.0f}/s, p50 {result['p50_us'] / 1000:.1f} ms, p99 {result['p99_us'] / 1000:.1f} ms; "
        f"{stats['leased']} leases for {result['requests']:.0f} answered")
    return [(f"draws: Gale over HTTP, {CLIENTS} clients, k=1, {ITEMS} items", result["rps"],
             result["p50_us"] / 1000, result["p99_us"] / 1000)]


def increment(db, thread, n):
    db.execute("UPDATE counters SET v = v + 1 WHERE k = 'hits'")


def draw(db, thread, n):
    respondent = f"r{thread}-{n}"
    row = db.execute("""SELECT item_id FROM items i WHERE shown < 1000000 AND NOT EXISTS
                        (SELECT 1 FROM draws d WHERE d.respondent = ? AND d.item_id = i.item_id)
                        ORDER BY shown, position LIMIT 1""", (respondent,)).fetchone()
    db.execute("INSERT INTO draws VALUES (?, ?)", (respondent, row[0]))
    db.execute("UPDATE items SET shown = shown + 1 WHERE item_id = ?", (row[0],))


def sqlite_loop(threads, operation=increment):
    """Operations/s of `threads` threads running one-operation transactions for SQLITE_SECONDS."""
    folder = tempfile.mkdtemp(prefix="gale-bench-sqlite-")
    path = os.path.join(folder, "loop.db")
    setup = sqlite3.connect(path)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE counters (k TEXT PRIMARY KEY, v INTEGER NOT NULL)")
    setup.execute("INSERT INTO counters VALUES ('hits', 0)")
    setup.execute("CREATE TABLE items (item_id TEXT PRIMARY KEY, position INTEGER NOT NULL, shown INTEGER NOT NULL)")
    setup.executemany("INSERT INTO items VALUES (?, ?, 0)", [(f"item-{i}", i) for i in range(ITEMS)])
    setup.execute("CREATE INDEX items_by_shown ON items (shown, position)")  # as Gale's sampler_items
    setup.execute("CREATE TABLE draws (respondent TEXT NOT NULL, item_id TEXT NOT NULL, PRIMARY KEY (respondent, item_id))")
    setup.commit()
    setup.close()
    stop = time.perf_counter() + SQLITE_SECONDS
    counts = [0] * threads

    def loop(i):
        db = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA synchronous=NORMAL")
        while time.perf_counter() < stop:
            db.execute("BEGIN IMMEDIATE")
            operation(db, i, counts[i])
            db.execute("COMMIT")
            counts[i] += 1
        db.close()

    started = time.perf_counter()
    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - started
    check = sqlite3.connect(path)
    stored = check.execute("SELECT v FROM counters" if operation is increment else "SELECT SUM(shown) FROM items").fetchone()[0]
    check.close()
    if stored != sum(counts):
        raise SystemExit(f"the SQLite loop lost updates: {sum(counts)} made, {stored} stored")
    return stored / elapsed


def main():
    server = start_server()
    try:
        rows = gale_rows(server) + gale_draw_rows(server)
    finally:
        server.stop()
    body = []
    for what, operation, gale in (("increments", increment, rows[:2]), ("draws", draw, rows[2:])):
        baseline = {n: sqlite_loop(n, operation) for n in (1, CLIENTS)}
        for n, rate in baseline.items():
            log(f"sqlite3 {what} loop, {n} thread(s): {rate:.0f}/s")
        best = max(baseline.values())
        body += [(name, f"{rps:,.0f}", f"{p50:.2f}", f"{p99:.2f}", f"{rps / best:.2f}") for name, rps, p50, p99 in gale]
        body += [(f"{what}: sqlite3 loop (Python), {n} thread{'s' if n > 1 else ''}, one transaction each",
                  f"{rate:,.0f}", "", "", f"{rate / best:.2f}") for n, rate in baseline.items()]
    write_results("state_ops", "State increments/s and sampler draws/s", [
        table(["configuration", "ops/s", "p50 ms", "p99 ms", "vs the faster SQLite loop of its kind"], body),
        f"Gale: wrk -t2 -c{CLIENTS} -d{DURATION}s after a {WARMUP}s warm-up; every answered write is committed, and the "
        "stored counts were checked against wrk's (no update lost). Baselines: the same operations as SQLite "
        f"transactions from Python, {SQLITE_SECONDS:g}s each, WAL and synchronous=NORMAL as in Gale's store; they pay "
        "no HTTP, JSON or authentication."],
        f"python3 bench/state_ops.py  # CLIENTS={CLIENTS} DURATION={DURATION} ITEMS={ITEMS}")


if __name__ == "__main__":
    main()
