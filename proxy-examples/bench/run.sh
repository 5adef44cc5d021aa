#!/bin/bash
# Load benchmark: Gatehouse (the launcher jar) against peer proxies, over loopback only. See README.md.
#
#   proxy-examples/bench/run.sh                          # direct origin + Gatehouse + every installed peer
#   proxy-examples/bench/run.sh gatehouse nginx:reverse  # only these (peer or peer:mode[,mode...])
#   REPS=1 WARMUP=2 DURATION=3 JVM_WARMUP=5 proxy-examples/bench/run.sh gatehouse:reverse   # smoke run
#
# Env knobs (defaults): REPS=2 WARMUP=5 DURATION=10 THREADS=2 CONNS=64 BODIES="1k 100k" JVM_WARMUP=30
#   C1=0 (1: also wrk -t1 -c1 on /1k)  MODES="reverse forward lb" (modes taken from each peer's list when a
#   peer is named without modes)  INTERLEAVE=1 (rep loop outside the peer loop)  OUT=/tmp/bench/results/<stamp>
#   RUN_DIR=/tmp/bench (pid files, configs, JVM peer builds)  JAVA_HOME / JAVA_OPTS (JVM peers)
#   DRY_RUN=1 (print the plan and its estimated duration, run nothing)
#
# Every load run is bounded (wrk -d, and `timeout` around wrk). The origin (nginx on 18080/18090/18091) is
# started if it is not running and stopped at the end if this script started it; each peer is stopped (by
# pid) after its mode is measured, and on exit or interrupt.
set -euo pipefail
BENCH_DIR="$(cd "$(dirname "$0")" && pwd)"
PROJECT_ROOT="$(cd "$BENCH_DIR/../.." && pwd)"
. "$BENCH_DIR/lib.sh"
export GATEHOUSE_HOME="${GATEHOUSE_HOME:-$PROJECT_ROOT}"
REPS=${REPS:-2}; WARMUP=${WARMUP:-5}; DURATION=${DURATION:-10}
THREADS=${THREADS:-2}; CONNS=${CONNS:-64}; BODIES=${BODIES:-"1k 100k"}; C1=${C1:-0}
INTERLEAVE=${INTERLEAVE:-1}; MODES=${MODES:-"reverse forward lb"}
export JVM_WARMUP=${JVM_WARMUP:-30}
OUT=${OUT:-$RUN_DIR/results/$(date +%Y%m%d-%H%M%S)}
ALL_PEERS="direct gatehouse nginx haproxy varnish squid jetty-proxy littleproxy"
mkdir -p "$OUT/raw"
RUNS="$OUT/runs.tsv"
CLK_TCK=$(getconf CLK_TCK)
SAMPLER_PID=""
CUR_PEER=""; CUR_MODE=""; STARTED_ORIGIN=0

log() { echo "[$(date +%H:%M:%S)] $*" | tee -a "$OUT/driver.log" >&2; }
die() { log "ERROR: $*"; exit 1; }

for tool in wrk curl nginx python3 /usr/bin/time timeout; do
  command -v "$tool" >/dev/null || die "$tool is missing (apt-get install -y wrk nginx-light curl time python3)"
done

# ---- process-tree metrics (/proc) -------------------------------------------------------
proc_tree() {   # PID -> PID and all its descendants
  ps -e -o pid=,ppid= | awk -v root="$1" '
    { kids[$2] = kids[$2] " " $1 }
    END { q[1] = root; n = 1; i = 1
          while (i <= n) { p = q[i++]; printf "%s ", p
            m = split(kids[p], a, " "); for (j = 1; j <= m; j++) q[++n] = a[j] } }'
}
cpu_ticks() {   # PIDS... -> summed utime+stime ticks (fields 14+15; comm may contain spaces)
  local t=0 p s
  for p in "$@"; do
    s=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    s=${s##*) }
    # shellcheck disable=SC2086
    set -- $s
    t=$((t + ${12} + ${13}))
  done
  echo "$t"
}
mem_kb() {      # PIDS... -> "rss_kb pss_kb" summed
  local r=0 q=0 p v
  for p in "$@"; do
    v=$(awk '/^VmRSS:/{print $2}' "/proc/$p/status" 2>/dev/null || true); r=$((r + ${v:-0}))
    v=$(awk '/^Pss:/{print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || true); q=$((q + ${v:-0}))
  done
  echo "$r $q"
}
start_sampler() {   # FILE PIDS...: peak summed RSS/PSS of PIDS, sampled every 0.5 s (stopped by stop_sampler)
  local f=$1; shift
  ( set +e; trap 'exit 0' TERM; maxr=0; maxp=0
    while :; do
      read -r r p < <(mem_kb "$@")
      [ "$r" -gt "$maxr" ] && maxr=$r; [ "$p" -gt "$maxp" ] && maxp=$p
      echo "$maxr $maxp" > "$f"; sleep 0.5
    done ) &
  SAMPLER_PID=$!
}
stop_sampler() {
  if [ -n "$SAMPLER_PID" ]; then kill "$SAMPLER_PID" 2>/dev/null || true; wait "$SAMPLER_PID" 2>/dev/null || true; SAMPLER_PID=""; fi
}
all_ticks() {    # "pid ticks" of every process (CPU used by processes that are not ours)
  cat /proc/[0-9]*/stat 2>/dev/null | sed -E 's/^([0-9]+) \(.*\) /\1 /' | awk '{print $1, $13+$14}' || true
}
others_cpu_s() { # FILE0 FILE1 EXCLUDED_PIDS... -> CPU s of processes alive at both snapshots, not excluded
  local f0=$1 f1=$2; shift 2
  awk -v ex="$*" -v hz="$CLK_TCK" 'BEGIN{n=split(ex,a," "); for(i=1;i<=n;i++) skip[a[i]]=1}
    FNR==NR{t0[$1]=$2; next} ($1 in t0) && !($1 in skip){d+=$2-t0[$1]} END{printf "%.2f", d/hz}' "$f0" "$f1"
}
sys_busy_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat; }
origin_requests() { curl -s --max-time 2 http://127.0.0.1:18089/status | awk 'NR==3{print $3}' || echo 0; }
secs() { awk -v a="$1" -v b="$2" -v hz="$CLK_TCK" 'BEGIN{printf "%.2f",(b-a)/hz}'; }

# ---- wrk ----------------------------------------------------------------------------------
# wrk_run MODE BODY THREADS CONNS DURATION OUTFILE: one bounded wrk run (timeout as a second bound)
wrk_run() {
  local mode=$1 body=$2 t=$3 c=$4 d=$5 out=$6 url args=()
  case $mode in
    origin)   url="http://127.0.0.1:$ORIGIN_PORT/$body" ;;
    forward*) url="http://127.0.0.1:$PROXY_PORT/"; args=(-- "http://127.0.0.1:$ORIGIN_PORT/$body") ;;
    *)        url="http://127.0.0.1:$PROXY_PORT/$body" ;;
  esac
  /usr/bin/time -o "$out.time" -f '%U %S' timeout -k 5 $((d + 30)) \
    wrk "-t$t" "-c$c" "-d${d}s" --latency -s "$BENCH_DIR/lua/bench.lua" "$url" "${args[@]}" > "$out" 2>&1 \
    || log "  wrk exited non-zero ($out)"
}
curl_args() {   # MODE BODY -> curl arguments that fetch BODY through the peer
  case $1 in
    origin)   echo "http://127.0.0.1:$ORIGIN_PORT/$2" ;;
    forward*) echo "-x http://127.0.0.1:$PROXY_PORT http://127.0.0.1:$ORIGIN_PORT/$2" ;;
    *)        echo "http://127.0.0.1:$PROXY_PORT/$2" ;;
  esac
}
body_bytes() { case $1 in 1k) echo 1024;; 100k) echo 102400;; 1m) echo 1048576;; nocache/1k) echo 1024;; *) echo 0;; esac; }

# functional check before load: 200 + full body through the peer (and which LB backends answered)
check_peer() {
  local peer=$1 mode=$2 body code size origins
  for body in $BODIES; do
    # shellcheck disable=SC2046
    read -r code size < <(curl -s -o /dev/null -w '%{http_code} %{size_download}\n' --max-time 5 $(curl_args "$mode" "$body") || echo "000 0")
    if [ "$code" != 200 ] || [ "$size" != "$(body_bytes "$body")" ]; then
      log "CHECK FAILED $peer/$mode /$body: status=$code size=$size"; return 1
    fi
  done
  if [ "$mode" = lb ]; then
    # shellcheck disable=SC2046
    origins=$(for i in 1 2 3 4 5 6 7 8; do curl -s --max-time 5 -D - -o /dev/null $(curl_args lb 1k) || true; done \
      | tr -d '\r' | awk -F': ' 'tolower($1)=="x-origin"{print $2}' | sort -u | tr '\n' ' ')
    log "lb check: backends seen over 8 requests: $origins"
  fi
  return 0
}

# measure PEER MODE REP TEST BODY T C PID: one bounded wrk run + process metrics -> a line of runs.tsv
measure() {
  local peer=$1 mode=$2 rep=$3 test=$4 body=$5 t=$6 c=$7 pid=$8
  local tree otree c0 c1 oc0 oc1 r0 r1 s0 s1 raw memf wcpu others spid rss pss
  tree=$(proc_tree "$pid"); otree=$(proc_tree "$(cat "$RUN_DIR/origin.pid")")
  raw="$OUT/raw/r$rep-$peer-$mode-$test.txt"; memf="$OUT/raw/.mem"
  echo "0 0" > "$memf"
  # shellcheck disable=SC2086
  start_sampler "$memf" $tree
  all_ticks > "$raw.procs0"
  # shellcheck disable=SC2086
  c0=$(cpu_ticks $tree); oc0=$(cpu_ticks $otree); r0=$(origin_requests); s0=$(sys_busy_ticks)
  wrk_run "$mode" "$body" "$t" "$c" "$DURATION" "$raw"
  # shellcheck disable=SC2086
  c1=$(cpu_ticks $tree); oc1=$(cpu_ticks $otree); r1=$(origin_requests); s1=$(sys_busy_ticks)
  spid=$SAMPLER_PID
  wcpu=$(awk '{printf "%.2f", $1+$2}' "$raw.time" 2>/dev/null || echo 0)
  all_ticks > "$raw.procs1"
  # shellcheck disable=SC2086
  others=$(others_cpu_s "$raw.procs0" "$raw.procs1" $tree $otree $spid $$); rm -f "$raw.procs0" "$raw.procs1"
  stop_sampler
  read -r rss pss < "$memf"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rep" "$peer" "$mode" "$test" "$body" \
    "$(secs "$c0" "$c1")" "$((rss / 1024))" "$((pss / 1024))" "$(secs "$oc0" "$oc1")" \
    "$(( ${r1:-0} - ${r0:-0} ))" "$(echo $tree | wc -w)" "${wcpu:-0}" "$(secs "$s0" "$s1")" "${others:-0}" "$raw" >> "$RUNS"
  log "  $test: $(awk '/Requests\/sec/{print $2" rps"}' "$raw") $(grep -E 'Non-2xx|Socket errors' "$raw" | tr '\n' ' ' || true)"
}

run_config() {   # PEER MODE REP
  local peer=$1 mode=$2 rep=$3 pid body script="" w first=1 hint=0
  log "== rep $rep: $peer / $mode"
  if [ "$peer" = direct ]; then
    pid=$(cat "$RUN_DIR/origin.pid")
  else
    script="$BENCH_DIR/peers/$peer.sh"
    if ! "$script" start "$mode" >>"$OUT/driver.log" 2>&1; then
      log "START FAILED $peer/$mode"; "$script" stop "$mode" >>"$OUT/driver.log" 2>&1 || true; return 0
    fi
    pid=$("$script" pid)
    hint=$("$script" warmup 2>/dev/null | grep -E '^[0-9]+$' || echo 0)
  fi
  if check_peer "$peer" "$mode"; then
    for body in $BODIES; do
      # the first body gets the peer's warm-up hint (JVM peers: JVM_WARMUP s, for the JIT), later ones WARMUP s
      w=$WARMUP; if [ $first = 1 ] && [ "${hint:-0}" -gt "$w" ]; then w=$hint; fi; first=0
      wrk_run "$mode" "$body" "$THREADS" "$CONNS" "$w" "$OUT/raw/r$rep-$peer-$mode-$body-warmup.txt"
      measure "$peer" "$mode" "$rep" "$body-c$CONNS" "$body" "$THREADS" "$CONNS" "$pid"
    done
    if [ "$C1" = 1 ]; then measure "$peer" "$mode" "$rep" "1k-c1" 1k 1 1 "$pid"; fi
  fi
  if [ "$peer" != direct ]; then "$script" stop "$mode" >>"$OUT/driver.log" 2>&1 || log "stop of $peer/$mode failed"; fi
  return 0
}

cleanup() {
  stop_sampler
  if [ -n "$CUR_PEER" ] && [ "$CUR_PEER" != direct ]; then
    "$BENCH_DIR/peers/$CUR_PEER.sh" stop "$CUR_MODE" >/dev/null 2>&1 || true
    CUR_PEER=""
  fi
  if [ "$STARTED_ORIGIN" = 1 ]; then "$BENCH_DIR/origin/origin.sh" stop >/dev/null 2>&1 || true; STARTED_ORIGIN=0; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- plan: explicit peer[:modes] list, or every installed peer in MODES -------------------------------------------
EXPLICIT=1
if [ $# -eq 0 ]; then EXPLICIT=0; set -- $ALL_PEERS; fi
PLAN=()
for spec in "$@"; do
  peer=${spec%%:*}; modes=""
  if [[ $spec == *:* ]]; then modes=$(echo "${spec#*:}" | tr ',' ' '); fi
  if [ "$peer" = direct ]; then PLAN+=("direct:origin"); continue; fi
  script="$BENCH_DIR/peers/$peer.sh"
  [ -x "$script" ] || die "unknown peer $peer (no $script)"
  if ! "$script" prepare >>"$OUT/driver.log" 2>&1; then
    if [ $EXPLICIT = 1 ]; then die "$peer is not installed or could not be built (see $OUT/driver.log)"; fi
    log "skipping $peer: not installed"; continue
  fi
  if [ -z "$modes" ]; then
    for m in $("$script" modes); do
      case " $MODES " in *" $m "*) modes="$modes $m" ;; esac
    done
  fi
  for m in $modes; do PLAN+=("$peer:$m"); done
done
[ ${#PLAN[@]} -gt 0 ] || die "nothing to run"

# rough duration: per config and rep, warm-ups + measured runs + ~6 s for start, check and stop
est=0
for pm in "${PLAN[@]}"; do
  p=${pm%%:*}; n=0; first=$WARMUP
  case $p in gatehouse|jetty-proxy|littleproxy) first=$(( JVM_WARMUP > WARMUP ? JVM_WARMUP : WARMUP )) ;; esac
  for b in $BODIES; do n=$((n + 1)); done
  est=$(( est + REPS * (first + (n - 1) * WARMUP + n * DURATION + C1 * DURATION + 6) ))
done
if [ "${DRY_RUN:-0}" = 1 ]; then
  log "plan (${#PLAN[@]} configs x $REPS reps, about $(( (est + 59) / 60 )) min): ${PLAN[*]}"; exit 0
fi
if (exec 3<>"/dev/tcp/127.0.0.1/$PROXY_PORT") 2>/dev/null; then die "port $PROXY_PORT is busy; stop whatever listens there first"; fi
if ! (exec 3<>"/dev/tcp/127.0.0.1/$ORIGIN_PORT") 2>/dev/null; then
  "$BENCH_DIR/origin/origin.sh" start >/dev/null || die "origin did not start"
  STARTED_ORIGIN=1
fi

{ echo "date: $(date -Is)"; echo "host: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB"; echo "kernel: $(uname -r)"
  echo "java: $(java -version 2>&1 | head -1)"; echo "wrk: $(wrk -v 2>&1 | head -1 || true)"
  echo "gatehouse: $(cd "$PROJECT_ROOT" && git log -1 --format='%h %s' 2>/dev/null || echo unknown) (jar $(date -r "$PROJECT_ROOT/proxy-examples/target/gatehouse.jar" -Is 2>/dev/null || echo missing))"
  echo "plan: ${PLAN[*]}"; echo "REPS=$REPS WARMUP=$WARMUP JVM_WARMUP=$JVM_WARMUP DURATION=$DURATION THREADS=$THREADS CONNS=$CONNS BODIES=$BODIES C1=$C1"
  echo "loadavg at start: $(cat /proc/loadavg)"; } > "$OUT/meta.txt"
printf 'rep\tpeer\tmode\ttest\tbody\tcpu_s\trss_mb\tpss_mb\torigin_cpu_s\torigin_reqs\tnprocs\twrk_cpu_s\tsys_busy_s\tothers_cpu_s\traw\n' > "$RUNS"
log "plan (${#PLAN[@]} configs x $REPS reps, about $(( (est + 59) / 60 )) min): ${PLAN[*]}"
log "results in $OUT"

run_one() { CUR_PEER=${1%%:*}; CUR_MODE=${1#*:}; run_config "$CUR_PEER" "$CUR_MODE" "$2"; CUR_PEER=""; }
if [ "$INTERLEAVE" = 1 ]; then
  for rep in $(seq 1 "$REPS"); do for pm in "${PLAN[@]}"; do run_one "$pm" "$rep"; done; done
else
  for pm in "${PLAN[@]}"; do for rep in $(seq 1 "$REPS"); do run_one "$pm" "$rep"; done; done
fi
echo "loadavg at end: $(cat /proc/loadavg)" >> "$OUT/meta.txt"
cleanup
python3 "$BENCH_DIR/report.py" "$OUT" | tee "$OUT/summary.md"
