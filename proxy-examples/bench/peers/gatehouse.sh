#!/bin/bash
# Gatehouse peer: runs the project's launcher jar (proxy-examples/target/gatehouse.jar).
# Usage: gatehouse.sh start|stop <mode> | prepare | build | modes | pid | warmup
# Modes: reverse (-> 127.0.0.1:18080), forward (absolute-form; loopback origin allowed explicitly),
#        lb (reverse, round robin over 127.0.0.1:18090 and :18091), reverse-cache and forward-cache (the same with
#        --cache-memory 256m; run.sh takes them only when named, e.g. gatehouse:reverse-cache, or with MODES=...),
#        h2c and h2 (reverse, for h2load.sh: cleartext HTTP/2 with prior knowledge on the plain listener, or h2 over
#        TLS with ALPN on the TLS listener at $PROXY_PORT with a throw-away certificate; HTTP/1.1 to the origin).
# Env: GATEHOUSE_HOME (project root; default: three levels above this script), JAVA_HOME,
#      JAVA_OPTS (default as for the other JVM peers), GATEHOUSE_JAVA_OPTS (extra JVM options, e.g. for JFR),
#      GATEHOUSE_ARGS (extra launcher flags).
. "$(dirname "$0")/../lib.sh"
NAME=gatehouse; MODES="reverse forward lb reverse-cache forward-cache h2c h2"
HOME_DIR="${GATEHOUSE_HOME:-$(cd "$(dirname "$0")/../../.." && pwd)}"
JAR="$HOME_DIR/proxy-examples/target/gatehouse.jar"
PIDF="$RUN_DIR/peer-$NAME.pid"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
JAVA_OPTS="${JAVA_OPTS:--Xms256m -Xmx1g -XX:+UseG1GC}"
O="127.0.0.1:${ORIGIN_PORT}"
case "$1" in
  modes) echo $MODES ;;
  warmup) echo "${JVM_WARMUP:-30}" ;;   # JIT warm-up the driver gives the first body (seconds)
  # proxy-core/-cache/-filter are built too (-am) so that the jar holds this checkout's code; tests are not run
  build) (cd "$HOME_DIR" && mvn -B -q -pl proxy-examples -am package -DskipTests) ;;
  prepare) command -v "$JAVA" >/dev/null && { [ -f "$JAR" ] || "$0" build; } ;;
  start)
    PORT_ARGS="--port $PROXY_PORT"
    case "$2" in
      reverse) ARGS="reverse --upstream http://$O" ;;
      forward) ARGS="forward --allow-internal-destination $O" ;;
      lb)      ARGS="reverse --upstream http://127.0.0.1:18090 --upstream http://127.0.0.1:18091 --balance round-robin" ;;
      reverse-cache) ARGS="reverse --upstream http://$O --cache-memory 256m" ;;
      forward-cache) ARGS="forward --allow-internal-destination $O --cache-memory 256m" ;;
      h2c)     ARGS="reverse --upstream http://$O" ;;
      h2)      ensure_test_cert || exit 1
               ARGS="reverse --upstream http://$O --tls-cert $RUN_DIR/h2-cert.pem --tls-key $RUN_DIR/h2-key.pem"
               PORT_ARGS="--port $((PROXY_PORT + 2)) --tls-port $PROXY_PORT" ;;
      *) echo "$NAME: unsupported mode '$2' (supported: $MODES)" >&2; exit 2 ;;
    esac
    [ -f "$JAR" ] || "$0" build || exit 1
    nohup "$JAVA" $JAVA_OPTS ${GATEHOUSE_JAVA_OPTS:-} -jar "$JAR" $ARGS $PORT_ARGS --access-log off \
      ${GATEHOUSE_ARGS:-} >>"$RUN_DIR/peer-$NAME.log" 2>&1 &
    echo $! > "$PIDF"
    wait_port "$PROXY_PORT" 60 || exit 1 ;;
  stop) kill_pidfile "$PIDF" TERM; wait_port_free "$PROXY_PORT" ;;
  pid) cat "$PIDF" ;;
  *) echo "usage: $0 start|stop <mode> | prepare | build | modes | pid | warmup" >&2; exit 64 ;;
esac
