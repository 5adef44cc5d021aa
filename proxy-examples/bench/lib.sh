# Shared helpers for the bench scripts (copied from shared/bench/lib.sh). Source it: . "$(dirname "$0")/../lib.sh"
BENCH_DIR="${BENCH_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}"
RUN_DIR="${RUN_DIR:-/tmp/bench}"          # pid files, logs, generated configs, cache dirs
PROXY_PORT="${PROXY_PORT:-18081}"
ORIGIN_PORT="${ORIGIN_PORT:-18080}"
mkdir -p "$RUN_DIR"

# wait_port PORT [TIMEOUT_S]: wait until something listens on 127.0.0.1:PORT
wait_port() {
  local port=$1 t=${2:-30} i=0
  while ! (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; do
    i=$((i+1)); [ $i -gt $((t*10)) ] && { echo "timeout waiting for port $port" >&2; return 1; }
    sleep 0.1
  done
}
# wait_port_free PORT [TIMEOUT_S]
wait_port_free() {
  local port=$1 t=${2:-30} i=0
  while (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; do
    i=$((i+1)); [ $i -gt $((t*10)) ] && { echo "port $port still busy" >&2; return 1; }
    sleep 0.1
  done
}
# kill_pidfile FILE [SIGNAL]: signal the pid in FILE, wait for it to exit (SIGKILL after 10s), remove FILE
kill_pidfile() {
  local f=$1 sig=${2:-TERM} pid i=0
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -"$sig" "$pid" 2>/dev/null
    while kill -0 "$pid" 2>/dev/null; do
      i=$((i+1)); [ $i -eq 100 ] && kill -KILL "$pid" 2>/dev/null
      [ $i -gt 150 ] && break
      sleep 0.1
    done
  fi
  rm -f "$f"
}
# ensure_test_cert: a throw-away self-signed certificate for localhost/127.0.0.1 (h2 over TLS benches), made once in
# $RUN_DIR as h2-cert.pem and h2-key.pem (PKCS#8); never committed
ensure_test_cert() {
  [ -s "$RUN_DIR/h2-cert.pem" ] && [ -s "$RUN_DIR/h2-key.pem" ] && return 0
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 7 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
    -keyout "$RUN_DIR/h2-key.pem" -out "$RUN_DIR/h2-cert.pem" 2>/dev/null
}
