#!/usr/bin/env bash
# Cold starts and warm calls of a Java function on Gale: with the spare JVM (as shipped), without
# it, without the class-data archive, next to `java -version`, /healthz and a Python function;
# against 127.0.0.1 only; prints p50 ms and the ratios, and writes bench/results/java_coldstart.md.
#
#   bench/java_coldstart.sh                 # about 4 minutes (more if Gale must be built first)
#   ROUNDS=12 SETTLE=2 WARMUP=2000 PORTS="18496 18497" bench/java_coldstart.sh
#
# The measuring is bench/java_coldstart.py (Python standard library only); this finds the JDK
# the way ./gale does and runs it. See bench/README.md.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/env.sh"
gale_find_java
export JAVA_HOME="${JAVA_HOME:-$(dirname "$(dirname "$GALE_JAVA")")}"
exec "$(gale_python)" "$GALE_ROOT/bench/java_coldstart.py" "$@"
