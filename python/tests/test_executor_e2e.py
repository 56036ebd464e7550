"""End to end: gale.Executor, gale.Pipeline and the examples against a real Gale server.

setUpModule starts ``./gale server`` (the launcher builds the jar when needed; set
GALE_BIN to use another launcher) on a free port with a temporary data dir, and the
tests drive it over HTTP with real Python instances. When the server cannot be built
or started, every test here is skipped with the reason (and the server log) printed; under
CI=true that is an error instead (LocalGale.for_test_module).
"""

import concurrent.futures
import hashlib
import importlib.util
import io
import os
import sys
import time
import unittest
from contextlib import redirect_stdout
from unittest import mock

from gale import _runner
from gale.errors import ApiError, RemoteError, ResultTooLargeError, SerializationError, VersionMismatchError
from gale.executor import RUNNER_FUNCTION
from gale.testing import LocalGale

# Every executor here deploys the runner with the same settings, so none replaces another's
# runner mid-test; scikit-learn in the requirements lets the zygote preload it for instances.
RUNNER_OPTIONS = {"max_workers": 8, "requirements": ["scikit-learn"], "progress": False}
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(REPO, "examples")
WORKERS = RUNNER_OPTIONS["max_workers"]

SERVER = None
SKIP_REASON = None


def setUpModule():
    global SERVER, SKIP_REASON
    SERVER, SKIP_REASON = LocalGale.for_test_module(__name__)


def tearDownModule():
    if SERVER is not None:
        SERVER.stop()


def load_example(relative_path):
    """Import an example script as a module (the examples are not packages)."""
    path = os.path.join(EXAMPLES, relative_path)
    name = "example_" + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def make_executor(**options):
    return SERVER.executor(**dict(RUNNER_OPTIONS, **options))


def wait_for_state(client, job_id, state, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = client.job(job_id)
        if job["state"] == state:
            return job
        time.sleep(0.1)
    return client.job(job_id)


def exploding(x):
    if x == 4:
        raise ZeroDivisionError(f"cannot split {x} ways")
    return x


class E2ETestCase(unittest.TestCase):
    executor = None

    @classmethod
    def setUpClass(cls):
        if SKIP_REASON:
            raise unittest.SkipTest(SKIP_REASON)
        cls.client = SERVER.client()
        cls.executor = make_executor()

    @classmethod
    def tearDownClass(cls):
        cls.executor.shutdown()
        cls.client.close()


class ExecutorE2ETest(E2ETestCase):

    def test_maps_a_lambda_with_results_in_input_order(self):
        import random
        delays = [random.Random(1).random() * 0.05 for _ in range(40)]
        results = list(self.executor.map(lambda i, d: (time.sleep(d), i * i)[1], range(40), delays))
        self.assertEqual(results, [i * i for i in range(40)])

    def test_chunked_map_keeps_the_order_and_the_job_records_the_chunk_size(self):
        futures = self.executor.map_futures(abs, range(-30, 0), chunksize=7)
        self.assertEqual([f.result(60) for f in futures], list(range(30, 0, -1)))
        self.assertEqual(self.client.job(futures[0].job_id)["chunkSize"], 7)

    def test_a_callable_mapped_again_sends_its_context_by_reference_and_resends_it_when_the_server_lacks_it(self):
        weights = list(range(1000))
        def weigh(i):
            return weights[i] * 2
        sent = []
        submit = self.executor.client.submit_job_and_follow
        def spy(*args, **kwargs):
            sent.append("ref" if kwargs.get("context_ref") else "context" if kwargs.get("context") else "none")
            return submit(*args, **kwargs)
        self.executor.client.submit_job_and_follow = spy
        try:
            self.assertEqual(list(self.executor.map(weigh, [1, 2])), [2, 4])
            self.assertEqual(list(self.executor.map(weigh, [3, 4])), [6, 8])
            for key in self.executor._context_ids:  # as after a server that lost its store
                self.executor._context_ids[key] = "0" * 64
            self.assertEqual(list(self.executor.map(weigh, [5])), [10])
        finally:
            self.executor.client.submit_job_and_follow = submit
        self.assertEqual(sent, ["context", "ref", "ref", "context"])

    def test_a_submitted_call_is_answered_by_the_request_that_submits_it_and_stays_stored(self):
        future = self.executor.submit(lambda x: x + 1, 41)

        self.assertEqual(future.result(60), 42)
        self.assertEqual(self.client.job(future.job_id)["state"], "SUCCEEDED")
        self.assertEqual([r["index"] for r in self.client.results(future.job_id, wait=False)], [0])

    def test_a_remote_exception_is_reraised_locally_with_the_remote_traceback(self):
        with self.assertRaises(ZeroDivisionError) as caught:
            list(self.executor.map(exploding, range(6)))
        remote = caught.exception.__cause__
        self.assertIsInstance(remote, RemoteError)
        self.assertIn("in exploding", remote.traceback)
        self.assertIn('raise ZeroDivisionError(f"cannot split {x} ways")', remote.traceback)
        self.assertEqual(remote.index, 4)

    def test_fitted_models_come_back_as_objects(self):
        from sklearn.datasets import make_classification
        from sklearn.neighbors import KNeighborsClassifier
        X, y = make_classification(n_samples=80, n_features=5, random_state=1)
        models = list(self.executor.map(lambda k: KNeighborsClassifier(n_neighbors=k).fit(X, y), [1, 5]))
        self.assertTrue(all(isinstance(model, KNeighborsClassifier) for model in models))
        self.assertEqual(models[0].score(X, y), 1.0)

    def test_submitted_futures_work_with_as_completed(self):
        futures = [self.executor.submit(pow, 2, n) for n in range(10)]
        done = sorted(f.result() for f in concurrent.futures.as_completed(futures, timeout=60))
        self.assertEqual(done, [2 ** n for n in range(10)])

    def test_an_unpicklable_callable_fails_before_any_job_is_created(self):
        import threading
        lock = threading.Lock()
        before = len(self.client.jobs(limit=1000))
        with self.assertRaises(SerializationError) as caught:
            self.executor.map(lambda x: lock.locked() or x, [1])
        self.assertIn("'lock'", str(caught.exception))
        self.assertEqual(len(self.client.jobs(limit=1000)), before)

    def test_a_result_over_the_limit_fails_only_its_own_task(self):
        executor = make_executor(max_result_bytes=100_000)
        self.addCleanup(executor.shutdown)
        futures = executor.map_futures(lambda n: bytes(n), [10, 1_000_000, 20])
        self.assertEqual(len(futures[0].result(60)), 10)
        with self.assertRaises(ResultTooLargeError):
            futures[1].result(60)
        self.assertEqual(len(futures[2].result(60)), 20)

    def test_closing_the_results_early_cancels_the_job_on_the_server(self):
        results = self.executor.map(time.sleep, [0.0] + [0.5] * 40)
        next(results)
        results.close()
        job_id = self.client.jobs(function=RUNNER_FUNCTION, limit=1)[0]["id"]
        self.assertEqual(wait_for_state(self.client, job_id, "CANCELLED")["state"], "CANCELLED")

    def test_a_job_cancelled_elsewhere_ends_its_unfinished_futures(self):
        futures = self.executor.map_futures(time.sleep, [0.5] * 40)
        time.sleep(0.3)
        self.client.cancel(futures[0].job_id)
        self.assertEqual(len(concurrent.futures.wait(futures, timeout=30).not_done), 0)
        errors = [f.exception() for f in futures if not f.cancelled()]
        self.assertTrue(any(isinstance(e, RemoteError) and "cancelled before it ran" in str(e) for e in errors))

    def test_a_cpu_budget_stops_the_map_and_keeps_the_results_so_far(self):
        def burn(seconds):
            start = time.process_time()
            while time.process_time() - start < seconds:
                pass
            return seconds
        executor = make_executor(max_cpu_seconds=1)
        self.addCleanup(executor.shutdown)

        futures = executor.map_futures(burn, [0.25] * 40)

        self.assertEqual(len(concurrent.futures.wait(futures, timeout=120).not_done), 0)
        ran = [f for f in futures if f.exception() is None]
        self.assertGreaterEqual(len(ran), 1)
        self.assertLess(len(ran), 40)
        self.assertEqual([f.result() for f in ran], [0.25] * len(ran))
        not_run = [f.exception() for f in futures if f.exception() is not None]
        for error in not_run:
            self.assertIsInstance(error, RemoteError)
            self.assertIn("its CPU budget of 1 CPU-seconds was spent", str(error))
        job = self.client.job(futures[0].job_id)
        self.assertEqual(job["state"], "STOPPED_BUDGET")
        self.assertGreaterEqual(job["cpuSeconds"], 1)
        report = self.client.cost(job=job["id"])
        self.assertEqual(report["rows"][0]["calls"], len(ran))
        self.assertGreater(report["rows"][0]["cpuSeconds"], 0)

    def test_map_shows_a_progress_bar_from_the_jobs_counts(self):
        err = io.StringIO()
        with mock.patch("sys.stderr", err):
            list(self.executor.map(time.sleep, [0.05] * 16, progress="text"))
        self.assertIn("16/16 100%", err.getvalue().splitlines()[-1])


class DeployedFunctionE2ETest(E2ETestCase):
    SOURCE = {
        "main.py": ("def double(request):\n"
                    "    body = request.get_json()\n"
                    "    if body.get('x') is None:\n"
                    "        raise ValueError('no x')\n"
                    "    return {'y': 2 * body['x']}\n"),
        "requirements.txt": "flask\n",
    }

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.client.deploy("double", cls.SOURCE, {"entryPoint": "double", "maxInstances": 4})

    def test_maps_a_deployed_function_by_name_with_json_in_and_out(self):
        self.assertEqual(list(self.executor.map("double", [{"x": 1}, {"x": 21}])), [{"y": 2}, {"y": 42}])

    def test_a_failed_call_is_a_remote_error_with_status_and_traceback(self):
        with self.assertRaises(RemoteError) as caught:
            list(self.executor.map("double", [{"x": 1}, {"x": None}]))
        self.assertEqual((caught.exception.status, caught.exception.index), (500, 1))
        self.assertIn("ValueError: no x", str(caught.exception))

    def test_a_missing_function_is_refused_when_the_job_is_submitted(self):
        with self.assertRaises(ApiError) as caught:
            self.executor.map("no-such-function", [1])
        self.assertEqual(caught.exception.status, 400)


class RunnerVersionE2ETest(E2ETestCase):

    # These use runners of their own (and no scikit-learn), so the shared one stays as it is.

    def test_a_second_executor_reuses_the_runner_the_first_deployed(self):
        first = make_executor(function="reused-runner", requirements=[])
        self.addCleanup(first.shutdown)
        first.ensure_runner()
        second = make_executor(function="reused-runner", requirements=[])
        self.addCleanup(second.shutdown)
        self.assertEqual(second.submit(abs, -4).result(60), 4)
        self.assertEqual(self.client.function("reused-runner")["activeVersion"], 1)

    def test_a_runner_deployed_with_other_code_is_replaced(self):
        executor = make_executor(function="older-runner", requirements=[])
        self.addCleanup(executor.shutdown)
        config = executor.runner_deploy_config()
        config["env"]["RUNNER_VERSION"] = "0.0.1+000000000000"
        self.client.deploy("older-runner", executor.runner_bundle(), config)
        self.assertEqual(executor.submit(abs, -3).result(60), 3)
        function = self.client.function("older-runner")
        self.assertEqual(function["activeVersion"], 2)
        self.assertEqual(function["config"]["env"]["RUNNER_VERSION"], _runner.RUNNER_VERSION)

    def test_a_runner_whose_code_differs_from_its_label_fails_fast_naming_both_versions(self):
        executor = make_executor(function="tampered-runner", requirements=[])
        self.addCleanup(executor.shutdown)
        files = executor.runner_bundle()
        files["gale/_runner.py"] += b"\n# edited on the server side\n"
        self.client.deploy("tampered-runner", files, executor.runner_deploy_config())  # labelled as ours
        with self.assertRaises(VersionMismatchError) as caught:
            executor.map(abs, [-1])
        message = str(caught.exception)
        self.assertIn(_runner.RUNNER_VERSION, message)
        self.assertRegex(message, r"runs gale runner 0\.1\.0\+[0-9a-f]{12}")
        self.assertEqual(self.client.jobs(function="tampered-runner"), [])


class BlackScholesExampleTest(E2ETestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.example = load_example("black-scholes/price_options.py")

    def test_prices_by_name_and_by_local_callable_agree(self):
        out = io.StringIO()
        with redirect_stdout(out):
            options, by_name, by_callable = self.example.main(["--count", "300", "--workers", "4"],
                                                              executor=self.executor)
        self.assertEqual(len(by_name), 300)
        self.assertEqual(by_name, by_callable)
        from blackscholes import price_option
        self.assertEqual(by_name[17], price_option(**options[17]))
        self.assertIn("largest price difference between the two: 0.0", out.getvalue())

    def test_a_bad_option_fails_its_call_with_the_functions_400(self):
        with redirect_stdout(io.StringIO()):
            self.example.deploy(self.client)
        option = dict(self.example.make_options(1)[0], S=-5)
        with self.assertRaises(RemoteError) as caught:
            list(self.executor.map("price-option", [option]))
        self.assertEqual(caught.exception.status, 400)
        self.assertIn("S and K must be positive", str(caught.exception))


class KnnSearchExampleTest(E2ETestCase):

    def test_the_search_returns_fitted_classifiers_scored_locally(self):
        from sklearn.neighbors import KNeighborsClassifier
        example = load_example("knn-search/search.py")
        params = example.grid(ks=(1, 5, 9), weights=("uniform", "distance"))
        results = example.search(self.executor, example.make_data(samples=600), params)
        self.assertEqual(len(results), 6)
        self.assertTrue(all(isinstance(model, KNeighborsClassifier) for _, model, _ in results))
        self.assertEqual({(p["n_neighbors"], p["weights"]) for p, _, _ in results},
                         {(p["n_neighbors"], p["weights"]) for p in params})
        accuracies = [accuracy for _, _, accuracy in results]
        self.assertEqual(accuracies, sorted(accuracies, reverse=True))
        self.assertGreater(accuracies[0], 0.6)


class GeoPipelineExampleTest(E2ETestCase):

    def test_three_steps_give_the_located_zipcodes_sorted_and_a_report(self):
        example = load_example("geo-pipeline/geo_pipeline.py")
        out = io.StringIO()
        with redirect_stdout(out):
            pipeline, addresses = example.main(["--count", "160", "--workers", str(WORKERS)], executor=self.executor)
        expected = [z for z in example.zipcodes(160) if hashlib.sha256(z.encode()).digest()[0] % 8 != 0]
        self.assertEqual(sorted(a["zipcode"] for a in addresses), sorted(expected))
        self.assertEqual(addresses, sorted(addresses, key=lambda a: (-a["lat"], a["lon"])))
        geolocate, cleanup, sort = pipeline.reports
        self.assertEqual((geolocate.workers, geolocate.items), (WORKERS, 160))
        self.assertGreater(geolocate.speedup, 2)  # bench/map_io.py measures it properly
        self.assertEqual((cleanup.workers, cleanup.items), (2, 160))  # 160 items in batches of 100
        self.assertEqual((sort.workers, sort.items), (1, len(expected)))
        report = out.getvalue()
        self.assertRegex(report, rf"1 - geolocate  took \d+\.\d\ds for {WORKERS} workers and 160 elements "
                                 rf"\(speed-up \d+\.\dx\)")
        self.assertRegex(report, r"3 - sort       took \d+\.\d\ds for 1 worker and \d+ elements")


if __name__ == "__main__":
    unittest.main()
