# Shared by ./gale, ./run-tests and the bench scripts: find a JDK >= 21 and make sure the Debian packages
# Gale's Python functions and tests rely on are installed. Sourced, not executed.

GALE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Debian packages, the only source of Python modules (PyPI may be unreachable); the guard
# python/tests/test_debian_packages.py fails when python/, examples/ or bench/ import a module
# none of these (or their dependencies) provides, and scripts/fresh-debian-check (on request)
# installs them in a new Debian 12 chroot and runs the Python tests there.
# What ./gale server and ./gale demo need: the interpreter's libraries user functions import
# (Flask for Cloud Functions-style handlers, scikit-learn and numpy for the examples),
# cloudpickle to ship callables to map jobs and back, pip for requirements.txt installs from a
# wheel folder or index, and bubblewrap to sandbox instances.
GALE_APT_PACKAGES=(python3 python3-flask python3-sklearn python3-numpy python3-pandas python3-cloudpickle python3-pip bubblewrap)

# What only ./run-tests needs: R with plumber and ggplot2 for the process runtime's R example
# (RPlumberTest runs examples/r-plumber), tqdm and packaging, which the Python client and the
# requirements checker use when present, so the tests cover both paths; PostgreSQL, on which the
# store's tests run a second time (gale-core's PostgresCluster starts a throwaway cluster); Chromium
# and its driver for the web console's browser test (ConsoleBrowserTest drives them through
# Selenium), with the fonts its screenshots are drawn in.
GALE_APT_PACKAGES_TEST=(r-base-core r-cran-plumber r-cran-ggplot2 python3-tqdm python3-packaging postgresql
  chromium chromium-driver fonts-liberation)

# What the benchmarks need besides GALE_APT_PACKAGES (bench/install-packages installs them):
# gunicorn and Dask, the baselines Gale is measured against, wrk for load, curl for checks.
GALE_APT_PACKAGES_BENCH=(python3-gunicorn python3-distributed wrk curl)

gale_java_version() { # prints the major version of the java binary in $1
  "$1" -XshowSettings:properties -version 2>&1 | awk -F' = ' '/java.specification.version/ {print $2}' | cut -d. -f1
}

gale_find_java() { # sets GALE_JAVA to a java binary >= 21, or fails with a hint
  local candidate version
  for candidate in ${GALE_JAVA_HOME:+"$GALE_JAVA_HOME"} ${JAVA_HOME:+"$JAVA_HOME"} \
      /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-21-jdk-amd64 /usr/lib/jvm/*; do
    if [ -x "$candidate/bin/java" ]; then
      version=$(gale_java_version "$candidate/bin/java")
      if [ -n "$version" ] && [ "$version" -ge 21 ]; then
        GALE_JAVA="$candidate/bin/java"
        export JAVA_HOME="$candidate"
        gale_quiet_maven "$version"
        return 0
      fi
    fi
  done
  if command -v java >/dev/null 2>&1; then
    version=$(gale_java_version "$(command -v java)")
    if [ -n "$version" ] && [ "$version" -ge 21 ]; then
      GALE_JAVA="$(command -v java)"
      return 0
    fi
  fi
  echo "gale: no JDK 21 or newer found; install one (e.g. apt-get install openjdk-21-jdk or Temurin 25) or set JAVA_HOME" >&2
  return 1
}

gale_quiet_maven() { # Maven 3.9 on JDK 24+ warns about sun.misc.Unsafe on every build; allow it quietly
  if [ "$1" -ge 24 ]; then
    case " ${MAVEN_OPTS:-} " in *sun-misc-unsafe*) ;; *) export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow" ;; esac
  fi
}

gale_python() { # the interpreter user functions run on
  if [ -n "${GALE_PYTHON:-}" ]; then echo "$GALE_PYTHON"
  elif [ -x /usr/bin/python3 ]; then echo /usr/bin/python3
  else command -v python3; fi
}

gale_ensure_packages() { # installs the Debian packages in GALE_APT_PACKAGES (plus "$@") that are missing
  local missing=() pkg
  for pkg in "${GALE_APT_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "gale: missing Debian packages: ${missing[*]}; install them with: sudo apt-get install ${missing[*]}" >&2
    return 0
  fi
  echo "gale: installing ${missing[*]} (one time)" >&2
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

gale_jar_is_stale() { # true when the CLI jar is missing or older than any source
  local jar="$GALE_ROOT/gale-cli/target/gale.jar"
  [ -f "$jar" ] || return 0
  [ -n "$(find "$GALE_ROOT"/pom.xml "$GALE_ROOT"/gale-*/pom.xml "$GALE_ROOT"/gale-*/src "$GALE_ROOT"/python/gale \
      -newer "$jar" -type f -print -quit 2>/dev/null)" ]
}
