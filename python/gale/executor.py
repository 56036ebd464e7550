"""gale.Executor: concurrent.futures over Gale map jobs (docs/jobs.md).

``fn`` is either the name of a deployed function (inputs and results are JSON, as
in an HTTP call) or any Python callable. Callables are pickled once per job into
the job's ``context`` and run by the ``gale-runner`` function, which the executor
deploys (and re-deploys when its code differs from this client's). The jobs are
submitted with ``contextOnce``, so each runner instance receives the context once
and keeps it, not once per call; see gale/_runner.py for the wire format.
"""

import concurrent.futures
import hashlib
import json
import os
import sys
import threading
import time

from gale import _pickling, _runner
from gale._progress import progress_bar
from gale.client import Client
from gale.errors import ApiError, GaleError, RemoteError, SerializationError, VersionMismatchError

RUNNER_FUNCTION = "gale-runner"
RUNNER_MAIN = '''"""Runs Python callables shipped by gale.Executor (deployed by the gale client)."""
import os

import gale

# Gale may have imported its own gale package before this file runs (its zygote does);
# the runner files this bundle carries in gale/ come first, as the client checks their version.
BUNDLED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gale")
if BUNDLED not in gale.__path__:
    gale.__path__.insert(0, BUNDLED)

from gale._runner import run  # noqa: E402
'''
# Config of the runner function, unless runner_config says otherwise (docs/api.md keys).
RUNNER_CONFIG = {"runtime": "python3", "entryPoint": "run", "signature": "event", "concurrency": 1,
                 "memory": "1GB", "timeout": "600s", "maxInstances": 10}
RUNNER_ENV_KEYS = ("RUNNER_VERSION", "RUNNER_CONFIG_DIGEST")  # what the runner was deployed with
PROGRESS_POLL_SECONDS = 0.25
STREAM_RETRIES = 8
TERMINAL_STATES = frozenset({"SUCCEEDED", "FAILED", "CANCELLED", "STOPPED_BUDGET"})


class TaskFuture(concurrent.futures.Future):
    """A concurrent.futures.Future for one input of a Gale job."""

    def __init__(self):
        super().__init__()
        self.job_id = None
        self.index = None
        self.duration_ms = None  # the call's duration as the job recorded it
        self.attempts = None

    def __repr__(self):
        return f"<TaskFuture {self.job_id}[{self.index}] {self._state.lower()}>"


class Executor(concurrent.futures.Executor):
    """Runs calls on Gale. Use it like concurrent.futures.ThreadPoolExecutor::

        with gale.Executor() as ex:
            squares = list(ex.map(lambda x: x * x, range(1000)))

    ``function`` names the function that runs Python callables (default ``gale-runner``),
    ``max_workers`` caps each job's parallelism (and raises the runner's max-instances to
    match), ``runner_config`` and ``requirements`` shape the runner the executor deploys.
    ``max_cpu_seconds`` gives each job a CPU budget (docs/cost.md): once its calls used that much
    CPU time the job starts no more of them, the results so far are kept, and the futures of the
    inputs that did not run raise a RemoteError saying the budget was spent.
    """

    def __init__(self, url=None, token=None, function=None, *, client=None, max_workers=None,
                 task_timeout=None, retries=None, runner_config=None, requirements=(), progress=None,
                 max_result_bytes=_runner.DEFAULT_MAX_RESULT_BYTES, linger=0.0, max_cpu_seconds=None):
        self._owns_client = client is None
        self.client = client or Client(url, token)
        self.function = function or RUNNER_FUNCTION
        self.max_workers = max_workers
        self.task_timeout = task_timeout
        self.retries = retries
        self.runner_config = dict(runner_config or {})
        self.requirements = list(requirements)
        self.progress = progress
        self.max_result_bytes = max_result_bytes
        self.linger = linger
        self.max_cpu_seconds = max_cpu_seconds
        self._lock = threading.Lock()
        self._submitted = threading.Condition(self._lock)  # a submit left a batch for the sender
        self._runner_lock = threading.Lock()
        self._runner_ready = False
        self._batches = {}  # fn (or its id) -> the _Batch of submits not sent yet
        self._sender = None
        self._jobs = set()
        self._context_ids = {}  # (fnHash, runner, python, maxResultBytes) -> the contextId the server reported
        self._shutdown = False

    def __repr__(self):
        return f"gale.Executor({self.client.url!r}, function={self.function!r})"

    # ----------------------------------------------------------------- concurrent.futures API

    def submit(self, fn, /, *args, **kwargs):
        """Schedule ``fn(*args, **kwargs)``; returns a Future. The executor's sender thread submits
        it at once as a job that streams its result back in the same request; calls of the same
        ``fn`` submitted while it is busy (or within ``linger`` seconds) share the next job."""
        self._check_open()
        call = self._encode_call(fn, args, kwargs, None)
        future = TaskFuture()
        key = fn if isinstance(fn, str) else id(fn)
        if not self._add_to_batch(key, fn, call, future):
            context = self._context(fn)  # pickles fn: outside the lock
            with self._lock:
                self._check_open()
                batch = self._batches.get(key)
                if batch is None or batch.fn is not fn:
                    batch = self._batches[key] = _Batch(fn, context)
                batch.calls.append(call)
                batch.futures.append(future)
                self._start_sender()
                self._submitted.notify()
        return future

    def _add_to_batch(self, key, fn, call, future):
        with self._lock:
            batch = self._batches.get(key)
            if batch is None or batch.fn is not fn:
                return False
            batch.calls.append(call)
            batch.futures.append(future)
            return True

    def _start_sender(self):
        if self._sender is None:
            self._sender = threading.Thread(target=self._send_batches, name="gale-executor-sender", daemon=True)
            self._sender.start()

    def _send_batches(self):
        """The sender thread: submits what submit() left, one job per callable, until shutdown."""
        while True:
            with self._lock:
                while not self._batches and not self._shutdown:
                    self._submitted.wait()
                if not self._batches:
                    return
            if self.linger:
                time.sleep(self.linger)
            with self._lock:
                batches, self._batches = list(self._batches.values()), {}
            for batch in batches:
                self._send(batch)

    def map(self, fn, *iterables, timeout=None, chunksize=1, progress=None):
        """Like concurrent.futures.Executor.map: an iterator over the results in input order.
        All inputs go out at once, as one job; a failed input raises when its turn comes.
        ``progress`` shows a bar on stderr: True (tqdm when installed), "text" (the plain one-line
        bar), False; by default when stderr is a terminal."""
        deadline = None if timeout is None else time.monotonic() + timeout
        job, futures = self._map(fn, iterables, chunksize, progress)

        def results(pending):
            try:
                pending.reverse()
                while pending:
                    future = pending.pop()
                    yield future.result(None if deadline is None else deadline - time.monotonic())
                if job is not None:
                    job.wait_for_progress_bar()  # its last line comes before whatever the caller prints next
            finally:
                for future in pending:
                    future.cancel()

        return results(list(futures))

    def map_futures(self, fn, *iterables, chunksize=1, progress=None):
        """Like map, but returns the list of futures (Pywren's ``pwex.map``)."""
        return self._map(fn, iterables, chunksize, progress)[1]

    def _map(self, fn, iterables, chunksize, progress):
        self._check_open()
        if not iterables:
            raise TypeError("map() needs at least one iterable of inputs")
        if isinstance(fn, str):
            if len(iterables) > 1:
                raise TypeError(f"function {fn!r} is called with one JSON input per call; zip the "
                                f"iterables into one")
            calls = [self._encode_call(fn, (value,), {}, index) for index, value in enumerate(iterables[0])]
        else:
            _pickling.register_local_modules()
            calls = [_pickling.encode_call(args, {}, index) for index, args in enumerate(zip(*iterables))]
        if not calls:
            return None, []
        futures = [TaskFuture() for _ in calls]
        context = self._context(fn)
        return self._start_job(fn, context, calls, futures, chunksize, self._want_progress(progress)), futures

    def shutdown(self, wait=True, *, cancel_futures=False):
        with self._lock:
            self._shutdown = True
            batches, self._batches = list(self._batches.values()), {}
            sender = self._sender
            self._submitted.notify()
        for batch in batches:
            self._send(batch)
        if sender is not None:
            sender.join()  # it may be sending a batch it took before
        with self._lock:
            jobs = list(self._jobs)
        if cancel_futures:
            for job in jobs:
                job.cancel_futures()
        if wait:
            for job in jobs:
                job.join()
            if self._owns_client:
                self.client.close()

    # ----------------------------------------------------------------- runner

    def runner_bundle(self):
        """The files of the runner function: main.py, requirements.txt and the runner's gale files."""
        import gale
        package = os.path.dirname(os.path.abspath(gale.__file__))
        files = {"main.py": RUNNER_MAIN, "requirements.txt": "\n".join(["cloudpickle"] + self.requirements) + "\n"}
        for name in _runner.RUNNER_FILES:
            with open(os.path.join(package, name), "rb") as file:
                files[f"gale/{name}"] = file.read()
        return files

    def runner_deploy_config(self):
        config = dict(RUNNER_CONFIG)
        config.update(self.runner_config)
        if self.max_workers and config.get("maxInstances", 0) * config.get("concurrency", 1) < self.max_workers:
            config["maxInstances"] = -(-self.max_workers // config.get("concurrency", 1))
        digest = hashlib.sha256(json.dumps([self.requirements, {k: v for k, v in config.items() if k != "maxInstances"}],
                                           sort_keys=True).encode()).hexdigest()[:12]
        # (GALE_* names are the platform's own.)
        config["env"] = dict(config.get("env") or {}, RUNNER_VERSION=_runner.RUNNER_VERSION,
                             RUNNER_CONFIG_DIGEST=digest)
        return config

    def ensure_runner(self):
        """Deploy the runner if it is missing, runs other code, or is configured otherwise than
        wanted; then check that it answers with this client's runner version."""
        with self._runner_lock:
            if self._runner_ready:
                return
            wanted = self.runner_deploy_config()
            try:
                current = self.client.function(self.function)
            except ApiError as exc:
                if exc.status != 404:
                    raise
                current = None
            if current and "RUNNER_VERSION" not in ((current.get("config") or {}).get("env") or {}):
                raise GaleError(f"function {self.function!r} exists and is not a gale runner (its config has no "
                                f"RUNNER_VERSION); the executor will not deploy over it: pass another "
                                f"function= name, or delete it first (`gale rm {self.function}`)")
            if not _satisfies(current, wanted):
                self.client.deploy(self.function, self.runner_bundle(), wanted)
            self._check_runner_version()
            self._runner_ready = True

    def _check_runner_version(self):
        answer = self.client.call(self.function, {"ping": {}}).json() or {}
        runner, python = answer.get("runner"), str(answer.get("python", ""))
        if runner != _runner.RUNNER_VERSION or python.rsplit(".", 1)[0] != _runner.PYTHON_VERSION:
            raise VersionMismatchError(
                f"gale client {_runner.RUNNER_VERSION} (Python {_runner.PYTHON_VERSION}) cannot use function "
                f"{self.function!r}: it runs gale runner {runner} on Python {python or '?'}. Delete the function "
                f"(`gale rm {self.function}`) so the client deploys its own runner, or use the same gale "
                f"package and Python version on both sides")

    # ----------------------------------------------------------------- jobs

    def _check_open(self):
        if self._shutdown:
            raise RuntimeError("cannot schedule new calls after shutdown")

    def _want_progress(self, progress):
        if progress is None:
            progress = self.progress
        if progress is None:
            progress = bool(getattr(sys.stderr, "isatty", lambda: False)())
        return progress

    def _context(self, fn):
        """None for a deployed function; for a callable, the job context (and a ready runner)."""
        if isinstance(fn, str):
            return None
        if not callable(fn):
            raise TypeError(f"fn must be a callable or the name of a deployed function, not {type(fn).__name__}")
        context = _pickling.job_context(fn, self.max_result_bytes)
        self.ensure_runner()
        return context

    def _encode_call(self, fn, args, kwargs, index):
        if isinstance(fn, str):
            if kwargs and args:
                raise TypeError(f"function {fn!r} takes one JSON input: pass one argument or keyword arguments")
            value = kwargs if kwargs else (args[0] if len(args) == 1 else list(args))
            try:
                json.dumps(value)
            except (TypeError, ValueError) as exc:
                where = f"input {index}" if index is not None else "the input"
                raise SerializationError(f"{where} for function {fn!r} is not JSON: {exc}") from None
            return value
        _pickling.register_local_modules()
        return _pickling.encode_call(args, kwargs, index)

    def _send(self, batch):
        try:
            self._start_job(batch.fn, batch.context, batch.calls, batch.futures, 1, False)
        except BaseException as exc:
            for future in batch.futures:
                if future.set_running_or_notify_cancel():
                    future.set_exception(exc)

    def _start_job(self, fn, context, calls, futures, chunksize, progress):
        function = fn if isinstance(fn, str) else self.function
        options = dict(parallelism=self.max_workers, chunk_size=chunksize if chunksize != 1 else None,
                       task_timeout=self.task_timeout, retries=self.retries,
                       context_once=True if context is not None else None, max_cpu_seconds=self.max_cpu_seconds)
        info, lines, complete = self._submit(function, calls, context, options)
        job = _Job(self, info, futures, pickled=context is not None, progress=progress, lines=lines)
        if complete and not progress:
            job.follow_here()  # the answer holds every result: no thread to start and hand them over
            return job
        with self._lock:
            self._jobs.add(job)
        job.start()
        return job

    def _submit(self, function, calls, context, options):
        """Submits a job in a request that goes on to stream its results: (job, result lines).
        A context this executor sent before (the same pickled callable) goes by the id the server
        reported for it, so megabytes of captured data travel once per server; a server that no
        longer holds it (409) gets it again."""
        submit = self.client.submit_job_and_follow
        if context is None:
            return submit(function, calls, **options)
        key = (context["fnHash"], context["gale"], context["python"], context.get("maxResultBytes"))
        ref = self._context_ids.get(key)
        if ref is not None:
            try:
                return submit(function, calls, context_ref=ref, **options)
            except ApiError as exc:
                if exc.status != 409:
                    raise
                self._context_ids.pop(key, None)
        info, lines, complete = submit(function, calls, context=context, **options)
        if info.get("contextId"):
            self._context_ids[key] = info["contextId"]
        return info, lines, complete

    def _job_finished(self, job):
        with self._lock:
            self._jobs.discard(job)


class _Batch:
    def __init__(self, fn, context):
        self.fn = fn
        self.context = context
        self.calls = []
        self.futures = []


class _Job:
    """Follows one job: streams its results into the futures, draws its progress bar."""

    def __init__(self, executor, info, futures, pickled, progress, lines=None):
        self.executor = executor
        self._lines = lines  # the results the submit request goes on to stream
        self.client = executor.client
        self.id = info["id"]
        self.info = info
        self.futures = futures
        self.pickled = pickled
        self.progress = progress
        self._resolved = 0
        self._cancelled = 0
        self._cancel_sent = False
        self._mismatch = None  # the VersionMismatchError a task reported, once one did
        self._lock = threading.Lock()
        self._threads = []
        self._streamed = threading.Event()
        self._bar_thread = None
        for index, future in enumerate(futures):
            future.job_id, future.index = self.id, index
            future.add_done_callback(self._on_done)

    def start(self):
        self._threads.append(threading.Thread(target=self._stream, name=f"gale-{self.id}", daemon=True))
        if self.progress:
            self._bar_thread = threading.Thread(target=self._draw_progress, name=f"gale-{self.id}-progress",
                                                daemon=True)
            self._threads.append(self._bar_thread)
        for thread in self._threads:
            thread.start()

    def follow_here(self):
        """Resolves the futures in the calling thread, for an answer that holds every result."""
        try:
            self._stream(release=False)
        except Exception:  # noqa: BLE001 - _stream has failed every future it could not resolve with it
            pass

    def join(self):
        for thread in self._threads:
            thread.join()

    def wait_for_progress_bar(self):
        if self._bar_thread is not None:
            self._bar_thread.join()

    # ----------------------------------------------------------------- results

    def _stream(self, release=True):
        after, failures = -1, 0
        try:
            while after < len(self.futures) - 1:
                try:
                    lines, self._lines = self._lines, None
                    if lines is None:
                        lines = self.client.results(self.id, after=after, wait=True)
                    for line in lines:
                        self._resolve(line)
                        after, failures = line["index"], 0
                    if after < len(self.futures) - 1:
                        self.info = self.client.job(self.id)
                        if self.info.get("state") in TERMINAL_STATES:
                            # One more read: results that landed after the stream ended.
                            for line in self.client.results(self.id, after=after, wait=False):
                                self._resolve(line)
                                after = line["index"]
                            break
                        time.sleep(0.2)  # the stream ended early (a server restart?): follow it again
                except TimeoutError:
                    continue  # nothing finished for a while; ask again
                except (GaleError, OSError) as exc:
                    failures += 1
                    if failures > STREAM_RETRIES or (isinstance(exc, ApiError) and exc.status != 503):
                        self._fail_rest(exc)
                        return
                    time.sleep(min(0.1 * 2 ** failures, 5.0))
            self._finish_rest()
        except BaseException as exc:  # never leave futures hanging
            self._fail_rest(GaleError(f"gale job {self.id}: lost track of the results: {exc!r}"))
            raise
        finally:
            self._streamed.set()
            if release:
                self.client.release()  # the thread ends: its keep-alive connection goes with it
            self.executor._job_finished(self)

    def _resolve(self, line):
        index = line["index"]
        future = self.futures[index]
        future.duration_ms = line.get("durationMs")
        future.attempts = line.get("attempts")
        if line.get("ok"):
            if self.pickled:
                ok, value = _pickling.decode_answer(line.get("result"), self.id, index, future.attempts)
            else:
                ok, value = True, line.get("result")
        else:
            ok, value = False, RemoteError(line.get("error") or "the task failed", line.get("traceback"),
                                           status=line.get("status"), job_id=self.id, index=index,
                                           attempts=future.attempts)
        if not ok and isinstance(value, VersionMismatchError):
            self.executor._runner_ready = False
            self._mismatch = value  # the inputs the cancel stops before they run fail with it too, not as cancelled
            self._cancel_job()  # every other call would fail the same way
        self._settle(future, ok, value)

    def _settle(self, future, ok, value):
        if future.done() or not future.set_running_or_notify_cancel():
            return  # cancelled here: the result is dropped
        with self._lock:
            self._resolved += 1
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)

    def _finish_rest(self):
        pending = [future for future in self.futures if not future.done()]
        if not pending:
            return
        try:
            self.info = self.client.job(self.id)
        except GaleError:
            pass
        state = self.info.get("state")
        if self._mismatch is not None:
            self._fail_rest(self._mismatch)
            return
        if state == "CANCELLED":
            for future in pending:
                future.cancel()
            return
        error = GaleError(f"gale job {self.id} ended {state} before this input finished"
                          + (f": {self.info['error']}" if self.info.get("error") else ""))
        self._fail_rest(error)

    def _fail_rest(self, error):
        for future in self.futures:
            if not future.done() and future.set_running_or_notify_cancel():
                future.set_exception(error)

    # ----------------------------------------------------------------- cancellation

    def _on_done(self, future):
        if not future.cancelled():
            return
        with self._lock:
            self._cancelled += 1
            everything_cancelled = self._cancelled + self._resolved >= len(self.futures)
        if everything_cancelled:
            self._cancel_job()

    def cancel_futures(self):
        for future in self.futures:
            future.cancel()

    def _cancel_job(self):
        with self._lock:
            if self._cancel_sent:
                return
            self._cancel_sent = True

        def cancel():
            try:
                self.client.cancel(self.id)
            except GaleError:
                pass  # it ended by itself in the meantime
            finally:
                self.client.release()

        threading.Thread(target=cancel, name=f"gale-{self.id}-cancel", daemon=True).start()

    # ----------------------------------------------------------------- progress

    def _draw_progress(self):
        bar = progress_bar(len(self.futures), self.id, use_tqdm=False if self.progress == "text" else None)
        try:
            while True:
                last = self._streamed.wait(PROGRESS_POLL_SECONDS)
                try:
                    info = self.client.job(self.id)
                except GaleError:
                    info = None
                if info:
                    counts = info.get("counts") or {}
                    eta = info.get("etaMs")
                    bar.update(counts.get("done", 0) + counts.get("failed", 0), counts.get("failed", 0),
                               info.get("throughputPerSec"), None if eta is None else eta / 1000)
                if last or (info and info.get("state") in TERMINAL_STATES):
                    return
        finally:
            bar.close()
            self.client.release()


def _satisfies(current, wanted):
    """True when the deployed runner has our code and settings, and enough instances."""
    if not current or not current.get("activeVersion"):
        return False
    config = current.get("config") or {}
    env = config.get("env") or {}
    if any(env.get(key) != wanted["env"][key] for key in RUNNER_ENV_KEYS):
        return False
    return (config.get("maxInstances") or 0) >= wanted.get("maxInstances", 0)


def wait(fs, timeout=None, return_when=concurrent.futures.ALL_COMPLETED):
    """concurrent.futures.wait, for Gale's futures (or any)."""
    return concurrent.futures.wait(fs, timeout=timeout, return_when=return_when)


def as_completed(fs, timeout=None):
    """concurrent.futures.as_completed, for Gale's futures (or any)."""
    return concurrent.futures.as_completed(fs, timeout=timeout)

