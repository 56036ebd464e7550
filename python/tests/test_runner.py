"""gale/_runner.py on its own: the call bodies of docs/jobs.md, the context cache and the 428 answer."""

import base64
import json
import pickle
import unittest
from unittest import mock

from gale import _bootstrap, _pickling, _runner


def scale_by(factor):
    return lambda x: x * factor


def body_event(body):
    """What the Lambda adapter hands the runner for a JSON body."""
    return {"body": json.dumps(body)}


class RunnerTestCase(unittest.TestCase):
    def setUp(self):
        _runner._contexts.clear()
        _runner._callables.clear()
        self.addCleanup(_runner._contexts.clear)
        self.addCleanup(_runner._callables.clear)

    @staticmethod
    def context(function):
        return _pickling.job_context(function, _runner.DEFAULT_MAX_RESULT_BYTES)

    @staticmethod
    def result(answer):
        ok, value = _pickling.decode_answer(answer)
        if not ok:
            raise value
        return value


class ContextOnceTest(RunnerTestCase):

    def test_an_id_without_its_context_is_answered_428_with_x_gale_context_missing(self):
        response = _runner.run(body_event({"contextId": "c1", "input": _pickling.encode_call((1,), {})}), None)
        status, headers, body = _bootstrap.lambda_response(response)
        self.assertEqual(status, 428)
        self.assertIn(("X-Gale-Context", "missing"), headers)
        self.assertEqual(json.loads(body)["kind"], "context")
        self.assertIn("c1", json.loads(body)["error"])

    def test_the_full_context_is_kept_so_later_calls_send_only_its_id(self):
        context = self.context(scale_by(3))
        full = _runner.run(body_event({"contextId": "c1", "context": context,
                                       "input": _pickling.encode_call((2,), {})}), None)
        self.assertEqual(self.result(full), 6)
        hit = _runner.run(body_event({"contextId": "c1", "input": _pickling.encode_call((5,), {})}), None)
        self.assertEqual(self.result(hit), 15)

    def test_the_callable_is_unpickled_once_per_context(self):
        context = self.context(scale_by(2))
        pickled_callable = base64.b64decode(context["fn"])
        with mock.patch.object(_runner.pickle, "loads", wraps=pickle.loads) as loads:
            _runner.answer({"contextId": "c1", "context": context, "input": _pickling.encode_call((1,), {})})
            for x in range(3):
                _runner.answer({"contextId": "c1", "input": _pickling.encode_call((x,), {})})
        self.assertEqual([c for c in loads.call_args_list if c.args[0] == pickled_callable], [mock.call(pickled_callable)])

    def test_the_cached_context_drops_the_pickled_bytes(self):
        _runner.answer({"contextId": "c1", "context": self.context(abs), "input": _pickling.encode_call((-1,), {})})
        self.assertNotIn("fn", _runner._contexts.get("c1").fields)

    def test_the_least_recently_used_context_is_evicted_first(self):
        size = _runner.CONTEXT_CACHE_SIZE
        for n in range(size):
            _runner.answer({"contextId": f"c{n}", "context": self.context(scale_by(n)),
                            "input": _pickling.encode_call((1,), {})})
        self.assertEqual(self.result(_runner.answer({"contextId": "c0", "input": _pickling.encode_call((1,), {})})), 0)
        _runner.answer({"contextId": "new", "context": self.context(scale_by(100)),
                        "input": _pickling.encode_call((1,), {})})
        self.assertEqual(len(_runner._contexts), size)
        with self.assertRaises(_runner.ContextMissing):
            _runner.answer({"contextId": "c1", "input": _pickling.encode_call((1,), {})})  # the oldest unused
        self.assertEqual(self.result(_runner.answer({"contextId": "c0", "input": _pickling.encode_call((2,), {})})), 0)

    def test_the_callables_of_bodies_that_carry_the_whole_context_are_bounded_too(self):
        for n in range(_runner.CONTEXT_CACHE_SIZE + 3):
            answer = _runner.answer({"context": self.context(scale_by(n)), "input": _pickling.encode_call((1,), {})})
            self.assertEqual(self.result(answer), n)
        self.assertEqual(len(_runner._callables), _runner.CONTEXT_CACHE_SIZE)
        self.assertEqual(len(_runner._contexts), 0, "no id, nothing kept by id")

    def test_a_context_that_fails_to_load_is_not_kept(self):
        context = dict(self.context(abs), fnHash="0" * 64)
        answer = _runner.answer({"contextId": "bad", "context": context, "input": _pickling.encode_call((1,), {})})
        self.assertEqual((answer["ok"], answer["kind"]), (False, "unpickle"))
        self.assertIn("fnHash", answer["error"])
        with self.assertRaises(_runner.ContextMissing):
            _runner.answer({"contextId": "bad", "input": _pickling.encode_call((1,), {})})

    def test_a_cached_context_is_still_checked_against_the_runner_version(self):
        _runner.answer({"contextId": "c1", "context": self.context(abs), "input": _pickling.encode_call((-1,), {})})
        answer = _runner.answer({"contextId": "c1", "input": _pickling.encode_call((-1,), {})},
                                runner_version="0.0.1+000000000000")
        self.assertEqual((answer["ok"], answer["kind"]), (False, "version"))

    def test_a_body_without_an_id_works_as_before(self):
        answer = _runner.run(body_event({"context": self.context(scale_by(4)),
                                         "input": _pickling.encode_call((2,), {})}), None)
        self.assertEqual(self.result(answer), 8)


class RecentTest(unittest.TestCase):

    def test_keeps_the_most_recently_used_entries(self):
        recent = _runner.Recent(2)
        recent.put("a", 1)
        recent.put("b", 2)
        recent.get("a")
        recent.put("c", 3)
        self.assertEqual((recent.get("a"), recent.get("b"), recent.get("c")), (1, None, 3))
        self.assertEqual(len(recent), 2)


if __name__ == "__main__":
    unittest.main()
