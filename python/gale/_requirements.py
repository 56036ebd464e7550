"""Check a bundle's requirements.txt against what the interpreter has installed.

    python3 _requirements.py check requirements.txt

prints one JSON object:

    {"requirements": [{"line": 3, "text": "scikit-learn>=1.0", "name": "scikit-learn",
                       "specifier": ">=1.0", "installed": "1.2.1", "satisfied": true}, ...],
     "satisfied": true}

Gale runs this with the function's interpreter before starting instances, to
decide whether anything must be installed and to explain what is missing.
``name`` is PEP 503-normalised; it is null, with ``specifier`` null too, for pip
option lines (-r, -c, --index-url, -e ...), which are listed but count as
satisfied, and for lines naming no package Gale can check. Exit status is 0
whatever the verdict, 2 when the file cannot be read.

Stdlib only. Versions are compared with ``packaging`` when it is importable,
otherwise with the PEP 440 subset below.
"""

import json
import os
import platform
import re
import sys
from importlib import metadata

_COMMENT = re.compile(r"(^|\s+)#.*$")
_PER_REQUIREMENT_OPTION = re.compile(r"\s+--[A-Za-z].*$")  # e.g. "pkg==1.0 --hash=sha256:..."
_NAME = re.compile(r"""
    ^(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)
    \s*(?:\[[^\]]*\])?          # extras: only the base package is checked
    \s*(?P<rest>.*)$""", re.X)
_CLAUSE = re.compile(r"^(~=|===|==|!=|<=|>=|<|>)\s*([A-Za-z0-9.*+!_-]+)$")
_ARCHIVE = re.compile(r"\.(whl|tar\.gz|tar\.bz2|tgz|zip)$", re.I)


def normalize_name(name):
    """PEP 503: lowercase, runs of '-', '_' and '.' become one '-'."""
    return re.sub(r"[-_.]+", "-", name).lower()


# --------------------------------------------------------------------------- reading the file

def logical_lines(text):
    """(first line number, text) for each requirement line, without comments,
    continuation lines joined."""
    pending, start = "", None
    for number, raw in enumerate(text.splitlines(), 1):
        if start is None:
            start = number
        if raw.endswith("\\") and not _COMMENT.match(raw):
            pending += raw[:-1]
            continue
        line = _COMMENT.sub("", pending + raw).strip()
        pending, first = "", start
        start = None
        if line:
            yield first, line
    line = _COMMENT.sub("", pending).strip()
    if line:
        yield start, line


class Requirement:
    """One requirement line, reduced to what the check needs."""

    def __init__(self, name, specifier="", marker=None, is_url=False):
        self.name = name
        self.specifier = specifier
        self.marker = marker
        self.is_url = is_url


def parse_requirement(text):
    """A Requirement for a requirement line; raises ValueError if it is not one."""
    text = _PER_REQUIREMENT_OPTION.sub("", text)
    if _is_url_or_path(text):
        location, marker = _split_marker(text, url=True)
        return Requirement(_name_from_location(location), "", marker, is_url=True)
    match = _NAME.match(text)
    if not match:
        raise ValueError(f"not a requirement: {text}")
    name, rest = normalize_name(match["name"]), match["rest"].strip()
    if rest.startswith("@"):
        _, marker = _split_marker(rest, url=True)
        return Requirement(name, "", marker, is_url=True)
    specifier, marker = _split_marker(rest, url=False)
    if specifier.startswith("(") and specifier.endswith(")"):  # legacy "pkg (>=1.0)"
        specifier = specifier[1:-1]
    specifier = re.sub(r"\s+", "", specifier)
    if specifier and not all(_CLAUSE.match(clause) for clause in specifier.split(",")):
        raise ValueError(f"invalid version specifier: {specifier}")
    return Requirement(name, specifier, marker)


def _is_url_or_path(text):
    first_word = text.split(None, 1)[0]
    return ("://" in first_word or first_word.startswith((".", "/", "file:"))
            or bool(_ARCHIVE.search(first_word.split("#", 1)[0])))


def _split_marker(text, url):
    # In a URL, ';' is only a marker separator when whitespace precedes it (as in pip).
    parts = re.split(r"\s+;" if url else r";", text, maxsplit=1)
    marker = parts[1].strip() if len(parts) > 1 else None
    return parts[0].strip(), marker or None


def _name_from_location(location):
    egg = re.search(r"[#&]egg=([A-Za-z0-9._-]+)", location)
    if egg:
        return normalize_name(egg.group(1))
    file = location.split("#", 1)[0].split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    if file.lower().endswith(".whl"):
        return normalize_name(file.split("-", 1)[0])
    archive = re.match(r"^(.+?)-\d", file) if _ARCHIVE.search(file) else None
    return normalize_name(archive.group(1)) if archive else None


# --------------------------------------------------------------------------- the check

def installed_version(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def check_line(number, text, find_installed=installed_version):
    entry = {"line": number, "text": text, "name": None, "specifier": None,
             "installed": None, "satisfied": True}
    if text.startswith("-"):
        return entry  # a pip option, not a package
    try:
        requirement = parse_requirement(text)
    except ValueError:
        entry["satisfied"] = False
        return entry
    if requirement.name is None:  # a URL or path that names no package we could look up
        entry["satisfied"] = False
        return entry
    installed = find_installed(requirement.name)
    entry.update(name=requirement.name, specifier=requirement.specifier, installed=installed)
    if not marker_applies(requirement.marker):
        return entry  # not meant for this interpreter or platform
    if requirement.is_url:
        entry["satisfied"] = installed is not None
    else:
        entry["satisfied"] = installed is not None and version_satisfies(installed, requirement.specifier)
    return entry


def check_requirements(text, find_installed=installed_version):
    entries = [check_line(number, line, find_installed) for number, line in logical_lines(text)]
    return {"requirements": entries, "satisfied": all(entry["satisfied"] for entry in entries)}


def version_satisfies(version, specifier):
    if not specifier:
        return True
    try:
        from packaging.specifiers import InvalidSpecifier, SpecifierSet
        from packaging.version import InvalidVersion
    except ImportError:
        return builtin_version_satisfies(version, specifier)
    try:
        # Like pip, an installed pre-release counts: the user installed it on purpose.
        return SpecifierSet(specifier).contains(version, prereleases=True)
    except (InvalidSpecifier, InvalidVersion):
        return False


# --------------------------------------------------------------------------- PEP 440 subset

_VERSION = re.compile(r"""
    ^v?
    (?:(?P<epoch>\d+)!)?
    (?P<release>\d+(?:\.\d+)*)
    (?:[-_.]?(?P<pre>a|b|c|rc|alpha|beta|pre|preview)[-_.]?(?P<pre_n>\d+)?)?
    (?:-(?P<post_implicit>\d+)|[-_.]?(?P<post>post|rev|r)[-_.]?(?P<post_n>\d+)?)?
    (?:[-_.]?(?P<dev>dev)[-_.]?(?P<dev_n>\d+)?)?
    (?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?
    $""", re.X | re.I)
_PRE_RANK = {"a": 0, "alpha": 0, "b": 1, "beta": 1, "c": 2, "rc": 2, "pre": 2, "preview": 2}


class Version:
    """A parsed PEP 440 version; `key` orders versions as PEP 440 does."""

    def __init__(self, text):
        match = _VERSION.match(text.strip())
        if not match:
            raise ValueError(f"invalid version: {text!r}")
        self.epoch = int(match["epoch"] or 0)
        self.release = tuple(int(part) for part in match["release"].split("."))
        self.pre = (_PRE_RANK[match["pre"].lower()], int(match["pre_n"] or 0)) if match["pre"] else None
        if match["post_implicit"]:
            self.post = int(match["post_implicit"])  # "1.0-1"
        else:
            self.post = int(match["post_n"] or 0) if match["post"] else None
        self.dev = int(match["dev_n"] or 0) if match["dev"] else None
        self.local = match["local"]
        self.key = self._key(with_local=True)
        self.public_key = self._key(with_local=False)

    @property
    def base_key(self):
        return self.epoch, _strip_zeros(self.release)

    @property
    def is_prerelease(self):
        return self.pre is not None or self.dev is not None

    def _key(self, with_local):
        # Sentinels are tuples so every position compares with every other.
        if self.pre is not None:
            pre = (0,) + self.pre
        elif self.dev is not None and self.post is None:
            pre = (-1,)  # 1.0.dev1 sorts before 1.0a1
        else:
            pre = (1,)
        post = (0, self.post) if self.post is not None else (-1,)
        dev = (0, self.dev) if self.dev is not None else (1,)
        local = ()
        if with_local and self.local:
            local = tuple((1, int(part), "") if part.isdigit() else (0, 0, part.lower())
                          for part in re.split(r"[-_.]", self.local))
        return self.epoch, _strip_zeros(self.release), pre, post, dev, local


def _strip_zeros(release):
    end = len(release)
    while end > 1 and release[end - 1] == 0:
        end -= 1
    return release[:end]


def _padded(release, length):
    return release[:length] + (0,) * (length - len(release))


def builtin_version_satisfies(version, specifier):
    """`version` matches every comma-separated clause of `specifier` (PEP 440)."""
    try:
        candidate = Version(version)
        clauses = [_CLAUSE.match(clause.strip()) for clause in specifier.split(",") if clause.strip()]
        if not all(clauses):
            return False
        return all(_clause_matches(candidate, version, clause[1], clause[2]) for clause in clauses)
    except ValueError:
        return False


def _clause_matches(candidate, raw_version, operator, target_text):
    if operator == "===":
        return raw_version.strip().lower() == target_text.lower()
    if operator in ("==", "!=") and target_text.endswith(".*"):
        prefix = Version(target_text[:-2])
        matches = (candidate.epoch == prefix.epoch
                   and _padded(candidate.release, len(prefix.release)) == prefix.release)
        return matches if operator == "==" else not matches
    target = Version(target_text)
    if operator in ("==", "!="):
        # A target without a local label ignores the candidate's (1.0+ubuntu1 == 1.0).
        equal = (candidate.key if target.local else candidate.public_key) == target.key
        return equal if operator == "==" else not equal
    have, want = candidate.public_key, target.key
    if operator == ">=":
        return have >= want
    if operator == "<=":
        return have <= want
    if operator == ">":
        # >1.7 does not admit 1.7.post1, unless the target is itself a post-release.
        return have > want and not (candidate.post is not None and target.post is None
                                    and candidate.base_key == target.base_key)
    if operator == "<":
        # <2.0 does not admit 2.0rc1, unless the target is itself a pre-release.
        return have < want and not (candidate.is_prerelease and not target.is_prerelease
                                    and candidate.base_key == target.base_key)
    # "~=2.2.1" means ">=2.2.1, ==2.2.*"
    if len(target.release) < 2:
        raise ValueError(f"~= needs at least two release segments: {target_text}")
    prefix = target.release[:-1]
    return (have >= want and candidate.epoch == target.epoch
            and _padded(candidate.release, len(prefix)) == prefix)


# --------------------------------------------------------------------------- markers

def marker_applies(marker):
    """Whether an environment marker holds here; markers we cannot evaluate apply."""
    if not marker:
        return True
    try:
        from packaging.markers import Marker
    except ImportError:
        return builtin_marker_applies(marker)
    try:
        return Marker(marker).evaluate()
    except Exception:  # packaging raises several unrelated types for odd markers
        return True


_MARKER_TERM = re.compile(r"""^\s*
    (?P<left>[A-Za-z_.]+|'[^']*'|"[^"]*")\s*
    (?P<op>===|==|!=|<=|>=|~=|<|>|not\s+in|in)\s*
    (?P<right>[A-Za-z_.]+|'[^']*'|"[^"]*")\s*$""", re.X)
_VERSION_VARIABLES = {"python_version", "python_full_version", "implementation_version"}


def marker_environment():
    return {
        "python_version": "%d.%d" % sys.version_info[:2],
        "python_full_version": platform.python_version(),
        "implementation_name": sys.implementation.name,
        "implementation_version": platform.python_version(),
        "platform_python_implementation": platform.python_implementation(),
        "sys_platform": sys.platform,
        "platform_system": platform.system(),
        "platform_machine": platform.machine(),
        "os_name": os.name,
    }


def builtin_marker_applies(marker):
    """Evaluates `a op 'b'` terms joined by `and`/`or`; anything fancier applies."""
    if "(" in marker:
        return True
    environment = marker_environment()
    try:
        return any(all(_marker_term_holds(term, environment) for term in re.split(r"\s+and\s+", alternative))
                   for alternative in re.split(r"\s+or\s+", marker.strip()))
    except (KeyError, ValueError):
        return True


def _marker_term_holds(term, environment):
    match = _MARKER_TERM.match(term)
    if not match:
        raise ValueError(f"unsupported marker: {term}")
    is_version = match["left"] in _VERSION_VARIABLES or match["right"] in _VERSION_VARIABLES
    left, right = (_marker_value(match[side], environment) for side in ("left", "right"))
    operator = re.sub(r"\s+", " ", match["op"])
    if operator == "in":
        return left in right
    if operator == "not in":
        return left not in right
    if is_version:
        return builtin_version_satisfies(left, operator + right)
    if operator in ("==", "==="):
        return left == right
    if operator == "!=":
        return left != right
    raise ValueError(f"cannot compare strings with {operator}")


def _marker_value(token, environment):
    if token[0] in "'\"":
        return token[1:-1]
    return environment[token]


# --------------------------------------------------------------------------- command line

def main(argv):
    if len(argv) != 2 or argv[0] != "check":
        print("usage: _requirements.py check REQUIREMENTS_FILE", file=sys.stderr)
        return 2
    path = argv[1]
    try:
        with open(path, encoding="utf-8-sig") as file:
            text = file.read()
    except (OSError, UnicodeDecodeError) as exc:
        print(f"cannot read {path}: {exc}", file=sys.stderr)
        return 2
    json.dump(check_requirements(text), sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
