"""Pywren's API on Gale: code written for Pywren runs with one changed import.

    import gale.pywren as pywren

    pwex = pywren.default_executor()
    futures = pwex.map(train_model, all_hyperparams)   # one task per element, as on Lambda
    classifiers = pywren.get_all_results(futures)      # rich objects come back, not only JSON

Each ``map`` is one Gale map job run by the ``gale-runner`` function (docs/jobs.md): the
callable is pickled once per job (cloudpickle, as Pywren does), every input and result is
stored by the server, and results come back in input order. Where Pywren needed an AWS
account, a bucket and a Lambda role, the executor needs only a Gale server: ``url`` and
``token``, else ``GALE_URL``/``GALE_TOKEN``, else the local server's data dir (as
``gale.Client``).

Pywren's settings that steer AWS (``invoke_pool_threads``, ``use_cached_runtime``,
``overwrite_invoke_args``, ``exclude_modules``, ``data_all_as_one``, ``extra_meta``) are
accepted and have nothing to steer here; ``extra_env`` is set around each call;
``job_max_runtime`` becomes the task timeout.
"""

import concurrent.futures
import functools
import os

from gale.executor import Executor as _GaleExecutor

# pywren.wait's modes, with Pywren's values
ALL_COMPLETED = 1
ANY_COMPLETED = 2
ALWAYS = 3

DEFAULT_JOB_MAX_RUNTIME = 300  # seconds: Pywren's default for a Lambda call


def default_executor(url=None, token=None, job_max_runtime=DEFAULT_JOB_MAX_RUNTIME, **options):
    """An executor on the configured Gale server (Pywren's ``default_executor``).

    ``options`` go to ``gale.Executor`` (``max_workers``, ``requirements``, ``runner_config``,
    ``retries``, ``progress``, ...); ``config``, Pywren's AWS settings, is accepted and unused.
    """
    options.pop("config", None)
    return Executor(url, token, job_max_runtime=job_max_runtime, **options)


# Pywren named its executors after their backends; on Gale they are all the same one.
lambda_executor = default_executor
local_executor = default_executor
standalone_executor = default_executor


class Executor:
    """Pywren's executor: ``call_async`` and ``map`` return ``ResponseFuture`` objects."""

    def __init__(self, url=None, token=None, *, job_max_runtime=DEFAULT_JOB_MAX_RUNTIME, **options):
        options.setdefault("progress", False)
        self.gale = _GaleExecutor(url, token, task_timeout=f"{int(job_max_runtime)}s", **options)

    def call_async(self, func, data, extra_env=None, extra_meta=None):
        """Runs ``func(data)`` on Gale; returns its ``ResponseFuture`` at once."""
        return ResponseFuture(self.gale.submit(_with_env(func, extra_env), data), call_id="00000")

    def map(self, func, iterdata, extra_env=None, extra_meta=None, invoke_pool_threads=64, data_all_as_one=True,
            use_cached_runtime=True, overwrite_invoke_args=None, exclude_modules=None):
        """Runs ``func(x)`` for each ``x`` of ``iterdata`` as one map job; returns a list of
        ``ResponseFuture``, one an element, in order."""
        futures = self.gale.map_futures(_with_env(func, extra_env), list(iterdata))
        return [ResponseFuture(future, call_id=f"{i:05d}") for i, future in enumerate(futures)]

    def shutdown(self):
        self.gale.shutdown()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.shutdown()


class ResponseFuture:
    """One call's future, with Pywren's methods (``result``, ``done``, ``succeeded``, ``errored``)."""

    def __init__(self, future, call_id):
        self._future = future
        self.call_id = call_id

    @property
    def callset_id(self):
        """The Gale job that runs the call (None until it was submitted)."""
        return getattr(self._future, "job_id", None)

    def result(self, timeout=None, check_only=False, throw_except=True, storage_handler=None):
        """The call's return value. With ``check_only``, whether it finished (without waiting);
        with ``throw_except=False``, a failed call's exception is returned instead of raised."""
        if check_only:
            return self._future.done()
        try:
            return self._future.result(timeout)
        except concurrent.futures.TimeoutError:
            raise
        except Exception as exc:  # noqa: BLE001 - Pywren hands the exception back when asked to
            if throw_except:
                raise
            return exc

    def done(self):
        return self._future.done()

    def running(self):
        return self._future.running()

    def cancelled(self):
        return self._future.cancelled()

    def succeeded(self):
        return self._future.done() and not self._future.cancelled() and self._future.exception() is None

    def errored(self):
        return self._future.done() and not self._future.cancelled() and self._future.exception() is not None

    def cancel(self):
        return self._future.cancel()

    def __repr__(self):
        state = "done" if self.done() else "pending"
        return f"<gale.pywren.ResponseFuture {self.callset_id}[{self.call_id}] {state}>"


def wait(fs, return_when=ALL_COMPLETED, THREADPOOL_SIZE=64, WAIT_DUR_SEC=5):  # noqa: N803 - Pywren's names
    """(done, not done) lists of the futures: once all finished (``ALL_COMPLETED``), once any did
    (``ANY_COMPLETED``), or as they are now (``ALWAYS``)."""
    modes = {ALL_COMPLETED: concurrent.futures.ALL_COMPLETED, ANY_COMPLETED: concurrent.futures.FIRST_COMPLETED}
    if return_when not in (*modes, ALWAYS):
        raise ValueError(f"return_when must be pywren.ALL_COMPLETED, ANY_COMPLETED or ALWAYS, not {return_when!r}")
    futures = list(fs)
    if return_when != ALWAYS:
        concurrent.futures.wait([f._future for f in futures], return_when=modes[return_when])
    return [f for f in futures if f.done()], [f for f in futures if not f.done()]


def get_all_results(fs):
    """Every future's result, in order, once all have finished; raises the first failure."""
    futures = list(fs)
    wait(futures, ALL_COMPLETED)
    return [f.result() for f in futures]


def _with_env(func, extra_env):
    """``func`` with ``extra_env`` set in the environment during each call (then restored: an
    instance runs other calls after it)."""
    if not extra_env:
        return func
    env = {str(k): str(v) for k, v in extra_env.items()}

    @functools.wraps(func)
    def with_env(*args, **kwargs):
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            return func(*args, **kwargs)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    return with_env
