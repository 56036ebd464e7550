"""Seed 000's cost question, measured: 20,000 survey responses scored by examples/survey-scorer on
Gale, and what the same calls would cost on Cloud Functions, Lambda and Cloud Run, beside an
always-on VM (docs/cost.md).

Gale: a `gale server` started here on 127.0.0.1, the example deployed as it is (its gale.toml:
256MB, up to 4 instances), then CALLS calls of `GET /fn/survey-scorer?f1=..&f4=..` (random answers
on the 7-point scale, the same for both sides) from CLIENTS threads with a keep-alive connection
each, the way a survey's respondents' browsers would call it. Then `gale cost survey-scorer
--since START` reports what the instances used (CPU-seconds from their cgroups) and prices it.

Baseline, in the same run: the example's `prediction(request)` called on the same answers in this
process, each in a Flask test request context (what Cloud Functions passes it), timed with
time.process_time: the CPU the scoring itself needs without any serving. The ratio says what serving
it through Gale (HTTP, the instance protocol, the bootstrap's Flask request) adds per call.

Seed 000 priced the same 20,000 calls by hand on Cloud Functions: about 16 s each at 1 GB, since
every call installed the packages and loaded the models again. The script prices that sheet with
the same price table, beside the measured calls.

    /usr/bin/python3 bench/cost_survey.py                    # 20,000 calls, a few minutes
    CALLS=2000 CLIENTS=2 /usr/bin/python3 bench/cost_survey.py
"""
import datetime
import http.client
import json
import os
import random
import subprocess
import sys
import threading
import time
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from map_common import REPO, log, start_server, table, write_results  # noqa: E402

CALLS = int(os.environ.get("CALLS", 20_000))
CLIENTS = int(os.environ.get("CLIENTS", 4))
FIELD_DAYS = int(os.environ.get("FIELD_DAYS", 14))  # how long a survey collects its responses
SEED_SECONDS, SEED_MEMORY_MB = 16, 1024  # seed 000: "returns results in 14-17 seconds", 1GB chosen
EXAMPLE = os.path.join(REPO, "examples", "survey-scorer")


def answers(count):
    rng = random.Random(20000)
    return [{f"f{i}": str(rng.randint(1, 7)) for i in range(1, 5)} for _ in range(count)]


def query(answer):
    return "&".join(f"{key}={value}" for key, value in answer.items())


def call_gale(port, all_answers):
    """Each client thread calls its share over one keep-alive connection; returns (seconds, failures)."""
    failures = []
    shares = [all_answers[i::CLIENTS] for i in range(CLIENTS)]

    def client(share):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for answer in share:
            connection.request("GET", "/fn/survey-scorer?" + query(answer))
            response = connection.getresponse()
            body = response.read()
            if response.status != 200:
                failures.append(f"{response.status}: {body[:200]!r}")
        connection.close()

    threads = [threading.Thread(target=client, args=(share,)) for share in shares]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, failures


def baseline_cpu_seconds(all_answers):
    """The example's own function on the same answers, in this process: CPU-seconds of the scoring alone."""
    os.chdir(EXAMPLE)  # it loads model-obj/ relative to its folder, as on Cloud Functions
    sys.path.insert(0, EXAMPLE)
    from flask import Flask, request
    import main
    app = Flask("baseline")
    started = time.process_time()
    for answer in all_answers:
        with app.test_request_context("/?" + query(answer)):
            body, status, _ = main.prediction(request)
            if status != 200:
                raise SystemExit(f"the baseline call answered {status}: {body}")
    return time.process_time() - started


def seed_sheet_cost(prices):
    """Seed 000's sheet: CALLS calls of 16 s at 1 GB on Cloud Functions 1st gen, with the table's prices."""
    gen1 = prices["platforms"]["gcf-gen1"]
    ghz = next(Decimal(str(t["ghz"])) for t in gen1["memoryTiers"] if t["memoryMb"] >= SEED_MEMORY_MB)
    seconds = Decimal(CALLS * SEED_SECONDS)
    return (Decimal(CALLS) * Decimal(str(gen1["perMillionRequests"])) / 1_000_000
            + seconds * Decimal(SEED_MEMORY_MB) / 1024 * Decimal(str(gen1["perGbSecond"]))
            + seconds * ghz * Decimal(str(gen1["perGhzSecond"])))


def money(value):
    """As `gale cost` writes amounts: two decimals from a dollar up, else two significant digits."""
    value = Decimal(str(value))
    if value >= 1 or value == 0:
        return f"${value:.2f}"
    return "$" + format(value.quantize(Decimal(1).scaleb(value.adjusted() - 1)), "f")


def main():
    server = start_server()
    try:
        client = server.client(timeout=600)
        subprocess.run([sys.executable, os.path.join(REPO, "examples", "make_models.py"), "--if-missing"], check=True)
        client.deploy("survey-scorer", EXAMPLE)
        since = datetime.datetime.now(datetime.timezone.utc).replace(second=0, microsecond=0)
        all_answers = answers(CALLS)
        log(f"{CALLS} calls from {CLIENTS} clients")
        wall, failures = call_gale(server.port, all_answers)
        if failures:
            raise SystemExit(f"{len(failures)} calls failed, e.g. {failures[0]}")
        since_text = since.strftime("%Y-%m-%dT%H:%M:%SZ")
        report = client.cost(function="survey-scorer", since=since_text)
        launcher = os.environ.get("GALE_BIN") or os.path.join(REPO, "gale")
        env = dict(os.environ, GALE_URL=server.url, GALE_TOKEN=server.token)
        printed = subprocess.run([launcher, "cost", "survey-scorer", "--since", since_text], env=env, capture_output=True,
                                 text=True, timeout=300)
        if printed.returncode != 0:
            raise SystemExit(f"gale cost failed: {printed.stderr}")
    finally:
        server.stop()
    log("baseline: the same calls in this process")
    baseline = baseline_cpu_seconds(all_answers)

    row = report["rows"][0]
    cpu = row["cpuSeconds"]
    measured = [
        ["calls", f"{row['calls']:,}", f"{CALLS:,}", ""],
        ["wall time", f"{wall:.1f} s ({CALLS / wall:.0f} calls/s, {CLIENTS} clients)", "", ""],
        ["CPU-seconds", f"{cpu:.2f}", f"{baseline:.2f}", f"{cpu / baseline:.2f}x"],
        ["CPU per call", f"{cpu / CALLS * 1000:.2f} ms", f"{baseline / CALLS * 1000:.2f} ms", f"{cpu / baseline:.2f}x"],
        ["billed seconds, each call rounded up to 1 ms / 100 ms",
         f"{row['billedSeconds']['roundedTo1ms']:.1f} / {row['billedSeconds']['roundedTo100ms']:.1f}", "", ""],
        ["GB-seconds of calls / of instances alive",
         f"{row['gbSeconds']['requestBased']:.1f} / {row['gbSeconds']['instanceBased']:.1f}", "", ""],
        ["instances at most", str(row["peakInstances"]), "", ""],
    ]
    seed = seed_sheet_cost(report["prices"])
    prices = [[p["label"], money(p["cost"]) if p["cost"] is not None else "not offered",
               money(Decimal(str(p["cost"])) * 1000 / CALLS) if p["cost"] is not None else ""] for p in row["platforms"]]
    vm = row["vm"]
    field_hours = FIELD_DAYS * 24
    prices.append([f"{vm['label']} always on, for this run ({vm['hours']:.2f} h)", money(vm["cost"]), ""])
    prices.append([f"{vm['label']} always on, for a {FIELD_DAYS}-day field period", money(Decimal(str(vm["perHour"])) * field_hours), ""])
    prices.append([f"seed 000's sheet: {CALLS:,} x {SEED_SECONDS} s at 1 GB on Cloud Functions 1st gen", money(seed), ""])
    cheapest = row["cheapest"]
    gen1 = next(p for p in row["platforms"] if p["platform"] == "gcf-gen1")
    write_results("cost_survey", "Seed 000's 20,000 survey responses: measured on Gale, priced on each platform", [
        f"{CALLS:,} calls of examples/survey-scorer ({row['memoryMb']}MB) through `GET /fn/survey-scorer`; usage read from "
        f"{report['source']['description']}. Baseline: the example's `prediction` on the same answers in one process, "
        "in a Flask test request context each (CPU of the scoring alone).",
        table(["", "Gale (measured)", "baseline (in-process)", "Gale / baseline"], measured),
        table(["platform", f"cost of the {CALLS:,} calls", "per 1,000 calls"], prices),
        f"Seed 000's sheet / the measured calls on the same platform (Cloud Functions 1st gen): "
        f"{seed / Decimal(str(gen1['cost'])):.0f}x (the sheet's calls each took 16 s reloading their models; a warm "
        f"instance keeps them loaded). Cheapest serverless for the measured calls: {cheapest['label']} at "
        f"{money(cheapest['cost'])}; its instance-based billing counts the instances' life, which this run compresses "
        f"into {wall:.0f} s: calls spread over a field period keep instances alive longer.",
        report["summary"],
        "`gale cost survey-scorer --since " + since_text + "`:\n\n```\n" + printed.stdout.rstrip() + "\n```",
    ], f"CALLS={CALLS} CLIENTS={CLIENTS} /usr/bin/python3 bench/cost_survey.py")


if __name__ == "__main__":
    main()
