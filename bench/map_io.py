"""I/O-bound map: 3,000 tasks that each wait 100 ms (a web-service call), at parallelism 100.

Serial time is 3,000 x 0.1 s = 300 s by construction, and is also measured here by
running a 100-task sample one after another (scaled by 30). Gale runs the tasks as one
map job on a server started here on 127.0.0.1, in two shapes of the same capacity:

- 100 instances x concurrency 1: 100 single-threaded Python processes;
- 4 instances x concurrency 25: four processes, 25 threads each;
- 1 instance x concurrency 100: one Python process answering 100 calls in threads.

Each shape is deployed as its own runner function; its first map includes starting the
instances ("cold"), the next ones find them running ("warm", best of REPEAT). The first shape
is deployed once more under another name and timed on its first map right after a map of
WARM_UP (20) tasks, as a notebook's first real map follows a small try-out.

    python3 bench/map_io.py            # about a minute
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from map_common import log, start_server, table, timed, write_results  # noqa: E402

TASKS = int(os.environ.get("TASKS", 3000))
PARALLELISM = int(os.environ.get("PARALLELISM", 100))
SLEEP = float(os.environ.get("SLEEP", 0.1))
SAMPLE = int(os.environ.get("SAMPLE", 100))
REPEAT = int(os.environ.get("REPEAT", 2))
WARM_UP = int(os.environ.get("WARM_UP", 20))
TARGET = 90.0

SHAPES = [  # (label, function, maxInstances, concurrency)
    (f"{PARALLELISM} instances x concurrency 1", "io-runner-c1", PARALLELISM, 1),
    (f"4 instances x concurrency {PARALLELISM // 4}", f"io-runner-c{PARALLELISM // 4}", 4, PARALLELISM // 4),
    (f"1 instance x concurrency {PARALLELISM}", f"io-runner-c{PARALLELISM}", 1, PARALLELISM),
]


def wait_a_bit(i):
    time.sleep(SLEEP)  # a round trip to some web service
    return i


def measure_serial_sample():
    seconds, _ = timed(lambda: [wait_a_bit(i) for i in range(SAMPLE)])
    return seconds * TASKS / SAMPLE


def run_shape(server, function, instances, concurrency, warm_up=0, repeat=REPEAT):
    """(seconds, sum of call durations) of the first map and the best later one (None when repeat is 0)."""
    executor = server.executor(function=function, max_workers=PARALLELISM, progress=False,
                               runner_config={"maxInstances": instances, "concurrency": concurrency,
                                              "maxQueue": PARALLELISM})
    try:
        executor.ensure_runner()  # deploy; not part of any timing
        if warm_up and list(executor.map(wait_a_bit, range(warm_up))) != list(range(warm_up)):
            raise AssertionError("the warm-up's results differ from its inputs")
        runs = []
        for _ in range(1 + repeat):
            futures = []
            seconds, results = timed(lambda: _collect(executor.map_futures(wait_a_bit, range(TASKS)), futures))
            if results != list(range(TASKS)):
                raise AssertionError("results differ from the inputs")
            serial_from_job = sum(f.duration_ms or 0 for f in futures) / 1000
            runs.append((seconds, serial_from_job))
            log(f"{function}: {TASKS} tasks in {seconds:.2f}s (sum of call durations {serial_from_job:.1f}s)")
        return runs[0], (min(runs[1:]) if repeat else None)
    finally:
        executor.shutdown()


def _collect(futures, keep):
    keep.extend(futures)
    return [future.result() for future in futures]


def main():
    computed_serial = TASKS * SLEEP
    log(f"measuring {SAMPLE} waits one after another...")
    measured_serial = measure_serial_sample()
    server = start_server()
    rows = []
    try:
        runs = []
        for label, function, instances, concurrency in SHAPES:
            cold, warm = run_shape(server, function, instances, concurrency)
            runs += [(label, "cold", cold), (label, "warm", warm)]
            if WARM_UP and concurrency == 1:
                first, _ = run_shape(server, function + "-w", instances, concurrency, warm_up=WARM_UP, repeat=0)
                runs.append((label, f"first after a {WARM_UP}-task warm-up", first))
        for label, kind, (seconds, from_job) in runs:
            speedup = computed_serial / seconds
            rows.append([label, kind, f"{seconds:.2f}", f"{TASKS / seconds:,.0f}", f"{speedup:.1f}x",
                         f"{measured_serial / seconds:.1f}x", f"{from_job / seconds:.1f}x",
                         "yes" if speedup >= TARGET else "no"])
    finally:
        server.stop()
    write_results("map_io", f"I/O-bound map: {TASKS:,} tasks of {SLEEP * 1000:.0f} ms at parallelism {PARALLELISM}", [
        f"Each task sleeps {SLEEP * 1000:.0f} ms and returns its input (gale.Executor.map of a Python callable, "
        f"job parallelism {PARALLELISM}, chunksize 1). Serial time: {computed_serial:.0f}s computed "
        f"({TASKS} x {SLEEP}s); {measured_serial:.1f}s measured ({SAMPLE} tasks run one after another here, "
        f"x {TASKS // SAMPLE}); and, per run, the sum of the calls' durations the job recorded. "
        f"Cold = the first map after the deploy (instances start during it); warm = best of {REPEAT} later maps; "
        f"the first map after a {WARM_UP}-task warm-up is timed on a runner deployed for it alone. "
        f"Target: a speed-up of at least {TARGET:.0f}x over the computed serial time.",
        table(["runner shape", "run", "wall s", "tasks/s", "speed-up (computed serial)",
               "speed-up (measured serial)", "speed-up (sum of call durations)", f">= {TARGET:.0f}x"], rows),
    ], "python3 bench/map_io.py")


if __name__ == "__main__":
    main()
