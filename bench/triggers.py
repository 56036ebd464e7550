#!/usr/bin/env python3
"""Triggers: how many state writes' events Gale delivers per second, and how long from a write to the
function running with its event, beside the same function called by async calls in the same run.

    bench/triggers.py                       # 2,000 events on 64 keys from 8 client threads, 50 single ones
    EVENTS=5000 CLIENTS=16 bench/triggers.py

A fresh `gale server` gets a function `sink` (max-instances 2, concurrency 4, min-instances 2, so no
cold start is measured) with a trigger on `state:sink/in/`. It appends one line per call to a file
(sandbox off): when it ran (its time.time()) and when the client sent what caused it. Then:

1. baseline, throughput: EVENTS async calls (Prefer: respond-async) from CLIENTS threads, each carrying
   its send time; delivered/s is EVENTS over the time from the first send until the function ran the last.
2. triggers, throughput: EVENTS state puts of `in/kNN` (KEYS keys, so events of different keys run in
   parallel, those of one key in order) from the same threads, each value carrying its send time;
   delivered/s the same way. Then EVENTS/4 puts of one key: its events go one at a time, in order.
3. latency, one at a time on an idle server: SINGLE async calls and SINGLE state puts, send to the function
   running with it (p50, p99).

Writes bench/results/triggers.md. Stdlib only; every request goes to 127.0.0.1.
"""

import json
import os
import tempfile
import time

from async_calls import fan_out, percentiles
from map_common import log, start_server, table, write_results

EVENTS = int(os.environ.get("EVENTS", "2000"))
CLIENTS = int(os.environ.get("CLIENTS", "8"))
KEYS = int(os.environ.get("KEYS", "64"))
SINGLE = int(os.environ.get("SINGLE", "50"))
SINK = """
import json, os, time

LOG = os.environ["BENCH_LOG"]

def sink(arg):
    ran = time.time()
    sent = arg.data["newValue"]["sent"] if isinstance(arg.data, dict) else arg.get_json()["sent"]
    with open(LOG, "a") as log:
        log.write(json.dumps({"sent": sent, "ran": ran}) + "\\n")
    return "ok"
"""


def lines(path):
    try:
        with open(path) as file:
            return [json.loads(line) for line in file if line.endswith("\n")]
    except FileNotFoundError:
        return []


def wait_for(path, count, timeout=600):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = lines(path)
        if len(done) >= count:
            return done
        time.sleep(0.01)
    raise SystemExit(f"only {len(lines(path))} of {count} calls reached the function in {timeout}s")


def async_call(client, i):
    answer = client.call("sink", body={"sent": time.time(), "i": i}, headers={"Prefer": "respond-async"})
    if answer.status != 202:
        raise SystemExit(f"async call answered {answer.status}: {answer.text}")


def put(key):
    def one(client, i):
        client.request("PUT", f"/v1/state/sink/in/{key(i)}", body={"sent": time.time(), "i": i})
    return one


def delivered(client, log_path, count, send):
    """Runs ``send`` for ``count`` calls; returns (seconds from the first send to the last run, lines)."""
    open(log_path, "w").close()
    started = time.time()
    fan_out(client, count, CLIENTS, send)
    done = wait_for(log_path, count)
    return max(d["ran"] for d in done) - started, done


def one_at_a_time(client, log_path, send):
    """SINGLE calls, each sent once the one before ran; milliseconds from send to run, and of the send's
    own request (until the 202, or the state write's answer)."""
    open(log_path, "w").close()
    answered = []
    for i in range(SINGLE):
        started = time.perf_counter()
        send(client, i)
        answered.append((time.perf_counter() - started) * 1000)
        wait_for(log_path, i + 1)
    return [(d["ran"] - d["sent"]) * 1000 for d in lines(log_path)], answered


def main():
    log_path = os.path.join(tempfile.mkdtemp(prefix="gale-bench-triggers-"), "calls.jsonl")
    server = start_server()
    try:
        client = server.client()
        client.deploy("sink", {"main.py": SINK}, {"minInstances": 2, "maxInstances": 2, "concurrency": 4,
                                                  "sandbox": "off", "env": {"BENCH_LOG": log_path},
                                                  "triggers": ["state:sink/in/"]})
        delivered(client, log_path, 200, async_call)  # warm-up: instances, connections, JIT
        delivered(client, log_path, 200, put(lambda i: f"k{i % KEYS:02d}"))

        log(f"baseline: {EVENTS} async calls from {CLIENTS} threads")
        async_seconds, _ = delivered(client, log_path, EVENTS, async_call)
        log(f"triggers: {EVENTS} state puts on {KEYS} keys from {CLIENTS} threads")
        trigger_seconds, _ = delivered(client, log_path, EVENTS, put(lambda i: f"k{i % KEYS:02d}"))
        one_key = EVENTS // 4
        log(f"triggers: {one_key} state puts of one key from {CLIENTS} threads")
        one_key_seconds, _ = delivered(client, log_path, one_key, put(lambda i: "hot"))

        log(f"latency: {SINGLE} single calls each way")
        async_ms, accepted_ms = one_at_a_time(client, log_path, async_call)
        trigger_ms, written_ms = one_at_a_time(client, log_path, put(lambda i: f"k{i % KEYS:02d}"))
        counts = client.triggers("sink")[0]

        async_rate = EVENTS / async_seconds
        trigger_rate = EVENTS / trigger_seconds
        one_key_rate = one_key / one_key_seconds
        throughput = table(["calls from " + str(CLIENTS) + " threads", "events", "seconds", "delivered/s", "vs baseline"], [
            ["baseline: async calls, send to the last run", EVENTS, f"{async_seconds:.2f}", f"{async_rate:.0f}", "1.00x"],
            [f"triggers: state puts on {KEYS} keys, send to the last run", EVENTS, f"{trigger_seconds:.2f}",
             f"{trigger_rate:.0f}", f"{trigger_rate / async_rate:.2f}x"],
            ["triggers: state puts of one key (in order, one at a time)", one_key, f"{one_key_seconds:.2f}",
             f"{one_key_rate:.0f}", f"{one_key_rate / async_rate:.2f}x"],
        ])
        latency = table(["one at a time, send to the function running, ms", "n", "p50", "p90", "p99", "max"], [
            ["baseline: async call", SINGLE] + percentiles(async_ms),
            ["trigger: state put to its event", SINGLE] + percentiles(trigger_ms),
            ["the async call's own request, send to its 202", SINGLE] + percentiles(accepted_ms),
            ["the state put's own request, send to its answer", SINGLE] + percentiles(written_ms),
        ])
        summary = (f"Gale delivered **{trigger_rate:.0f} trigger events/s** ({trigger_rate / async_rate:.2f}x the "
                   f"{async_rate:.0f} async calls/s of the same function and clients), {one_key_rate:.0f}/s for one key "
                   f"in order; a write reached the function in {percentiles(trigger_ms)[0]} ms at p50 "
                   f"({percentiles(trigger_ms)[2]} ms at p99), an async call in {percentiles(async_ms)[0]} ms "
                   f"({percentiles(async_ms)[2]} ms). Trigger counts at the end: {counts['delivered']} delivered, "
                   f"{counts['pending']} pending, {counts['dead']} dead.")
        write_results("triggers", "Triggers: events delivered/s and write-to-delivery latency vs async calls",
                      [throughput, latency, summary],
                      "bench/triggers.py" + (f" (EVENTS={EVENTS}, CLIENTS={CLIENTS}, KEYS={KEYS})"
                                             if (EVENTS, CLIENTS, KEYS) != (2000, 8, 64) else ""))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
