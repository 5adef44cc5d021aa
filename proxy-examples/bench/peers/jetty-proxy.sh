#!/bin/bash
# Jetty 12 ProxyHandler peer. Usage: jetty-proxy.sh start|stop <mode> | modes | build
# Modes: reverse lb forward static (no proxying: Jetty answering from memory, the ceiling for cache hits).  Env: JAVA_HOME (default: system java 17), JAVA_OPTS (default below),
#        JETTY_PEER_OPTS (extra -Dbench.* options, see JettyProxyPeer.java).
. "$(dirname "$0")/../lib.sh"
NAME=jetty-proxy; MODES="reverse lb forward static"
SRC="$BENCH_DIR/peers/jetty-proxy"; DIR="$RUN_DIR/build/jetty-proxy"; JAR="$DIR/target/jetty-proxy-peer.jar"
PIDF="$RUN_DIR/peer-$NAME.pid"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
JAVA_OPTS="${JAVA_OPTS:--Xms256m -Xmx1g -XX:+UseG1GC}"
case "$1" in
  modes) echo $MODES ;;
  warmup) echo "${JVM_WARMUP:-30}" ;;   # JIT warm-up the driver should give the first body (seconds)
  build) rm -rf "$DIR"; mkdir -p "$DIR" && cp -r "$SRC"/pom.xml "$SRC"/src "$DIR"/ && (cd "$DIR" && mvn -q -B package -DskipTests) ;;   # built under /tmp: shared/ may be read-only
  prepare) command -v "$JAVA" >/dev/null && { [ -f "$JAR" ] || "$0" build; } ;;   # java present and jar built (builds it once)
  start)
    case " $MODES " in *" $2 "*) ;; *) echo "$NAME: unsupported mode '$2' (supported: $MODES)" >&2; exit 2 ;; esac
    # build when missing or older than the sources (a jar from an older harness lacks newer modes)
    { [ -f "$JAR" ] && [ -z "$(find "$SRC/src" "$SRC/pom.xml" -newer "$JAR" -print -quit)" ]; } || "$0" build || exit 1
    nohup "$JAVA" $JAVA_OPTS $JETTY_PEER_OPTS -Dbench.port="$PROXY_PORT" -Dbench.www="$RUN_DIR/www" -jar "$JAR" "$2" >>"$RUN_DIR/peer-$NAME.log" 2>&1 &
    echo $! > "$PIDF"
    wait_port "$PROXY_PORT" 60 || exit 1 ;;
  stop)
    kill_pidfile "$PIDF" TERM; wait_port_free "$PROXY_PORT" ;;
  pid) cat "$PIDF" ;;
  *) echo "usage: $0 start|stop <mode> | prepare | modes | pid | build | warmup" >&2; exit 64 ;;
esac
