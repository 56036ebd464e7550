#!/usr/bin/env python3
"""Cold start after scale-to-zero, and the memory of idle instances: Gale with its
Python zygotes against Gale starting a fresh python3 per instance, in one run.

    bench/coldstart.py                    # about 3 minutes
    REPS=50 bench/coldstart.py
    KEEP_WORK=1 bench/coldstart.py        # keep the servers' logs and data dirs

Two Gale servers run on 127.0.0.1: "zygote" (as shipped) and "fresh"
(GALE_ZYGOTE=0). The zygote server also serves a copy of each function deployed
with ``sandbox = "off"`` ("unsandboxed"), so the cost of the bubblewrap sandbox
(on by default where bubblewrap is installed) shows in the same run. Both get the same two Cloud Functions style functions, with
min-instances 0, max-instances 1 and idle-timeout 1s:

- hello: ``return "ok"`` (bench/functions/hello), the platform's own cold start;
- scorer: bench/coldstart_scorer, which imports sklearn and unpickles a
  LogisticRegression (trained here on synthetic data, fixed seed) at import.

Each round waits until all four functions have scaled to zero, then times one
request to each (time to the whole response, from a new connection, as a
client sees it), then one more request (a warm call, for reference). The order
of the servers alternates between rounds, so load on the machine hits both
sides. The first round is a warm-up and is discarded. A request that was not
reported as a cold start (X-Gale-Cold-Start) is counted and flagged.

Memory: each server then gets the scorer with min = max instances 10; once all
ten are idle, the sum of their PSS (/proc/PID/smaps_rollup) is reported, and
that of the zygote and its spare child separately, since they are the price of
the sharing.

Writes a markdown report to stdout and to $RESULTS; progress goes to stderr.
Needs Debian's python3-sklearn and python3-flask. Stdlib only; every request
goes to 127.0.0.1.
"""

import http.client
import io
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
HOST = "127.0.0.1"  # deliberately not configurable

REPS = int(os.environ.get("REPS", "20"))                      # measured rounds (plus one warm-up)
PORTS = [int(p) for p in os.environ.get("PORTS", "18490 18491").split()]  # zygote server, fresh server
GALE_BIN = os.environ.get("GALE_BIN", str(REPO / "gale"))     # the launcher (builds the jar if stale)
PYTHON = os.environ.get("PYTHON", "/usr/bin/python3")         # trains the model; the servers' GALE_PYTHON
START_TIMEOUT = float(os.environ.get("START_TIMEOUT", "300"))  # seconds for a server to be healthy (may build)
IDLE_INSTANCES = int(os.environ.get("IDLE_INSTANCES", "10"))  # instances in the memory measurement
RESULTS = Path(os.environ.get("RESULTS", str(BENCH / "results" / "coldstart.md")))
KEEP_WORK = os.environ.get("KEEP_WORK", "0") == "1"

FUNCTIONS = {  # name -> (bundle folder, entry point, query)
    "hello": (BENCH / "functions" / "hello", "hello", ""),
    "scorer": (BENCH / "coldstart_scorer", "score", "?f0=1&f1=-0.5&f2=2&f3=0"),
}
TRAIN_MODEL = """
import pickle, sys
import numpy as np
from sklearn.linear_model import LogisticRegression
rng = np.random.default_rng(20261125)
x = rng.normal(size=(1000, 4))
y = (x @ np.array([1.5, -2.0, 0.5, 0.0]) + rng.normal(scale=0.5, size=1000) > 0).astype(int)
with open(sys.argv[1], "wb") as f:
    pickle.dump(LogisticRegression().fit(x, y), f)
"""


def log(message):
    print(f"[coldstart] {message}", file=sys.stderr, flush=True)


class Server:
    """One `gale server` on 127.0.0.1 with its own data dir, in its own process group."""

    def __init__(self, label, port, work, zygote):
        self.label, self.port = label, port
        self.data_dir = work / f"data-{label}"
        self.log_path = work / f"server-{label}.log"
        env = dict(os.environ, GALE_ZYGOTE="1" if zygote else "0", GALE_PYTHON=PYTHON)
        with open(self.log_path, "wb") as out:
            self.process = subprocess.Popen(
                [GALE_BIN, "server", "--port", str(port), "--data-dir", str(self.data_dir)],
                stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while not self._healthy():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the {label} server did not start; see {self.log_path}")
            time.sleep(0.2)
        self.token = (self.data_dir / "admin-token").read_text().strip()

    def _healthy(self):
        try:
            with urllib.request.urlopen(f"http://{HOST}:{self.port}/healthz", timeout=1) as r:
                return r.status == 200
        except OSError:
            return False

    def api(self, method, path, body=None, content_type="application/json"):
        request = urllib.request.Request(f"http://{HOST}:{self.port}{path}", data=body, method=method,
                                         headers={"Authorization": f"Bearer {self.token}", "Content-Type": content_type})
        with urllib.request.urlopen(request, timeout=120) as r:
            data = r.read()
        return json.loads(data) if data else None

    def deploy(self, name, bundle, config):
        boundary = uuid.uuid4().hex
        parts = [(f'Content-Disposition: form-data; name="bundle"; filename="bundle.zip"\r\n'
                  f"Content-Type: application/zip\r\n\r\n").encode() + zip_folder(bundle),
                 b'Content-Disposition: form-data; name="config"\r\nContent-Type: application/json\r\n\r\n'
                 + json.dumps(config).encode()]
        body = b"".join(f"--{boundary}\r\n".encode() + part + b"\r\n" for part in parts) + f"--{boundary}--\r\n".encode()
        version = self.api("POST", f"/v1/functions/{name}/versions", body, f"multipart/form-data; boundary={boundary}")
        deadline = time.monotonic() + 300
        while version["state"] == "DEPLOYING" and time.monotonic() < deadline:
            time.sleep(0.2)
            version = self.api("GET", f"/v1/functions/{name}/versions/{version['version']}")
        if version["state"] != "ACTIVE":
            raise SystemExit(f"deploy of {name} on the {self.label} server ended {version['state']}: {version.get('reason')}")

    def instances(self, name):
        return self.api("GET", f"/v1/functions/{name}")["instances"]

    def call(self, name, query):
        """(milliseconds to the whole response from a new connection, cold start reported)."""
        started = time.perf_counter()
        connection = http.client.HTTPConnection(HOST, self.port, timeout=120)
        try:
            connection.request("GET", f"/fn/{name}{query}")
            response = connection.getresponse()
            response.read()
        finally:
            connection.close()
        elapsed = (time.perf_counter() - started) * 1000
        if response.status != 200:
            raise SystemExit(f"{name} on the {self.label} server answered {response.status}")
        return elapsed, response.getheader("X-Gale-Cold-Start") == "true"

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def zip_folder(folder):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(Path(folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                z.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


# --------------------------------------------------------------------------- cold starts

class Unsandboxed:
    """The zygote server's copies of the functions deployed with sandbox = "off"."""

    SUFFIX = "-unsandboxed"

    def __init__(self, server):
        self.server = server
        self.label = "unsandboxed"

    def instances(self, name):
        return self.server.instances(name + self.SUFFIX)

    def call(self, name, query):
        return self.server.call(name + self.SUFFIX, query)


def wait_scaled_to_zero(servers, names, timeout=30):
    deadline = time.monotonic() + timeout
    while any(server.instances(name) for server in servers for name in names):
        if time.monotonic() > deadline:
            raise SystemExit("instances did not scale to zero within 30 s")
        time.sleep(0.1)


def measure_cold_starts(servers):
    cold = {(s.label, n): [] for s in servers for n in FUNCTIONS}
    warm = {(s.label, n): [] for s in servers for n in FUNCTIONS}
    not_cold = {(s.label, n): 0 for s in servers for n in FUNCTIONS}
    for round_number in range(REPS + 1):
        wait_scaled_to_zero(servers, FUNCTIONS)
        order = servers if round_number % 2 == 0 else servers[::-1]
        for name, (_, _, query) in FUNCTIONS.items():
            for server in order:
                elapsed, was_cold = server.call(name, query)
                again, _ = server.call(name, query)
                if round_number == 0:
                    continue  # warm-up
                cold[(server.label, name)].append(elapsed)
                warm[(server.label, name)].append(again)
                not_cold[(server.label, name)] += 0 if was_cold else 1
        if round_number:
            log(f"round {round_number}/{REPS}: " + ", ".join(
                f"{label}/{name} {values[-1]:.0f} ms" for (label, name), values in cold.items()))
    return cold, warm, not_cold


# --------------------------------------------------------------------------- memory

def pss_kb(pid):
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def processes_in(data_dir, name):
    """(pid, parent pid, command line) of the processes working in the bundle of `name` version 1:
    their working directory is that very folder (compared by inode: in the sandbox it is /var/task)."""
    found = []
    try:
        bundle = os.stat(Path(data_dir) / "functions" / name / "1" / "bundle")
    except OSError:
        return found
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.stat(entry / "cwd")
            if (cwd.st_dev, cwd.st_ino) != (bundle.st_dev, bundle.st_ino):
                continue
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            if os.path.basename(command.split(" ", 1)[0]) in ("bwrap", "sh", "sleep", "setpriv"):
                continue  # the sandbox and the commands around the interpreter, the anchor of a zygote's sandbox
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            found.append((int(entry.name), parent, command))
        except OSError:
            continue
    return found


def serves(pid):
    """An instance (or a spare instance) runs in a cgroup of its own under Gale's; a zygote and
    its spare child (waiting to become an instance) do not."""
    try:
        return any(line.split(":", 2)[2].startswith("/gale/") for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines())
    except (OSError, IndexError):
        return False


def cpu_ticks(pids):
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total


def measure_idle_memory(server, bundle):
    name = "idle"
    server.deploy(name, bundle, {"entryPoint": "score", "minInstances": IDLE_INSTANCES, "maxInstances": IDLE_INSTANCES,
                                 "allowUnauthenticated": True})
    deadline = time.monotonic() + 300
    while True:
        procs = processes_in(server.data_dir, name)
        instances = [pid for pid, _, _ in procs if serves(pid)]
        zygotes = [pid for pid, _, _ in procs if pid not in instances]  # the zygote and its spare child
        if server.instances(name) == IDLE_INSTANCES and len(instances) == IDLE_INSTANCES:
            before = cpu_ticks(instances)
            time.sleep(2)
            if cpu_ticks(instances) == before:
                break  # all loaded and idle
        if time.monotonic() > deadline:
            raise SystemExit(f"{IDLE_INSTANCES} idle instances did not settle on the {server.label} server")
        time.sleep(0.5)
    result = {"instances_kb": sum(pss_kb(pid) for pid in instances),
              "zygote_kb": sum(pss_kb(pid) for pid in zygotes), "count": len(instances)}
    server.api("DELETE", f"/v1/functions/{name}")
    return result


# --------------------------------------------------------------------------- report

def report(cold, warm, not_cold, memory, context):
    lines = [f"# Cold start: zygote vs fresh python3 ({context['date']})", "",
             f"{context['machine']}; load average {context['load_before']} before, {context['load_after']} after; "
             f"commit {context['commit']}. `bench/coldstart.py`, REPS={REPS}.", "",
             "## Time to first response after scale-to-zero (ms)", "",
             "Both servers sandbox their instances (the default); \"zygote, no sandbox\" is the same zygote server's "
             "copy of the function deployed with `sandbox = \"off\"`.", "",
             "| function | zygote p50 | zygote p90 | zygote p99 | fresh p50 | fresh p90 | fresh / zygote (p50) "
             "| zygote, no sandbox p50 | warm p50 (zygote) | not reported cold |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name in FUNCTIONS:
        z, f, u = cold[("zygote", name)], cold[("fresh", name)], cold[("unsandboxed", name)]
        flags = not_cold[("zygote", name)] + not_cold[("fresh", name)] + not_cold[("unsandboxed", name)]
        lines.append(f"| {name} | {percentile(z, 50):.1f} | {percentile(z, 90):.1f} | {percentile(z, 99):.1f} | {percentile(f, 50):.1f} "
                     f"| {percentile(f, 90):.1f} | {percentile(f, 50) / percentile(z, 50):.1f}x | {percentile(u, 50):.1f} "
                     f"| {percentile(warm[('zygote', name)], 50):.1f} | {flags or ''} |")
    z, f = memory["zygote"], memory["fresh"]
    z_total = z["instances_kb"] + z["zygote_kb"]
    lines += ["", f"## Memory of {IDLE_INSTANCES} idle scorer instances (sum of PSS, MB)", "",
              "| server | instances | zygote + spare | total |", "|---|---:|---:|---:|",
              f"| zygote | {z['instances_kb'] / 1024:.1f} | {z['zygote_kb'] / 1024:.1f} | {z_total / 1024:.1f} |",
              f"| fresh | {f['instances_kb'] / 1024:.1f} | - | {f['instances_kb'] / 1024:.1f} |",
              f"| fresh / zygote | | | {f['instances_kb'] / max(1, z_total):.1f}x |", ""]
    return "\n".join(lines)


def context_now():
    commit = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"],
                            capture_output=True, text=True).stdout.strip() or "unknown"
    return {"date": time.strftime("%Y-%m-%d %H:%M"), "commit": commit,
            "machine": f"{os.cpu_count()} CPUs, Linux {platform.release()}, Python "
                       + subprocess.run([PYTHON, "-c", "import sys; print(sys.version.split()[0])"],
                                        capture_output=True, text=True).stdout.strip(),
            "load_before": "%.1f" % os.getloadavg()[0]}


def main():
    if len(PORTS) != 2 or PORTS[0] == PORTS[1]:
        raise SystemExit(f"PORTS must be two different ports, got {PORTS}")
    if subprocess.run([PYTHON, "-c", "import sklearn, flask"], capture_output=True).returncode:
        raise SystemExit(f"{PYTHON} cannot import sklearn and flask (apt-get install -y python3-sklearn python3-flask)")
    context = context_now()
    work = Path(tempfile.mkdtemp(prefix="gale-coldstart-"))
    servers = []
    try:
        scorer = work / "scorer"
        shutil.copytree(FUNCTIONS["scorer"][0], scorer)
        subprocess.run([PYTHON, "-c", TRAIN_MODEL, str(scorer / "model.pkl")], check=True)
        bundles = {"hello": FUNCTIONS["hello"][0], "scorer": scorer}
        for label, port, zygote in (("zygote", PORTS[0], True), ("fresh", PORTS[1], False)):
            log(f"starting the {label} server on port {port}")
            servers.append(Server(label, port, work, zygote))
        for server in servers:
            for name, (_, entry_point, _) in FUNCTIONS.items():
                log(f"deploying {name} on the {server.label} server")
                server.deploy(name, bundles[name], {"entryPoint": entry_point, "minInstances": 0, "maxInstances": 1,
                                                    "idleTimeout": "1s", "allowUnauthenticated": True})
        for name, (_, entry_point, _) in FUNCTIONS.items():
            log(f"deploying {name}{Unsandboxed.SUFFIX} (sandbox off) on the zygote server")
            servers[0].deploy(name + Unsandboxed.SUFFIX, bundles[name], {
                "entryPoint": entry_point, "minInstances": 0, "maxInstances": 1, "idleTimeout": "1s",
                "allowUnauthenticated": True, "sandbox": "off"})
        log(f"{REPS} rounds of cold starts (plus a warm-up)")
        cold, warm, not_cold = measure_cold_starts(servers + [Unsandboxed(servers[0])])
        memory = {}
        for server in servers:
            for name in FUNCTIONS:
                server.api("DELETE", f"/v1/functions/{name}")
                if server is servers[0]:
                    server.api("DELETE", f"/v1/functions/{name}{Unsandboxed.SUFFIX}")
            log(f"memory of {IDLE_INSTANCES} idle scorer instances on the {server.label} server")
            memory[server.label] = measure_idle_memory(server, scorer)
        context["load_after"] = "%.1f" % os.getloadavg()[0]
        text = report(cold, warm, not_cold, memory, context)
        print(text)
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(text)
        log(f"written to {RESULTS}")
    finally:
        for server in servers:
            server.stop()
        if KEEP_WORK:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
