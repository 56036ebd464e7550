"""Every third-party module python/, examples/ and bench/ import comes from a Debian package the scripts install.

./gale and ./run-tests install the Debian packages listed in scripts/env.sh and nothing else (PyPI is not
reachable on the machines Gale targets), so each module they import must be in a listed package or in one
of its dependencies. This is derived from the lists and from Debian's own metadata, not from what happens
to be importable here: dpkg says which package owns the file the interpreter would load for the module,
and that package must be in the Depends/Pre-Depends closure of the listed packages (not Recommends: the
scripts install with --no-install-recommends). A module the interpreter cannot find at all fails too.

Which lists cover a file depends on who runs it:
- bench/**: GALE_APT_PACKAGES + GALE_APT_PACKAGES_BENCH (the bench scripts install them)
- python/tests/**, examples/test_*.py: GALE_APT_PACKAGES + GALE_APT_PACKAGES_TEST (./run-tests)
- the rest (the gale package, the examples): GALE_APT_PACKAGES (./gale server and ./gale demo)

Not checked: the standard library; the project's own modules (the gale package; for a file inside a
bundle, a module at the bundle's root; for any other file, a module defined anywhere in python/, examples/
or bench/, which these scripts put on sys.path themselves); modules a test writes itself (WRITTEN_BY_TESTS);
and imports with a fallback, i.e. in a ``try`` whose ``except ImportError`` goes on without the module.
A handler that raises or skips a test is no fallback: that import counts.
Besides Python files, bench's shell scripts count for ``python -m MODULE`` and ``python -c 'import ...'``.
"""

import ast
import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import unittest
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

REPO = Path(__file__).resolve().parents[2]
ROOTS = ("python", "examples", "bench")
ENV_SH = "scripts/env.sh"
LIST_NAMES = ("GALE_APT_PACKAGES", "GALE_APT_PACKAGES_TEST", "GALE_APT_PACKAGES_BENCH")
# The lists that cover a file, by who runs it; the last one is where a missing package belongs.
LISTS_BY_SCOPE = {
    "runtime": ("GALE_APT_PACKAGES",),
    "test": ("GALE_APT_PACKAGES", "GALE_APT_PACKAGES_TEST"),
    "bench": ("GALE_APT_PACKAGES", "GALE_APT_PACKAGES_BENCH"),
}
# Modules a test creates in a temporary folder before importing them: (file, module) -> why.
WRITTEN_BY_TESTS = {
    ("python/tests/test_executor.py", "gale_local_helpers"): "written to a temp folder to test by-value pickling",
}
IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}


@dataclass(frozen=True)
class Import:
    file: str     # relative to the repository, with /
    line: int
    module: str   # the top-level name
    optional: bool  # inside a try whose except ImportError falls back


# ---------------------------------------------------------------- what the code imports

def python_imports(source, file):
    """Every absolute import in a Python source, module level or nested, with whether it has a fallback."""
    found = []

    def visit(node, optional):
        if isinstance(node, ast.Import):
            found.extend(Import(file, node.lineno, alias.name.split(".")[0], optional) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append(Import(file, node.lineno, node.module.split(".")[0], optional))
        if isinstance(node, ast.Try):
            guarded = optional or any(catches_import_error(h) and falls_back(h) for h in node.handlers)
            for child in node.body:
                visit(child, guarded)
            for child in [*node.handlers, *node.orelse, *node.finalbody]:
                visit(child, optional)
            return
        for child in ast.iter_child_nodes(node):
            visit(child, optional)

    visit(ast.parse(source, file), False)
    return found


def catches_import_error(handler):
    if handler.type is None:
        return True
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(t, ast.Name) and t.id in IMPORT_ERRORS for t in types)


def falls_back(handler):
    """False when the handler re-raises or skips the test: then the code needs the module after all."""
    if any(isinstance(statement, ast.Raise) for statement in handler.body):
        return False
    for node in ast.walk(handler):
        called = node.func if isinstance(node, ast.Call) else None
        name = getattr(called, "attr", None) or getattr(called, "id", None)
        if name in ("skipTest", "SkipTest"):
            return False
    return True


SHELL_PYTHON = r"""(?:python3?|\$\{?PY(?:THON)?\}?)"?"""
SHELL_MODULE = re.compile(SHELL_PYTHON + r"""\s+(?:-[A-Za-z]+\s+)*-m\s+([A-Za-z_][\w.]*)""")
SHELL_CODE = re.compile(SHELL_PYTHON + r"""\s+-c\s+'([^']*)'""")


def shell_imports(text, file):
    """Modules a shell script runs with ``python -m`` or imports in ``python -c '...'``."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        found.extend(Import(file, number, m.group(1).split(".")[0], False) for m in SHELL_MODULE.finditer(line))
        for code in SHELL_CODE.finditer(line):
            try:
                found.extend(Import(file, number, i.module, i.optional) for i in python_imports(code.group(1), file))
            except SyntaxError:
                pass  # not Python after all
    return found


def scope_of(file):
    path = PurePosixPath(file)
    if path.parts[0] == "bench":
        return "bench"
    if path.parts[:2] == ("python", "tests") or (path.parts[0] == "examples" and path.name.startswith("test_")):
        return "test"
    return "runtime"


def module_names(folder):
    """Top-level module names defined directly in a folder: x.py, x.so, packages."""
    names = set()
    for child in folder.iterdir():
        if (child / "__init__.py").is_file():
            names.add(child.name)
        elif child.suffix in (".py", ".so"):
            names.add(child.name.split(".")[0])
    return names


def bundle_of(path, root):
    """The nearest folder with a gale.toml above a file, within root; None outside any bundle."""
    for folder in path.parents:
        if folder == root or root not in folder.parents:
            return None
        if (folder / "gale.toml").is_file():
            return folder


def third_party_imports(repo, stdlib):
    """The imports in python/, examples/ and bench/ that must come from a Debian package."""
    files = sorted(p for root in ROOTS for p in (repo / root).rglob("*")
                   if p.suffix in (".py", ".sh") and "target" not in p.relative_to(repo).parts)
    defined = set().union(*(module_names(p.parent) for p in files if p.suffix == ".py"))
    needed = []
    for path in files:
        file = path.relative_to(repo).as_posix()
        text = path.read_text(encoding="utf-8")
        imports = python_imports(text, file) if path.suffix == ".py" else shell_imports(text, file)
        bundle = bundle_of(path, repo)
        own = {"gale"} | module_names(path.parent) | (module_names(bundle) if bundle else defined)
        needed.extend(i for i in imports if not i.optional and i.module not in stdlib and i.module not in own
                      and (file, i.module) not in WRITTEN_BY_TESTS)
    return needed


# ---------------------------------------------------------------- what the scripts install

def script_settings(repo):
    """The interpreter functions run on and the package lists, as scripts/env.sh defines them."""
    program = f'source "{repo / ENV_SH}"; echo "python $(gale_python)"; ' + "".join(
        f'echo "{name} ${{{name}[*]}}"; ' for name in LIST_NAMES)
    out = subprocess.run(["bash", "-c", program], capture_output=True, text=True, check=True).stdout
    settings = dict(line.partition(" ")[::2] for line in out.splitlines())
    return settings.pop("python"), {name: settings.get(name, "").split() for name in LIST_NAMES}


FIND_MODULES = """
import importlib.util, json, sys
found = {}
for name in sys.argv[1:]:
    try:
        spec = importlib.util.find_spec(name)  # a top-level name: searched for, not imported
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        found[name] = None
    elif spec.origin and spec.has_location:
        found[name] = [spec.origin]
    else:
        found[name] = list(spec.submodule_search_locations or [])
print(json.dumps({"stdlib": sorted(sys.stdlib_module_names), "found": found}))
"""


def find_modules(python, names):
    """Where the interpreter would load each module from (isolated: no PYTHONPATH, no ~/.local)."""
    out = subprocess.run([python, "-I", "-c", FIND_MODULES, *sorted(names)], capture_output=True, text=True,
                         check=True).stdout
    answer = json.loads(out)
    return set(answer["stdlib"]), answer["found"]


class DebianPackages:
    """What dpkg knows: installed packages, their dependencies and virtual names, and who owns a file."""

    def __init__(self):
        out = dpkg("dpkg-query", "-W", "-f=${Package}\t${db:Status-Abbrev}\t${Provides}\t${Pre-Depends}\t${Depends}\n")
        self.depends, self.providers = {}, {}
        for line in out.splitlines():
            package, status, provides, *depends = line.split("\t")
            if status[1:2] != "i":
                continue
            self.depends[package] = [clause for field in depends for clause in field.split(",") if clause.strip()]
            for virtual in provides.split(","):
                if virtual.strip():
                    self.providers.setdefault(package_name(virtual), []).append(package)

    def installed(self, package):
        return package in self.depends

    def closure(self, packages):
        """The packages and everything they depend on, following the installed choice of each alternative."""
        seen, todo = set(), [p for p in packages if self.installed(p)]
        while todo:
            package = todo.pop()
            if package in seen:
                continue
            seen.add(package)
            for clause in self.depends[package]:
                for alternative in (package_name(a) for a in clause.split("|")):
                    chosen = [alternative] if self.installed(alternative) else self.providers.get(alternative, [])
                    if chosen:
                        todo.extend(chosen[:1])
                        break
        return seen

    @staticmethod
    def owners(paths):
        """path -> the packages whose files include it (as given, else its resolved path); one dpkg -S per try."""
        owners = {}
        for attempt in (lambda path: path, os.path.realpath):
            asked = {attempt(path): path for path in paths if path not in owners}
            if not asked:
                break
            for line in dpkg("dpkg", "-S", *asked).splitlines():
                packages, _, owned = line.rpartition(": ")
                if owned in asked and not packages.startswith("diversion"):
                    owners.setdefault(asked[owned], set()).update(package_name(p) for p in packages.split(","))
        return owners


def dpkg(*command):
    return subprocess.run(command, capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"}).stdout


def package_name(dependency):
    """'python3 (>= 3.11~)' -> 'python3'; 'python3:any' -> 'python3'."""
    return re.split(r"[\s(:\[<]", dependency.strip(), maxsplit=1)[0]


# ---------------------------------------------------------------- the verdict

def problems(needed, lists, python, found, debian):
    """One message per module and scope that no listed package provides, naming the package to add."""
    by_module = {}
    for i in needed:
        by_module.setdefault((i.module, scope_of(i.file)), []).append(i)
    owners = debian.owners([path for paths in found.values() if paths for path in paths[:1]])
    messages = []
    for name in LIST_NAMES:
        messages.extend(f"{ENV_SH} lists {p} in {name}, but it is not installed here: run ./run-tests (it installs "
                        f"the lists) or apt-get install {p}" for p in lists[name] if not debian.installed(p))
    for (module, scope), sites in sorted(by_module.items()):
        names = LISTS_BY_SCOPE[scope]
        paths = found.get(module)
        owner = sorted(owners.get(paths[0], ())) if paths else []
        if set(owner) & debian.closure(p for name in names for p in lists[name]):
            continue
        where = ", ".join(f"{i.file}:{i.line}" for i in sites[:3]) + (f" (and {len(sites) - 3} more)" if sites[3:] else "")
        if not paths:
            why, package = f"{python} cannot import it", debian_package(module)
        elif not owner:
            why, package = (f"{python} loads it from {paths[0]}, which no Debian package owns (installed with pip?)",
                            debian_package(module))
        else:
            why, package = f"{python} loads it from {paths[0]}, in Debian's {owner[0]}", owner[0]
        messages.append(f"{where} imports {module}, which no package in {' + '.join(names)} (or their dependencies) "
                        f"provides: {why}; add {package} to {names[-1]} in {ENV_SH}")
    return messages


def debian_package(module):
    """Debian's name for a module's package, python3-<name>, when apt's lists know it; else a way to find it."""
    package = "python3-" + module.lower().replace("_", "-")
    if subprocess.run(["apt-cache", "show", "--no-all-versions", package], capture_output=True).returncode == 0:
        return package
    return f"{package} (if that is its name: apt-cache search {module})"


# ---------------------------------------------------------------- the tests

class EveryImportComesFromAListedDebianPackageTest(unittest.TestCase):

    def test_every_third_party_import_is_in_a_package_the_scripts_install(self):
        python, lists = script_settings(REPO)
        stdlib, _ = find_modules(python, [])
        needed = third_party_imports(REPO, stdlib)
        _, found = find_modules(python, {i.module for i in needed})

        found_problems = problems(needed, lists, python, found, DebianPackages())

        if found_problems:
            self.fail("a fresh Debian 12 would lack what these need:\n" + "\n".join(found_problems))
        self.assertIn("cloudpickle", {i.module for i in needed})  # the scan sees the client's lazy import


class ImportScanTest(unittest.TestCase):
    """The rules above, on small sources: each would fail if the rule were dropped."""

    def scan(self, source):
        return {(i.module, i.optional) for i in python_imports(textwrap.dedent(source), "x.py")}

    def test_imports_inside_functions_count(self):
        self.assertEqual(self.scan("def f():\n    from sklearn.neighbors import KNN\n"), {("sklearn", False)})

    def test_an_import_whose_handler_falls_back_is_optional(self):
        self.assertEqual(self.scan("""
            try:
                from tqdm.auto import tqdm
            except ImportError:
                if strict:
                    raise
                tqdm = None
        """), {("tqdm", True)})

    def test_an_import_whose_handler_raises_or_skips_is_required(self):
        self.assertEqual(self.scan("""
            try:
                import cloudpickle
            except ImportError:
                raise SerializationError("needs cloudpickle") from None
            try:
                import tqdm
            except ImportError:
                self.skipTest("tqdm is not installed")
        """), {("cloudpickle", False), ("tqdm", False)})

    def test_shell_scripts_count_python_dash_m_and_dash_c(self):
        found = shell_imports('"$PYTHON" -m gunicorn --workers 4\n"$PYTHON" -c \'import flask, json\'\n', "b.sh")
        self.assertEqual({(i.module, i.line) for i in found}, {("gunicorn", 1), ("flask", 2), ("json", 2)})

    def test_modules_beside_the_file_or_at_its_bundles_root_are_the_projects_own(self):
        with tempfile.TemporaryDirectory() as tmp:
            repo = Path(tmp)
            files = {"examples/fn/gale.toml": "", "examples/fn/main.py": "import helpers, flask, tools\n",
                     "examples/fn/helpers.py": "", "examples/other/tools.py": "",
                     "bench/run.py": "import tools, mine, numpy\n", "bench/mine.py": ""}
            for name, text in files.items():
                (repo / name).parent.mkdir(parents=True, exist_ok=True)
                (repo / name).write_text(text)
            (repo / "python").mkdir()

            needed = {(i.file, i.module) for i in third_party_imports(repo, set(sys.stdlib_module_names))}

        # A bundle deploys alone, so a module elsewhere in the repository is not its own.
        self.assertEqual(needed, {("examples/fn/main.py", "flask"), ("examples/fn/main.py", "tools"),
                                  ("bench/run.py", "numpy")})


class VerdictTest(unittest.TestCase):
    """The messages, against this machine's dpkg database with made-up lists."""

    @classmethod
    def setUpClass(cls):
        cls.python, _ = script_settings(REPO)
        cls.debian = DebianPackages()

    def verdict(self, module, file, lists):
        _, found = find_modules(self.python, [module])
        lists = {name: lists.get(name, []) for name in LIST_NAMES}
        return problems([Import(file, 7, module, False)], lists, self.python, found, self.debian)

    def test_a_dependency_of_a_listed_package_provides_its_modules(self):
        # threadpoolctl is no listed package: python3-sklearn depends on it.
        self.assertEqual(self.verdict("threadpoolctl", "bench/map_cpu.py", {"GALE_APT_PACKAGES": ["python3-sklearn"]}), [])

    def test_a_package_outside_the_lists_is_named_with_the_list_to_add_it_to(self):
        [message] = self.verdict("numpy", "bench/x.py", {"GALE_APT_PACKAGES": ["python3"]})
        self.assertRegex(message, r"^bench/x.py:7 imports numpy, which no package in GALE_APT_PACKAGES \+ "
                                  r"GALE_APT_PACKAGES_BENCH \(or their dependencies\) provides: \S+ loads it from "
                                  r"/usr/lib/python3/dist-packages/numpy/__init__.py, in Debian's python3-numpy; "
                                  r"add python3-numpy to GALE_APT_PACKAGES_BENCH in scripts/env.sh$")

    def test_the_test_list_does_not_cover_the_runtime(self):
        [message] = self.verdict("numpy", "python/gale/x.py",
                                 {"GALE_APT_PACKAGES": ["python3"], "GALE_APT_PACKAGES_TEST": ["python3-numpy"]})
        self.assertTrue(message.endswith("add python3-numpy to GALE_APT_PACKAGES in scripts/env.sh"), message)

    def test_a_module_no_debian_package_owns_fails_naming_where_it_was_found(self):
        with tempfile.TemporaryDirectory() as site:  # as pip would put it in /usr/local/lib/python3.11/dist-packages
            module = Path(site) / "numpy" / "__init__.py"
            lists = {name: ["python3", "python3-numpy"] if name == "GALE_APT_PACKAGES" else [] for name in LIST_NAMES}
            [message] = problems([Import("examples/x.py", 7, "numpy", False)], lists, self.python,
                                 {"numpy": [str(module)]}, self.debian)
        self.assertIn(f"loads it from {module}, which no Debian package owns (installed with pip?); "
                      f"add python3-numpy to GALE_APT_PACKAGES in", message)

    def test_a_module_the_interpreter_cannot_find_fails_with_a_hint(self):
        [message] = self.verdict("gale_no_such_module", "examples/test_x.py", {"GALE_APT_PACKAGES": ["python3"]})
        self.assertEqual(message, f"examples/test_x.py:7 imports gale_no_such_module, which no package in "
                                  f"GALE_APT_PACKAGES + GALE_APT_PACKAGES_TEST (or their dependencies) provides: "
                                  f"{self.python} cannot import it; add python3-gale-no-such-module (if that is its "
                                  f"name: apt-cache search gale_no_such_module) to GALE_APT_PACKAGES_TEST in scripts/env.sh")


if __name__ == "__main__":
    unittest.main()
