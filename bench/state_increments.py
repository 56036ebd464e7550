"""State increments/s from 64 concurrent HTTP clients, against a hand-written SQLite loop.

Gale: a `gale server` started here on 127.0.0.1; wrk (2 threads, CLIENTS connections)
POSTs /v1/state/bench/KEY?op=increment with the admin token for DURATION seconds, on one
hot key and spread over 64 keys, after a WARMUP-second run (the JIT). Each increment is
answered only once committed to the store's SQLite file (WAL, synchronous=NORMAL). The run
checks that no update was lost: the keys' sum must be at least wrk's completed requests and
exceed them by no more than the requests in flight when wrk stopped (CLIENTS).

Baseline, measured in the same run on the same machine: Python's sqlite3 incrementing one
row in a file with the same settings (WAL, synchronous=NORMAL), each increment its own
`BEGIN IMMEDIATE; UPDATE ... SET v = v + 1; COMMIT` transaction -- from one thread, and from
CLIENTS threads with a connection each (busy_timeout 10 s).

    python3 bench/state_increments.py             # about a minute
    CLIENTS=64 DURATION=10 python3 bench/state_increments.py

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


def wrk(server, namespace, keys, seconds):
    """wrk's GALE_BENCH figures for `seconds` of increments over `keys` keys of `namespace`."""
    with open(os.path.join(HERE, "wrk_report.lua")) as report:
        script = WRK_SCRIPT + report.read()
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


def stored_sum(server, namespace):
    total, after = 0, None
    while True:
        url = f"{server.url}/v1/state/{namespace}?limit=1000" + (f"&after={after}" if after else "")
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {server.token}"})
        with urllib.request.urlopen(request) as answer:
            page = json.load(answer)
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
        rows.append((f"Gale over HTTP, {CLIENTS} clients, {keys} key{'s' if keys > 1 else ''}", result["rps"],
                     result["p50_us"] / 1000, result["p99_us"] / 1000))
    return rows


def sqlite_loop(threads):
    """Increments/s of `threads` threads running one-increment transactions on one row for SQLITE_SECONDS."""
    folder = tempfile.mkdtemp(prefix="gale-bench-sqlite-")
    path = os.path.join(folder, "loop.db")
    setup = sqlite3.connect(path)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE counters (k TEXT PRIMARY KEY, v INTEGER NOT NULL)")
    setup.execute("INSERT INTO counters VALUES ('hits', 0)")
    setup.commit()
    setup.close()
    stop = time.perf_counter() + SQLITE_SECONDS
    counts = [0] * threads

    def loop(i):
        db = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA synchronous=NORMAL")
        while time.perf_counter() < stop:
            db.execute("BEGIN IMMEDIATE")
            db.execute("UPDATE counters SET v = v + 1 WHERE k = 'hits'")
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
    stored = check.execute("SELECT v FROM counters").fetchone()[0]
    check.close()
    if stored != sum(counts):
        raise SystemExit(f"the SQLite loop lost updates: {sum(counts)} made, {stored} stored")
    return stored / elapsed


def main():
    server = start_server()
    try:
        rows = gale_rows(server)
    finally:
        server.stop()
    baseline = {n: sqlite_loop(n) for n in (1, CLIENTS)}
    for n, rate in baseline.items():
        log(f"sqlite3 loop, {n} thread(s): {rate:.0f}/s")
    best = max(baseline.values())
    body = [(name, f"{rps:,.0f}", f"{p50:.2f}", f"{p99:.2f}", f"{rps / best:.2f}") for name, rps, p50, p99 in rows]
    body += [(f"sqlite3 loop (Python), {n} thread{'s' if n > 1 else ''}, one transaction per increment",
              f"{rate:,.0f}", "", "", f"{rate / best:.2f}") for n, rate in baseline.items()]
    write_results("state_increments", "State increments/s", [
        table(["configuration", "increments/s", "p50 ms", "p99 ms", "vs the faster SQLite loop"], body),
        f"Gale: wrk -t2 -c{CLIENTS} -d{DURATION}s POST /v1/state/NS/KEY?op=increment after a {WARMUP}s warm-up; "
        "every answered increment is committed, and the stored sum was checked against wrk's count "
        "(no update lost). Baseline: the same increments as one-row SQLite transactions from Python, "
        f"{SQLITE_SECONDS:g}s each, WAL and synchronous=NORMAL as in Gale's store."],
        f"python3 bench/state_increments.py  # CLIENTS={CLIENTS} DURATION={DURATION}")


if __name__ == "__main__":
    main()
