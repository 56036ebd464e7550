"""The progress bar of Executor.map: its text, and that map draws it from the job's counts."""

import io
import time
import unittest
from unittest import mock

from gale._progress import TextProgress, format_line, format_seconds, progress_bar
from gale.executor import Executor
from gale.testing import FakeGale


class FormatTest(unittest.TestCase):

    def test_a_line_shows_bar_done_total_percent_rate_eta_and_failures(self):
        line = format_line("job-7f3a", 1200, 3000, failed=2, rate=95.0, eta_seconds=19, width=10)
        self.assertEqual(line, "job-7f3a [####------] 1200/3000  40%  95.0 tasks/s  ETA 0:19  2 failed")

    def test_a_finished_job_shows_no_eta_and_a_full_bar(self):
        self.assertEqual(format_line("j", 5, 5, rate=2.0, eta_seconds=0, width=4), "j [####] 5/5 100%  2.0 tasks/s")

    def test_seconds_read_as_minutes_or_hours(self):
        self.assertEqual([format_seconds(s) for s in (0, 59.6, 61, 3725)], ["0:00", "1:00", "1:01", "1:02:05"])

    def test_an_empty_job_is_complete(self):
        self.assertIn("0/0 100%", format_line("j", 0, 0))


class TextProgressTest(unittest.TestCase):

    def test_redraws_one_line_in_place_and_ends_it_on_close(self):
        out = io.StringIO()
        bar = TextProgress(100, "job-1", out)
        bar.update(10, rate=5.0, eta_seconds=18)
        bar.update(100, rate=50.0, eta_seconds=0)
        bar.close()
        text = out.getvalue()
        self.assertEqual(text.count("\r"), 2)
        self.assertTrue(text.endswith("\n"))
        self.assertIn("10/100  10%  5.0 tasks/s  ETA 0:18", text)
        self.assertIn("100/100 100%  50.0 tasks/s", text.splitlines()[-1])

    def test_works_out_rate_and_eta_when_the_job_gives_none(self):
        out = io.StringIO()
        bar = TextProgress(10, "j", out)
        bar.started -= 2.0  # two seconds in
        bar.update(4)
        self.assertIn("2.0 tasks/s  ETA 0:03", out.getvalue())

    def test_without_tqdm_the_text_bar_is_used(self):
        self.assertIsInstance(progress_bar(3, "j", io.StringIO(), use_tqdm=False), TextProgress)
        with mock.patch.dict("sys.modules", {"tqdm": None, "tqdm.auto": None}):
            self.assertIsInstance(progress_bar(3, "j", io.StringIO()), TextProgress)


class MapProgressTest(unittest.TestCase):

    def setUp(self):
        self.fake = FakeGale().start()
        self.addCleanup(self.fake.stop)
        self.executor = Executor(self.fake.url, self.fake.token)
        self.addCleanup(self.executor.shutdown)

    def run_map(self, progress):
        err = io.StringIO()
        with mock.patch("sys.stderr", err):
            results = list(self.executor.map(time.sleep, [0.05] * 12, progress=progress))
        self.assertEqual(results, [None] * 12)
        return err.getvalue()

    def test_map_draws_the_text_bar_from_the_jobs_counts_up_to_done(self):
        text = self.run_map("text")
        job_id = next(iter(self.fake.jobs))
        self.assertIn(f"{job_id} [", text)
        self.assertIn("12/12 100%", text.splitlines()[-1])
        self.assertIn(("GET", f"/v1/jobs/{job_id}"), self.fake.requests)

    def test_progress_true_uses_tqdm_when_installed(self):
        import tqdm  # noqa: F401 - Debian's python3-tqdm, in GALE_APT_PACKAGES_TEST
        self.assertIn("12/12", self.run_map(True))

    def test_no_bar_when_progress_is_false_or_stderr_is_not_a_terminal(self):
        self.assertEqual(self.run_map(False), "")
        self.assertEqual(self.run_map(None), "")  # StringIO is not a terminal


if __name__ == "__main__":
    unittest.main()
