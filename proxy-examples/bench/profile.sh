#!/bin/bash
# JFR profile of Gatehouse under load (loopback only, bounded in time). See README.md.
#
#   proxy-examples/bench/profile.sh                 # reverse mode, /1k, 30 s warm-up, 20 s recording
#   MODE=forward BODY=100k proxy-examples/bench/profile.sh
#
# Env (defaults): MODE=reverse BODY=1k WARMUP=30 RECORD=20 THREADS=2 CONNS=64 JFR_SETTINGS=profile
#   JFR=/tmp/gh.jfr (the recording)  OUT=/tmp/bench/profile-<stamp> (jfr summary + hot-frame report)
# Starts the origin if needed, starts Gatehouse with -XX:+FlightRecorder, warms it up with wrk, then starts
# `jcmd PID JFR.start duration=RECORD` while a second wrk run is going, and prints jfr_top.py's report.
set -euo pipefail
BENCH_DIR="$(cd "$(dirname "$0")" && pwd)"
. "$BENCH_DIR/lib.sh"
export GATEHOUSE_HOME="${GATEHOUSE_HOME:-$(cd "$BENCH_DIR/../.." && pwd)}"
MODE=${MODE:-reverse}; BODY=${BODY:-1k}; WARMUP=${WARMUP:-30}; RECORD=${RECORD:-20}
THREADS=${THREADS:-2}; CONNS=${CONNS:-64}; JFR_SETTINGS=${JFR_SETTINGS:-profile}
JFR=${JFR:-/tmp/gh.jfr}; OUT=${OUT:-$RUN_DIR/profile-$(date +%Y%m%d-%H%M%S)}
PEER="$BENCH_DIR/peers/gatehouse.sh"
JAVA_BIN_DIR="${JAVA_HOME:+$JAVA_HOME/bin/}"
mkdir -p "$OUT"
STARTED_ORIGIN=0; STARTED_PEER=0; WRK_PID=""
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
cleanup() {
  if [ -n "$WRK_PID" ]; then kill "$WRK_PID" 2>/dev/null || true; wait "$WRK_PID" 2>/dev/null || true; fi
  if [ "$STARTED_PEER" = 1 ]; then "$PEER" stop "$MODE" >/dev/null 2>&1 || true; STARTED_PEER=0; fi
  if [ "$STARTED_ORIGIN" = 1 ]; then "$BENCH_DIR/origin/origin.sh" stop >/dev/null 2>&1 || true; STARTED_ORIGIN=0; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wrk_args() {   # DURATION -> wrk arguments for MODE/BODY
  case $MODE in
    forward) echo "-t$THREADS -c$CONNS -d${1}s -s $BENCH_DIR/lua/bench.lua http://127.0.0.1:$PROXY_PORT/ -- http://127.0.0.1:$ORIGIN_PORT/$BODY" ;;
    *)       echo "-t$THREADS -c$CONNS -d${1}s -s $BENCH_DIR/lua/bench.lua http://127.0.0.1:$PROXY_PORT/$BODY" ;;
  esac
}

if (exec 3<>"/dev/tcp/127.0.0.1/$PROXY_PORT") 2>/dev/null; then log "port $PROXY_PORT is busy"; exit 1; fi
if ! (exec 3<>"/dev/tcp/127.0.0.1/$ORIGIN_PORT") 2>/dev/null; then
  "$BENCH_DIR/origin/origin.sh" start >/dev/null; STARTED_ORIGIN=1
fi
"$PEER" prepare
GATEHOUSE_JAVA_OPTS="${GATEHOUSE_JAVA_OPTS:-} -XX:+FlightRecorder" "$PEER" start "$MODE"
STARTED_PEER=1
PID=$("$PEER" pid)
log "gatehouse $MODE pid $PID; warm-up ${WARMUP}s"
# shellcheck disable=SC2046
timeout -k 5 $((WARMUP + 30)) wrk $(wrk_args "$WARMUP") > "$OUT/wrk-warmup.txt" 2>&1 || log "warm-up wrk exited non-zero"
rm -f "$JFR"
# shellcheck disable=SC2046
timeout -k 5 $((RECORD + 40)) wrk --latency $(wrk_args $((RECORD + 6))) > "$OUT/wrk-recorded.txt" 2>&1 &
WRK_PID=$!
sleep 2
"${JAVA_BIN_DIR}jcmd" "$PID" JFR.start name=gatehouse settings="$JFR_SETTINGS" duration="${RECORD}s" filename="$JFR" > "$OUT/jcmd.txt" 2>&1
log "recording ${RECORD}s into $JFR"
wait "$WRK_PID" || log "wrk exited non-zero"
WRK_PID=""
for _ in $(seq 1 100); do   # the recording is written when its duration ends
  if [ -s "$JFR" ] && ! "${JAVA_BIN_DIR}jcmd" "$PID" JFR.check 2>/dev/null | grep -q 'name=gatehouse'; then break; fi
  sleep 0.2
done
CPU_S=$(awk '{printf "%.1f", ($14 + $15) / '"$(getconf CLK_TCK)"'}' "/proc/$PID/stat")
cleanup
log "wrk during the recording: $(awk '/Requests\/sec/{print $2" rps"}' "$OUT/wrk-recorded.txt"); gatehouse total CPU ${CPU_S}s"
"${JAVA_BIN_DIR}jfr" summary "$JFR" > "$OUT/jfr-summary.txt"
python3 "$BENCH_DIR/jfr_top.py" "$JFR" | tee "$OUT/hot-frames.md"
log "recording: $JFR; reports: $OUT"
