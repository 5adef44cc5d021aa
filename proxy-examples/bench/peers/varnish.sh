#!/bin/bash
# Varnish peer. Usage: varnish.sh start|stop <mode> | modes
# Modes: reverse-cache (default VCL: caches per Cache-Control), reverse (VCL return(pass): no caching),
#        lb (pass + directors.round_robin over 18090/18091)
# Storage: malloc (RAM) 256 MB. Thread pools: default 2 (= cores), as Varnish docs recommend.
. "$(dirname "$0")/../lib.sh"
NAME=varnish; MODES="reverse reverse-cache lb"
PIDF="$RUN_DIR/peer-$NAME.pid"; VCL="$RUN_DIR/peer-$NAME.vcl"; WORKDIR="$RUN_DIR/varnish"
gen_vcl() {
  local recv="" init="" hdr='set resp.http.X-Cache = "PASS";'
  case $1 in
    reverse) recv='return (pass);' ;;
    reverse-cache) hdr='if (obj.hits > 0) { set resp.http.X-Cache = "HIT"; } else { set resp.http.X-Cache = "MISS"; }' ;;
    lb) recv='set req.backend_hint = rr.backend(); return (pass);'
        init='sub vcl_init { new rr = directors.round_robin(); rr.add_backend(a); rr.add_backend(b); }' ;;
    *) return 2 ;;
  esac
  cat > "$VCL" <<VCL
vcl 4.1;
import directors;
backend default { .host = "127.0.0.1"; .port = "18080"; }
backend a { .host = "127.0.0.1"; .port = "18090"; }
backend b { .host = "127.0.0.1"; .port = "18091"; }
$init
sub vcl_recv { $recv }
sub vcl_deliver { $hdr }
VCL
}
case "$1" in
  prepare) command -v varnishd >/dev/null ;;   # installed? (exit 1 when not)
  modes) echo $MODES ;;
  start)
    gen_vcl "$2" || { echo "$NAME: unsupported mode '$2' (supported: $MODES)" >&2; exit 2; }
    mkdir -p "$WORKDIR"
    varnishd -a 127.0.0.1:$PROXY_PORT -f "$VCL" -s malloc,256m -n "$WORKDIR" -P "$PIDF" \
      -p thread_pools=2 -p timeout_idle=65 -p vcc_err_unref=off >>"$RUN_DIR/peer-$NAME.log" 2>&1 || exit 1
    wait_port "$PROXY_PORT" || exit 1 ;;
  stop)
    kill_pidfile "$PIDF" TERM; wait_port_free "$PROXY_PORT" ;;
  pid) cat "$PIDF" ;;
  *) echo "usage: $0 start|stop <mode> | prepare | modes | pid" >&2; exit 64 ;;
esac
