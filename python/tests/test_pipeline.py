"""gale.Pipeline against gale.testing.FakeGale: step kinds, batches, the per-step report."""

import io
import re
import time
import unittest
from contextlib import redirect_stdout

import gale
from gale.executor import Executor
from gale.pipeline import PARALLEL, SEQUENTIAL, Pipeline, parallel, sequential
from gale.testing import FakeGale


def slow_double(x):
    time.sleep(0.05)
    return 2 * x


def keep_even(batch):
    return [x for x in batch if x % 2 == 0]


class PipelineTest(unittest.TestCase):

    def setUp(self):
        self.fake = FakeGale().start()
        self.addCleanup(self.fake.stop)
        self.executor = Executor(self.fake.url, self.fake.token, progress=False)
        self.addCleanup(self.executor.shutdown)

    def pipeline(self, *steps, **options):
        return Pipeline(*steps, executor=self.executor, **options)

    def test_parallel_steps_map_items_and_sequential_steps_get_the_whole_list(self):
        seen = []

        def reverse_all(items):
            seen.append(list(items))
            return list(reversed(items))

        result = self.pipeline(parallel(slow_double), sequential(reverse_all)).run([1, 2, 3])
        self.assertEqual(result, [6, 4, 2])
        self.assertEqual(seen, [[2, 4, 6]])  # ran here, once, on everything
        self.assertEqual(len(self.fake.jobs), 1)

    def test_a_plain_callable_is_a_parallel_step_and_a_string_names_a_deployed_function(self):
        self.fake.add_function("negate", lambda x: -x)
        pipeline = self.pipeline(slow_double, "negate")
        self.assertEqual(pipeline.run([1, 2]), [-2, -4])
        self.assertEqual([step.kind for step in pipeline.steps], [PARALLEL, PARALLEL])
        self.assertEqual([step.name for step in pipeline.steps], ["slow_double", "negate"])
        self.assertEqual(len(self.fake.jobs), 2)

    def test_a_batched_parallel_step_gets_lists_and_may_drop_items(self):
        pipeline = self.pipeline(parallel(keep_even, batch_size=3))
        self.assertEqual(pipeline.run(range(10)), [0, 2, 4, 6, 8])
        job = next(iter(self.fake.jobs.values()))
        self.assertEqual(len(job.inputs), 4)  # 10 items in batches of 3
        self.assertEqual(pipeline.reports[0].items, 10)

    def test_decorators_with_and_without_arguments(self):
        @gale.parallel
        def inc(x):
            return x + 1

        @gale.sequential(name="total")
        def total(items):
            return [sum(items)]

        pipeline = self.pipeline(inc, total)
        self.assertEqual(pipeline.run([1, 2, 3]), [9])
        self.assertEqual([(s.kind, s.name) for s in pipeline.steps], [(PARALLEL, "inc"), (SEQUENTIAL, "total")])

    def test_the_report_gives_time_workers_elements_and_speedup_per_step(self):
        executor = Executor(self.fake.url, self.fake.token, progress=False, max_workers=10)
        self.addCleanup(executor.shutdown)
        pipeline = Pipeline(parallel(slow_double, name="geolocate"), sequential(sorted, name="sort"),
                            executor=executor)
        pipeline.run(range(40))
        geolocate, sort = pipeline.reports
        self.assertEqual((geolocate.workers, geolocate.items), (10, 40))
        self.assertGreaterEqual(geolocate.serial_seconds, 40 * 0.05)  # the sum of the calls' durations
        self.assertGreater(geolocate.speedup, 3)
        self.assertEqual((sort.workers, sort.items), (1, 40))
        report = pipeline.report()
        self.assertRegex(report, r"Pipeline of 2 steps over 40 elements took \d+\.\d\ds \(serial \d+\.\d\ds, "
                                 r"speed-up \d+\.\dx\)")
        self.assertRegex(report, r"1 - geolocate  took \d+\.\d\ds for 10 workers and 40 elements "
                                 r"\(speed-up \d+\.\dx\)")
        self.assertRegex(report, r"2 - sort       took \d+\.\d\ds for 1 worker and 40 elements$")

    def test_workers_are_capped_by_the_number_of_calls(self):
        pipeline = self.pipeline(parallel(slow_double))
        pipeline.run([1, 2, 3])
        self.assertEqual(pipeline.reports[0].workers, 3)

    def test_verbose_prints_the_report_after_the_run(self):
        out = io.StringIO()
        with redirect_stdout(out):
            self.pipeline(slow_double, verbose=True).run([1])
        self.assertTrue(re.search(r"1 - slow_double  took", out.getvalue()), out.getvalue())

    def test_a_failed_item_raises_its_exception(self):
        def picky(x):
            if x == 2:
                raise ValueError("no twos")
            return x

        with self.assertRaises(ValueError):
            self.pipeline(picky).run([1, 2, 3])

    def test_empty_input_runs_no_job(self):
        pipeline = self.pipeline(slow_double, sequential(sorted))
        self.assertEqual(pipeline.run([]), [])
        self.assertEqual(self.fake.jobs, {})
        self.assertEqual(pipeline.reports[0].workers, 0)

    def test_bad_steps_are_refused_when_the_pipeline_is_built(self):
        with self.assertRaises(ValueError):
            Pipeline()
        with self.assertRaises(TypeError):
            Pipeline(42)
        with self.assertRaises(TypeError):
            sequential("a-deployed-function")  # sequential steps run here, so they must be callables
        with self.assertRaises(ValueError):
            parallel(slow_double, batch_size=0)

    def test_report_before_run(self):
        self.assertEqual(self.pipeline(slow_double).report(), "pipeline has not run yet")


if __name__ == "__main__":
    unittest.main()
