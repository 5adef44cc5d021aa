#!/bin/bash
# The h2 row: h2load (Debian's nghttp2-client) against Gatehouse and nginx as HTTP/2 reverse proxies in front of the
# nginx origin (HTTP/1.1 upstream), over h2c (prior knowledge) and h2 (TLS + ALPN). Loopback only; every h2load run
# is bounded by -n and by `timeout`; every process started is stopped by pid.
#
# Usage: proxy-examples/bench/h2load.sh [peer[:mode,mode] ...]     (default: gatehouse nginx, modes h2c h2)
#        DRY_RUN=1 proxy-examples/bench/h2load.sh                  (print the plan only)
#        N=200 WARMUP_N=0 JVM_WARMUP_N=200 BODIES=1k proxy-examples/bench/h2load.sh   (smoke: checks it runs)
# Env: N=200000 requests per measured run, CLIENTS=64 connections, STREAMS=10 concurrent streams per connection
#      (h2load -m), THREADS=2 (h2load -t), BODIES="1k 100k", REPS=2, WARMUP_N=20000 (every run),
#      JVM_WARMUP_N=300000 (once per JVM peer and mode, before its first body: JIT warm-up), MODES="h2c h2", OUT=...
# Output: $OUT/summary.md (rps, mean/p50-ish latency from h2load, CPU us per request of the proxy's process tree,
#         failed requests), $OUT/runs.tsv, $OUT/raw/*.txt (every h2load output).
set -u
. "$(dirname "$0")/lib.sh"
N=${N:-200000}; CLIENTS=${CLIENTS:-64}; STREAMS=${STREAMS:-10}; THREADS=${THREADS:-2}
BODIES=${BODIES:-"1k 100k"}; REPS=${REPS:-2}; WARMUP_N=${WARMUP_N:-20000}; JVM_WARMUP_N=${JVM_WARMUP_N:-300000}
MODES=${MODES:-"h2c h2"}
OUT=${OUT:-$RUN_DIR/results/h2-$(date +%Y%m%d-%H%M%S)}
command -v h2load >/dev/null || { echo "h2load not found (apt-get install -y nghttp2-client)" >&2; exit 1; }
command -v nginx >/dev/null || { echo "nginx not found (the origin): apt-get install -y nginx-light" >&2; exit 1; }
PEERS=("$@"); [ ${#PEERS[@]} -eq 0 ] && PEERS=(gatehouse nginx)

plan=()
for spec in "${PEERS[@]}"; do
  peer=${spec%%:*}; modes=$MODES; [ "$spec" != "$peer" ] && modes=${spec#*:}; modes=${modes//,/ }
  [ -x "$BENCH_DIR/peers/$peer.sh" ] || { echo "unknown peer $peer" >&2; exit 2; }
  for m in $modes; do plan+=("$peer $m"); done
done
echo "h2load plan: ${plan[*]/%/;} bodies: $BODIES, reps: $REPS, -n $N -c $CLIENTS -m $STREAMS -t $THREADS"
[ "${DRY_RUN:-0}" = 1 ] && exit 0

proc_tree() {   # PID -> PID and all its descendants
  ps -e -o pid=,ppid= | awk -v root="$1" '{ kids[$2] = kids[$2] " " $1 }
    END { q[1] = root; n = 1; i = 1; while (i <= n) { p = q[i++]; printf "%s ", p
          m = split(kids[p], a, " "); for (j = 1; j <= m; j++) q[++n] = a[j] } }'
}
cpu_ticks() {   # PIDS... -> summed utime+stime ticks
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
HZ=$(getconf CLK_TCK)
mkdir -p "$OUT/raw"
printf 'peer\tmode\tbody\trep\trps\tmean_ms\tsucceeded\tfailed\tcpu_us_per_req\n' > "$OUT/runs.tsv"
STARTED_ORIGIN=0; CURRENT=""
cleanup() {
  [ -n "$CURRENT" ] && "$BENCH_DIR/peers/${CURRENT% *}.sh" stop "${CURRENT#* }" >/dev/null 2>&1
  [ "$STARTED_ORIGIN" = 1 ] && "$BENCH_DIR/origin/origin.sh" stop >/dev/null 2>&1
}
trap cleanup EXIT INT TERM
if ! (exec 3<>/dev/tcp/127.0.0.1/"$ORIGIN_PORT") 2>/dev/null; then
  "$BENCH_DIR/origin/origin.sh" start >/dev/null || { echo "origin did not start" >&2; exit 1; }
  STARTED_ORIGIN=1
fi
(exec 3<>/dev/tcp/127.0.0.1/"$PROXY_PORT") 2>/dev/null && { echo "port $PROXY_PORT is busy" >&2; exit 1; }

h2run() {   # N URL -> h2load output
  timeout 600 h2load -n "$1" -c "$CLIENTS" -m "$STREAMS" -t "$THREADS" "$2" 2>&1
}
for rep in $(seq 1 "$REPS"); do
  for entry in "${plan[@]}"; do
    peer=${entry% *}; mode=${entry#* }
    "$BENCH_DIR/peers/$peer.sh" start "$mode" >/dev/null || { echo "$peer $mode did not start" >&2; continue; }
    CURRENT="$entry"
    scheme=http; [ "$mode" = h2 ] && scheme=https
    pid=$("$BENCH_DIR/peers/$peer.sh" pid)
    first=1
    for body in $BODIES; do
      url="$scheme://127.0.0.1:$PROXY_PORT/$body"
      curl -sk --http2-prior-knowledge -o /dev/null "$url" 2>/dev/null || curl -sk --http2 -o /dev/null "$url" \
        || { echo "$peer $mode: $url does not answer" >&2; continue; }
      warm=$WARMUP_N
      if [ "$first" = 1 ] && [ "$peer" = gatehouse -o "$peer" = jetty-proxy ]; then warm=$JVM_WARMUP_N; fi
      first=0
      [ "$warm" -gt 0 ] && h2run "$warm" "$url" > "$OUT/raw/$peer-$mode-$body-$rep-warmup.txt"
      before=$(cpu_ticks $(proc_tree "$pid"))
      h2run "$N" "$url" > "$OUT/raw/$peer-$mode-$body-$rep.txt"
      after=$(cpu_ticks $(proc_tree "$pid"))
      f="$OUT/raw/$peer-$mode-$body-$rep.txt"
      rps=$(awk '/^finished in/{gsub(",","",$4); print $4}' "$f")
      mean=$(awk '/^time for request:/{getline; print $4}' "$f")
      ok=$(awk '/^requests:/{print $8}' "$f"); failed=$(awk '/^requests:/{print $10}' "$f")
      cpu=$(awk -v t=$((after - before)) -v hz="$HZ" -v n="${ok:-0}" 'BEGIN { if (n > 0) printf "%.1f", t * 1e6 / hz / n; else print "-" }')
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$peer" "$mode" "$body" "$rep" "${rps:--}" "${mean:--}" \
        "${ok:--}" "${failed:--}" "$cpu" | tee -a "$OUT/runs.tsv"
    done
    "$BENCH_DIR/peers/$peer.sh" stop "$mode" >/dev/null; CURRENT=""
  done
done
{ echo "# h2load: -n $N -c $CLIENTS -m $STREAMS -t $THREADS, best of $REPS reps"
  echo
  echo "| peer | mode | body | rps | mean latency | CPU us/req | failed |"
  echo "|---|---|---|---:|---:|---:|---:|"
  awk -F'\t' 'NR > 1 { k = $1 FS $2 FS $3; if (!(k in best) || $5 + 0 > best[k] + 0) { best[k] = $5; row[k] = $0 } }
    END { for (k in row) { split(row[k], f, FS); printf "| %s | %s | %s | %s | %s | %s | %s |\n", f[1], f[2], f[3], f[5], f[6], f[9], f[8] } }' \
    "$OUT/runs.tsv" | sort
} > "$OUT/summary.md"
cat "$OUT/summary.md"
