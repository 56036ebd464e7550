"""The active-learning example end to end, on a real `gale server` (examples/active-learning).

    /usr/bin/python3 -m unittest discover -s examples -p 'test_active_learning.py'

Deploys the serving function and its retrain function (with the trigger its gale.toml declares),
then sends labelled responses while another thread calls the serving function without pause: the
retrain function fits a new model every 10 responses and moves @prod, and the serving function
answers with each new model in turn, without a redeploy and without one failed call.
"""
import json
import os
import random
import sys
import threading
import time
import unittest
import urllib.error
import urllib.request
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent
sys.path.insert(0, str(EXAMPLES.parent / "python"))  # the gale package of this checkout

from gale.errors import GaleError  # noqa: E402
from gale.testing import LocalGale  # noqa: E402

EXAMPLE = EXAMPLES / "active-learning"
RESPONSES = 60
RETRAIN_EVERY = 10  # as the example's retrain function


def post(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")


def respondent(rng):
    minutes, clicks = round(rng.uniform(0.5, 12), 1), rng.randint(0, 10)
    interested = int(minutes + 0.5 * clicks + rng.gauss(0, 1) > 7)
    return {"minutes": minutes, "clicks": clicks}, interested


class ActiveLearningTest(unittest.TestCase):

    def setUp(self):
        self.server = LocalGale()
        try:
            self.server.start()
        except GaleError as exc:
            if os.environ.get("CI"):
                raise
            self.skipTest(f"the Gale server could not be built or started: {exc}")
        self.addCleanup(self.server.stop)
        self.client = self.server.client()
        self.addCleanup(self.client.close)

    def await_served(self, answers, model):
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if answers and isinstance(answers[-1][1], dict) and answers[-1][1].get("model", 0) >= model:
                return
            time.sleep(0.05)
        self.fail(f"model {model} was not served within 120 s; last answer: {answers[-1] if answers else None}")

    def test_the_served_model_changes_with_the_responses_without_a_redeploy_or_a_failed_call(self):
        self.client.deploy("active-learning", str(EXAMPLE))
        self.client.deploy("active-learning-retrain", str(EXAMPLE / "retrain"))
        url = self.server.url + "/fn/active-learning"

        first = post(url, {"features": {"minutes": 7.5, "clicks": 4}})
        self.assertEqual(first[0], 200, first)
        self.assertEqual(first[1]["model"], 1, "the retrain function published the seed model at its deploy")

        answers, stop = [], threading.Event()

        def keep_calling():
            rng = random.Random(1)
            while not stop.is_set():
                answers.append(post(url, {"features": respondent(rng)[0]}))

        caller = threading.Thread(target=keep_calling)
        caller.start()
        try:
            rng = random.Random(2)
            for sent in range(1, RESPONSES + 1):
                features, label = respondent(rng)
                status, body = post(url, {"features": features, "label": label})
                self.assertEqual(status, 200, body)
                if sent % RETRAIN_EVERY == 0:
                    # wait until the caller is served this retrain's model before sending more, so
                    # that every model is served for a while, however fast or slow the retrains are
                    self.await_served(answers, 1 + sent // RETRAIN_EVERY)
        finally:
            stop.set()
            caller.join(60)

        failed = [a for a in answers if a[0] != 200]
        self.assertEqual(failed, [], "no call failed while the model changed")
        versions = [body["model"] for _, body in answers]
        self.assertEqual(versions, sorted(versions), "each call got the newest model or the one before, never back")
        self.assertEqual(sorted(set(versions)), list(range(1, 2 + RESPONSES // RETRAIN_EVERY)),
                         "one new model per 10 responses, each one served")
        self.assertEqual(self.client.function("active-learning")["activeVersion"], 1, "no redeploy")
        trigger = self.client.triggers("active-learning-retrain")[0]
        self.assertEqual((trigger["delivered"], trigger["pending"], trigger["dead"]), (RESPONSES, 0, 0), trigger)


if __name__ == "__main__":
    unittest.main()
