#!/usr/bin/env bash
# What checking a caller costs on the gateway: one Gale server, one function deployed twice (public and
# private), loaded with wrk along each path in turn, printing req/s, p50 and p99 and each path's ratio
# against the public path measured in the same run (docs/access.md, docs/performance.md#access-keys).
#
#   bench/access_paths.sh                                  # about 2 minutes
#   BASELINE_BIN=/path/to/older/gale bench/access_paths.sh # also an older build, in the same rounds: before/after
#   DURATION=5 ROUNDS=1 CONCURRENCIES="16" bench/access_paths.sh
#
# Paths: public (no credential; the baseline), private with the admin token, private with an access key
# (invoke scope), and private with a key under a rate limit far above the load (the token bucket's cost);
# with BASELINE_BIN, the public and admin-token paths of a second server running that build (a build
# without keys measures only those two). Each round measures every path once, in turn, so drift in the
# machine's load hits all of them; a path's figure is its mean over the rounds. Besides wrk's req/s and
# latencies, each row has the server JVM's CPU time per request (utime + stime from /proc, the instances'
# Python processes not counted): on a shared machine throughput moves by tens of percent between runs,
# while the CPU a request costs the gateway barely does. Every request goes to 127.0.0.1.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$REPO/bench"
readonly HOST=127.0.0.1  # deliberately not configurable

DURATION=${DURATION:-8}                 # seconds measured per path, round and connection count
WARMUP=${WARMUP:-2}                     # seconds of unmeasured load before each measurement
ROUNDS=${ROUNDS:-2}                     # times each path is measured
CONCURRENCIES=${CONCURRENCIES:-"1 16"}  # wrk connections
INSTANCES=${INSTANCES:-2}               # warm Python instances of the function
PORT=${PORT:-18490}
GALE_BIN=${GALE_BIN:-$REPO/gale}
BASELINE_BIN=${BASELINE_BIN:-}          # optional: an older launcher, served on PORT+1
WRK_THREADS=${WRK_THREADS:-2}
RESULTS=${RESULTS:-$BENCH/results/access_paths.md}

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] error: %s\n' "$*" >&2; exit 1; }

for value in "$DURATION" "$WARMUP" "$ROUNDS" "$INSTANCES" "$PORT" "$WRK_THREADS" $CONCURRENCIES; do
  [[ $value =~ ^[0-9]+$ ]] || die "expected a whole number, got \"$value\" (DURATION, WARMUP, ROUNDS, INSTANCES, PORT, CONCURRENCIES)"
done
(( DURATION > 0 && ROUNDS > 0 && INSTANCES > 0 )) || die "DURATION, ROUNDS and INSTANCES must be positive"
command -v wrk >/dev/null || die "wrk is not installed (apt-get install -y wrk)"
command -v curl >/dev/null || die "curl is not installed (apt-get install -y curl)"
[[ -x $GALE_BIN ]] || die "$GALE_BIN (the gale launcher) is missing"
[[ -z $BASELINE_BIN || -x $BASELINE_BIN ]] || die "BASELINE_BIN $BASELINE_BIN is not an executable launcher"

WORK=$(mktemp -d -t gale-access-bench.XXXXXX)
GROUPS_STARTED=()
cleanup() {
  local pgid
  for pgid in "${GROUPS_STARTED[@]}"; do
    kill -TERM -- "-$pgid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 -- "-$pgid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pgid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_gale NAME LAUNCHER PORT: a server with its own data dir and both functions; sets URL_<NAME>, TOKEN_<NAME>.
start_gale() {
  local name=$1 bin=$2 port=$3 home=$WORK/$1 url="http://$HOST:$3" visibility flags
  (exec 3<>"/dev/tcp/$HOST/$port") 2>/dev/null && die "port $port is in use; choose another with PORT=..."
  log "gale ($name): starting $bin on $HOST:$port"
  setsid "$bin" server --port "$port" --data-dir "$home" >"$WORK/$name.log" 2>&1 </dev/null &
  GROUPS_STARTED+=("$!")
  for _ in $(seq 1 600); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url/healthz") == 200 ]] && break
    kill -0 -- "-${GROUPS_STARTED[-1]}" 2>/dev/null || { tail -n 30 "$WORK/$name.log" >&2; die "gale server ($name) exited"; }
    sleep 0.2
  done
  printf -v "URL_$name" '%s' "$url"
  printf -v "JVM_$name" '%s' "$(ps -o pid=,comm= -g "${GROUPS_STARTED[-1]}" | awk '$2 == "java" { print $1; exit }')"
  [[ -n $(eval echo "\$JVM_$name") ]] || die "no java process in the group of $bin (a launcher that does not exec java?)"
  printf -v "TOKEN_$name" '%s' "$(<"$home/admin-token")"
  for visibility in public private; do
    flags=(--min-instances "$INSTANCES" --max-instances "$INSTANCES" --concurrency 1 --max-queue 1000)
    [[ $visibility == public ]] && flags+=(--allow-unauthenticated)
    GALE_URL=$url GALE_TOKEN=$(<"$home/admin-token") "$bin" deploy "hello-$visibility" --source "$BENCH/functions/hello" \
        --entry-point hello "${flags[@]}" >&2 || die "deploy of hello-$visibility to $name failed (log: $WORK/$name.log)"
  done
}

start_gale new "$GALE_BIN" "$PORT"
PATHS=(public admin-token key key-rate-limited)
if [[ -n $BASELINE_BIN ]]; then
  start_gale baseline "$BASELINE_BIN" "$(( PORT + 1 ))"
  PATHS+=(public@baseline admin-token@baseline)
fi

# Keys exist only on builds that have them: an older GALE_BIN measures the first two paths.
export GALE_URL=$URL_new GALE_TOKEN=$TOKEN_new
KEY=$("$GALE_BIN" keys create bench --scope invoke:hello-private 2>/dev/null) || KEY=
LIMITED=$("$GALE_BIN" keys create bench-limited --scope invoke:hello-private --rate 1000000/s 2>/dev/null) || LIMITED=
[[ -n $KEY ]] || log "$GALE_BIN has no access keys (gale keys create failed): measuring the public and admin-token paths only"

url_of() {
  local base=$URL_new
  [[ $1 == *@baseline ]] && base=$URL_baseline
  [[ ${1%@baseline} == public ]] && echo "$base/fn/hello-public" || echo "$base/fn/hello-private"
}
header_of() {
  case $1 in
    public|public@baseline) echo "X-Bench: public" ;;
    admin-token) echo "Authorization: Bearer $TOKEN_new" ;;
    admin-token@baseline) echo "Authorization: Bearer $TOKEN_baseline" ;;
    key) echo "Authorization: Bearer $KEY" ;;
    key-rate-limited) echo "Authorization: Bearer $LIMITED" ;;
  esac
}
available() { [[ $1 != key* || ( $1 == key && -n $KEY ) || ( $1 == key-rate-limited && -n $LIMITED ) ]]; }

for path in "${PATHS[@]}"; do
  available "$path" || continue
  status=$(curl -s -o /dev/null -w '%{http_code}' -H "$(header_of "$path")" "$(url_of "$path")")
  [[ $status == 200 ]] || die "the $path path answered $status, not 200"
done

declare -A SUM    # [path|conns|field] -> sum over rounds
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }   # utime + stime, in clock ticks
run_wrk() {  # PATH CONNS SECONDS -> the GALE_BENCH line
  local url; url=$(url_of "$1")
  [[ $url == "http://$HOST:"* ]] || die "refusing to load $url"
  wrk -t"$(( $2 < WRK_THREADS ? $2 : WRK_THREADS ))" -c"$2" -d"${3}s" --timeout 10s -H "$(header_of "$1")" \
      -s "$BENCH/wrk_report.lua" "$url" >"$WORK/wrk.out" 2>&1 || { cat "$WORK/wrk.out" >&2; die "wrk failed"; }
  grep '^GALE_BENCH ' "$WORK/wrk.out" || { cat "$WORK/wrk.out" >&2; die "wrk printed no GALE_BENCH line"; }
}
# Every path once under load before any measurement, so the JIT's compiling is not billed to whichever goes first.
MOST=0; for conns in $CONCURRENCIES; do (( conns > MOST )) && MOST=$conns; done
for path in "${PATHS[@]}"; do available "$path" && run_wrk "$path" "$MOST" $(( WARMUP * 3 + 2 )) >/dev/null; done
for conns in $CONCURRENCIES; do
  for round in $(seq 1 "$ROUNDS"); do
    for path in "${PATHS[@]}"; do
      available "$path" || continue
      (( WARMUP > 0 )) && run_wrk "$path" "$conns" "$WARMUP" >/dev/null
      jvm=$JVM_new; [[ $path == *@baseline ]] && jvm=$JVM_baseline
      before=$(cpu_ticks "$jvm")
      line=$(run_wrk "$path" "$conns" "$DURATION")
      ticks=$(( $(cpu_ticks "$jvm") - before ))
      line+=" cpu_us_per_request=$(awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" -v l="$line" \
          'BEGIN { match(l, /requests=[0-9]+/); n = substr(l, RSTART + 9, RLENGTH - 9) + 0; printf "%.2f", (n > 0 ? t / hz * 1e6 / n : 0) }')"
      for pair in ${line#GALE_BENCH }; do
        key=${pair%%=*}; value=${pair#*=}
        SUM[$path|$conns|$key]=$(awk -v a="${SUM[$path|$conns|$key]:-0}" -v b="$value" 'BEGIN { print a + b }')
      done
      log "round $round, $conns connections, $path: $(awk -v r="${line#*rps=}" 'BEGIN { split(r, a, " "); printf "%.0f", a[1] }') req/s"
    done
  done
done

mean() { awk -v s="${SUM[$1|$2|$3]:-}" -v n="$ROUNDS" 'BEGIN { if (s == "") printf "–"; else printf "%.0f", s / n }'; }
ms() { awk -v s="${SUM[$1|$2|$3]:-}" -v n="$ROUNDS" 'BEGIN { if (s == "") printf "–"; else printf "%.3f", s / n / 1000 }'; }
ratio() {
  awk -v a="${SUM[$1|$3|$4]:-}" -v b="${SUM[$2|$3|$4]:-}" 'BEGIN { if (a == "" || b == "" || b == 0) printf "–"; else printf "%.2f", a / b }'
}
report() {
  echo "# Access paths on the gateway"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, Linux $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg);" \
       "Gale $GALE_BIN ($(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown))${BASELINE_BIN:+, baseline build $BASELINE_BIN (the @baseline rows)}."
  echo
  echo "\`bench/functions/hello\` with $INSTANCES warm instances, concurrency 1; wrk for ${DURATION}s after ${WARMUP}s warm-up," \
       "mean of $ROUNDS rounds, paths in turn. Baseline: the public path in the same run. Latencies in ms."
  echo
  echo "| conns | path | server CPU µs/request | CPU vs public | req/s | req/s vs public | p50 | p50 vs public | p99 | failed |"
  echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  for conns in $CONCURRENCIES; do
    for path in "${PATHS[@]}"; do
      local failed='–'
      [[ -n ${SUM[$path|$conns|rps]:-} ]] && failed=$(awk -v a="${SUM[$path|$conns|socket_errors]}" -v b="${SUM[$path|$conns|non2xx]}" 'BEGIN { print a + b }')
      echo "| $conns | $path | $(awk -v s="${SUM[$path|$conns|cpu_us_per_request]:-}" -v n="$ROUNDS" 'BEGIN { if (s == "") printf "–"; else printf "%.1f", s / n }')" \
           "| $(ratio "$path" public "$conns" cpu_us_per_request)" \
           "| $(mean "$path" "$conns" rps) | $(ratio "$path" public "$conns" rps) | $(ms "$path" "$conns" p50_us)" \
           "| $(ratio "$path" public "$conns" p50_us) | $(ms "$path" "$conns" p99_us) | $failed |"
    done
  done
}
mkdir -p "$(dirname "$RESULTS")"
report | tee "$RESULTS"
log "wrote $RESULTS"
