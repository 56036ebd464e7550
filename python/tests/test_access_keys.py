"""gale.Client with access keys instead of the admin token, against a real server (docs/access.md)."""

import os
import unittest
from unittest import mock

from gale.client import Client
from gale.errors import ApiError
from gale.testing import LocalGale

SERVER = None
SKIP_REASON = None

HELLO = """
def hello(request):
    return {"hello": request.args.get("name", "world"), "authorization": request.headers.get("Authorization")}
"""


def setUpModule():
    global SERVER, SKIP_REASON
    SERVER, SKIP_REASON = LocalGale.for_test_module(__name__)


def tearDownModule():
    if SERVER is not None:
        SERVER.stop()


class AccessKeysClientTest(unittest.TestCase):

    def setUp(self):
        if SERVER is None:
            self.skipTest(SKIP_REASON)
        self.admin = SERVER.client()
        self.addCleanup(self.admin.close)

    def client_with(self, key):
        """A client configured the way a notebook is: GALE_URL and GALE_TOKEN, the key as the token."""
        with mock.patch.dict(os.environ, {"GALE_URL": SERVER.url, "GALE_TOKEN": key}):
            client = Client()
        self.addCleanup(client.close)
        return client

    def test_a_key_works_wherever_the_token_does_within_its_scopes(self):
        deploy = self.admin.create_key("py-deploy", ["deploy"], expires="1d")
        self.assertTrue(deploy["secret"].startswith("gk_"))
        self.assertEqual(deploy["scopes"], ["deploy"])
        ci = self.client_with(deploy["secret"])
        version = ci.deploy("py-hello", {"main.py": HELLO}, config={"entryPoint": "hello"})
        self.assertEqual(version["state"], "ACTIVE")

        with self.assertRaises(ApiError) as refused:
            ci.call("py-hello", method="GET")
        self.assertEqual(refused.exception.status, 403)
        self.assertIn("needs scope invoke:py-hello", str(refused.exception))

        caller = self.client_with(self.admin.create_key("py-caller", ["invoke:py-hello"])["secret"])
        answer = caller.call("py-hello", method="GET", query={"name": "gale"}).json()
        self.assertEqual(answer, {"hello": "gale", "authorization": None})  # the function never sees the key

        entries = self.admin.audit(function="py-hello")
        self.assertEqual([(e["action"], e["actor"], e["outcome"]) for e in entries],
                         [("function.deploy", "py-deploy", "ok")])

    def test_a_revoked_key_is_refused_at_once(self):
        key = self.admin.create_key("py-revoked", ["logs"])["secret"]
        reader = self.client_with(key)
        self.assertEqual(reader.request("GET", "/v1/audit", check=False).status, 403)
        self.admin.revoke_key("py-revoked")
        with self.assertRaises(ApiError) as refused:
            reader.request("GET", "/v1/functions/any/logs")
        self.assertEqual(refused.exception.status, 401)
        self.assertIn("was revoked at", str(refused.exception))
        self.assertEqual([k["name"] for k in self.admin.keys(all=True) if k["state"] == "revoked"], ["py-revoked"])

    def test_a_bad_scope_is_a_400_naming_it(self):
        with self.assertRaises(ApiError) as refused:
            self.admin.create_key("py-bad", ["read"])
        self.assertEqual(refused.exception.status, 400)
        self.assertIn("'read' is not a scope", str(refused.exception))


if __name__ == "__main__":
    unittest.main()
