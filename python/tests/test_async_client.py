"""gale.Client's async calls and dead letters against a real server (docs/async.md)."""

import unittest

from gale.testing import LocalGale

SERVER = None
SKIP_REASON = None

FLAKY = """
import json, os

def handler(request):
    body = request.get_json(silent=True) or {}
    if body.get("fail") and not os.path.exists("/tmp/fixed"):
        raise ValueError("asked to fail: " + json.dumps(body))
    return {"doubled": body.get("x", 0) * 2, "attempt": request.headers.get("X-Gale-Attempt")}
"""


def setUpModule():
    global SERVER, SKIP_REASON
    SERVER, SKIP_REASON = LocalGale.for_test_module(__name__)


def tearDownModule():
    if SERVER is not None:
        SERVER.stop()


class AsyncClientTest(unittest.TestCase):

    def setUp(self):
        if SERVER is None:
            self.skipTest(SKIP_REASON)
        self.client = SERVER.client()
        self.addCleanup(self.client.close)

    def test_a_background_call_is_followed_to_its_result_and_a_failing_one_to_a_dead_letter(self):
        self.client.deploy("flaky", {"main.py": FLAKY},
                           config={"entryPoint": "handler", "asyncMaxAttempts": 2, "asyncBackoff": "50ms"})

        ok = self.client.call_async("flaky", {"x": 21})
        done = self.client.wait_invocation(ok, timeout=60)
        self.assertEqual(done["status"], "SUCCEEDED", done)
        self.assertIn('"doubled": 42', done["result"]["body"].replace('":42', '": 42'))

        failing = self.client.call_async("flaky", {"fail": True})
        dead = self.client.wait_invocation(failing, timeout=60)
        self.assertEqual(dead["status"], "DEAD", dead)
        self.assertEqual(dead["attempts"], 2)
        letters = self.client.dead_letters("flaky")
        self.assertEqual([letter["invocationId"] for letter in letters], [failing])
        self.assertIn("asked to fail", letters[0]["error"])

        self.assertEqual(self.client.purge_dead_letters("flaky")["purged"], 1)
        self.assertEqual(self.client.dead_letters("flaky"), [])


if __name__ == "__main__":
    unittest.main()
