"""gale.Executor against gale.testing.FakeGale: ordering, chunking, errors, pickling, the runner.

FakeGale runs the real runner code (gale/_runner.py) in threads of this process, so
everything but the Java server is exercised: the HTTP client, job submission, the
results stream, pickling both ways and the rebuilding of remote exceptions.
"""

import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import itertools
import unittest

import gale
from gale import _pickling, _runner
from gale.errors import (RemoteError, ResultTooLargeError, SerializationError, VersionMismatchError)
from gale.executor import RUNNER_FUNCTION, Executor, TaskFuture
from gale.testing import FakeGale, FunctionError

PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def square(x):
    return x * x


def slower_for_small(x):
    time.sleep(0.02 * (5 - x))  # 0 finishes last
    return x


def fail_on_three(x):
    if x == 3:
        raise KeyError(f"no entry for {x}")
    return x


class NeedsTwoArguments(Exception):
    def __init__(self, code, detail):  # pickles, but cannot be rebuilt from its args
        super().__init__(f"{code}: {detail}")


def raise_custom(x):
    raise NeedsTwoArguments(x, "broken")


class FakeServerTestCase(unittest.TestCase):
    fake_options = {}

    def setUp(self):
        _runner._contexts.clear()  # the fake runs the runner in this process: start each test cold
        _runner._callables.clear()
        self.fake = FakeGale(**self.fake_options).start()
        self.addCleanup(self.fake.stop)
        self.executor = self.make_executor()

    def make_executor(self, **options):
        executor = Executor(self.fake.url, self.fake.token, progress=False, **options)
        self.addCleanup(executor.shutdown)
        return executor

    def only_job(self):
        self.assertEqual(len(self.fake.jobs), 1, "expected exactly one job")
        return next(iter(self.fake.jobs.values()))


class MapTest(FakeServerTestCase):

    def test_results_come_in_input_order_even_when_calls_finish_out_of_order(self):
        self.assertEqual(list(self.executor.map(slower_for_small, range(5))), [0, 1, 2, 3, 4])

    def test_lambdas_and_closures_run_remotely(self):
        offset = 7
        self.assertEqual(list(self.executor.map(lambda x: x + offset, [1, 2])), [8, 9])

    def test_several_iterables_are_zipped_like_builtin_map(self):
        self.assertEqual(list(self.executor.map(pow, [2, 3, 4], [3, 2])), [8, 9])

    def test_the_callable_is_shipped_once_in_the_job_context(self):
        list(self.executor.map(square, range(3)))
        spec = self.only_job().spec
        self.assertEqual(spec["function"], RUNNER_FUNCTION)
        self.assertIn("fn", spec["context"])
        self.assertEqual(spec["context"]["gale"], _runner.RUNNER_VERSION)
        self.assertTrue(all(isinstance(value, str) and len(value) < 200 for value in spec["inputs"]))

    def test_each_runner_instance_receives_the_context_once_not_with_every_call(self):
        executor = self.make_executor(max_workers=1)  # one call at a time: the fake's runner is one instance
        self.assertEqual(list(executor.map(square, range(6))), [x * x for x in range(6)])
        job = self.only_job()
        self.assertIs(job.spec["contextOnce"], True)
        self.assertEqual(job.full_contexts_sent, 1)

    def test_a_deployed_function_gets_no_context_once_option(self):
        self.fake.add_function("echo", lambda value: value)
        self.assertEqual(list(self.executor.map("echo", [1, 2])), [1, 2])
        self.assertNotIn("contextOnce", self.only_job().spec)

    def test_chunksize_and_max_workers_become_the_jobs_chunk_size_and_parallelism(self):
        executor = self.make_executor(max_workers=3)
        self.assertEqual(list(executor.map(square, range(10), chunksize=4)), [x * x for x in range(10)])
        spec = self.only_job().spec
        self.assertEqual((spec["chunkSize"], spec["parallelism"]), (4, 3))

    def test_a_deployed_function_is_mapped_by_name_with_json_inputs_and_results(self):
        self.fake.add_function("price", lambda option: {"price": option["S"] - option["K"]})
        results = list(self.executor.map("price", [{"S": 10, "K": 4}, {"S": 10, "K": 11}]))
        self.assertEqual(results, [{"price": 6}, {"price": -1}])
        self.assertEqual(self.only_job().spec["inputs"], [{"S": 10, "K": 4}, {"S": 10, "K": 11}])
        self.assertNotIn("context", self.only_job().spec)

    def test_a_deployed_functions_failure_is_a_remote_error_with_status_and_index(self):
        def handler(body):
            raise FunctionError("K must be positive", status=500)
        self.fake.add_function("price", handler)
        with self.assertRaises(RemoteError) as caught:
            list(self.executor.map("price", [{"K": -1}]))
        self.assertEqual((caught.exception.status, caught.exception.index), (500, 0))
        self.assertIn("K must be positive", str(caught.exception))

    def test_a_remote_exception_is_raised_as_its_own_type_with_the_remote_traceback(self):
        with self.assertRaises(KeyError) as caught:
            list(self.executor.map(fail_on_three, range(5)))
        remote = caught.exception.__cause__
        self.assertIsInstance(remote, RemoteError)
        self.assertIn("in fail_on_three", remote.traceback)
        self.assertIn('raise KeyError(f"no entry for {x}")', remote.traceback)
        self.assertNotIn("_runner.py", remote.traceback)  # the user's frames only
        self.assertEqual(remote.index, 3)
        self.assertTrue(any("input 3 of gale job" in note for note in caught.exception.__notes__))

    def test_map_yields_the_results_before_a_failed_input_then_raises(self):
        results = self.executor.map(fail_on_three, range(5))
        self.assertEqual([next(results) for _ in range(3)], [0, 1, 2])
        with self.assertRaises(KeyError):
            next(results)

    def test_an_exception_that_cannot_be_rebuilt_becomes_a_remote_error_naming_its_type(self):
        with self.assertRaises(RemoteError) as caught:
            self.executor.submit(raise_custom, 7).result(10)
        self.assertIn("NeedsTwoArguments", caught.exception.exception_type)
        self.assertIn("7: broken", str(caught.exception))

    def test_python_objects_come_back_as_objects(self):
        from sklearn.datasets import make_classification
        from sklearn.neighbors import KNeighborsClassifier
        X, y = make_classification(n_samples=60, n_features=4, random_state=0)

        def train(k):
            return KNeighborsClassifier(n_neighbors=k).fit(X, y)

        models = list(self.executor.map(train, [1, 3]))
        self.assertEqual([type(m).__name__ for m in models], ["KNeighborsClassifier"] * 2)
        self.assertEqual(models[0].score(X, y), 1.0)

    def test_map_timeout_raises_timeout_error(self):
        results = self.executor.map(time.sleep, [0.6], timeout=0.1)
        with self.assertRaises(concurrent.futures.TimeoutError):
            next(results)

    def test_no_inputs_makes_no_job(self):
        self.assertEqual(list(self.executor.map(square, [])), [])
        self.assertEqual(self.fake.jobs, {})

    def test_closing_the_result_iterator_early_cancels_the_job(self):
        results = self.executor.map(time.sleep, [0.0] + [0.5] * 20)
        next(results)
        results.close()
        job = self.only_job()
        deadline = time.monotonic() + 5
        while job.state != "CANCELLED" and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertEqual(job.state, "CANCELLED")


class SubmitTest(FakeServerTestCase):

    def test_futures_are_concurrent_futures_that_wait_and_as_completed_accept(self):
        futures = [self.executor.submit(square, x) for x in range(4)]
        self.assertTrue(all(isinstance(f, concurrent.futures.Future) and isinstance(f, TaskFuture) for f in futures))
        done, not_done = gale.wait(futures, timeout=10)
        self.assertEqual((len(done), len(not_done)), (4, 0))
        self.assertEqual(sorted(f.result() for f in gale.as_completed(futures, timeout=10)), [0, 1, 4, 9])
        self.assertEqual(sorted(f.result() for f in concurrent.futures.as_completed(futures)), [0, 1, 4, 9])
        self.assertTrue(all(f.done() and f.exception() is None for f in futures))

    def test_submits_of_one_callable_made_while_a_job_is_being_sent_share_the_next_job(self):
        futures = [self.executor.submit(square, x) for x in range(20)]
        self.assertEqual([f.result(10) for f in futures], [x * x for x in range(20)])
        self.assertLessEqual(len(self.fake.jobs), 5, "got a job per few calls, want the burst batched")

    def test_a_submit_is_one_request_that_submits_the_job_and_streams_its_result(self):
        self.assertEqual(self.executor.submit(square, 7).result(10), 49)
        job_requests = [r for r in self.fake.requests if r[1].startswith("/v1/jobs")]
        self.assertEqual(job_requests, [("POST", "/v1/jobs")])

    def test_keyword_arguments_reach_the_function(self):
        self.assertEqual(self.executor.submit(sorted, [3, 1, 2], reverse=True).result(10), [3, 2, 1])

    def test_a_deployed_function_gets_its_single_argument_or_keywords_as_json(self):
        self.fake.add_function("echo", lambda body: body)
        self.assertEqual(self.executor.submit("echo", {"a": 1}).result(10), {"a": 1})
        self.assertEqual(self.executor.submit("echo", a=2).result(10), {"a": 2})

    def test_exception_returns_the_remote_exception(self):
        future = self.executor.submit(fail_on_three, 3)
        self.assertIsInstance(future.exception(10), KeyError)

    def test_the_context_manager_waits_for_outstanding_calls(self):
        with self.make_executor() as executor:
            future = executor.submit(time.sleep, 0.2)
        self.assertTrue(future.done())

    def test_submit_after_shutdown_raises(self):
        self.executor.shutdown()
        with self.assertRaises(RuntimeError):
            self.executor.submit(square, 1)

    def test_cancelling_every_future_cancels_the_job(self):
        futures = [self.executor.submit(time.sleep, 0.3) for _ in range(30)]
        time.sleep(0.1)
        for future in futures:
            future.cancel()
        jobs = list(self.fake.jobs.values())  # a burst of submits may go out as more than one job
        deadline = time.monotonic() + 5
        while any(job.state != "CANCELLED" for job in jobs) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertEqual([job.state for job in jobs], ["CANCELLED"] * len(jobs))

    def test_shutdown_with_cancel_futures_cancels_what_has_not_finished(self):
        futures = [self.executor.submit(time.sleep, 0.3) for _ in range(30)]
        time.sleep(0.1)
        self.executor.shutdown(wait=True, cancel_futures=True)
        self.assertTrue(any(f.cancelled() for f in futures))


class SerializationTest(FakeServerTestCase):

    def test_a_lock_in_a_closure_fails_at_submit_naming_the_variable(self):
        lock = threading.Lock()

        def guarded(x):
            with lock:
                return x

        with self.assertRaises(SerializationError) as caught:
            self.executor.submit(guarded, 1)
        message = str(caught.exception)
        self.assertIn("closure variable 'lock'", message)
        self.assertIn("_thread.lock", message)
        self.assertIn("'SerializationTest.test_a_lock_in_a_closure_fails_at_submit_naming_the_variable.<locals>.guarded'", message)
        self.assertEqual(self.fake.jobs, {})

    def test_a_database_connection_used_by_a_lambda_fails_at_map_naming_it(self):
        import sqlite3
        connection = sqlite3.connect(":memory:")
        self.addCleanup(connection.close)
        with self.assertRaises(SerializationError) as caught:
            self.executor.map(lambda sql: connection.execute(sql).fetchall(), ["select 1"])
        self.assertIn("closure variable 'connection'", str(caught.exception))
        self.assertIn("sqlite3.Connection", str(caught.exception))

    def test_an_unpicklable_argument_is_named_by_position_and_input(self):
        with self.assertRaises(SerializationError) as caught:
            self.executor.map(square, [1, threading.Lock()])
        self.assertIn("argument 0 of input 1", str(caught.exception))

    def test_a_result_over_the_limit_fails_only_that_task(self):
        executor = self.make_executor(max_result_bytes=10_000)
        futures = executor.map_futures(lambda n: b"x" * n, [10, 50_000, 20])
        self.assertEqual(futures[0].result(10), b"x" * 10)
        with self.assertRaises(ResultTooLargeError) as caught:
            futures[1].result(10)
        self.assertIn("over the limit of 10,000", str(caught.exception))
        self.assertEqual(futures[2].result(10), b"x" * 20)

    def test_the_callers_own_modules_are_shipped_by_value(self):
        folder = tempfile.mkdtemp()
        with open(os.path.join(folder, "gale_local_helpers.py"), "w") as file:
            file.write(textwrap.dedent("""
                class Point:
                    def __init__(self, x):
                        self.x = x

                def triple(value):
                    return Point(3 * value)
            """))
        sys.path.insert(0, folder)
        self.addCleanup(sys.path.remove, folder)
        import gale_local_helpers
        self.assertTrue(_pickling.is_local_module(gale_local_helpers))
        context = _pickling.job_context(gale_local_helpers.triple, _runner.DEFAULT_MAX_RESULT_BYTES)
        task = _pickling.encode_call((4,), {})
        # A fresh interpreter elsewhere, where gale_local_helpers cannot be imported.
        program = ("import json, sys; from gale import _runner; job = json.load(sys.stdin); "
                   "print(json.dumps(_runner.execute(job['context'], job['input'])))")
        answer = subprocess.run([sys.executable, "-c", program], input=json.dumps({"context": context, "input": task}),
                                capture_output=True, text=True, cwd=tempfile.gettempdir(), timeout=60,
                                env={"PYTHONPATH": PYTHON_DIR, "PATH": os.environ.get("PATH", "")})
        self.assertEqual(answer.returncode, 0, answer.stderr)
        ok, point = _pickling.decode_answer(json.loads(answer.stdout))
        self.assertTrue(ok, point)
        self.assertIsInstance(point, gale_local_helpers.Point)
        self.assertEqual(point.x, 12)

    def test_installed_modules_go_by_reference(self):
        import json as stdlib_json
        import numpy
        self.assertFalse(_pickling.is_local_module(stdlib_json))
        self.assertFalse(_pickling.is_local_module(numpy))
        self.assertFalse(_pickling.is_local_module(gale))
        self.assertTrue(_pickling.is_local_module(sys.modules[__name__]))


class RunnerDeployTest(FakeServerTestCase):

    def test_first_use_deploys_the_runner_with_its_version_and_checks_it_answers(self):
        self.executor.submit(square, 2).result(10)
        name, config, files = self.fake.deploys[0]
        self.assertEqual(name, RUNNER_FUNCTION)
        self.assertEqual((config["entryPoint"], config["signature"]), ("run", "event"))
        self.assertEqual(config["env"]["RUNNER_VERSION"], _runner.RUNNER_VERSION)
        self.assertIn("from gale._runner import run", files["main.py"].decode())
        self.assertEqual(sorted(files), ["gale/__init__.py", "gale/_runner.py", "gale/errors.py", "main.py",
                                         "requirements.txt"])
        self.assertIn("cloudpickle", files["requirements.txt"].decode())
        self.assertIn(("POST", f"/fn/{RUNNER_FUNCTION}"), self.fake.requests)

    def test_another_executor_reuses_the_runner_that_is_deployed(self):
        self.executor.submit(square, 2).result(10)
        self.make_executor().submit(square, 3).result(10)
        self.assertEqual(len(self.fake.deploys), 1)

    def test_a_runner_deployed_by_another_client_version_is_redeployed(self):
        self.fake.add_function(RUNNER_FUNCTION, lambda body: None, {"env": {"RUNNER_VERSION": "0.0.1+0123456789ab"}})
        self.assertEqual(self.executor.submit(square, 5).result(10), 25)
        self.assertEqual(len(self.fake.deploys), 1)

    def test_never_deploys_over_a_function_that_is_not_a_runner(self):
        self.fake.add_function("scorer", lambda body: body)
        executor = self.make_executor(function="scorer")
        with self.assertRaises(gale.GaleError) as caught:
            executor.submit(square, 1)
        self.assertIn("'scorer' exists and is not a gale runner", str(caught.exception))
        self.assertEqual(self.fake.deploys, [])

    def test_max_workers_beyond_the_runners_instances_redeploys_it_with_more(self):
        self.executor.submit(square, 2).result(10)
        self.make_executor(max_workers=100).submit(square, 2).result(10)
        self.assertEqual([config["maxInstances"] for _, config, _ in self.fake.deploys], [10, 100])
        self.make_executor(max_workers=5).submit(square, 2).result(10)
        self.assertEqual(len(self.fake.deploys), 2)  # 100 instances are enough for 5 workers

    def test_runner_config_and_requirements_shape_the_deploy(self):
        executor = self.make_executor(runner_config={"memory": "2GB", "concurrency": 4}, requirements=["numpy"])
        executor.submit(square, 2).result(10)
        _, config, files = self.fake.deploys[-1]
        self.assertEqual((config["memory"], config["concurrency"]), ("2GB", 4))
        self.assertEqual(files["requirements.txt"].decode().split(), ["cloudpickle", "numpy"])


class VersionMismatchTest(FakeServerTestCase):
    fake_options = {"runner_version": "0.0.9+abcdefabcdef"}

    def test_a_runner_running_other_code_fails_fast_naming_both_versions(self):
        with self.assertRaises(VersionMismatchError) as caught:
            self.executor.map(square, [1, 2])
        message = str(caught.exception)
        self.assertIn(_runner.RUNNER_VERSION, message)
        self.assertIn("0.0.9+abcdefabcdef", message)
        self.assertEqual(self.fake.jobs, {})

    def test_a_mismatch_found_by_the_tasks_fails_every_call_and_rechecks_the_runner_next_time(self):
        self.fake.runner_version = _runner.RUNNER_VERSION
        self.executor.ensure_runner()
        self.fake.runner_version = "0.0.9+abcdefabcdef"  # someone redeployed it meanwhile
        futures = self.executor.map_futures(square, range(5))
        for future in futures:
            with self.assertRaises(VersionMismatchError) as caught:
                future.result(10)
            self.assertIn("0.0.9+abcdefabcdef", str(caught.exception))
            self.assertIn(_runner.RUNNER_VERSION, str(caught.exception))
        with self.assertRaises(VersionMismatchError):
            self.executor.submit(square, 1)  # checks the runner again, and fails before any job


    def test_inputs_the_mismatch_cancels_before_they_run_fail_with_it_too(self):
        self.fake.runner_version = _runner.RUNNER_VERSION
        self.executor.ensure_runner()
        self.fake.runner_version = "0.0.9+abcdefabcdef"
        original, calls = self.fake.call, itertools.count()

        def slow_after_the_first(function, body):  # the cancel lands while the second input is still running
            if next(calls) > 0:
                time.sleep(0.3)
            return original(function, body)

        self.fake.call = slow_after_the_first
        self.executor.max_workers = 1
        futures = self.executor.map_futures(square, range(5))
        for future in futures:
            with self.assertRaises(VersionMismatchError):
                future.result(10)

if __name__ == "__main__":
    unittest.main()
