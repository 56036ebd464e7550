#!/usr/bin/env python3
"""Gale on several nodes sharing PostgreSQL, against one node, in one run.

    /usr/bin/python3 bench/cluster.py            # about 6 minutes
    SECONDS_EACH=10 TASKS=1000 /usr/bin/python3 bench/cluster.py

Starts its own PostgreSQL (Debian's postgresql package, a throwaway cluster as the postgres user, on
127.0.0.1, default durability: fsync and synchronous_commit on) and measures:

1. Requests/s of one Cloud Functions-style function served by 1, 2 and 3 `gale server` nodes on this
   machine (each its own data dir and port, one database, one admin token), wrk driving every node at once
   with the same total connections. The nodes share the machine's CPUs, so this shows what a node costs
   and that calls spread, not what more machines would give.
2. Map jobs on SQLite against PostgreSQL: TASKS no-op tasks through `Executor.map` (per-task overhead),
   and TASKS tasks of 100 ms each (what the store adds when tasks do something), one node each.
3. Failover: a map job of 100 ms tasks on one node of three, that node killed with SIGKILL midway; the
   time from the kill to the first result a surviving node stores (its heartbeat timeout, --node-dead-after,
   is most of it), and that every input ends with one result.

Every request goes to 127.0.0.1. Writes bench/results/cluster.md.
"""
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from map_common import log, table, timed, write_results  # noqa: E402
from gale.testing import LocalGale  # noqa: E402

SECONDS_EACH = int(os.environ.get("SECONDS_EACH", "20"))
CONNECTIONS = int(os.environ.get("CONNECTIONS", "24"))
TASKS = int(os.environ.get("TASKS", "3000"))
SLEEP_TASKS = int(os.environ.get("SLEEP_TASKS", "600"))
DEAD_AFTER = os.environ.get("DEAD_AFTER", "10s")
HELLO = {"main.py": "def hello(request):\n    return 'hello ' + request.args.get('name', 'world')\n"}


def noop(x):
    return x


def nap(x):
    import time as t
    t.sleep(0.1)
    return x


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Postgres:
    """A throwaway PostgreSQL cluster, as the postgres user when run as root (PostgreSQL refuses root)."""

    def __init__(self):
        versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not versions:
            raise SystemExit("no PostgreSQL: apt-get install postgresql (bench/install-packages does)")
        self.bin = os.path.dirname(versions[-1])
        self.dir = tempfile.mkdtemp(prefix="gale-bench-pg-")
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
        self.port = free_port()
        self.databases = 0

    def run(self, *command):
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_postgres else []
        subprocess.run(prefix + [os.path.join(self.bin, command[0]), *command[1:]], check=True, capture_output=True)

    def start(self):
        data = os.path.join(self.dir, "data")
        self.run("initdb", "-D", data, "-U", "gale", "-A", "trust", "-E", "UTF8", "--locale=C")
        self.run("pg_ctl", "-D", data, "-w", "-l", os.path.join(self.dir, "log"), "-o",
                 f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=300", "start")
        return self

    def new_database(self):
        self.databases += 1
        name = f"gale{self.databases}"
        self.run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "gale", name)
        return f"jdbc:postgresql://127.0.0.1:{self.port}/{name}?user=gale"

    def stop(self):
        try:
            self.run("pg_ctl", "-D", os.path.join(self.dir, "data"), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def start_nodes(count, store, extra=()):
    """`count` nodes on one store, sharing the first one's admin token; all answering /healthz."""
    nodes = []
    try:
        first = LocalGale(args=["--store", store, *extra]) if store else LocalGale(args=list(extra))
        first.start()
        nodes.append(first)
        for _ in range(count - 1):
            data = tempfile.mkdtemp(prefix="gale-test-")
            with open(os.path.join(data, "admin-token"), "w") as file:
                file.write(first.token + "\n")
            os.chmod(os.path.join(data, "admin-token"), 0o600)
            node = LocalGale(data_dir=data, args=["--store", store, *extra])
            node.start()
            nodes.append(node)
        return nodes
    except BaseException:
        for node in nodes:
            node.stop()
        raise


def api(node, method, path, body=None, timeout=30):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(node.url + path, data=data, method=method, headers={
        "Authorization": "Bearer " + node.token, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        return json.loads(answer.read() or b"null")


def serves(node, name):
    try:
        with urllib.request.urlopen(f"{node.url}/fn/{name}?name=x", timeout=10) as answer:
            return answer.status == 200
    except OSError:
        return False


def wait_until(check, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise SystemExit(f"gave up waiting {seconds}s for {what}")


def wrk_all(nodes, seconds):
    """Requests/s summed over wrk runs against every node at once, CONNECTIONS split between them."""
    outputs, threads = [None] * len(nodes), []
    per_node = max(1, CONNECTIONS // len(nodes))

    def run(i):
        outputs[i] = subprocess.run(["wrk", "-t1", f"-c{per_node}", f"-d{seconds}s", "--latency",
                                     f"{nodes[i].url}/fn/hello?name=bench"],
                                    capture_output=True, text=True, timeout=seconds + 60).stdout

    for i in range(len(nodes)):
        threads.append(threading.Thread(target=run, args=(i,)))
        threads[-1].start()
    for thread in threads:
        thread.join()
    total, errors, p99 = 0.0, 0, []
    for out in outputs:
        total += float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        errors += int(bad.group(1)) if bad else 0
        latency = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
        if latency:
            p99.append(float(latency.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[latency.group(2)])
    return total, errors, max(p99) if p99 else 0


def bench_requests(pg):
    rows, baseline = [], None
    for count in (1, 2, 3):
        nodes = start_nodes(count, pg.new_database())
        try:
            deploy(nodes[0], "hello", HELLO, {"entryPoint": "hello", "allowUnauthenticated": True, "maxInstances": 2})
            for node in nodes:
                wait_until(lambda node=node: serves(node, "hello"), 60, f"hello to serve at {node.url}")
            wrk_all(nodes, 5)  # warm-up: instances started, JIT settled a little
            rps, errors, p99 = wrk_all(nodes, SECONDS_EACH)
        finally:
            for node in nodes:
                node.stop()
        baseline = baseline or rps
        rows.append([f"{count} node{'s' if count > 1 else ''}", f"{rps:,.0f}", f"{p99:.1f}", errors, f"{rps / baseline:.2f}x"])
        log(f"{count} node(s): {rps:,.0f} requests/s, p99 {p99:.1f} ms, {errors} errors")
    return rows


def deploy(node, name, files, settings):
    node.executor(progress=False).client.deploy(name, files, settings)


def bench_map(pg):
    rows = []
    for label, store in (("SQLite (one node)", None), ("PostgreSQL (one node)", pg.new_database())):
        node = start_nodes(1, store)[0]
        try:
            executor = node.executor(max_workers=4, progress=False)
            list(executor.map(noop, range(500)))  # warm-up
            seconds, results = timed(lambda: list(executor.map(noop, range(TASKS))))
            assert results == list(range(TASKS)), "results differ from the inputs"
            nap_seconds, naps = timed(lambda: list(executor.map(nap, range(SLEEP_TASKS))))
            assert naps == list(range(SLEEP_TASKS)), "results differ from the inputs"
            executor.shutdown()
        finally:
            node.stop()
        rows.append((label, seconds, nap_seconds))
        log(f"{label}: {TASKS} no-op tasks in {seconds:.2f}s, {SLEEP_TASKS} x 100 ms in {nap_seconds:.2f}s")
    sqlite = rows[0]
    return [[label, f"{TASKS / s:,.0f}", f"{s / TASKS * 1000:.2f}", f"{sqlite[1] / s:.2f}x", f"{n:.1f}",
             f"{sqlite[2] / n:.2f}x"] for label, s, n in rows]


def bench_failover(pg):
    nodes = start_nodes(3, pg.new_database(), extra=("--node-dead-after", DEAD_AFTER))
    try:
        executor = nodes[0].executor(max_workers=4, progress=False)
        futures = executor.map_futures(nap, range(SLEEP_TASKS))
        wait_until(lambda: futures[0].job_id is not None, 60, "the job to start")
        job, survivor = futures[0].job_id, nodes[1]
        wait_until(lambda: ended(survivor, job) >= SLEEP_TASKS // 4, 120, "a quarter of the results")
        before = ended(survivor, job)
        os.killpg(nodes[0].process.pid, signal.SIGKILL)
        killed = time.monotonic()
        nodes[0].process.wait()
        wait_until(lambda: ended(survivor, job) > before + 4, 180, "a surviving node to store new results")
        retaken = time.monotonic() - killed
        wait_until(lambda: api(survivor, "GET", f"/v1/jobs/{job}")["state"] not in ("QUEUED", "RUNNING"), 300,
                   "the job to end")
        view = api(survivor, "GET", f"/v1/jobs/{job}")
        log(f"killed the job's node; new results after {retaken:.1f}s; job {view['state']} {view['counts']}")
        return retaken, view
    finally:
        for node in nodes:
            try:
                node.stop()
            except Exception:  # the killed one
                pass


def ended(node, job):
    """Inputs of the job with a stored outcome, as a node reads them from the store."""
    counts = api(node, "GET", f"/v1/jobs/{job}")["counts"]
    return sum(n for state, n in counts.items() if state.upper() in ("DONE", "FAILED"))


def main():
    pg = Postgres().start()
    log(f"PostgreSQL on 127.0.0.1:{pg.port}")
    try:
        requests = bench_requests(pg)
        maps = bench_map(pg)
        retaken, view = bench_failover(pg)
    finally:
        pg.stop()
    write_results("cluster", "Gale on several nodes sharing PostgreSQL", [
        f"One Cloud Functions-style function (`hello`, max-instances 2 per node) served by 1, 2 and 3 nodes on "
        f"this machine, one PostgreSQL database, wrk driving all nodes at once with {CONNECTIONS} connections in "
        f"all, {SECONDS_EACH} s after a 5 s warm-up. The nodes, their instances, PostgreSQL and wrk share the same "
        f"CPUs: a second node on the same machine adds no CPU, only the cost of another JVM.",
        table(["nodes", "requests/s", "p99 ms (worst node)", "non-2xx", "vs 1 node"], requests),
        f"Map jobs on one node, the store on SQLite (the default) or PostgreSQL (fsync and synchronous commit on): "
        f"{TASKS:,} no-op tasks through `Executor.map`, 4 instances, after a 500-task warm-up; and "
        f"{SLEEP_TASKS:,} tasks that sleep 100 ms.",
        table(["store", "no-op tasks/s", "per-task ms", "vs SQLite", f"{SLEEP_TASKS} x 100 ms, s", "vs SQLite"], maps),
        f"Failover: {SLEEP_TASKS} tasks of 100 ms on the first of three nodes (--node-dead-after {DEAD_AFTER}); the "
        f"node killed with SIGKILL once a quarter of the results were stored. A surviving node stored new results "
        f"{retaken:.1f} s after the kill; the job ended {view['state']} with outcomes {view['counts']}.",
    ], "/usr/bin/python3 bench/cluster.py")


if __name__ == "__main__":
    main()
