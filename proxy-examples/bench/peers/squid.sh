#!/bin/bash
# Squid peer. Usage: squid.sh start|stop <mode> | modes
# Modes: forward (cache deny all), forward-cache (memory-only cache, cache_mem 256 MB),
#        reverse-cache (accelerator mode, cache_peer origin 127.0.0.1:18080)
# SMP: SQUID_WORKERS (default 2) kid processes + coordinator; memory cache is shared between workers.
. "$(dirname "$0")/../lib.sh"
NAME=squid; MODES="forward forward-cache reverse-cache"
SQUID_WORKERS="${SQUID_WORKERS:-2}"
SDIR="$RUN_DIR/squid"; PIDF="$RUN_DIR/peer-$NAME.pid"; CONF="$RUN_DIR/peer-$NAME.conf"
gen_conf() {
  local mode=$1 m
  case $mode in
    forward) m="http_port 127.0.0.1:$PROXY_PORT
cache deny all
http_access allow localhost to_local
http_access deny all" ;;
    forward-cache) m="http_port 127.0.0.1:$PROXY_PORT
http_access allow localhost to_local
http_access deny all" ;;
    reverse-cache) m="http_port 127.0.0.1:$PROXY_PORT accel defaultsite=127.0.0.1:18080 no-vhost
cache_peer 127.0.0.1 parent 18080 0 no-query no-digest originserver name=origin
cache_peer_access origin allow all
never_direct allow all
http_access allow localhost
http_access deny all" ;;
    *) return 2 ;;
  esac
  cat > "$CONF" <<CONF
workers $SQUID_WORKERS
pid_filename $PIDF
cache_effective_user proxy
cache_log $SDIR/cache.log
access_log none
cache_store_log none
logfile_rotate 0
coredump_dir $SDIR
shutdown_lifetime 0 seconds
max_filedescriptors 16384
acl to_local dst 127.0.0.1/32
# memory-only cache (no cache_dir)
cache_mem 256 MB
maximum_object_size_in_memory 2 MB
maximum_object_size 2 MB
memory_cache_shared on
via on
forwarded_for on
client_persistent_connections on
server_persistent_connections on
pconn_timeout 65 seconds
$m
CONF
}
case "$1" in
  prepare) command -v squid >/dev/null ;;   # installed? (exit 1 when not)
  modes) echo $MODES ;;
  start)
    gen_conf "$2" || { echo "$NAME: unsupported mode '$2' (supported: $MODES)" >&2; exit 2; }
    mkdir -p "$SDIR"; chown proxy:proxy "$SDIR"
    squid -k parse -f "$CONF" >>"$RUN_DIR/peer-$NAME.log" 2>&1 || { echo "squid config parse failed, see $RUN_DIR/peer-$NAME.log" >&2; exit 1; }
    squid -f "$CONF" >>"$RUN_DIR/peer-$NAME.log" 2>&1 || exit 1
    wait_port "$PROXY_PORT" 60 || exit 1
    i=0; while [ ! -s "$PIDF" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done ;;
  stop)
    kill_pidfile "$PIDF" TERM; wait_port_free "$PROXY_PORT" ;;
  pid) cat "$PIDF" ;;
  *) echo "usage: $0 start|stop <mode> | prepare | modes | pid" >&2; exit 64 ;;
esac
