#!/usr/bin/env python3
"""Async calls (Prefer: respond-async): how fast Gale accepts them, and how long one takes end to end,
beside the same calls made synchronously in the same run.

    bench/async_calls.py                    # 2,000 calls from 8 client threads, 50 single calls
    CALLS=5000 CLIENTS=16 bench/async_calls.py

A fresh `gale server` gets a function `work` (max-instances 2, concurrency 4, min-instances 2, so
no cold start is measured) that answers {"t": time.time()}. Then, in this order:

1. baseline, throughput: CALLS synchronous POSTs from CLIENTS threads (keep-alive connections);
   calls/s is how fast the function is served when each client waits for the answer.
2. async, accepted: the same CALLS with `Prefer: respond-async` from the same threads; accepted/s
   is how fast Gale stores calls and answers 202 (each call is in the store before its 202). Then
   the time until every one of them has SUCCEEDED (polled), as calls/s run in the background.
3. latency, one call at a time on an idle server: SINGLE synchronous calls (send to answer), and
   SINGLE async calls from send to the moment the function ran (its time.time()) and to the moment
   the call was stored as SUCCEEDED (finishedAt, millisecond resolution).

Writes bench/results/async_calls.md. Stdlib only; every request goes to 127.0.0.1.
"""

import datetime
import json
import os
import threading
import time

from map_common import log, start_server, table, write_results

CALLS = int(os.environ.get("CALLS", "2000"))
CLIENTS = int(os.environ.get("CLIENTS", "8"))
SINGLE = int(os.environ.get("SINGLE", "50"))
WORK = """
import time
def work(request):
    return {"t": time.time(), "n": (request.get_json(silent=True) or {}).get("n")}
"""


def fan_out(client, count, threads, one):
    """Runs one(client, i) for i in range(count) on ``threads`` threads; returns (seconds, results)."""
    results = [None] * count
    next_index = [0]
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                i = next_index[0]
                next_index[0] += 1
            if i >= count:
                client.release()
                return
            results[i] = one(client, i)

    started = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return time.perf_counter() - started, results


def sync_call(client, i):
    return client.call("work", body={"n": i}).status


def async_call(client, i):
    response = client.call("work", body={"n": i}, headers={"Prefer": "respond-async"})
    if response.status != 202:
        raise SystemExit(f"async call answered {response.status}: {response.text}")
    return response.json()["invocationId"]


def invocation(client, invocation_id):
    return client.request("GET", f"/v1/invocations/{invocation_id}").json()


def await_all(client, ids):
    """Waits until every call has ended, asking about one at a time in the order they were accepted (which is
    about the order they run in), so the polling costs the server about one request per call; returns how
    many SUCCEEDED."""
    succeeded = 0
    for invocation_id in ids:
        while True:
            state = invocation(client, invocation_id)["status"]
            if state in ("SUCCEEDED", "DEAD"):
                succeeded += state == "SUCCEEDED"
                break
            time.sleep(0.01)
    return succeeded


def iso_seconds(iso):
    return datetime.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def percentiles(values):
    ordered = sorted(values)

    def at(q):
        return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]
    return [f"{at(50):.2f}", f"{at(90):.2f}", f"{at(99):.2f}", f"{max(ordered):.2f}"]


def main():
    server = start_server()
    try:
        client = server.client()
        client.deploy("work", {"main.py": WORK}, {"minInstances": 2, "maxInstances": 2, "concurrency": 4})
        fan_out(client, 200, CLIENTS, sync_call)  # warm-up: instances, connections, JIT
        ids = fan_out(client, 200, CLIENTS, async_call)[1]
        await_all(client, ids)

        log(f"baseline: {CALLS} synchronous calls from {CLIENTS} threads")
        sync_seconds, statuses = fan_out(client, CALLS, CLIENTS, sync_call)
        if any(s != 200 for s in statuses):
            raise SystemExit("a synchronous call failed")
        log(f"async: {CALLS} calls with Prefer: respond-async from {CLIENTS} threads")
        accept_seconds, ids = fan_out(client, CALLS, CLIENTS, async_call)
        accepted_at = time.perf_counter()
        succeeded = await_all(client, ids)
        drained_seconds = time.perf_counter() - accepted_at + accept_seconds

        log(f"latency: {SINGLE} single calls each way")
        sync_ms, run_ms, done_ms = [], [], []
        for i in range(SINGLE):
            started = time.perf_counter()
            client.call("work", body={"n": i})
            sync_ms.append((time.perf_counter() - started) * 1000)
        for i in range(SINGLE):
            sent = time.time()
            invocation_id = async_call(client, i)
            while True:
                state = invocation(client, invocation_id)
                if state["status"] in ("SUCCEEDED", "DEAD"):
                    break
                time.sleep(0.002)
            body = state["result"]["body"]
            run_ms.append((json.loads(body)["t"] - sent) * 1000)
            done_ms.append((iso_seconds(state["finishedAt"]) - sent) * 1000)

        sync_rate = CALLS / sync_seconds
        accept_rate = CALLS / accept_seconds
        drain_rate = CALLS / drained_seconds
        throughput = table(["calls from " + str(CLIENTS) + " threads", "calls", "seconds", "calls/s", "vs baseline"], [
            ["baseline: synchronous calls, answered", CALLS, f"{sync_seconds:.2f}", f"{sync_rate:.0f}", "1.00x"],
            ["async: accepted (stored, 202)", CALLS, f"{accept_seconds:.2f}", f"{accept_rate:.0f}",
             f"{accept_rate / sync_rate:.2f}x"],
            ["async: all SUCCEEDED (from the first send)", succeeded, f"{drained_seconds:.2f}", f"{drain_rate:.0f}",
             f"{drain_rate / sync_rate:.2f}x"],
        ])
        latency = table(["one call at a time, ms", "n", "p50", "p90", "p99", "max"], [
            ["baseline: synchronous call, send to answer", SINGLE] + percentiles(sync_ms),
            ["async: send to the function running", SINGLE] + percentiles(run_ms),
            ["async: send to stored SUCCEEDED (ms resolution)", SINGLE] + percentiles(done_ms),
        ])
        summary = (f"Gale accepted **{accept_rate:.0f} async calls/s** ({accept_rate / sync_rate:.2f}x the "
                   f"{sync_rate:.0f} synchronous calls/s of the same clients); {succeeded} of {CALLS} SUCCEEDED. "
                   f"One async call reached the function in {percentiles(run_ms)[0]} ms at p50, against "
                   f"{percentiles(sync_ms)[0]} ms for a whole synchronous call.")
        write_results("async_calls", "Async calls: accepted/s and end-to-end latency vs synchronous calls",
                      [throughput, latency, summary],
                      "bench/async_calls.py" + (f" (CALLS={CALLS}, CLIENTS={CLIENTS})" if (CALLS, CLIENTS) != (2000, 8) else ""))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
