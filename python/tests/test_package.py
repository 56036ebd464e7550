"""`pip install ./python` gives an interpreter `import gale` without PYTHONPATH, offline."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

PYTHON_DIR = Path(__file__).resolve().parent.parent


class PackageTest(unittest.TestCase):

    def test_pip_installs_the_client_offline_and_it_imports_from_there(self):
        with tempfile.TemporaryDirectory(prefix="gale-package-") as tmp:
            source = Path(tmp, "source")  # a copy: an in-tree build would leave build/ and egg-info in python/
            shutil.copytree(PYTHON_DIR / "gale", source / "gale", ignore=shutil.ignore_patterns("__pycache__"))
            for name in ("pyproject.toml", "README.md"):
                shutil.copy(PYTHON_DIR / name, source / name)
            target = Path(tmp, "site")
            installed = subprocess.run(
                [sys.executable, "-m", "pip", "install", "--quiet", "--no-build-isolation", "--no-index", "--no-deps",
                 "--disable-pip-version-check", "--target", str(target), str(source)],
                capture_output=True, text=True, timeout=300)
            self.assertEqual(installed.returncode, 0, installed.stdout + installed.stderr)

            env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "GALE_URL", "GALE_TOKEN")}
            env["PYTHONPATH"] = str(target)
            imported = subprocess.run(
                [sys.executable, "-c", "import gale, gale.pywren, gale.executor; print(gale.__version__); print(gale.__file__)"],
                capture_output=True, text=True, cwd=tmp, env=env, timeout=60)

            self.assertEqual(imported.returncode, 0, imported.stderr)
            version, location = imported.stdout.split()
            self.assertEqual(version, _source_version())
            self.assertTrue(location.startswith(str(target)), location)
            metadata = next(target.glob("gale-*.dist-info")) / "METADATA"
            self.assertIn("Requires-Dist: cloudpickle", metadata.read_text())


def _source_version():
    for line in (PYTHON_DIR / "gale" / "__init__.py").read_text().splitlines():
        if line.startswith("__version__"):
            return line.split("=")[1].strip().strip("\"'")
    raise AssertionError("gale/__init__.py has no __version__")


if __name__ == "__main__":
    unittest.main()
