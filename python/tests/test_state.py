"""gale.state: outside a function against a real Gale server, and how it finds its server and namespace.

The server tests start ``./gale server`` like test_executor_e2e (set GALE_BIN for another launcher)
and are skipped, with the reason, when it cannot be built or started. State inside a function (the
scoped GALE_STATE_TOKEN) is tested end to end by gale-server's StateFromFunctionsTest.
"""

import concurrent.futures
import os
import time
import unittest
from unittest import mock

import gale
from gale import state
from gale.errors import ApiError, ConflictError, GaleError
from gale.testing import LocalGale

SERVER = None
SKIP_REASON = None


def setUpModule():
    global SERVER, SKIP_REASON
    SERVER, SKIP_REASON = LocalGale.for_test_module(__name__)


def tearDownModule():
    if SERVER is not None:
        SERVER.stop()


class WhereStateLivesTest(unittest.TestCase):

    def test_outside_a_function_a_namespace_must_be_named(self):
        with mock.patch.dict(os.environ, {"GALE_STATE_TOKEN": "", "GALE_FUNCTION": ""}):
            with self.assertRaises(GaleError) as caught:
                state.get("k")
        self.assertIn("pass namespace=NAME", str(caught.exception))

    def test_inside_a_function_the_namespace_is_the_functions_name(self):
        with mock.patch.dict(os.environ, {"GALE_STATE_TOKEN": "gst1.x.y", "GALE_FUNCTION": "scorer"}):
            self.assertEqual(state.Namespace().name, "scorer")

    def test_a_token_without_a_url_says_what_to_do(self):
        with mock.patch.dict(os.environ, {"GALE_STATE_TOKEN": "gst1.x.y", "GALE_FUNCTION": "scorer", "GALE_STATE_URL": ""}):
            with mock.patch.object(state, "_client", None):
                with self.assertRaises(GaleError) as caught:
                    state.get("k")
        self.assertIn("GALE_STATE_URL is not", str(caught.exception))

    def test_values_that_are_not_json_are_refused_before_sending(self):
        ns = state.namespace("ns", client=object())  # never reached
        with self.assertRaises(TypeError):
            ns.put("k", {1, 2})
        with self.assertRaises(TypeError):
            ns.increment("k", by=1.5)
        with self.assertRaises(ValueError):
            ns.get("")

    def test_gale_state_is_the_module(self):
        self.assertIs(gale.state, state)


class StateAgainstAServerTest(unittest.TestCase):

    def setUp(self):
        if SERVER is None:
            self.skipTest(SKIP_REASON or "no server")
        self.client = SERVER.client()
        self.ns = state.namespace("py-" + self.id().rsplit(".", 1)[-1].replace("_", "-")[5:40], client=self.client)

    def tearDown(self):
        if SERVER is not None:
            self.client.close()

    def test_put_get_delete(self):
        version = self.ns.put("greeting", {"text": "hello", "n": [1, 2]})
        self.assertEqual(self.ns.get("greeting"), {"text": "hello", "n": [1, 2]})
        self.assertEqual(self.ns.entry("greeting").version, version)
        self.assertIsNone(self.ns.get("missing"))
        self.assertEqual(self.ns.get("missing", 7), 7)
        self.assertTrue(self.ns.delete("greeting"))
        self.assertFalse(self.ns.delete("greeting"))
        self.assertIsNone(self.ns.entry("greeting"))

    def test_compare_and_set(self):
        self.assertIsNotNone(self.ns.cas("doc", 1, 0))  # 0: only if absent
        self.assertIsNone(self.ns.cas("doc", 2, 0))
        current = self.ns.entry("doc")
        new_version = self.ns.cas("doc", 2, current.version)
        self.assertGreater(new_version, current.version)
        self.assertIsNone(self.ns.cas("doc", 3, current.version))
        self.assertEqual(self.ns.get("doc"), 2)
        with self.assertRaises(ConflictError) as caught:
            self.ns.delete("doc", version=current.version)
        self.assertEqual(caught.exception.current_version, new_version)

    def test_increment_from_many_threads_loses_nothing(self):
        def add(_):
            for _ in range(20):
                self.ns.increment("hits")
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            list(pool.map(add, range(16)))
        self.assertEqual(self.ns.get("hits"), 320)
        self.assertEqual(self.ns.increment("hits", by=-20), 300)

    def test_increment_of_text_says_what_to_do(self):
        self.ns.put("name", "ada")
        with self.assertRaises(ApiError) as caught:
            self.ns.increment("name")
        self.assertEqual(caught.exception.status, 400)
        self.assertIn("not a whole number", str(caught.exception))

    def test_list_keys_and_entries_by_prefix_across_pages(self):
        with mock.patch.object(state, "_PAGE", 2):
            for i in range(5):
                self.ns.put(f"user/{i}", i)
            self.ns.put("other", True)
            self.assertEqual(self.ns.list("user/"), {f"user/{i}": i for i in range(5)})
            self.assertEqual(self.ns.keys(), sorted(["other", *(f"user/{i}" for i in range(5))]))

    def test_ttl(self):
        self.ns.put("session", "x", ttl=0.3)
        self.assertIsNotNone(self.ns.entry("session").expires_at)
        deadline = time.monotonic() + 10
        while self.ns.get("session") is not None and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertIsNone(self.ns.get("session"))

    def test_transaction_all_or_nothing(self):
        results = self.ns.transaction([{"op": "put", "key": "a", "value": 1},
                                       {"op": "increment", "key": "b", "by": 2}],
                                      checks=[{"key": "a", "version": 0}])
        self.assertEqual(results[1]["value"], 2)
        with self.assertRaises(ConflictError) as caught:
            self.ns.transaction([{"op": "delete", "key": "a"}], checks=[{"key": "b", "version": 0}])
        self.assertEqual(caught.exception.failed_check, 0)
        self.assertEqual(caught.exception.status, 409)
        self.assertEqual(self.ns.get("a"), 1)

    def test_module_functions_take_a_namespace(self):
        with mock.patch.object(state, "_default_client", lambda: self.client):
            state.put("k", "v", namespace=self.ns.name)
            self.assertEqual(state.get("k", namespace=self.ns.name), "v")


class SamplerAgainstAServerTest(unittest.TestCase):

    def setUp(self):
        if SERVER is None:
            self.skipTest(SKIP_REASON or "no server")
        self.client = SERVER.client()
        self.pool = state.sampler("py-sampler-" + self.id().rsplit(".", 1)[-1][5:30].replace("_", "-"), client=self.client)

    def tearDown(self):
        if SERVER is not None:
            self.client.close()

    def test_draw_confirm_release_stats(self):
        self.pool.create(["a", "b", {"id": "c", "text": "see"}], target=1, lease="1m")
        first = self.pool.draw("R_1", k=2)
        self.assertEqual(len(first), 2)
        self.assertEqual(len(self.pool.draw("R_2", k=3)), 1)  # two items are leased to R_1, at their target
        self.assertEqual(self.pool.confirm("R_1", first[:1]), [first[0]["id"] if isinstance(first[0], dict) else first[0]])
        self.assertEqual(len(self.pool.release("R_1")), 1)
        self.assertEqual(len(self.pool.draw("R_3", k=3)), 1)  # the released one
        stats = self.pool.stats()
        self.assertEqual((stats["confirmed"], stats["leased"], stats["respondents"]), (1, 2, 3))
        with self.assertRaises(ConflictError):
            self.pool.create(["a"], target=1)
        self.assertTrue(self.pool.delete())
        self.assertFalse(self.pool.delete())

    def test_a_respondent_never_sees_an_item_twice(self):
        self.pool.create([f"item-{i}" for i in range(10)], target=10)
        seen = []
        while True:
            items = self.pool.draw("R_1", k=3)
            if not items:
                break
            seen += items
            self.pool.confirm("R_1")
        self.assertEqual(sorted(seen), sorted(f"item-{i}" for i in range(10)))


if __name__ == "__main__":
    unittest.main()
