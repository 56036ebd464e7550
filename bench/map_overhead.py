"""What a map task costs when the task does nothing: 10,000 no-op tasks.

Gale runs them as one map job (gale.Executor.map of a Python callable through the
gale-runner function, and of a deployed function by name with JSON in and out), on a
server started here on 127.0.0.1. Baselines, measured in the same run on the same
machine: multiprocessing.Pool(2).map and Dask (LocalCluster, 2 worker processes).
Every configuration gets a warm-up map first (instances and workers started; for Gale
a map of WARMUP tasks per configuration, by default as many as the timed ones, all of
them before the first timed map, because the server's JIT compiler takes some 20-30,000
calls to settle; each warm-up map's rate is reported too), then the best of REPEAT
timed maps counts. Reports tasks/s and the per-task overhead (wall time / tasks), and
the median round trip of one submit(noop, x).result() on a warm runner (after
ROUND_TRIP_WARMUP calls), against concurrent.futures.ProcessPoolExecutor(2)'s in the
same run.

    python3 bench/map_overhead.py                 # 10,000 tasks, about 2 minutes
    TASKS=2000 python3 bench/map_overhead.py
"""
import concurrent.futures
import multiprocessing
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from map_common import log, median, start_server, table, timed, write_results  # noqa: E402


TASKS = int(os.environ.get("TASKS", 10_000))
WORKERS = int(os.environ.get("WORKERS", 4))  # Gale instances (and job parallelism)
REPEAT = int(os.environ.get("REPEAT", 2))
ROUND_TRIPS = int(os.environ.get("ROUND_TRIPS", 200))
WARMUP = int(os.environ.get("WARMUP", TASKS))  # Gale warm-up tasks per configuration
ROUND_TRIP_WARMUP = int(os.environ.get("ROUND_TRIP_WARMUP", 1000))  # Gale submit().result() calls before timing
NOOP_SOURCE = {"main.py": "import json\n\n\ndef noop(event, context):\n    return json.loads(event['body'])\n"}


def noop(x):
    return x


def best_of(run, repeat=REPEAT):
    return min(timed(run)[0] for _ in range(repeat))


def bench_pool(tasks):
    with multiprocessing.Pool(2) as pool:
        pool.map(noop, range(200))
        return {f"multiprocessing.Pool(2).map, chunksize {c}": best_of(lambda c=c: pool.map(noop, tasks, chunksize=c))
                for c in (1, 10)}


def round_trip(executor, calls=ROUND_TRIPS, warmup=10):
    """Median seconds of one executor.submit(noop, x).result(), after ``warmup`` calls."""
    for value in range(warmup):
        executor.submit(noop, value).result()
    return median([timed(lambda v=value: executor.submit(noop, v).result())[0] for value in range(calls)])


def bench_process_pool_round_trip():
    with concurrent.futures.ProcessPoolExecutor(2) as pool:
        return round_trip(pool)


def bench_dask(tasks):
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        log("Dask is not installed (apt-get install python3-distributed): skipping it")
        return {}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        client.gather(client.map(noop, range(200), pure=False))
        return {"Dask client.map + gather, 2 workers": best_of(lambda: client.gather(client.map(noop, tasks, pure=False)))}


def bench_gale(server, tasks):
    """Each configuration's warm-up map first, all of them (the server's JIT warms on all three
    paths), then the timed maps; returns ({label: best seconds}, {label: warm-up tasks/s}, round trip)."""
    results, first = {}, {}
    executor = server.executor(max_workers=WORKERS, progress=False)
    client = executor.client
    client.deploy("noop", NOOP_SOURCE, {"entryPoint": "noop", "signature": "event", "maxInstances": WORKERS})
    configurations = ((f"Gale map(callable), chunksize 1", noop, 1),
                      (f"Gale map(callable), chunksize 10", noop, 10),
                      (f"Gale map(\"noop\") by name, JSON, chunksize 1", "noop", 1))
    for label, fn, chunk in configurations:
        first[label] = WARMUP / timed(lambda: list(executor.map(fn, range(WARMUP), chunksize=chunk)))[0]
        log(f"{label}: warm-up map {first[label]:.0f} tasks/s")
    for label, fn, chunk in configurations:
        results[label] = best_of(lambda: check(list(executor.map(fn, tasks, chunksize=chunk)), tasks))
        log(f"{label}: {len(tasks) / results[label]:.0f} tasks/s")
    latency = round_trip(executor, warmup=ROUND_TRIP_WARMUP)
    executor.shutdown()
    return results, first, latency


def check(results, tasks):
    if results != list(tasks):
        raise AssertionError("results differ from the inputs")
    return results


def main():
    tasks = list(range(TASKS))
    server = start_server()
    try:
        log(f"baselines: {TASKS} no-op tasks")
        baselines = {**bench_pool(tasks), **bench_dask(tasks)}
        for label, seconds in baselines.items():
            log(f"{label}: {TASKS / seconds:.0f} tasks/s")
        pool_latency = bench_process_pool_round_trip()
        log(f"ProcessPoolExecutor(2) submit().result(): {pool_latency * 1000:.2f} ms")
        gale_results, gale_first, latency = bench_gale(server, tasks)
        log(f"Gale submit().result(): {latency * 1000:.2f} ms")
    finally:
        server.stop()
    pool = baselines["multiprocessing.Pool(2).map, chunksize 1"]
    dask = next((seconds for label, seconds in baselines.items() if label.startswith("Dask")), None)
    rows = [[label, f"{seconds:.2f}", f"{TASKS / seconds:,.0f}", f"{gale_first[label]:,.0f}" if label in gale_first else "-",
             f"{seconds / TASKS * 1000:.3f}", f"{pool / seconds:.2f}x", f"{dask / seconds:.2f}x" if dask else "-"]
            for label, seconds in list(baselines.items()) + list(gale_results.items())]
    write_results("map_overhead", f"Map overhead: {TASKS:,} no-op tasks", [
        f"{TASKS:,} tasks that return their input. Gale: one map job on a fresh `gale server` "
        f"(gale-runner with max-instances {WORKERS}, concurrency 1, job parallelism {WORKERS}); "
        f"the client, the server and the instances share the machine's CPUs. Best of {REPEAT} "
        f"timed runs after a warm-up run (for Gale, one map of {WARMUP:,} tasks per configuration, all three "
        f"before the first timed run: the server's JIT compiler settles after some 20-30,000 calls, and the "
        f"\"first map\" column is that warm-up map's rate, on a server that just started). Per-task overhead = "
        f"wall time / tasks. The ratio columns divide a baseline's wall time by the row's (above 1: the row is faster).",
        table(["configuration", "wall s", "tasks/s", "first map tasks/s", "per-task ms", "vs Pool(2) chunksize 1",
               "vs Dask"], rows),
        f"One `Executor.submit(noop, x).result()` round trip on a warm runner (a one-input job, "
        f"submitted with `POST /v1/jobs?wait=true`, which answers with the stored result), after "
        f"{ROUND_TRIP_WARMUP:,} such calls: median "
        f"{latency * 1000:.2f} ms over {ROUND_TRIPS} calls; `concurrent.futures.ProcessPoolExecutor(2)` "
        f"in the same run: {pool_latency * 1000:.2f} ms ({latency / pool_latency:.1f}x its time).",
    ], "python3 bench/map_overhead.py" + (f"  (TASKS={TASKS})" if TASKS != 10_000 else ""))


if __name__ == "__main__":
    main()
