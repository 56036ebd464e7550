"""Shared by bench/map_*.py: start a Gale server on 127.0.0.1, describe the machine, write results.

Every benchmark talks to 127.0.0.1 only: the server it starts binds there, and nothing
here takes a host name.
"""
import datetime
import os
import platform
import statistics
import subprocess
import sys
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
RESULTS = os.path.join(BENCH, "results")
sys.path.insert(0, os.path.join(REPO, "python"))

from gale.testing import LocalGale  # noqa: E402


def log(message):
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def start_server(args=()):
    """A fresh `gale server` (GALE_BIN, else ./gale, which builds the jar if needed), with ``args`` as extra flags."""
    server = LocalGale(args=args)
    log(f"starting {server.launcher} server on {server.url} (data dir {server.data_dir})")
    started = time.perf_counter()
    server.start()
    log(f"server up in {time.perf_counter() - started:.1f}s")
    return server


def timed(function, *args, **kwargs):
    """(seconds, result) of one call."""
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - started, result


def median(values):
    return statistics.median(values)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def git_revision():
    try:
        return subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              timeout=10).stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def machine_line():
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return (f"{now}, {os.cpu_count()} CPUs ({cpu_model()}), Linux {platform.release()}; "
            f"Python {platform.python_version()}; Gale {os.environ.get('GALE_REVISION') or git_revision()}, "
            f"server launched with `{os.environ.get('GALE_BIN') or './gale'}`. "
            f"Load average when the run ended: {load} (1, 5, 15 min; other work on the machine "
            f"competes for the same CPUs).")


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def write_results(name, title, paragraphs, command):
    """Write bench/results/NAME.md and print it."""
    text = f"# {title}\n\n{machine_line()}\n\nCommand: `{command}`\n\n" + "\n\n".join(paragraphs) + "\n"
    os.makedirs(RESULTS, exist_ok=True)
    path = os.path.join(RESULTS, f"{name}.md")
    with open(path, "w") as file:
        file.write(text)
    print(text)
    log(f"wrote {os.path.relpath(path, REPO)}")
