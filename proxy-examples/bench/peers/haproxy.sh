#!/bin/bash
# HAProxy peer. Usage: haproxy.sh start|stop <mode> | modes
# Modes: reverse lb reverse-cache (HAProxy's small-object RAM cache, honours Cache-Control max-age)
. "$(dirname "$0")/../lib.sh"
NAME=haproxy; MODES="reverse reverse-cache lb"
PIDF="$RUN_DIR/peer-$NAME.pid"; CONF="$RUN_DIR/peer-$NAME.cfg"
gen_conf() {
  local mode=$1 be extra=""
  case $mode in
    reverse) be=origin ;;
    reverse-cache) be=origin
      extra='    http-request cache-use c
    http-response cache-store c
    http-response set-header X-Cache HIT if !{ srv_id -m found }' ;;
    lb) be=lb ;;
    *) return 2 ;;
  esac
  cat > "$CONF" <<CONF
global
    nbthread 2
    maxconn 8000
    log stderr local0 err
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 65s
    option http-keep-alive
    http-reuse safe
cache c
    total-max-size 256
    max-object-size 2097152
    max-age 3600
frontend fe
    bind 127.0.0.1:$PROXY_PORT
$extra
    default_backend $be
backend origin
    server o1 127.0.0.1:18080 maxconn 1000
backend lb
    balance roundrobin
    server a 127.0.0.1:18090 maxconn 1000
    server b 127.0.0.1:18091 maxconn 1000
CONF
}
case "$1" in
  prepare) command -v haproxy >/dev/null ;;   # installed? (exit 1 when not)
  modes) echo $MODES ;;
  start)
    gen_conf "$2" || { echo "$NAME: unsupported mode '$2' (supported: $MODES)" >&2; exit 2; }
    haproxy -c -q -f "$CONF" || exit 1
    haproxy -D -f "$CONF" -p "$PIDF" 2>>"$RUN_DIR/peer-$NAME.log" || exit 1
    wait_port "$PROXY_PORT" || exit 1 ;;
  stop)
    kill_pidfile "$PIDF" USR1; wait_port_free "$PROXY_PORT" ;;
  pid) cat "$PIDF" ;;
  *) echo "usage: $0 start|stop <mode> | prepare | modes | pid" >&2; exit 64 ;;
esac
