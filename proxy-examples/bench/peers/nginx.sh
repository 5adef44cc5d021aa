#!/bin/bash
# nginx peer. Usage: nginx.sh start|stop <mode> | nginx.sh modes
# Modes: reverse reverse-cache forward forward-cache lb, and h2c / h2 (reverse on an HTTP/2 listener, for h2load.sh:
#        `listen ... http2` as nginx 1.22 spells it, cleartext with prior knowledge or TLS with a throw-away certificate)
# Cache: nginx's proxy_cache is file based; the cache dir is on tmpfs (/dev/shm) so it is effectively in memory.
# Forward modes: nginx has no generic forward-proxy support; the absolute-form request's Host is mapped
# to a named upstream (allow-list of 127.0.0.1:18080/18090/18091) so upstream keepalive works.
. "$(dirname "$0")/../lib.sh"
NAME=nginx; MODES="reverse reverse-cache forward forward-cache lb h2c h2"
PIDF="$RUN_DIR/peer-$NAME.pid"; CONF="$RUN_DIR/peer-$NAME.conf"; CACHE=/dev/shm/bench-nginx-cache
gen_conf() {
  local mode=$1 loc listen="listen 127.0.0.1:$PROXY_PORT backlog=4096;"
  case $mode in
    h2c)           loc='proxy_pass http://origin;'; listen="listen 127.0.0.1:$PROXY_PORT http2 backlog=4096;" ;;
    h2)            loc='proxy_pass http://origin;'
                   listen="listen 127.0.0.1:$PROXY_PORT ssl http2 backlog=4096; ssl_certificate $RUN_DIR/h2-cert.pem; ssl_certificate_key $RUN_DIR/h2-key.pem;" ;;
    reverse)       loc='proxy_pass http://origin;' ;;
    reverse-cache) loc='proxy_pass http://origin; proxy_cache c; proxy_cache_lock on; add_header X-Cache $upstream_cache_status;' ;;
    lb)            loc='proxy_pass http://lb;' ;;
    forward)       loc='if ($fwd = "") { return 403; } proxy_pass http://$fwd;' ;;
    forward-cache) loc='if ($fwd = "") { return 403; } proxy_pass http://$fwd; proxy_cache c; proxy_cache_key $scheme$http_host$request_uri; proxy_cache_lock on; add_header X-Cache $upstream_cache_status;' ;;
    *) return 2 ;;
  esac
  cat > "$CONF" <<CONF
worker_processes auto;
worker_rlimit_nofile 16384;
pid $PIDF;
error_log $RUN_DIR/peer-$NAME-error.log warn;
events { worker_connections 8192; multi_accept on; }
http {
  access_log off;
  server_tokens off;
  tcp_nodelay on;
  keepalive_timeout 65s;
  keepalive_requests 1000000;
  client_body_temp_path $RUN_DIR/nginx-peer-tmp/body;
  proxy_temp_path $RUN_DIR/nginx-peer-tmp/proxy;
  fastcgi_temp_path $RUN_DIR/nginx-peer-tmp/fcgi;
  uwsgi_temp_path $RUN_DIR/nginx-peer-tmp/uwsgi;
  scgi_temp_path $RUN_DIR/nginx-peer-tmp/scgi;
  proxy_http_version 1.1;
  proxy_set_header Connection "";
  proxy_cache_path $CACHE levels=1:2 keys_zone=c:16m max_size=1g inactive=60m use_temp_path=off;
  upstream origin { server 127.0.0.1:18080; keepalive 128; keepalive_requests 1000000; }
  upstream lb     { server 127.0.0.1:18090; server 127.0.0.1:18091; keepalive 128; keepalive_requests 1000000; }
  upstream o18080 { server 127.0.0.1:18080; keepalive 128; keepalive_requests 1000000; }
  upstream o18090 { server 127.0.0.1:18090; keepalive 128; keepalive_requests 1000000; }
  upstream o18091 { server 127.0.0.1:18091; keepalive 128; keepalive_requests 1000000; }
  map \$http_host \$fwd { default ""; "127.0.0.1:18080" o18080; "127.0.0.1:18090" o18090; "127.0.0.1:18091" o18091; }
  server {
    $listen
    location / { $loc }
  }
}
CONF
}
case "$1" in
  prepare) command -v nginx >/dev/null ;;   # installed? (exit 1 when not)
  modes) echo $MODES ;;
  start)
    [ "$2" = h2 ] && { ensure_test_cert || exit 1; }
    gen_conf "$2" || { echo "$NAME: unsupported mode '$2' (supported: $MODES)" >&2; exit 2; }
    rm -rf "$CACHE"; mkdir -p "$CACHE" "$RUN_DIR/nginx-peer-tmp"
    nginx -c "$CONF" -g 'daemon on;' || exit 1
    wait_port "$PROXY_PORT" || exit 1 ;;
  stop)
    kill_pidfile "$PIDF" QUIT; wait_port_free "$PROXY_PORT"; rm -rf "$CACHE" ;;
  pid) cat "$PIDF" ;;
  *) echo "usage: $0 start|stop <mode> | prepare | modes | pid" >&2; exit 64 ;;
esac
