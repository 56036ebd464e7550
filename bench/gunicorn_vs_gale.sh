#!/usr/bin/env bash
# Serve the same Python functions with Gale and with gunicorn, load both with wrk
# in one run, and print requests/s, p50 and p99 latency and the Gale/gunicorn ratios.
#
#   bench/gunicorn_vs_gale.sh                  # both servers, about 4 minutes
#   GALE=0 bench/gunicorn_vs_gale.sh           # gunicorn only, about 2 minutes
#   DURATION=5 CONCURRENCIES="1 16" bench/gunicorn_vs_gale.sh
#
# Every server runs INSTANCES Python processes: gunicorn `-w N` with sync workers and
# again with gthread workers (bench/gunicorn_app.py, a functions-framework style Flask
# wrapper), and Gale with min = max instances = N, concurrency 1. The faster gunicorn
# of each row is the baseline. For each function all servers are up and take turns
# under load, one at a time, at each concurrency. Every request goes to 127.0.0.1;
# nothing here can target another host.
# The markdown table goes to stdout and to $RESULTS; progress goes to stderr.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$REPO/bench"
readonly HOST=127.0.0.1  # deliberately not configurable

DURATION=${DURATION:-10}                      # seconds measured per (server, function, connections)
WARMUP=${WARMUP:-2}                           # seconds of unmeasured load before each measurement
CONCURRENCIES=${CONCURRENCIES:-"1 4 16 64"}   # wrk connections
INSTANCES=${INSTANCES:-4}                     # Python processes per server
PORTS=${PORTS:-"18480 18481 18482"}           # "GALE_PORT GUNICORN_PORT GTHREAD_PORT"
FUNCTIONS=${FUNCTIONS:-"hello survey-scorer"} # folders in bench/functions/ or examples/
GALE=${GALE:-1}                               # 0 skips the Gale half
GALE_BIN=${GALE_BIN:-$REPO/gale}              # the launcher (builds the jar if missing)
PYTHON=${PYTHON:-/usr/bin/python3}            # runs gunicorn and the functions
WRK_THREADS=${WRK_THREADS:-2}                 # wrk threads (capped at the connection count)
GTHREADS=${GTHREADS:-1}                       # threads per gthread worker (1: as many requests at once as Gale's instances)
START_TIMEOUT=${START_TIMEOUT:-300}           # seconds for `gale server` to be healthy; may include a build
READY_TIMEOUT=${READY_TIMEOUT:-60}            # seconds for gunicorn or a deployment to answer 200
RESULTS=${RESULTS:-$BENCH/results/gunicorn_vs_gale.md}
KEEP_WORK=${KEEP_WORK:-0}                     # 1 keeps the temp dir (server logs, Gale data dir)

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- settings check

read -r GALE_PORT GUNICORN_PORT GTHREAD_PORT EXTRA_PORT <<<"$PORTS" || true
[[ -n ${GTHREAD_PORT:-} && -z ${EXTRA_PORT:-} ]] \
  || die "PORTS must be three ports, \"GALE_PORT GUNICORN_PORT GTHREAD_PORT\"; got \"$PORTS\""
for value in "$DURATION" "$WARMUP" "$INSTANCES" "$GALE_PORT" "$GUNICORN_PORT" "$GTHREAD_PORT" "$WRK_THREADS" "$GTHREADS" \
             "$START_TIMEOUT" "$READY_TIMEOUT" $CONCURRENCIES; do
  [[ $value =~ ^[0-9]+$ ]] \
    || die "expected a whole number, got \"$value\" (check DURATION, WARMUP, INSTANCES, PORTS, CONCURRENCIES)"
done
(( DURATION > 0 && INSTANCES > 0 && WRK_THREADS > 0 )) || die "DURATION, INSTANCES and WRK_THREADS must be positive"
[[ -n ${CONCURRENCIES// /} && -n ${FUNCTIONS// /} ]] || die "CONCURRENCIES and FUNCTIONS must not be empty"
for conns in $CONCURRENCIES; do (( conns > 0 )) || die "CONCURRENCIES must be positive, got $conns"; done
[[ -z $(tr ' ' '\n' <<<"$CONCURRENCIES $FUNCTIONS" | grep . | sort | uniq -d) ]] \
  || die "CONCURRENCIES and FUNCTIONS must not repeat a value, got \"$CONCURRENCIES\" and \"$FUNCTIONS\""
[[ $GALE == 0 || $GALE == 1 ]] || die "GALE must be 0 or 1, got \"$GALE\""
(( GALE_PORT != GUNICORN_PORT && GALE_PORT != GTHREAD_PORT && GUNICORN_PORT != GTHREAD_PORT )) \
  || die "PORTS must be three different ports, got \"$PORTS\""

"$BENCH/install-packages"  # as root: apt-get installs what is missing; otherwise it says what to install
command -v wrk >/dev/null || die "wrk is not installed (apt-get install -y wrk)"
command -v curl >/dev/null || die "curl is not installed (apt-get install -y curl)"
"$PYTHON" -c 'import flask, gunicorn' 2>/dev/null \
  || die "$PYTHON cannot import flask and gunicorn (apt-get install -y python3-flask python3-gunicorn)"
if (( GALE )); then
  [[ -x $GALE_BIN ]] || die "$GALE_BIN (the gale launcher) is missing; run with GALE=0 to measure gunicorn alone"
fi

# ---------------------------------------------------------------- functions under test

# The bundle folder of a function.
function_source() {
  local name=$1
  if [[ -d $BENCH/functions/$name ]]; then echo "$BENCH/functions/$name"
  elif [[ -d $REPO/examples/$name ]]; then echo "$REPO/examples/$name"
  else die "no function \"$name\" in bench/functions/ or examples/"
  fi
}

# What follows the function URL in each request: the first line of the bundle's
# demo-call.txt, if it has one. The load is GET-only, so a demo call with a body
# (a second line) is refused rather than silently sent without it.
function_target() {
  local demo
  demo="$(function_source "$1")/demo-call.txt"
  [[ -f $demo ]] || return 0
  (( $(grep -c . "$demo") <= 1 )) || die "$demo has a request body; this benchmark sends GET requests only"
  head -n 1 "$demo"
}

for name in $FUNCTIONS; do function_source "$name" >/dev/null; function_target "$name" >/dev/null; done

# ---------------------------------------------------------------- processes

WORK=$(mktemp -d -t gale-bench.XXXXXX)
STARTED=()   # process groups of the servers this script started and has not stopped yet
WRK_PID=     # the wrk run in progress, if any

# Runs a command in a new session, so stopping it also stops its workers and
# instances, and nothing else. A background child of a script is never a process
# group leader, so setsid does not fork: LAST_PID is the new group's id.
start_group() {
  local logfile=$1; shift
  setsid "$@" >"$logfile" 2>&1 </dev/null &
  LAST_PID=$!
  STARTED+=("$LAST_PID")
}

# Stops a group from start_group and forgets it, so cleanup never signals a reused id.
stop_group() {
  local pgid=$1 waited=0 i
  for i in "${!STARTED[@]}"; do [[ ${STARTED[i]} == "$pgid" ]] && unset 'STARTED[i]'; done
  STARTED=("${STARTED[@]}")
  kill -TERM -- "-$pgid" 2>/dev/null || return 0
  while kill -0 -- "-$pgid" 2>/dev/null; do
    if (( waited >= 100 )); then   # 10 s grace, then force
      log "process group $pgid did not stop on TERM; sending KILL"
      kill -KILL -- "-$pgid" 2>/dev/null || true
      break
    fi
    sleep 0.1; waited=$(( waited + 1 ))
  done
  wait "$pgid" 2>/dev/null || true
}

cleanup() {
  if [[ -n $WRK_PID ]]; then kill -TERM "$WRK_PID" 2>/dev/null || true; wait "$WRK_PID" 2>/dev/null || true; fi
  while (( ${#STARTED[@]} > 0 )); do stop_group "${STARTED[-1]}"; done
  if (( KEEP_WORK )); then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_in_use() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# Waits until URL answers 200 while the server (process group PGID) is alive.
wait_for_200() {
  local url=$1 pgid=$2 timeout=$3 logfile=$4 deadline=$(( SECONDS + $3 ))
  until [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url") == 200 ]]; do
    if ! kill -0 -- "-$pgid" 2>/dev/null; then
      tail -n 30 "$logfile" >&2
      die "server exited before $url answered 200 (log above: $logfile)"
    fi
    (( SECONDS < deadline )) || { tail -n 30 "$logfile" >&2; die "$url did not answer 200 within ${timeout}s"; }
    sleep 0.2
  done
}

# ---------------------------------------------------------------- measuring

declare -A RESULT   # [server|function|conns|field] -> a value printed by wrk_report.lua
declare -A BODY     # [server|function] -> one response body, to check both serve the same thing
declare -A BEST     # [function|conns] -> sync or gthread, whichever gunicorn served more requests/s

ms() { awk -v us="$1" 'BEGIN { printf "%.2f", us / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "–" }'; }

# cell SERVER FUNCTION CONNS FIELD: a result formatted for the table, "–" if not measured.
cell() {
  local value=${RESULT[$1|$2|$3|$4]:-}
  if [[ -z $value ]]; then printf '–'
  elif [[ $4 == rps ]]; then printf '%.0f' "$value"
  else ms "$value"
  fi
}

# Failed requests (socket errors + responses outside 2xx/3xx), "–" if not measured.
errors() {
  if [[ -z ${RESULT[$1|$2|$3|rps]:-} ]]; then printf '–'; return; fi
  echo $(( ${RESULT[$1|$2|$3|socket_errors]} + ${RESULT[$1|$2|$3|non2xx]} ))
}

# Runs wrk into OUTFILE. In the background, so INT/TERM interrupt the wait at once.
run_wrk() {
  local url=$1 conns=$2 seconds=$3 outfile=$4
  [[ $url == "http://$HOST:"* ]] || die "refusing to load $url: the benchmark only targets $HOST"
  wrk -t"$(( conns < WRK_THREADS ? conns : WRK_THREADS ))" -c"$conns" -d"${seconds}s" \
      --timeout 10s -s "$BENCH/wrk_report.lua" "$url" >"$outfile" 2>&1 &
  WRK_PID=$!
  wait "$WRK_PID" || { cat "$outfile" >&2; die "wrk failed against $url"; }
  WRK_PID=
}

# Measures SERVER serving function NAME at URL with CONNS connections.
measure() {
  local server=$1 name=$2 url=$3 conns=$4 line pair outfile=$WORK/wrk.out
  log "$server $name: ${WARMUP}s warm-up + ${DURATION}s at $conns connections"
  if (( WARMUP > 0 )); then run_wrk "$url" "$conns" "$WARMUP" "$outfile"; fi
  run_wrk "$url" "$conns" "$DURATION" "$outfile"
  line=$(grep '^GALE_BENCH ' "$outfile") || { cat "$outfile" >&2; die "wrk printed no GALE_BENCH line"; }
  for pair in ${line#GALE_BENCH }; do RESULT[$server|$name|$conns|${pair%%=*}]=${pair#*=}; done
  log "  $(cell "$server" "$name" "$conns" rps) req/s, p50 $(cell "$server" "$name" "$conns" p50_us) ms," \
      "p99 $(cell "$server" "$name" "$conns" p99_us) ms, failed requests $(errors "$server" "$name" "$conns")"
}

# ---------------------------------------------------------------- servers

GALE_PGID= GALE_FN_URL= LAST_PGID= LAST_URL=

# Starts gunicorn serving function NAME with worker class CLASS (sync or gthread) on PORT;
# sets LAST_PGID and LAST_URL.
start_gunicorn() {
  local name=$1 class=$2 port=$3 logfile=$WORK/gunicorn-$2-$1.log threads=()
  ! port_in_use "$port" \
    || die "port $port is already in use; choose others with PORTS=\"GALE_PORT GUNICORN_PORT GTHREAD_PORT\""
  [[ $class == gthread ]] && threads=(--threads "$GTHREADS")
  log "gunicorn: serving $name with $INSTANCES $class workers on $HOST:$port"
  GALE_BENCH_SOURCE=$(function_source "$name") start_group "$logfile" \
    "$PYTHON" -m gunicorn --workers "$INSTANCES" --worker-class "$class" "${threads[@]}" --bind "$HOST:$port" \
    --backlog 2048 --timeout 60 --log-level warning --pythonpath "$BENCH" gunicorn_app:app
  LAST_PGID=$LAST_PID
  # The same request line Gale gets, so all servers parse identical bytes.
  LAST_URL="http://$HOST:$port/fn/$name$(function_target "$name")"
  wait_for_200 "$LAST_URL" "$LAST_PGID" "$READY_TIMEOUT" "$logfile"
}

# Starts `gale server`; sets GALE_PGID and exports what the gale CLI reads.
start_gale() {
  local logfile=$WORK/gale-server.log
  export GALE_HOME=$WORK/gale GALE_URL="http://$HOST:$GALE_PORT"
  ! port_in_use "$GALE_PORT" \
    || die "port $GALE_PORT is already in use; choose others with PORTS=\"GALE_PORT GUNICORN_PORT\""
  log "gale: starting server on $HOST:$GALE_PORT (data dir $GALE_HOME; the launcher may build the jar first)"
  start_group "$logfile" "$GALE_BIN" server --port "$GALE_PORT" --data-dir "$GALE_HOME"
  GALE_PGID=$LAST_PID
  wait_for_200 "$GALE_URL/healthz" "$GALE_PGID" "$START_TIMEOUT" "$logfile"
  if [[ -f $GALE_HOME/admin-token ]]; then export GALE_TOKEN=$(<"$GALE_HOME/admin-token"); fi
}

# Deploys function NAME to Gale with INSTANCES warm instances; sets GALE_FN_URL.
deploy_to_gale() {
  local name=$1 max_conns=0 conns queue_flag=()
  for conns in $CONCURRENCIES; do (( conns > max_conns )) && max_conns=$conns; done
  # Connections beyond the instances wait in Gale's queue (default 100); never let it reject.
  (( max_conns > 100 )) && queue_flag=(--max-queue "$(( max_conns * 2 ))")
  log "gale: deploying $name with $INSTANCES instances"
  "$GALE_BIN" deploy "$name" --source "$(function_source "$name")" --min-instances "$INSTANCES" \
    --max-instances "$INSTANCES" --concurrency 1 --allow-unauthenticated "${queue_flag[@]}" >&2 \
    || die "gale deploy $name failed (server log: $WORK/gale-server.log)"
  GALE_FN_URL="$GALE_URL/fn/$name$(function_target "$name")"
  wait_for_200 "$GALE_FN_URL" "$GALE_PGID" "$READY_TIMEOUT" "$WORK/gale-server.log"
  wait_for_instances "$name"
}

# Waits (best effort) until the function reports all its instances, so cold starts
# the warm-up did not absorb stay out of the measurement.
wait_for_instances() {
  local name=$1 deadline=$(( SECONDS + READY_TIMEOUT )) count
  while (( SECONDS < deadline )); do
    count=$(curl -s --max-time 2 -H "Authorization: Bearer ${GALE_TOKEN:-}" "$GALE_URL/v1/functions/$name" \
            | "$PYTHON" -c 'import json, sys; print(int(json.load(sys.stdin).get("instances", 0)))' 2>/dev/null) \
      || count=0
    (( count >= INSTANCES )) && return 0
    sleep 0.5
  done
  log "warning: $name did not report $INSTANCES instances within ${READY_TIMEOUT}s; measuring anyway"
}

# Deletes function NAME so its idle instances do not share the CPUs with the next one.
delete_from_gale() {
  curl -s -o /dev/null -X DELETE -H "Authorization: Bearer ${GALE_TOKEN:-}" "$GALE_URL/v1/functions/$1" \
    || log "warning: could not delete $1 from Gale"
}

# Serves function NAME from both servers and measures them turn about at each
# concurrency, so drift in the machine's load hits both sides of every ratio.
bench_function() {
  local name=$1 conns sync_pgid sync_url gthread_pgid gthread_url
  start_gunicorn "$name" sync "$GUNICORN_PORT"; sync_pgid=$LAST_PGID; sync_url=$LAST_URL
  start_gunicorn "$name" gthread "$GTHREAD_PORT"; gthread_pgid=$LAST_PGID; gthread_url=$LAST_URL
  BODY[gunicorn|$name]=$(curl -s --max-time 10 "$sync_url")
  if (( GALE )); then
    deploy_to_gale "$name"
    BODY[gale|$name]=$(curl -s --max-time 10 "$GALE_FN_URL")
  fi
  for conns in $CONCURRENCIES; do
    measure sync "$name" "$sync_url" "$conns"
    measure gthread "$name" "$gthread_url" "$conns"
    if (( GALE )); then measure gale "$name" "$GALE_FN_URL" "$conns"; fi
    # The baseline of the row: the gunicorn with more requests per second.
    local best=sync field
    if [[ -n ${RESULT[gthread|$name|$conns|rps]:-} ]] \
       && awk -v a="${RESULT[gthread|$name|$conns|rps]}" -v b="${RESULT[sync|$name|$conns|rps]}" 'BEGIN { exit !(a > b) }'; then
      best=gthread
    fi
    BEST[$name|$conns]=$best
    for field in rps p50_us p99_us socket_errors non2xx; do RESULT[gunicorn|$name|$conns|$field]=${RESULT[$best|$name|$conns|$field]}; done
  done
  stop_group "$gthread_pgid"
  stop_group "$sync_pgid"
  if (( GALE )); then delete_from_gale "$name"; fi
}

# ---------------------------------------------------------------- report

report() {
  local name conns gale_rps gale_p50 line failed=0 differ=()
  echo "# Gale vs gunicorn"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, Linux $(uname -r);" \
       "$("$PYTHON" --version 2>&1), gunicorn $("$PYTHON" -c 'import gunicorn; print(gunicorn.__version__)')," \
       "$(wrk --version 2>&1 | head -n 1 | cut -d' ' -f1-2);" \
       "Gale $(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown)$( (( GALE )) || echo ' (not run: GALE=0)')."
  echo
  echo "Each row: wrk with N connections for ${DURATION}s after a ${WARMUP}s warm-up, against $HOST." \
       "Every server runs $INSTANCES Python processes: gunicorn \`-w $INSTANCES\` with sync workers, and with gthread" \
       "workers (\`--threads $GTHREADS\`; bench/gunicorn_app.py), Gale \`--min-instances $INSTANCES --max-instances $INSTANCES --concurrency 1\`." \
       "The baseline (best) of each row is the faster of the two gunicorns; its p50 and p99 are shown." \
       "Latencies in ms. A req/s ratio above 1 and a p50 ratio below 1 favour Gale."
  echo
  echo "| function | conns | sync req/s | gthread req/s | Gale req/s | req/s Gale/best | best p50 | Gale p50 | p50 Gale/best | best p99 | Gale p99 | failed best / Gale |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for name in $FUNCTIONS; do
    for conns in $CONCURRENCIES; do
      gale_rps='–'; gale_p50='–'
      if [[ -n ${RESULT[gale|$name|$conns|rps]:-} ]]; then
        gale_rps=$(ratio "${RESULT[gale|$name|$conns|rps]}" "${RESULT[gunicorn|$name|$conns|rps]}")
        gale_p50=$(ratio "${RESULT[gale|$name|$conns|p50_us]}" "${RESULT[gunicorn|$name|$conns|p50_us]}")
      fi
      [[ $(errors gunicorn "$name" "$conns") =~ ^(0|–)$ && $(errors gale "$name" "$conns") =~ ^(0|–)$ ]] || failed=1
      echo "| $name | $conns | $(cell sync "$name" "$conns" rps) | $(cell gthread "$name" "$conns" rps) | $(cell gale "$name" "$conns" rps) | $gale_rps" \
           "| $(cell gunicorn "$name" "$conns" p50_us) | $(cell gale "$name" "$conns" p50_us) | $gale_p50" \
           "| $(cell gunicorn "$name" "$conns" p99_us) | $(cell gale "$name" "$conns" p99_us)" \
           "| $(errors gunicorn "$name" "$conns") / $(errors gale "$name" "$conns") |"
    done
    if [[ -n ${BODY[gale|$name]+set} && ${BODY[gale|$name]} != "${BODY[gunicorn|$name]:-}" ]]; then
      differ+=("**$name answered differently**: gunicorn \`${BODY[gunicorn|$name]:-}\`, Gale \`${BODY[gale|$name]}\`.")
    fi
  done
  if (( failed )); then
    echo
    echo "**Some requests failed** (socket errors or responses outside 2xx/3xx); those rows do not compare like with like."
  fi
  for line in "${differ[@]}"; do echo; echo "$line"; done
}

# ---------------------------------------------------------------- main

for name in $FUNCTIONS; do
  if [[ $(function_source "$name") == "$REPO/examples/"* ]]; then
    "$PYTHON" "$REPO/examples/make_models.py" >&2   # idempotent; examples load these pickles
    break
  fi
done
if (( GALE )); then start_gale; fi
for name in $FUNCTIONS; do bench_function "$name"; done

mkdir -p "$(dirname "$RESULTS")"
report | tee "$RESULTS"
log "wrote $RESULTS"
