"""End to end: Pywren code, with ``import gale.pywren as pywren`` as its one changed line,
against a real Gale server (seed 002's hyperparameter search among them)."""

import os
import unittest
from unittest import mock

import gale.pywren as pywren
from gale.testing import LocalGale

SERVER = None
SKIP_REASON = None
OPTIONS = {"max_workers": 4, "requirements": ["scikit-learn"]}


def setUpModule():
    global SERVER, SKIP_REASON
    SERVER, SKIP_REASON = LocalGale.for_test_module(__name__)


def tearDownModule():
    if SERVER is not None:
        SERVER.stop()


def square(x):
    return x * x


def fail_on_three(x):
    if x == 3:
        raise ValueError(f"three is not welcome: {x}")
    return x


class PywrenTest(unittest.TestCase):

    def setUp(self):
        if SERVER is None:
            self.skipTest(SKIP_REASON)
        # as a notebook finds its server: from the environment, no url or token in the code
        environment = mock.patch.dict(os.environ, {"GALE_URL": SERVER.url, "GALE_TOKEN": SERVER.token})
        environment.start()
        self.addCleanup(environment.stop)
        self.pwex = pywren.default_executor(**OPTIONS)
        self.addCleanup(self.pwex.shutdown)

    def test_the_seeds_hyperparameter_search_gets_fitted_classifiers_back(self):
        from sklearn.datasets import make_classification
        from sklearn.neighbors import KNeighborsClassifier
        X, y = make_classification(n_samples=400, n_features=6, random_state=0)
        X_train, y_train, X_test, y_test = X[:300], y[:300], X[300:], y[300:]

        def train_model(n_neighbors):
            return KNeighborsClassifier(n_neighbors=n_neighbors).fit(X_train, y_train)

        all_hyperparams = [1, 3, 5, 7, 9, 15]
        futures = self.pwex.map(train_model, all_hyperparams)
        classifiers = pywren.get_all_results(futures)

        self.assertEqual([c.n_neighbors for c in classifiers], all_hyperparams)
        self.assertTrue(all(isinstance(c, KNeighborsClassifier) for c in classifiers))
        best = max(classifiers, key=lambda c: c.score(X_test, y_test))  # used here, on the laptop
        self.assertGreater(best.score(X_test, y_test), 0.5)
        self.assertTrue(all(f.succeeded() and not f.errored() for f in futures))
        self.assertEqual({f.callset_id for f in futures}, {futures[0].callset_id}, "one map, one job")

    def test_call_async_runs_one_call(self):
        future = self.pwex.call_async(square, 12)

        self.assertEqual(future.result(), 144)
        self.assertTrue(future.result(check_only=True))

    def test_a_failed_element_raises_from_get_all_results_and_can_be_handed_back_instead(self):
        futures = self.pwex.map(fail_on_three, range(5))

        with self.assertRaises(ValueError) as raised:  # the function's own exception, as Pywren gives it
            pywren.get_all_results(futures)
        self.assertIn("three is not welcome", str(raised.exception))
        self.assertEqual([f.result() for f in futures if not f.errored()], [0, 1, 2, 4])
        self.assertTrue(futures[3].errored())
        self.assertIsInstance(futures[3].result(throw_except=False), ValueError)

    def test_wait_returns_done_and_not_done_lists(self):
        futures = self.pwex.map(square, range(8))

        done, not_done = pywren.wait(futures, return_when=pywren.ANY_COMPLETED)
        self.assertGreaterEqual(len(done), 1)
        self.assertEqual(len(done) + len(not_done), 8)
        done, not_done = pywren.wait(futures)  # ALL_COMPLETED by default
        self.assertEqual((len(done), not_done), (8, []))
        self.assertEqual(pywren.wait(futures, return_when=pywren.ALWAYS), (futures, []))
        with self.assertRaisesRegex(ValueError, "ALL_COMPLETED, ANY_COMPLETED or ALWAYS"):
            pywren.wait(futures, return_when=7)

    def test_extra_env_is_set_for_the_call_only_and_aws_settings_are_accepted(self):
        def read_variable(_):
            return os.environ.get("SURVEY_WAVE")

        with_env = self.pwex.map(read_variable, range(4), extra_env={"SURVEY_WAVE": "2"}, invoke_pool_threads=16,
                                 use_cached_runtime=False, exclude_modules=["boto3"])
        without = self.pwex.map(read_variable, range(4))

        self.assertEqual(pywren.get_all_results(with_env), ["2"] * 4)
        self.assertEqual(pywren.get_all_results(without), [None] * 4, "the instances do not keep another map's variables")


if __name__ == "__main__":
    unittest.main()
