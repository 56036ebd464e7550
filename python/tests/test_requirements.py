"""Tests of gale/_requirements.py: the command line against a fake installed
distribution, and the parsing and PEP 440 pieces directly."""

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import unittest
from pathlib import Path
from unittest import mock

PYTHON_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PYTHON_DIR))

from gale import _requirements as requirements  # noqa: E402

SCRIPT = PYTHON_DIR / "gale" / "_requirements.py"

import packaging.specifiers  # noqa: E402 - Debian's python3-packaging, in GALE_APT_PACKAGES_TEST
import packaging.version  # noqa: E402

WITHOUT_PACKAGING = {"packaging": None, "packaging.specifiers": None,
                     "packaging.version": None, "packaging.markers": None}


class CommandLineTest(unittest.TestCase):

    def setUp(self):
        tmp = tempfile.TemporaryDirectory(prefix="gale-req-test-")
        self.addCleanup(tmp.cleanup)
        self.dir = Path(tmp.name)
        # A distribution importlib.metadata will find, spelled the way old tools spell names.
        dist_info = self.dir / "site" / "Fake_Pkg-1.2.0.dist-info"
        dist_info.mkdir(parents=True)
        (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: Fake_Pkg\nVersion: 1.2.0\n")

    def run_check(self, text, as_module=False, path=None):
        if path is None:
            path = self.dir / "requirements.txt"
            path.write_text(textwrap.dedent(text))
        environment = dict(os.environ, PYTHONPATH=os.pathsep.join([str(self.dir / "site"), str(PYTHON_DIR)]))
        command = ["-m", "gale._requirements"] if as_module else [str(SCRIPT)]
        return subprocess.run([sys.executable, *command, "check", str(path)], env=environment,
                              capture_output=True, text=True, timeout=30)

    def test_report(self):
        result = self.run_check("""\
            # the model
            Fake.Pkg>=1.0,<2   # normalised name, comment
            fake-pkg == 2.*
            -r more-requirements.txt
            --index-url https://pypi.example/simple

            missing-package
            fake_pkg[extra] ; python_version < "3"
            other @ https://files.example/other-1.0-py3-none-any.whl
        """)
        self.assertEqual((result.returncode, result.stderr), (0, ""))
        self.assertEqual(json.loads(result.stdout), {"satisfied": False, "requirements": [
            {"line": 2, "text": "Fake.Pkg>=1.0,<2", "name": "fake-pkg", "specifier": ">=1.0,<2",
             "installed": "1.2.0", "satisfied": True},
            {"line": 3, "text": "fake-pkg == 2.*", "name": "fake-pkg", "specifier": "==2.*",
             "installed": "1.2.0", "satisfied": False},
            {"line": 4, "text": "-r more-requirements.txt", "name": None, "specifier": None,
             "installed": None, "satisfied": True},
            {"line": 5, "text": "--index-url https://pypi.example/simple", "name": None, "specifier": None,
             "installed": None, "satisfied": True},
            {"line": 7, "text": "missing-package", "name": "missing-package", "specifier": "",
             "installed": None, "satisfied": False},
            {"line": 8, "text": 'fake_pkg[extra] ; python_version < "3"', "name": "fake-pkg", "specifier": "",
             "installed": "1.2.0", "satisfied": True},
            {"line": 9, "text": "other @ https://files.example/other-1.0-py3-none-any.whl", "name": "other",
             "specifier": "", "installed": None, "satisfied": False},
        ]})

    def test_all_satisfied_as_a_module(self):
        result = self.run_check("fake-pkg~=1.1\n", as_module=True)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIs(json.loads(result.stdout)["satisfied"], True)

    def test_empty_file_is_satisfied(self):
        self.assertEqual(json.loads(self.run_check("\n# nothing\n").stdout),
                         {"requirements": [], "satisfied": True})

    def test_unreadable_file(self):
        result = self.run_check(None, path=self.dir / "no-such-file.txt")
        self.assertEqual((result.returncode, result.stdout), (2, ""))
        self.assertIn("no-such-file.txt", result.stderr)


class ParsingTest(unittest.TestCase):

    def test_logical_lines(self):
        text = "a  # comment\n\n# only a comment\nb \\\n  >=1.0\nhttps://x.example/#anchor\n"
        self.assertEqual(list(requirements.logical_lines(text)),
                         [(1, "a"), (4, "b   >=1.0"), (6, "https://x.example/#anchor")])

    def test_requirements(self):
        cases = {
            "Flask": ("flask", "", None, False),
            "scikit_learn >= 1.0, < 2": ("scikit-learn", ">=1.0,<2", None, False),
            "requests[socks,security]==2.31.0": ("requests", "==2.31.0", None, False),
            "pandas (>=1.0)": ("pandas", ">=1.0", None, False),
            "numpy==1.26.4 --hash=sha256:abc": ("numpy", "==1.26.4", None, False),
            'tomli>=1.1; python_version < "3.11"': ("tomli", ">=1.1", 'python_version < "3.11"', False),
            "pkg @ https://example.org/pkg.zip ; os_name == 'posix'":
                ("pkg", "", "os_name == 'posix'", True),
            "git+https://github.com/org/repo.git@v1#egg=Repo_Name": ("repo-name", "", None, True),
            "https://example.org/wheels/Zope.Interface-6.0-cp311-none-any.whl":
                ("zope-interface", "", None, True),
            "./vendor/mylib-0.3.tar.gz": ("mylib", "", None, True),
            "./some/directory": (None, "", None, True),
        }
        for text, expected in cases.items():
            requirement = requirements.parse_requirement(text)
            actual = (requirement.name, requirement.specifier, requirement.marker, requirement.is_url)
            self.assertEqual(actual, expected, text)

    def test_not_requirements(self):
        for text in ("!!!", "pkg >= ", "pkg =! 1.0"):
            with self.assertRaises(ValueError, msg=text):
                requirements.parse_requirement(text)

    def test_check_with_a_fake_installation(self):
        installed = {"flask": "2.2.2", "numpy": "1.24.2"}.get
        report = requirements.check_requirements("flask>=2\nnumpy<1.20\n-e .\n", installed)
        self.assertEqual([(entry["name"], entry["satisfied"]) for entry in report["requirements"]],
                         [("flask", True), ("numpy", False), (None, True)])
        self.assertIs(report["satisfied"], False)


class VersionTest(unittest.TestCase):

    CASES = [
        ("1.2.1", ">=1.0", True), ("1.2.1", ">=1.0,<1.2", False), ("1.0", "==1.0.0", True),
        ("1.0.0", "==1.0", True), ("1.2.1", "!=1.2.1", False), ("1.2.1", "==1.2.*", True),
        ("1.3", "==1.2.*", False), ("1.2", "!=1.2.*", False), ("1.9", "~=1.4", True), ("2.0", "~=1.4", False),
        ("1.4.5", "~=1.4.2", True), ("1.5.0", "~=1.4.2", False), ("1.4.1", "~=1.4.2", False),
        ("1.0rc1", "<1.0", False), ("1.0rc1", ">=1.0", False), ("1.0rc1", ">=1.0rc1", True),
        ("0.9", "<1.0", True), ("1.0.post1", ">1.0", False), ("1.1", ">1.0", True),
        ("1.0.post2", ">1.0.post1", True), ("1.0.post1", ">=1.0", True), ("1.0.dev1", "<1.0a1", True),
        ("1.0a2", ">1.0a1", True), ("1.0b1", ">1.0a9", True), ("1.0", ">1.0rc2", True),
        ("2.0+ubuntu1", "==2.0", True), ("2.0+ubuntu1", "==2.0+ubuntu2", False),
        ("2.0+ubuntu1", ">2.0", False), ("1!1.0", ">2.0", True), ("10.0", ">9.9", True),
        ("1.2.1", "===1.2.1", True), ("1.2.1", "===1.2.1.0", False), ("1.0-1", "==1.0.post1", True),
        ("1.0.0.0.1", ">1.0", True), ("v1.0", "==1.0", True), ("1.0", "", True),
    ]

    def test_builtin_comparison(self):
        for version, specifier, expected in self.CASES:
            self.assertIs(requirements.builtin_version_satisfies(version, specifier), expected,
                          f"{version} {specifier}")

    def test_builtin_comparison_agrees_with_packaging(self):
        for version, specifier, _ in self.CASES:
            expected = packaging.specifiers.SpecifierSet(specifier).contains(version, prereleases=True)
            self.assertIs(requirements.builtin_version_satisfies(version, specifier), expected,
                          f"{version} {specifier}")

    def test_ordering(self):
        ordered = ["1.0.dev1", "1.0a1", "1.0a2.dev1", "1.0a2", "1.0b1", "1.0rc1", "1.0",
                   "1.0+local", "1.0.post1.dev1", "1.0.post1", "1.0.1", "1.1", "2!0.1"]
        keys = [requirements.Version(version).key for version in ordered]
        self.assertEqual(keys, sorted(keys))
        self.assertEqual(len(set(keys)), len(keys))

    def test_invalid_versions_and_specifiers_are_not_satisfied(self):
        self.assertIs(requirements.builtin_version_satisfies("not-a-version", ">=1"), False)
        self.assertIs(requirements.builtin_version_satisfies("1.0", "~=1"), False)
        self.assertIs(requirements.builtin_version_satisfies("1.0", "=>1"), False)

    def test_fallback_without_packaging(self):
        with mock.patch.dict(sys.modules, WITHOUT_PACKAGING):
            self.assertIs(requirements.version_satisfies("1.5", ">=1.0,<2"), True)
            self.assertIs(requirements.version_satisfies("2.5", ">=1.0,<2"), False)
            self.assertIs(requirements.marker_applies('python_version < "3"'), False)


class MarkerTest(unittest.TestCase):

    def test_builtin_markers(self):
        platform = sys.platform
        cases = {
            'python_version >= "3"': True,
            "python_version < '3.0'": False,
            f'sys_platform == "{platform}"': True,
            'sys_platform != "{}"'.format(platform): False,
            f'"3" < python_version and sys_platform == "{platform}"': True,
            'python_version < "3" or os_name == "{}"'.format(os.name): True,
            'python_version < "3" and os_name == "{}"'.format(os.name): False,
            '"linux" in sys_platform or "darwin" in sys_platform or "win" in sys_platform': True,
            'platform_release >= "5"': True,  # unknown variable: applies
            '(python_version < "3")': True,  # parentheses are beyond the subset: applies
        }
        for marker, expected in cases.items():
            self.assertIs(requirements.builtin_marker_applies(marker), expected, marker)

    def test_markers(self):
        self.assertIs(requirements.marker_applies(None), True)
        self.assertIs(requirements.marker_applies('python_version >= "3"'), True)
        self.assertIs(requirements.marker_applies("python_version < '3'"), False)


if __name__ == "__main__":
    unittest.main()
