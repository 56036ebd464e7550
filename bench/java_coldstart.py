#!/usr/bin/env python3
"""Cold starts and warm calls of a Java function on Gale: spare JVM, class-data archive, neither.

    bench/java_coldstart.sh                 # builds what is missing, about 2 minutes
    ROUNDS=40 bench/java_coldstart.sh

Two Gale servers run side by side on 127.0.0.1: one as shipped, one with GALE_JAVA_CDS=0
(no class-data archive), both serving examples/java-hello compiled into a jar. On the first,
the function is deployed as shipped (a spare JVM per version waits for the next cold start),
with prewarm = false (no spare: every cold start starts a JVM), and with C2 back on
(-XX:TieredStopAtLevel=4 through JAVA_TOOL_OPTIONS, no spare; Gale runs only C1 by default).
Every function has --idle-timeout 100ms, so each round waits until a function has no instance,
then SETTLE seconds more (a real cold start comes after minutes of quiet, when the spare is
ready), and calls it: the time of that call is a whole cold start as the caller sees it
(gateway, taking the spare or starting a JVM, READY, the first response). Warm calls follow
each cold one: on a new connection (urllib, as the cold call), and on a kept-alive connection,
next to /healthz on that connection (the server's own floor). Variants take turns within a
round, in alternating order, so a change in the machine's load hits all of them. The bare
start of the same JVM (`java -version`) is measured in the same rounds as the floor no JVM
start can go below.

Before the rounds, WARMUP calls go to each function on a kept-alive connection, so the server's
request path is compiled as in a server that has been serving; the last 200 of them give the
steady warm call, against the same for a Python function that prints a line per call as
examples/java-hello does, on the same server.

Only the Python standard library; every request goes to 127.0.0.1.
"""
import glob
import io
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import http.client
import urllib.error
import urllib.request
import uuid
import zipfile
from datetime import datetime, timezone
from pathlib import Path

HOST = "127.0.0.1"  # deliberately not configurable
REPO = Path(__file__).resolve().parent.parent
ROUNDS = int(os.environ.get("ROUNDS", "20"))
PORTS = [int(p) for p in os.environ.get("PORTS", "18496 18497").split()]
START_TIMEOUT = int(os.environ.get("START_TIMEOUT", "300"))  # a first start may build Gale
RESULTS = Path(os.environ.get("RESULTS", REPO / "bench" / "results" / "java_coldstart.md"))
KEEP_WORK = os.environ.get("KEEP_WORK", "0") == "1"
SETTLE = float(os.environ.get("SETTLE", "2"))
WARMUP = int(os.environ.get("WARMUP", "2000"))
TARGET_MS = 40
TARGET_WARM_MS = 1.5
# Prints a line per call as examples/java-hello does, so both pay for a LOG frame.
PYTHON_HELLO = ("def hello(request):\n    print(request.method, request.path)\n"
                "    return 'Hello, ' + request.args.get('name', 'world') + '!'\n")
FUNCTION_SOURCE = REPO / "examples" / "java-hello" / "src" / "main" / "java" / "example" / "Hello.java"


def log(message):
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def die(message):
    log(f"error: {message}")
    sys.exit(1)


# --------------------------------------------------------------------------- set-up

def java_home():
    """The JDK Gale runs on (scripts/env.sh exports JAVA_HOME for it)."""
    home = os.environ.get("JAVA_HOME", "")
    if not home or not Path(home, "bin", "javac").exists():
        die("JAVA_HOME must point to a JDK 21 or newer with javac; run through bench/java_coldstart.sh")
    return Path(home)


def gale_api_jar(jdk):
    jars = sorted(glob.glob(str(REPO / "gale-api" / "target" / "gale-api-*.jar")))
    sources = [p for p in (REPO / "gale-api" / "src" / "main").rglob("*") if p.is_file()]
    newest_source = max(p.stat().st_mtime for p in sources)
    if not jars or Path(jars[-1]).stat().st_mtime < newest_source:
        log("building gale-api")
        subprocess.run([str(REPO / "mvnw"), "-B", "-q", "-o", "-pl", "gale-api", "package", "-DskipTests"],
                       cwd=REPO, check=True, env=dict(os.environ, JAVA_HOME=str(jdk)), stdout=subprocess.DEVNULL)
        jars = sorted(glob.glob(str(REPO / "gale-api" / "target" / "gale-api-*.jar")))
    return Path(jars[-1])


def function_bundle(jdk, api_jar, work):
    """examples/java-hello compiled into bundle/hello.jar, the way a user without Maven deploys."""
    classes, bundle = work / "classes", work / "bundle"
    classes.mkdir()
    bundle.mkdir()
    subprocess.run([str(jdk / "bin" / "javac"), "--release", "21", "-cp", str(api_jar), "-d", str(classes),
                    str(FUNCTION_SOURCE)], check=True)
    subprocess.run([str(jdk / "bin" / "jar"), "cf", str(bundle / "hello.jar"), "-C", str(classes), "."], check=True)
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as z:
        z.write(bundle / "hello.jar", "hello.jar")
    return data.getvalue()


class Server:
    """One `gale server` in a session of its own, stopped with its whole process group."""

    def __init__(self, name, port, work, api_jar, cds):
        with socket.socket() as probe:
            if probe.connect_ex((HOST, port)) == 0:
                die(f"port {port} is in use; pick two free ports with PORTS=\"P1 P2\"")
        self.name, self.port = name, port
        self.data = work / f"data-{name}"
        self.log_path = work / f"server-{name}.log"
        env = dict(os.environ, GALE_JAVA_CDS="1" if cds else "0",
                   GALE_JAVA_OPTS=(os.environ.get("GALE_JAVA_OPTS", "") + f" -Dgale.api.jar={api_jar}").strip())
        env.pop("GALE_URL", None)
        env.pop("GALE_TOKEN", None)
        self.process = subprocess.Popen(
            [str(REPO / "gale"), "server", "--host", HOST, "--port", str(port), "--data-dir", str(self.data)],
            stdout=open(self.log_path, "wb"), stderr=subprocess.STDOUT, start_new_session=True, env=env)
        self.url = f"http://{HOST}:{port}"
        self.token = None

    def wait_healthy(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                die(f"server {self.name} exited with {self.process.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as r:
                    if r.status == 200:
                        self.token = (self.data / "admin-token").read_text().strip()
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        die(f"server {self.name} did not answer /healthz within {START_TIMEOUT}s; see {self.log_path}")

    def api(self, method, path, body=None, content_type=None):
        request = urllib.request.Request(self.url + path, data=body, method=method,
                                         headers={"Authorization": f"Bearer {self.token}"})
        if content_type:
            request.add_header("Content-Type", content_type)
        with urllib.request.urlopen(request, timeout=30) as r:
            return json.loads(r.read() or b"null")

    def deploy(self, name, bundle_zip, config):
        boundary = uuid.uuid4().hex
        parts = [(b'Content-Disposition: form-data; name="bundle"; filename="bundle.zip"\r\n'
                  b"Content-Type: application/zip\r\n\r\n", bundle_zip),
                 (b'Content-Disposition: form-data; name="config"\r\n'
                  b"Content-Type: application/json\r\n\r\n", json.dumps(config).encode())]
        body = b"".join(b"--" + boundary.encode() + b"\r\n" + head + content + b"\r\n" for head, content in parts)
        body += b"--" + boundary.encode() + b"--\r\n"
        version = self.api("POST", f"/v1/functions/{name}/versions", body, f"multipart/form-data; boundary={boundary}")
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            v = self.api("GET", f"/v1/functions/{name}/versions/{version['version']}")
            if v["state"] == "ACTIVE":
                return v["version"]
            if v["state"] == "FAILED":
                die(f"deploy of {name} on server {self.name} FAILED: {v.get('reason')}")
            time.sleep(0.3)
        die(f"deploy of {name} on server {self.name} did not finish within 300s")

    def instances(self, name):
        return self.api("GET", f"/v1/functions/{name}")["instances"]

    def stop(self):
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


# --------------------------------------------------------------------------- measuring

def call(server, function):
    """One GET on a fresh connection; returns (ms, cold start?)."""
    started = time.perf_counter()
    with urllib.request.urlopen(f"{server.url}/fn/{function}?name=bench", timeout=60) as r:
        body = r.read()
        cold = r.headers.get("X-Gale-Cold-Start") == "true"
    elapsed = (time.perf_counter() - started) * 1000
    if not body.startswith(b"Hello, bench!"):
        die(f"{function} on server {server.name} answered {body[:200]!r}")
    return elapsed, cold


def kept_alive(connection, path):
    """One GET on an open connection; returns ms."""
    started = time.perf_counter()
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read()
    elapsed = (time.perf_counter() - started) * 1000
    if response.status != 200:
        die(f"{path} answered {response.status}: {body[:200]!r}")
    return elapsed


def steady_warm(server, function, calls):
    """Calls on one kept-alive connection; returns the ms of the last 200 (p50 taken by the caller)."""
    connection = http.client.HTTPConnection(HOST, server.port, timeout=60)
    try:
        times = [kept_alive(connection, f"/fn/{function}?name=bench") for _ in range(max(calls, 200))]
    finally:
        connection.close()
    return times[-200:]


def python_bundle():
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as z:
        z.writestr("main.py", PYTHON_HELLO)
    return data.getvalue()


def wait_for_zero(server, function, timeout=30):
    deadline = time.monotonic() + timeout
    while server.instances(function) > 0:
        if time.monotonic() > deadline:
            die(f"{function} on server {server.name} kept an instance for {timeout}s despite --idle-timeout 100ms")
        time.sleep(0.05)


def wait_for_archive(server, function):
    java_dir = server.data / "functions" / function / "1" / "java"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        archives = [p for p in java_dir.glob("classes-*") if p.suffix in (".aot", ".jsa")]
        failed = list(java_dir.glob("classes-*.failed"))
        if failed:
            die(f"the training run for {function} failed: {failed[0].read_text().strip()}")
        if archives:
            return archives[0]
        time.sleep(0.5)
    die(f"no class-data archive for {function} after 180s; see {server.log_path}")


def jvm_floor(jdk):
    started = time.perf_counter()
    subprocess.run([str(jdk / "bin" / "java"), "-XX:+UseSerialGC", "-XX:-UsePerfData", "-version"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return (time.perf_counter() - started) * 1000


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


# --------------------------------------------------------------------------- report

def report(variants, floor, steady, jdk, archive, started_load, ended_load):
    def p50(values):
        return statistics.median(values)

    base = p50(variants[NO_ARCHIVE]["cold"])
    no_spare = p50(variants[NO_SPARE]["cold"])
    java_version = subprocess.run([str(jdk / "bin" / "java"), "-version"], capture_output=True, text=True).stderr.splitlines()[0]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    lines = [
        "# Java cold start",
        "",
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}; "
        f"{java_version}; Gale {commit or '?'} (working tree); load average {started_load} at the start, {ended_load} at the end.",
        "",
        f"`bench/java_coldstart.sh`, {ROUNDS} rounds, SETTLE={SETTLE:g} s, WARMUP={WARMUP}. A cold call is one GET on a fresh "
        "connection to a function with no instance (examples/java-hello as a jar, `--idle-timeout 100ms`), "
        f"{SETTLE:g} s after its last instance stopped: gateway, taking the spare JVM or starting one, READY, first response, "
        "as the client on 127.0.0.1 measures it. Warm calls follow each cold one: on a new connection (urllib) and on a "
        "kept-alive connection, next to `/healthz` on that connection. "
        f"Archive: `{archive.name}` ({archive.stat().st_size >> 10} KB). Times in ms; ratios are cold p50 over the cold p50 "
        "of the variant named (below 1 is faster).",
        "",
        "| variant | cold p50 | cold p90 | cold min | warm p50, new conn. | warm p50, kept-alive | `/healthz` p50, kept-alive "
        "| cold / no spare | cold / no archive |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, v in variants.items():
        cold = v["cold"]
        lines.append(f"| {name} | {p50(cold):.0f} | {percentile(cold, 90):.0f} | {min(cold):.0f} | {p50(v['warm']):.1f} | "
                     f"{p50(v['kept']):.2f} | {p50(v['healthz']):.2f} | {p50(cold) / no_spare:.2f} | {p50(cold) / base:.2f} |")
    lines.append(f"| `java -version` alone (the JVM's floor, no Gale) | {p50(floor):.0f} | {percentile(floor, 90):.0f} | "
                 f"{min(floor):.0f} | – | – | – | {p50(floor) / no_spare:.2f} | {p50(floor) / base:.2f} |")
    java_steady, python_steady = p50(steady["java"]), p50(steady["python"])
    lines += ["", f"Steady warm call (the last 200 of {max(WARMUP, 200)} calls on one kept-alive connection, same server): "
                  f"Java {java_steady:.2f} ms p50, Python {python_steady:.2f} ms p50, Java / Python {java_steady / python_steady:.2f}."]
    shipped = variants[SHIPPED]
    kept = p50(shipped["kept"])
    lines += ["", f"Targets (as shipped): cold start at most {TARGET_MS} ms p50: **{'met' if p50(shipped['cold']) <= TARGET_MS else 'not met'}** "
                  f"({p50(shipped['cold']):.0f} ms); warm call at most {TARGET_WARM_MS} ms p50: kept-alive right after the cold call "
                  f"**{'met' if kept <= TARGET_WARM_MS else 'not met'}** ({kept:.2f} ms), steady "
                  f"**{'met' if java_steady <= TARGET_WARM_MS else 'not met'}** ({java_steady:.2f} ms), on a new connection "
                  f"**{'met' if p50(shipped['warm']) <= TARGET_WARM_MS else 'not met'}** ({p50(shipped['warm']):.1f} ms)."]
    skipped = sum(v["not_cold"] for v in variants.values())
    if skipped:
        lines.append(f"{skipped} call(s) that found an instance already running were not counted.")
    return "\n".join(lines) + "\n"


SHIPPED = "as shipped: spare JVM, archive, C1 only"
NO_SPARE = "no spare (`prewarm = false`), archive, C1 only"
NO_ARCHIVE = "no spare, no archive (GALE_JAVA_CDS=0), C1 only"


def main():
    jdk = java_home()
    api_jar = gale_api_jar(jdk)
    work = Path(tempfile.mkdtemp(prefix="gale-java-coldstart-"))
    servers = []

    def stop_all(*_):
        for s in servers:
            s.stop()
        sys.exit(130)

    signal.signal(signal.SIGINT, stop_all)
    signal.signal(signal.SIGTERM, stop_all)
    try:
        bundle = function_bundle(jdk, api_jar, work)
        started_load = "%.2f" % os.getloadavg()[0]
        # One after the other: the first start may build Gale, and two builds must not race.
        shipped = Server("cds", PORTS[0], work, api_jar, cds=True)
        servers.append(shipped)
        shipped.wait_healthy()
        plain = Server("nocds", PORTS[1], work, api_jar, cds=False)
        servers.append(plain)
        plain.wait_healthy()
        log(f"servers up: {shipped.url} (with archives), {plain.url} (GALE_JAVA_CDS=0)")
        config = {"runtime": "java21", "entryPoint": "example.Hello", "idleTimeout": "100ms",
                  "maxInstances": 1, "allowUnauthenticated": True}
        lazy = dict(config, prewarm=False)
        shipped.deploy("hello", bundle, config)
        shipped.deploy("hello-nospare", bundle, lazy)
        shipped.deploy("hello-c2", bundle, dict(lazy, env={"JAVA_TOOL_OPTIONS": "-XX:TieredStopAtLevel=4"}))
        shipped.deploy("hello-py", python_bundle(), {"runtime": "python3", "entryPoint": "hello", "idleTimeout": "10m",
                                                     "maxInstances": 1, "allowUnauthenticated": True})
        plain.deploy("hello", bundle, lazy)
        archive = wait_for_archive(shipped, "hello")
        wait_for_archive(shipped, "hello-nospare")
        wait_for_archive(shipped, "hello-c2")

        variants = {
            SHIPPED: (shipped, "hello"),
            NO_SPARE: (shipped, "hello-nospare"),
            "archive, C1 and C2 (`JAVA_TOOL_OPTIONS=-XX:TieredStopAtLevel=4`), no spare": (shipped, "hello-c2"),
            NO_ARCHIVE: (plain, "hello"),
        }
        log(f"archives trained ({archive.name}); {WARMUP} warm-up calls per function")
        steady = {"java": [], "python": []}
        for server, function in variants.values():
            times = steady_warm(server, function, WARMUP)
            if (server, function) == variants[SHIPPED]:
                steady["java"] = times
        steady["python"] = steady_warm(shipped, "hello-py", WARMUP)
        steady["java"] += steady_warm(shipped, "hello", 200)  # again, after Python's, so load hits both
        steady["python"] += steady_warm(shipped, "hello-py", 200)
        log(f"measuring {ROUNDS} rounds")
        results = {name: {"cold": [], "warm": [], "kept": [], "healthz": [], "not_cold": 0} for name in variants}
        floor = []
        for round_no in range(ROUNDS):
            order = list(variants.items())
            if round_no % 2:
                order.reverse()
            for name, (server, function) in order:
                wait_for_zero(server, function)
                time.sleep(SETTLE)
                elapsed, cold = call(server, function)
                if cold:
                    results[name]["cold"].append(elapsed)
                else:
                    results[name]["not_cold"] += 1
                results[name]["warm"].append(call(server, function)[0])
                connection = http.client.HTTPConnection(HOST, server.port, timeout=60)
                try:
                    kept_alive(connection, "/healthz")  # opens the connection
                    results[name]["kept"].append(kept_alive(connection, f"/fn/{function}?name=bench"))
                    results[name]["healthz"].append(kept_alive(connection, "/healthz"))
                finally:
                    connection.close()
            floor.append(jvm_floor(jdk))
            log(f"round {round_no + 1}/{ROUNDS}: " + ", ".join(
                f"{name.split(' (')[0].split(':')[0].split(',')[0]} {results[name]['cold'][-1]:.0f} ms"
                for name in variants if results[name]["cold"]))
        for name, r in results.items():
            if not r["cold"]:
                die(f"no cold call was measured for {name}")
        text = report(results, floor, steady, jdk, archive, started_load, "%.2f" % os.getloadavg()[0])
        print(text)
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(text)
        log(f"written to {RESULTS}")
    finally:
        for s in servers:
            s.stop()
        if KEEP_WORK:
            log(f"kept {work}")
        else:
            subprocess.run(["rm", "-rf", str(work)])


if __name__ == "__main__":
    main()
