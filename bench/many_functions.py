#!/usr/bin/env python3
"""Many functions on one node: deploy time, idle memory per function, the server's
responsiveness meanwhile, restart-to-serving time, and cold starts with the zygote warm or
retired. Gale with its base zygote against Gale without it (GALE_BASE_ZYGOTE=0), in one run.

    /usr/bin/python3 bench/many_functions.py                 # 1,000 functions, about 25 minutes
    COUNTS="10 100" /usr/bin/python3 bench/many_functions.py # a quick look
    BASELINE=0 /usr/bin/python3 bench/many_functions.py      # the shipped setting only

For each variant, one `gale server` on 127.0.0.1 with a fresh data dir and default settings
(sandboxed instances, the default zygote budget) gets tiny Cloud Functions-style functions
(`def fN(request): return "fN"`, each its own bundle, idle-timeout 2s), deployed one after
another through the admin API, as `gale deploy` does. While it deploys, a prober asks
/healthz and a 404 (/fn/nope) every 100 ms and keeps the latencies.

At each count in COUNTS, once every instance has scaled to zero, it reports the PSS
(/proc/PID/smaps_rollup) of the server's whole process tree (the JVM, the base zygote, each
version's zygote and its sandbox) divided by the number of functions, and how many zygotes
are kept. After the last count, it waits until the zygotes have let their spare children go
(SPARE_WAIT seconds, 130 by default) and measures again.

Then every function is called once (each must answer 200), the server is stopped with SIGTERM
and started again on the same data dir: the time from starting the process to /healthz
answering, to /readyz (every function restored), and to every function having answered. Last, cold starts: COLD
functions whose zygote is warm (the most recently called) and COLD whose zygote was retired
(the budget keeps MAX_ZYGOTES; the least recently used go), each called once after its
instances scaled to zero; the time to the whole response, from a new connection.

Every request goes to 127.0.0.1. Writes bench/results/many_functions.md.
"""
import concurrent.futures
import http.client
import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import map_common  # noqa: E402
from map_common import log, table  # noqa: E402
from gale.testing import LocalGale  # noqa: E402

COUNTS = [int(n) for n in os.environ.get("COUNTS", "10 100 1000").split()]
BASELINE = os.environ.get("BASELINE", "1") != "0"
COLD = int(os.environ.get("COLD", "20"))
MAX_ZYGOTES = int(os.environ.get("MAX_ZYGOTES", "200"))  # a budget below the count, so the cold-start part has retired zygotes
SPARE_WAIT = float(os.environ.get("SPARE_WAIT", "130"))
PROBE_EVERY = 0.1


def pss_kb(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as file:
            for line in file:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def process_tree(root):
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as file:
                    parent = int(file.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry))
            except OSError:
                continue
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def command_line(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            return file.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def server_jvm(server):
    """The JVM of the `gale server` (the launcher script execs it, so it is the process itself or its child)."""
    for pid in process_tree(server.process.pid):
        if "gale.jar" in command_line(pid):
            return pid
    return server.process.pid


def percentile(values, q):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


class Prober(threading.Thread):
    """Asks /healthz and a 404 every PROBE_EVERY seconds; keeps the latencies (ms) and any failure."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.latencies, self.failures = [], []
        self.running = True

    def run(self):
        while self.running:
            for path, want in (("/healthz", 200), ("/fn/nope", 404)):
                started = time.perf_counter()
                try:
                    status = get(self.port, path)[0]
                    if status != want:
                        self.failures.append(f"{path} answered {status}")
                except OSError as exc:
                    self.failures.append(f"{path}: {exc}")
                self.latencies.append((time.perf_counter() - started) * 1000)
            time.sleep(PROBE_EVERY)

    def stop(self):
        self.running = False
        self.join()


def get(port, path):
    """(status, cold start reported, milliseconds) of one GET on a new connection."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status, response.getheader("X-Gale-Cold-Start") == "true", (time.perf_counter() - started) * 1000
    finally:
        connection.close()


def deploy(client, index):
    name = f"f{index}"
    started = time.perf_counter()
    client.deploy(name, {"main.py": f"def {name}(request):\n    return {name!r}\n"},
                  {"entryPoint": name, "idleTimeout": "2s", "allowUnauthenticated": True})
    return (time.perf_counter() - started) * 1000


def wait_scaled_to_zero(client, names, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        functions = client.request("GET", "/v1/functions").json()
        if not any(f.get("instances") for f in functions if f["name"] in names):
            return
        time.sleep(0.5)
    log(f"instances still running after {timeout} s; measuring anyway")


def zygotes_kept(server):
    """Versions' zygotes: zygote processes whose parent is the base zygote or no zygote at all (a
    sandbox); not the base, nor the spare children and instances zygotes fork."""
    pids = [pid for pid in process_tree(server_jvm(server)) if "_zygote.py" in command_line(pid)]
    zygote_processes = set(pids)
    # What the base forks shows the base's environment too; the base alone has no zygote as parent.
    base = {pid for pid in pids if "GALE_ZYGOTE_ROLE=base" in environ_of(pid) and parent_of(pid) not in zygote_processes}
    return sum(1 for pid in pids if pid not in base and (parent_of(pid) in base or parent_of(pid) not in zygote_processes))


def parent_of(pid):
    try:
        with open(f"/proc/{pid}/stat") as file:
            return int(file.read().rsplit(")", 1)[1].split()[1])
    except OSError:
        return 0


def environ_of(pid):
    try:
        with open(f"/proc/{pid}/environ", "rb") as file:
            return file.read().decode(errors="replace")
    except OSError:
        return ""


def memory(server, functions):
    pids = process_tree(server_jvm(server))
    total = sum(pss_kb(pid) for pid in pids)
    return {"functions": functions, "pss_mb": total / 1024, "per_function_mb": total / 1024 / functions,
            "zygotes": zygotes_kept(server), "processes": len(pids)}


def run_variant(label, base):
    env_before = os.environ.get("GALE_BASE_ZYGOTE")
    os.environ["GALE_BASE_ZYGOTE"] = "1" if base else "0"
    server = LocalGale(args=["--max-zygotes", str(MAX_ZYGOTES)])
    log(f"{label}: starting a server on {server.url}")
    server.start()
    client = server.client()
    result = {"label": label, "deploy_ms": [], "memory": [], "probe": None}
    prober = Prober(server.port)
    prober.start()
    try:
        deployed = 0
        for count in COUNTS:
            while deployed < count:
                result["deploy_ms"].append(deploy(client, deployed))
                deployed += 1
                if deployed % 100 == 0:
                    log(f"{label}: {deployed} functions deployed")
            wait_scaled_to_zero(client, {f"f{i}" for i in range(deployed)})
            result["memory"].append(memory(server, deployed))
            log(f"{label}: {result['memory'][-1]}")
        log(f"{label}: waiting {SPARE_WAIT:.0f} s for zygotes to let their spares go")
        time.sleep(SPARE_WAIT)
        result["memory_settled"] = memory(server, deployed)
        prober.stop()
        result["probe"] = (list(prober.latencies), list(prober.failures))
        answers = [get(server.port, f"/fn/f{i}") for i in range(deployed)]
        result["answered"] = sum(1 for status, _, _ in answers if status == 200)
        # The most recently called keep their zygotes; the budget retired the earliest.
        warm_names, retired_names = list(range(deployed - COLD, deployed)), list(range(COLD))
        wait_scaled_to_zero(client, {f"f{i}" for i in warm_names + retired_names})
        result["cold_warm"] = [get(server.port, f"/fn/f{i}") for i in warm_names]
        result["cold_retired"] = [get(server.port, f"/fn/f{i}") for i in retired_names]
        log(f"{label}: restarting")
        os.killpg(server.process.pid, signal.SIGTERM)
        server.process.wait(120)
        started = time.perf_counter()
        restarted = LocalGale(data_dir=server.data_dir, port=server.port, args=["--max-zygotes", str(MAX_ZYGOTES)])
        restarted.start()
        result["restart_healthy_s"] = time.perf_counter() - started
        while get(server.port, "/readyz")[0] != 200:
            time.sleep(0.05)
        result["restart_ready_s"] = time.perf_counter() - started
        with concurrent.futures.ThreadPoolExecutor(4) as callers:  # every function's first call after the restart
            statuses = list(callers.map(lambda i: get(server.port, f"/fn/f{i}")[0], range(deployed)))
        result["restart_answered"] = sum(1 for status in statuses if status == 200)
        result["restart_all_answered_s"] = time.perf_counter() - started
        restarted._temporary = True
        restarted.stop()
    finally:
        if prober.running:
            prober.stop()
        server.stop()
        if env_before is None:
            os.environ.pop("GALE_BASE_ZYGOTE", None)
        else:
            os.environ["GALE_BASE_ZYGOTE"] = env_before
    return result


def report(results):
    header = ["variant", "functions", "PSS of Gale's processes (MB)", "per function (MB)", "zygotes kept"]
    rows = []
    for r in results:
        for m in r["memory"]:
            rows.append([r["label"], m["functions"], f"{m['pss_mb']:.0f}", f"{m['per_function_mb']:.1f}", m["zygotes"]])
        m = r["memory_settled"]
        rows.append([r["label"] + f", after {SPARE_WAIT:.0f} s idle", m["functions"], f"{m['pss_mb']:.0f}",
                     f"{m['per_function_mb']:.1f}", m["zygotes"]])
    parts = ["## Idle memory per deployed function\n\nInstances scaled to zero (idle-timeout 2s); the zygotes the "
             f"budget keeps (`--max-zygotes {MAX_ZYGOTES}`), each with a spare child until it has been idle for 2 minutes.\n\n"
             + table(header, rows)]
    rows = []
    for r in results:
        d = r["deploy_ms"]
        latencies, failures = r["probe"]
        rows.append([r["label"], len(d), f"{percentile(d, 50):.0f}", f"{percentile(d, 99):.0f}", f"{sum(d) / 1000:.0f}",
                     f"{percentile(latencies, 50):.1f}", f"{percentile(latencies, 99):.1f}", f"{max(latencies):.1f}",
                     len(failures)])
    parts.append("## Deploys, and the server's answers meanwhile\n\nEach deploy until ACTIVE, one after another; "
                 "/healthz and a 404 asked every 100 ms during all of them.\n\n" + table(
                     ["variant", "deploys", "deploy p50 (ms)", "deploy p99 (ms)", "all deploys (s)", "/healthz+404 p50 (ms)",
                      "p99 (ms)", "max (ms)", "failed probes"], rows))
    rows = []
    for r in results:
        warm = [ms for status, cold, ms in r["cold_warm"] if status == 200]
        retired = [ms for status, cold, ms in r["cold_retired"] if status == 200]
        functions = r["memory"][-1]["functions"]
        rows.append([r["label"], f"{r['answered']}/{functions}", f"{r['restart_healthy_s']:.1f}", f"{r['restart_ready_s']:.1f}",
                     f"{r['restart_all_answered_s']:.1f} ({r['restart_answered']}/{functions})",
                     f"{percentile(warm, 50):.1f}", f"{percentile(warm, 99):.1f}",
                     f"{percentile(retired, 50):.1f}", f"{percentile(retired, 99):.1f}"])
    parts.append("## First calls, restart, cold starts\n\nRestart: SIGTERM, then a new server on the same data dir; "
                 "time from starting it to /healthz answering, to /readyz (every function restored), and to every function "
                 "having answered a first call (4 callers; most are cold starts). Cold starts after scale-to-zero, "
                 f"{COLD} calls each: zygote warm (the most recently called functions) or retired (the least recently "
                 "used, beyond the budget).\n\n" + table(
                     ["variant", "answered their first call", "restart to healthy (s)", "restart to ready (s)",
                      "restart to all answered (s)", "cold, zygote warm p50 (ms)", "p99 (ms)",
                      "cold, zygote retired p50 (ms)", "p99 (ms)"], rows))
    return parts


def main():
    results = [run_variant("base zygote", True)]
    if BASELINE:
        results.append(run_variant("no base zygote", False))
    map_common.write_results("many_functions", f"Many functions on one node ({max(COUNTS)} functions)", report(results),
                             "/usr/bin/python3 bench/many_functions.py"
                             + (f" (COUNTS=\"{' '.join(map(str, COUNTS))}\")" if COUNTS != [10, 100, 1000] else ""))


if __name__ == "__main__":
    main()
