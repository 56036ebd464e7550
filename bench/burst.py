#!/usr/bin/env python3
"""A burst from zero: N calls at once to one function scaled to zero, each holding its
instance for HOLD seconds, so Gale starts N instances at once; how long until every one
of the N instances has answered its first call. Gale with zygotes against Gale starting a
fresh python3 per instance (GALE_ZYGOTE=0), in one run.

    /usr/bin/python3 bench/burst.py                 # N=100, 3 rounds; the fresh baseline takes minutes
    N=100 ROUNDS=3 HOLD=5 BASELINE=0 /usr/bin/python3 bench/burst.py   # zygotes only

The function (written here) sleeps HOLD seconds and answers its instance id, so the calls
cannot share instances and all N must start; max-instances is N, idle-timeout 1s. A round
waits until the function has scaled to zero (and a moment more, as after any idle period),
sends N requests from N threads released together, and records when each answer arrives.
"all answered" is the time from the release to the last answer, HOLD included; "start" is
that minus HOLD (what the N cold starts themselves cost). "instances per round" counts the
distinct instances that answered: N unless a start took longer than HOLD (then an instance
served two calls, and HOLD should be longer). Writes a markdown report to stdout and $RESULTS.
"""

import http.client
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import coldstart  # noqa: E402 - the Server class and helpers of the cold-start benchmark

N = int(os.environ.get("N", "100"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))
HOLD = float(os.environ.get("HOLD", "5"))  # long enough that no instance serves two calls of a burst
BASELINE = os.environ.get("BASELINE", "1") == "1"
PORTS = [int(p) for p in os.environ.get("PORTS", "18492 18493").split()]
RESULTS = Path(os.environ.get("RESULTS", str(coldstart.BENCH / "results" / "burst.md")))
SETTLE = float(os.environ.get("SETTLE", "1.0"))  # seconds after scaling to zero before the burst
FUNCTION = """import os, time
def burst(request):
    time.sleep(float(request.args.get("hold", "0")))
    return os.environ["GALE_INSTANCE_ID"]
"""


def log(message):
    print(f"[burst] {message}", file=sys.stderr, flush=True)


def one_burst(server):
    """(seconds from the release to the last answer, distinct instances that answered, failures)."""
    barrier = threading.Barrier(N + 1)
    answers = [None] * N

    def call(i):
        connection = http.client.HTTPConnection(coldstart.HOST, server.port, timeout=120)
        barrier.wait()
        try:
            connection.request("GET", f"/fn/burst?hold={HOLD}")
            response = connection.getresponse()
            body = response.read().decode()
            answers[i] = (time.perf_counter(), response.status, body)
        except OSError as exc:
            answers[i] = (time.perf_counter(), 0, str(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=call, args=(i,)) for i in range(N)]
    for t in threads:
        t.start()
    barrier.wait()
    released = time.perf_counter()
    for t in threads:
        t.join()
    ok = [a for a in answers if a[1] == 200]
    return max(a[0] for a in answers) - released, len({a[2] for a in ok}), N - len(ok)


def main():
    work = Path(tempfile.mkdtemp(prefix="gale-burst-"))
    bundle = work / "bundle"
    bundle.mkdir()
    (bundle / "main.py").write_text(FUNCTION)
    variants = [("zygote", PORTS[0], True)] + ([("fresh", PORTS[1], False)] if BASELINE else [])
    results, load_before = {}, os.getloadavg()[0]
    try:
        for label, port, zygote in variants:
            log(f"starting the {label} server on port {port}")
            server = coldstart.Server(label, port, work, zygote)
            try:
                server.deploy("burst", bundle, {"entryPoint": "burst", "minInstances": 0, "maxInstances": N,
                                                "maxQueue": N, "idleTimeout": "1s", "allowUnauthenticated": True})
                rounds = []
                for round_number in range(ROUNDS + 1):
                    coldstart.wait_scaled_to_zero([server], ["burst"], timeout=120)
                    time.sleep(SETTLE)
                    elapsed, distinct, failed = one_burst(server)
                    if round_number:
                        rounds.append((elapsed, distinct, failed))
                    log(f"{label} round {round_number}{' (warm-up)' if not round_number else ''}: "
                        f"{elapsed * 1000:.0f} ms, {distinct} instances, {failed} failed")
                results[label] = rounds
            finally:
                server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lines = [f"# Burst from zero: {N} instances of one function ({time.strftime('%Y-%m-%d %H:%M')})", "",
             f"{os.cpu_count()} CPUs; load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after; "
             f"`bench/burst.py`, N={N}, ROUNDS={ROUNDS}, HOLD={HOLD}.", "",
             "| server | all answered, median | best | worst | start (median - hold) | instances per round | failed calls |",
             "|---|---:|---:|---:|---:|---|---:|"]
    for label, rounds in results.items():
        times = sorted(r[0] * 1000 for r in rounds)
        median = times[len(times) // 2]
        lines.append(f"| {label} | {median:.0f} ms | {times[0]:.0f} ms | {times[-1]:.0f} ms | {median - HOLD * 1000:.0f} ms "
                     f"| {', '.join(str(r[1]) for r in rounds)} | {sum(r[2] for r in rounds)} |")
    if len(results) == 2:
        z = sorted(r[0] for r in results["zygote"])[ROUNDS // 2]
        f = sorted(r[0] for r in results["fresh"])[ROUNDS // 2]
        lines += ["", f"fresh / zygote (median): {f / z:.1f}x"]
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)


if __name__ == "__main__":
    main()
