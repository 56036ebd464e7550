#!/usr/bin/env python3
"""Firing jitter of a Gale schedule, against a Python loop sleeping until the same instants, in one run.

    bench/schedule_jitter.py                  # 60 slots, about 1.5 minutes
    SLOTS=300 bench/schedule_jitter.py

A fresh `gale server --min-schedule-interval 1s` gets a function `tick` (min-instances 1, so
the figure is the scheduler's and the call path's, not a cold start's) and a schedule that
calls it every second. The function prints `time.time()` when it is called and the slot the
call is for (X-Gale-Schedule-Time). Meanwhile a thread of this script sleeps until each of the
same whole seconds and records how late it woke: the baseline, the jitter any timer on this
machine has at the same moment.

Reported, each as p50 / p90 / p99 / max milliseconds after the slot:
- baseline: the Python loop's wake-up;
- Gale claims the slot: the scheduler's timer (firedAt - slot, from the store, 1 ms resolution);
- Gale's function runs: the slot's call reaches user code (gateway, pool, instance, bootstrap).

The ratio is "function runs" over the baseline. The first 3 slots are a warm-up and dropped.
Writes bench/results/schedule_jitter.md. Stdlib only; every request goes to 127.0.0.1.
"""

import datetime
import os
import re
import threading
import time

from map_common import log, start_server, table, write_results

SLOTS = int(os.environ.get("SLOTS", "60"))
WARMUP = 3
TICK = """
import time
def tick(request):
    print("tick", request.headers.get("X-Gale-Schedule-Time"), repr(time.time()))
    return "ok"
"""


def baseline(until, lateness):
    """Sleeps until each whole second before ``until`` and records how late it woke (ms)."""
    slot = int(time.time()) + 1
    while slot < until:
        delay = slot - time.time()
        if delay > 0:
            time.sleep(delay)
        lateness.append((slot, (time.time() - slot) * 1000))
        slot += 1


def slot_seconds(iso):
    return datetime.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def main():
    server = start_server_with_short_intervals()
    try:
        client = server.client()
        client.deploy("tick", {"main.py": TICK}, {"minInstances": 1, "maxInstances": 1})
        client.call("tick", method="GET")  # the instance is up and has served once
        started = time.time()
        until = int(started) + SLOTS + WARMUP + 1
        base = []
        sleeper = threading.Thread(target=baseline, args=(until, base))
        sleeper.start()
        client.request("PUT", "/v1/schedules/tick", body={"function": "tick", "every": "1s"})
        log(f"firing every second for {SLOTS + WARMUP} s, beside a Python loop sleeping until the same instants")
        sleeper.join()
        client.request("POST", "/v1/schedules/tick/pause")
        time.sleep(1.5)  # the last call's log line is written
        first = int(started) + WARMUP + 1

        firings = client.request("GET", "/v1/schedules/tick/firings", query={"limit": 1000}).json()
        claimed = [f["lateMs"] for f in firings if slot_seconds(f["slot"]) >= first]
        entries = client.request("GET", "/v1/functions/tick/logs", query={"limit": 10000}).json()["entries"]
        runs = []
        for entry in entries:
            m = re.match(r"tick (\S+) ([0-9.]+)$", entry["message"])
            if m and m.group(1) != "None" and slot_seconds(m.group(1)) >= first:
                runs.append((float(m.group(2)) - slot_seconds(m.group(1))) * 1000)
        base_ms = [late for slot, late in base if slot >= first]
        if not runs or not base_ms:
            raise SystemExit("no firings or no baseline samples were recorded; see " + server.log_path)

        rows = [percentile_row("baseline: Python loop wakes", base_ms),
                percentile_row("Gale claims the slot (scheduler timer)", claimed),
                percentile_row("Gale's function runs (end to end)", runs)]
        ratio_p50 = sorted(runs)[len(runs) // 2] / max(sorted(base_ms)[len(base_ms) // 2], 1e-3)
        ratio_p99 = percentile(runs, 99) / max(percentile(base_ms, 99), 1e-3)
        slots_seen = [m.group(1) for m in (re.match(r"tick (\S+) ", e["message"]) for e in entries) if m and m.group(1) != "None"]
        twice = len(slots_seen) - len(set(slots_seen))
        summary = (f"{len(runs)} firings of {SLOTS} slots reached the function (after {WARMUP} warm-up slots); "
                   f"function runs / baseline: **{ratio_p50:.1f}x at p50, {ratio_p99:.1f}x at p99**. "
                   f"Slots the function saw twice: {twice}.")
        write_results("schedule_jitter", "Schedule firing jitter: Gale vs a sleeping Python loop",
                      [table(["milliseconds after the slot", "n", "p50", "p90", "p99", "max"], rows), summary],
                      "bench/schedule_jitter.py" + (f" (SLOTS={SLOTS})" if SLOTS != 60 else ""))
    finally:
        server.stop()


def percentile_row(label, values):
    return [label, len(values)] + [f"{percentile(values, q):.2f}" for q in (50, 90, 99)] + [f"{max(values):.2f}"]


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def start_server_with_short_intervals():
    return start_server(args=("--min-schedule-interval", "1s"))


if __name__ == "__main__":
    main()
