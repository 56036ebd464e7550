"""gale.blobs against a real Gale server (outside a function), and where its cache lives.

The server tests start ``./gale server`` like test_state (set GALE_BIN for another launcher) and are
skipped, with the reason, when it cannot be built or started. Blobs inside a function are tested end
to end by gale-server's BlobsFromFunctionsTest.
"""

import io
import os
import pickle
import tempfile
import unittest
from unittest import mock

import gale
from gale import blobs
from gale.errors import ApiError
from gale.testing import LocalGale

SERVER = None
SKIP_REASON = None


def setUpModule():
    global SERVER, SKIP_REASON
    SERVER, SKIP_REASON = LocalGale.for_test_module(__name__)


def tearDownModule():
    if SERVER is not None:
        SERVER.stop()


class WhereBlobsLiveTest(unittest.TestCase):

    def test_inside_an_instance_the_cache_is_in_its_scratch_dir(self):
        with mock.patch.dict(os.environ, {"GALE_STATE_TOKEN": "gst1.x.y", "TMPDIR": "/scratch/instance-1"}):
            self.assertEqual(blobs._cache_dir(), "/scratch/instance-1/gale-blobs")

    def test_outside_the_cache_is_in_the_users_cache_dir(self):
        with mock.patch.dict(os.environ, {"GALE_STATE_TOKEN": ""}):
            self.assertEqual(blobs._cache_dir(), os.path.expanduser("~/.cache/gale/blobs"))

    def test_a_reference_names_a_bucket_and_a_key(self):
        self.assertEqual(blobs._split("models/churn/v.pkl@prod"), ("models", "churn/v.pkl", "prod"))
        for bad in ("churn", "/x", "models/", 7):
            with self.assertRaises(ValueError):
                blobs._split(bad)

    def test_gale_blobs_is_the_module(self):
        self.assertIs(gale.blobs, blobs)


class BlobsAgainstAServerTest(unittest.TestCase):

    def setUp(self):
        if SERVER is None:
            self.skipTest(SKIP_REASON or "no server")
        self.client = SERVER.client()
        self.bucket = "py-" + self.id().rsplit(".", 1)[-1].replace("_", "-")[5:40]
        self.cache = tempfile.mkdtemp()
        patcher = mock.patch.object(blobs, "_cache_dir", lambda: self.cache)
        patcher.start()
        self.addCleanup(patcher.stop)

    def tearDown(self):
        if SERVER is not None:
            self.client.close()

    def ref(self, key):
        return f"{self.bucket}/{key}"

    def test_put_get_versions_and_the_same_bytes_again(self):
        v1 = blobs.put(self.ref("data.csv"), "a,b\n1,2\n", content_type="text/csv", metadata={"rows": 1}, client=self.client)
        v2 = blobs.put(self.ref("data.csv"), file=io.BytesIO(b"a,b\n3,4\n"), client=self.client)
        again = blobs.put(self.ref("data.csv"), b"a,b\n3,4\n", client=self.client)
        self.assertEqual((v1.version, v2.version, again.version), (1, 2, 2))
        self.assertEqual(blobs.get(self.ref("data.csv"), client=self.client), b"a,b\n3,4\n")
        self.assertEqual(blobs.get(self.ref("data.csv"), version=1, client=self.client), b"a,b\n1,2\n")
        self.assertEqual([v.version for v in blobs.versions(self.ref("data.csv"), client=self.client)], [2, 1])
        self.assertEqual(blobs.versions(self.ref("data.csv"), client=self.client)[1].metadata, {"rows": 1})
        self.assertEqual([v.key for v in blobs.ls(self.bucket, client=self.client)], ["data.csv"])

    def test_a_file_is_streamed_up_and_read_through_the_cache_once(self):
        with tempfile.NamedTemporaryFile(delete=False) as f:
            f.write(os.urandom(3 << 20))
        self.addCleanup(os.unlink, f.name)
        blobs.put(self.ref("big.bin"), file=f.name, client=self.client)
        downloads = []
        real = blobs._Cache._download
        with mock.patch.object(blobs._Cache, "_download", staticmethod(lambda *a: downloads.append(1) or real(*a))):
            with blobs.open(self.ref("big.bin"), client=self.client) as first:
                data = first.read()
            with blobs.open(self.ref("big.bin"), client=self.client) as second:  # revalidated: 304, no download
                self.assertEqual(second.read(), data)
        self.assertEqual(len(downloads), 1)
        with open(f.name, "rb") as original:
            self.assertEqual(data, original.read())

    def test_an_alias_moves_and_a_loaded_value_swaps_only_when_the_new_one_loaded(self):
        blobs.put(self.ref("model"), pickle.dumps({"answer": "v1"}), client=self.client)
        blobs.put(self.ref("model"), pickle.dumps({"answer": "v2"}), client=self.client)
        blobs.put(self.ref("model"), b"not a pickle", client=self.client)
        blobs.alias(self.ref("model"), "prod", 1, client=self.client)
        model = blobs.load(self.ref("model@prod"), pickle.load, interval=None, client=self.client)
        self.assertEqual(model.value, {"answer": "v1"})
        self.assertFalse(model.refresh())  # not moved

        blobs.alias(self.ref("model"), "prod", 3, client=self.client)
        with self.assertRaises(pickle.UnpicklingError):
            model.refresh()
        self.assertEqual(model.value, {"answer": "v1"})  # a version that fails to load never replaces the one serving

        blobs.alias(self.ref("model"), "prod", 2, client=self.client)
        self.assertTrue(model.refresh())
        self.assertEqual((model.value, model.version.version), ({"answer": "v2"}, 2))

    def test_a_split_alias_serves_both_versions_by_sticky_id_and_counts_them(self):
        blobs.put(self.ref("m"), b"one", client=self.client)
        blobs.put(self.ref("m"), b"two", client=self.client)
        blobs.alias(self.ref("m"), "canary", split={1: 90, 2: 10}, client=self.client)
        served = [blobs.get(self.ref("m@canary"), client=self.client, sticky=f"user-{i}") for i in range(200)]
        self.assertGreater(served.count(b"one"), served.count(b"two"))
        self.assertGreater(served.count(b"two"), 0)
        self.assertEqual(served, [blobs.get(self.ref("m@canary"), client=self.client, sticky=f"user-{i}") for i in range(200)])
        calls = blobs.alias(self.ref("m"), "canary", split={1: 90, 2: 10}, client=self.client)["calls"]
        self.assertEqual((calls["1"], calls["2"]), (2 * served.count(b"one"), 2 * served.count(b"two")))

    def test_a_loaded_split_picks_per_call_as_the_server_would_and_reports_one_count_per_call(self):
        blobs.put(self.ref("m"), pickle.dumps("one"), client=self.client)
        blobs.put(self.ref("m"), pickle.dumps("two"), client=self.client)
        blobs.alias(self.ref("m"), "canary", split={1: 90, 2: 10}, client=self.client)
        model = blobs.load(self.ref("m@canary"), pickle.load, interval=None, client=self.client)
        picks = []
        for i in range(200):
            with mock.patch.object(blobs, "_invocation_id", lambda: f"call-{i}"):
                first = model.value
                self.assertEqual(model.value, first)  # every read during one call: the same version
                self.assertEqual(model.version.version, 1 if first == "one" else 2)
                picks.append(first)
        self.assertGreater(picks.count("one"), picks.count("two"))
        self.assertGreater(picks.count("two"), 0)
        server_picks = [pickle.loads(blobs.get(self.ref("m@canary"), client=self.client, sticky=f"call-{i}")) for i in range(200)]
        self.assertEqual(picks, server_picks)  # the same point from the same id, in Python and in Java
        model.close()  # sends the counts
        calls = blobs.alias(self.ref("m"), "canary", split={1: 90, 2: 10}, client=self.client)["calls"]
        self.assertEqual((calls["1"], calls["2"]), (2 * picks.count("one"), 2 * picks.count("two")))

    def test_errors_say_what_to_do(self):
        with self.assertRaises(ApiError) as caught:
            blobs.get(self.ref("nothing"), client=self.client)
        self.assertEqual(caught.exception.status, 404)
        blobs.put(self.ref("k"), b"x", client=self.client)
        with self.assertRaises(ApiError) as caught:
            blobs.alias(self.ref("k"), "prod", split={1: 60, 2: 60}, client=self.client)
        self.assertIn("not 100", str(caught.exception))


if __name__ == "__main__":
    unittest.main()
