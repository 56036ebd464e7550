"""gale.Client against gale.testing.FakeGale: finding the server, deploys, errors, job streams."""

import io
import json
import os
import shutil
import tempfile
import unittest
import zipfile
from unittest import mock

from gale.client import Client, DeployError, make_bundle, resolve_server
from gale.client import _lines as client_lines
from gale.errors import ApiError, GaleUnreachableError
from gale.testing import FakeGale, free_port


class ResolveServerTest(unittest.TestCase):

    def setUp(self):
        self.home = tempfile.mkdtemp(prefix="gale-home-")

    def write_home(self, url="http://127.0.0.1:9999", token="home-token"):
        with open(os.path.join(self.home, "server.json"), "w") as file:
            json.dump({"url": url, "pid": 1}, file)
        with open(os.path.join(self.home, "admin-token"), "w") as file:
            file.write(token + "\n")

    def test_arguments_win_over_environment_and_data_dir(self):
        self.write_home()
        env = {"GALE_URL": "http://env:1", "GALE_TOKEN": "env-token", "GALE_HOME": self.home}
        self.assertEqual(resolve_server("http://arg:2/", "arg-token", env), ("http://arg:2", "arg-token", "the url argument"))

    def test_environment_wins_over_data_dir(self):
        self.write_home()
        env = {"GALE_URL": "http://env:1", "GALE_TOKEN": "env-token", "GALE_HOME": self.home}
        self.assertEqual(resolve_server(None, None, env), ("http://env:1", "env-token", "GALE_URL"))

    def test_data_dir_supplies_url_and_token(self):
        self.write_home()
        url, token, source = resolve_server(None, None, {"GALE_HOME": self.home})
        self.assertEqual((url, token), ("http://127.0.0.1:9999", "home-token"))
        self.assertIn("server.json", source)

    def test_a_url_argument_still_takes_the_token_from_the_data_dir(self):
        self.write_home(token="local")
        self.assertEqual(resolve_server("http://x:1", None, {"GALE_HOME": self.home})[1], "local")

    def test_default_data_dir_is_dot_gale_in_the_working_directory(self):
        previous = os.getcwd()
        os.chdir(self.home)
        try:
            os.mkdir(".gale")
            with open(".gale/server.json", "w") as file:
                json.dump({"url": "http://127.0.0.1:1234"}, file)
            self.assertEqual(resolve_server(None, None, {})[0], "http://127.0.0.1:1234")
        finally:
            os.chdir(previous)

    def test_no_server_anywhere_says_how_to_configure_one(self):
        with self.assertRaises(GaleUnreachableError) as caught:
            resolve_server(None, None, {"GALE_HOME": self.home})
        self.assertIn("GALE_URL", str(caught.exception))
        self.assertIn("gale server", str(caught.exception))

    def test_a_broken_server_json_names_the_file(self):
        with open(os.path.join(self.home, "server.json"), "w") as file:
            file.write("{not json")
        with self.assertRaises(GaleUnreachableError) as caught:
            resolve_server(None, None, {"GALE_HOME": self.home})
        self.assertIn("server.json", str(caught.exception))


class ClientAgainstFakeTest(unittest.TestCase):

    def setUp(self):
        self.fake = FakeGale().start()
        self.addCleanup(self.fake.stop)
        self.client = Client(self.fake.url, self.fake.token)
        self.addCleanup(self.client.close)

    def test_a_wrong_token_is_an_api_error_with_the_servers_message(self):
        client = Client(self.fake.url, "wrong")
        self.addCleanup(client.close)
        with self.assertRaises(ApiError) as caught:
            client.functions()
        self.assertEqual(caught.exception.status, 401)
        self.assertIn("admin token", str(caught.exception))
        self.assertIn("GET /v1/functions", str(caught.exception))

    def test_a_missing_function_is_a_404_api_error(self):
        with self.assertRaises(ApiError) as caught:
            self.client.function("nope")
        self.assertEqual(caught.exception.status, 404)

    def test_nobody_listening_is_unreachable_naming_url_and_source(self):
        client = Client(f"http://127.0.0.1:{free_port()}", "t")
        with self.assertRaises(GaleUnreachableError) as caught:
            client.functions()
        self.assertIn("the url argument", str(caught.exception))
        self.assertIn("gale server", str(caught.exception))

    def test_deploy_sends_config_and_zip_as_multipart_and_waits_for_active(self):
        version = self.client.deploy("gale-runner", {"main.py": "from gale._runner import run\n"},
                                     {"entryPoint": "run", "maxInstances": 3})
        self.assertEqual(version["state"], "ACTIVE")
        name, config, files = self.fake.deploys[-1]
        self.assertEqual((name, config), ("gale-runner", {"entryPoint": "run", "maxInstances": 3}))
        self.assertEqual(files, {"main.py": b"from gale._runner import run\n"})

    def test_a_failed_deploy_raises_with_the_reason(self):
        answers = iter([{"function": "f", "version": 2, "state": "FAILED", "reason": "import error: no numpy"}])
        with mock.patch.object(self.client, "version", lambda name, number: next(answers)):
            with self.assertRaises(DeployError) as caught:
                self.client.wait_for_version("f", {"function": "f", "version": 2, "state": "DEPLOYING"})
        self.assertIn("import error: no numpy", str(caught.exception))

    def test_call_sends_json_and_returns_the_response(self):
        self.fake.add_function("echo", lambda body: {"got": body})
        response = self.client.call("echo", {"x": 1})
        self.assertEqual(response.status, 200)
        self.assertEqual(response.json(), {"got": {"x": 1}})

    def test_results_stream_in_input_order_and_include_failures(self):
        def handler(body):
            if body == 2:
                raise ValueError("two")
            return body * 10
        self.fake.add_function("times-ten", handler)
        job = self.client.submit_job("times-ten", [0, 1, 2, 3], parallelism=4)
        lines = list(self.client.results(job["id"]))
        self.assertEqual([line["index"] for line in lines], [0, 1, 2, 3])
        self.assertEqual([line.get("result") for line in lines], [0, 10, None, 30])
        self.assertFalse(lines[2]["ok"])
        self.assertIn("ValueError: two", lines[2]["error"])
        self.assertEqual(self.client.job(job["id"])["state"], "FAILED")

    def test_results_of_a_megabyte_each_arrive_whole(self):
        self.fake.add_function("big", lambda body: str(body) * 1_500_000)
        job = self.client.submit_job("big", [1, 2, 3])
        self.assertEqual([line["result"] for line in self.client.results(job["id"])],
                         ["1" * 1_500_000, "2" * 1_500_000, "3" * 1_500_000])

    def test_submit_job_sends_only_the_options_that_are_set(self):
        self.fake.add_function("f", lambda body: body)
        job = self.client.submit_job("f", [1], chunk_size=5, task_timeout=1.5, retry_backoff="1s")
        spec = self.fake.jobs[job["id"]].spec
        self.assertEqual(spec, {"function": "f", "inputs": [1], "chunkSize": 5, "taskTimeout": "1500ms",
                                "retryBackoff": "1s"})

    def test_keeps_one_connection_alive_per_thread(self):
        self.fake.add_function("f", lambda body: body)
        self.client.functions()
        first = self.client._local.connection
        self.client.functions()
        self.assertIs(self.client._local.connection, first)


class StreamLinesTest(unittest.TestCase):

    class Pieces:
        """A response whose read1 returns the given pieces, as a socket might."""

        def __init__(self, *pieces):
            self.pieces = list(pieces)

        def read1(self, size):
            return self.pieces.pop(0) if self.pieces else b""

    def test_lines_split_across_pieces_and_several_in_one_piece_come_out_whole(self):
        answer = self.Pieces(b'{"a"', b': 1}\n{"b": 2}\n{"c"', b"", b"")
        self.assertEqual(list(client_lines(answer)), [b'{"a": 1}', b'{"b": 2}', b'{"c"'])

    def test_a_piece_that_ends_with_a_newline_leaves_nothing_behind(self):
        self.assertEqual(list(client_lines(self.Pieces(b"1\n", b"2\n"))), [b"1", b"2"])


class MakeBundleTest(unittest.TestCase):

    def test_a_folder_zips_without_caches_and_the_same_files_give_the_same_bytes(self):
        folder = tempfile.mkdtemp()
        for path in ("main.py", "lib/util.py", "__pycache__/main.cpython-311.pyc", ".git/HEAD", "lib/x.pyc"):
            os.makedirs(os.path.dirname(os.path.join(folder, path)), exist_ok=True)
            with open(os.path.join(folder, path), "w") as file:
                file.write(path)
        data = make_bundle(folder)
        self.assertEqual(sorted(zipfile.ZipFile(io.BytesIO(data)).namelist()), ["lib/util.py", "main.py"])
        self.assertEqual(make_bundle(folder), data)

    def write_folder(self, files):
        folder = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, folder)
        for path, content in files.items():
            os.makedirs(os.path.dirname(os.path.join(folder, path)), exist_ok=True)
            with open(os.path.join(folder, path), "w") as file:
                file.write(content)
        return folder

    def names(self, folder):
        return sorted(zipfile.ZipFile(io.BytesIO(make_bundle(folder))).namelist())

    def test_a_cloud_functions_folders_gcloudignore_is_honoured_as_gcloud_reads_it(self):
        folder = self.write_folder({
            "main.py": "x = 1", "model/churn.pkl": "m", "notebooks/explore.ipynb": "{}", "data/raw.csv": "1",
            "data/keep.csv": "2", "tests/test_main.py": "t", "app/tests/helper.py": "h", "secrets.env": "K=V",
            "deep/a/b/cache.tmp": "c", ".gitignore": "*.env\n",
            ".gcloudignore": "# as gcloud functions deploy would upload the folder\n#!include:.gitignore\n"
                             "notebooks/\ndata/*\n!data/keep.csv\n/tests\n**/*.tmp\n",
        })
        self.assertEqual(self.names(folder), [".gitignore", "app/tests/helper.py", "data/keep.csv", "main.py",
                                              "model/churn.pkl"])

    def test_a_galeignore_wins_over_a_gcloudignore(self):
        folder = self.write_folder({"main.py": "x = 1", "big.bin": "b", "small.txt": "s",
                                    ".gcloudignore": "small.txt\n", ".galeignore": "*.bin\n"})
        self.assertEqual(self.names(folder), [".gcloudignore", "main.py", "small.txt"])

    def test_a_dict_becomes_a_zip_of_those_files(self):
        data = make_bundle({"main.py": "x = 1\n", "data.bin": b"\x00\x01"})
        archive = zipfile.ZipFile(io.BytesIO(data))
        self.assertEqual(archive.read("main.py"), b"x = 1\n")
        self.assertEqual(archive.read("data.bin"), b"\x00\x01")


if __name__ == "__main__":
    unittest.main()
