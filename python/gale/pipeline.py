"""gale.Pipeline: steps that run one after another over a list of items.

A ``parallel`` step maps its function over the items as one Gale job (each item is one
call; with ``batch_size``, each call gets a list of items and returns a list, so a
step can drop or add items). A ``sequential`` step gets the whole list in this process
and returns the new list (sorting, deduplicating, a final reduce). A plain callable
or a deployed function's name is a parallel step.

    pipeline = gale.Pipeline(geolocate, gale.parallel(cleanup, batch_size=30), gale.sequential(sorted))
    addresses = pipeline.run(zipcodes)
    print(pipeline.report())
"""

import time

PARALLEL = "parallel"
SEQUENTIAL = "sequential"


class Step:
    def __init__(self, fn, kind, name=None, batch_size=None, chunksize=1):
        if not (callable(fn) or (kind == PARALLEL and isinstance(fn, str))):
            raise TypeError(f"a pipeline step needs a callable{' or a function name' if kind == PARALLEL else ''}, "
                            f"not {type(fn).__name__}")
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        self.fn = fn
        self.kind = kind
        self.name = name or (fn if isinstance(fn, str) else getattr(fn, "__name__", None) or type(fn).__name__)
        self.batch_size = batch_size
        self.chunksize = chunksize

    def __call__(self, *args, **kwargs):
        """A decorated step is still the plain function when called directly."""
        return self.fn(*args, **kwargs)

    def __repr__(self):
        return f"gale.{self.kind}({self.name})"


def parallel(fn=None, *, name=None, batch_size=None, chunksize=1):
    """A step that runs ``fn(item)`` for each item as one Gale job; or, with ``batch_size``,
    ``fn(list_of_items) -> list``. Usable as a decorator, with or without arguments."""
    if fn is None:
        return lambda f: Step(f, PARALLEL, name, batch_size, chunksize)
    return Step(fn, PARALLEL, name, batch_size, chunksize)


def sequential(fn=None, *, name=None):
    """A step that runs ``fn(all_items) -> list`` once, in this process."""
    if fn is None:
        return lambda f: Step(f, SEQUENTIAL, name)
    return Step(fn, SEQUENTIAL, name)


class StepReport:
    """How one step went. ``serial_seconds`` is the sum of the calls' durations as the job
    recorded them (what running the items one by one would have taken)."""

    def __init__(self, name, kind, seconds, workers, items, serial_seconds, job_id=None):
        self.name = name
        self.kind = kind
        self.seconds = seconds
        self.workers = workers
        self.items = items
        self.serial_seconds = serial_seconds
        self.job_id = job_id

    @property
    def speedup(self):
        return self.serial_seconds / self.seconds if self.seconds > 0 else None

    def line(self, name_width=0):
        workers = f"{self.workers} worker{'s' if self.workers != 1 else ''}"
        text = (f"{self.name:<{name_width}}  took {self.seconds:.2f}s for {workers} and "
                f"{self.items} element{'s' if self.items != 1 else ''}")
        if self.kind == PARALLEL and self.speedup is not None:
            text += f" (speed-up {self.speedup:.1f}x)"
        return text

    def __repr__(self):
        return f"<StepReport {self.line()}>"


class Pipeline:
    """Runs its steps in order; parallel steps on Gale, sequential ones here."""

    def __init__(self, *steps, executor=None, url=None, token=None, max_workers=None, verbose=False,
                 progress=False):
        if not steps:
            raise ValueError("a Pipeline needs at least one step")
        self.steps = [step if isinstance(step, Step) else parallel(step) for step in steps]
        self._executor = executor
        self._executor_options = {"url": url, "token": token, "max_workers": max_workers}
        self.verbose = verbose
        self.progress = progress
        self.reports = []
        self.seconds = None
        self.items = None

    @property
    def executor(self):
        if self._executor is None:
            from gale.executor import Executor
            self._executor = Executor(**self._executor_options)
        return self._executor

    def run(self, items):
        """Runs every step over ``items``; returns the final list. The first failed item of a
        parallel step raises its exception (the remote traceback attached)."""
        items = list(items)
        self.items = len(items)
        self.reports = []
        started = time.perf_counter()
        for step in self.steps:
            items, report = (self._run_parallel if step.kind == PARALLEL else self._run_sequential)(step, items)
            self.reports.append(report)
        self.seconds = time.perf_counter() - started
        if self.verbose:
            print(self.report())
        return items

    def _run_sequential(self, step, items):
        started = time.perf_counter()
        result = list(step.fn(items))
        seconds = time.perf_counter() - started
        return result, StepReport(step.name, SEQUENTIAL, seconds, 1, len(items), seconds)

    def _run_parallel(self, step, items):
        started = time.perf_counter()
        if not items:
            return [], StepReport(step.name, PARALLEL, 0.0, 0, 0, 0.0)
        inputs = items if step.batch_size is None else [items[i:i + step.batch_size]
                                                        for i in range(0, len(items), step.batch_size)]
        futures = self.executor.map_futures(step.fn, inputs, chunksize=step.chunksize, progress=self.progress)
        results = [future.result() for future in futures]
        seconds = time.perf_counter() - started
        if step.batch_size is not None:
            results = [item for batch in results for item in batch]
        serial = sum(future.duration_ms or 0.0 for future in futures) / 1000
        job_id = futures[0].job_id
        tasks = -(-len(inputs) // step.chunksize)
        try:
            parallelism = self.executor.client.job(job_id).get("parallelism") or tasks
        except Exception:  # the report is a nicety; the results are what matter
            parallelism = tasks
        return results, StepReport(step.name, PARALLEL, seconds, min(parallelism, tasks), len(items), serial, job_id)

    def report(self):
        """Per step: name, time, workers, elements and speed-up over running the calls serially."""
        if not self.reports:
            return "pipeline has not run yet"
        serial = sum(report.serial_seconds for report in self.reports)
        speedup = f", speed-up {serial / self.seconds:.1f}x" if self.seconds else ""
        lines = [f"Pipeline of {len(self.reports)} steps over {self.items} elements took {self.seconds:.2f}s "
                 f"(serial {serial:.2f}s{speedup})"]
        width = max(len(report.name) for report in self.reports)
        lines += [f"  {number} - {report.line(width)}" for number, report in enumerate(self.reports, 1)]
        return "\n".join(lines)
