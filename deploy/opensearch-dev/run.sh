#!/usr/bin/env bash
# Start/stop a real OpenSearch 2.19.6 node or cluster built from Maven Central artifacts.
#
#   run.sh start  [--nodes N] [--port P] [--transport-port T] [--data DIR] [--heap SIZE]
#                 [--node I] [--timeout SECS]
#   run.sh stop   [--data DIR] [--node I] [--timeout SECS]
#   run.sh status [--data DIR]
#   run.sh build
#
# Node I of an N-node cluster listens on HTTP P+I and transport T+I (defaults 9200 and P+100),
# runs in its own JVM, and keeps its home in DIR/node-I, its log in DIR/node-I.log and its pid
# in DIR/node-I.pid. DIR defaults to <repo>/.data/opensearch. `start` starts the nodes that are
# not running (so it also restarts a killed node) and waits until they answer
# _cluster/health; --node I limits start/stop to one node. See README.md.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"

CMD="${1:-}"
[ $# -gt 0 ] && shift

NODES=""
PORT=""
TPORT=""
DATA="$REPO/.data/opensearch"
HEAP="${OPENSEARCH_HEAP:-512m}"
ONLY=""
TIMEOUT=""

usage() {
	sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
	exit "${1:-2}"
}

while [ $# -gt 0 ]; do
	case "$1" in
	--nodes) NODES="$2"; shift 2 ;;
	--port) PORT="$2"; shift 2 ;;
	--transport-port) TPORT="$2"; shift 2 ;;
	--data) DATA="$2"; shift 2 ;;
	--heap) HEAP="$2"; shift 2 ;;
	--node) ONLY="$2"; shift 2 ;;
	--timeout) TIMEOUT="$2"; shift 2 ;;
	-h | --help) usage 0 ;;
	*) echo "run.sh: unknown option $1" >&2; usage ;;
	esac
done
mkdir -p "$DATA"
DATA="$(cd "$DATA" && pwd)"
CONF="$DATA/cluster.conf"

JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"

log() { echo "opensearch: $*" >&2; }

alive() { # pid file -> 0 if that process runs
	local pid
	[ -s "$1" ] || return 1
	pid="$(cat "$1")"
	kill -0 "$pid" 2>/dev/null
}

build() {
	local stamp="$HERE/target/.built"
	if [ -f "$stamp" ] && [ -d "$HERE/target/lib" ] &&
		[ -z "$(find "$HERE/pom.xml" "$HERE/src" -newer "$stamp" -print -quit)" ]; then
		return 0
	fi
	command -v mvn >/dev/null || { log "mvn not found (apt-get install maven)"; exit 1; }
	log "building launcher (mvn package; the first build downloads ~50 MB from Maven Central)"
	rm -rf "$HERE/target"
	if ! mvn -q -o -f "$HERE/pom.xml" package >"$DATA/build.log" 2>&1; then
		rm -rf "$HERE/target"
		if ! mvn -q -f "$HERE/pom.xml" package >"$DATA/build.log" 2>&1; then
			log "build failed:"; tail -40 "$DATA/build.log" >&2; exit 1
		fi
	fi
	touch "$stamp"
}

java_major() {
	"$JAVA" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1
}

load_conf() { # fills NODES/PORT/TPORT from cluster.conf unless given
	local cn="" cp="" ct=""
	if [ -f "$CONF" ]; then
		# shellcheck disable=SC1090
		. "$CONF"
		cn="$nodes"; cp="$http_port"; ct="$transport_port"
	fi
	if [ -n "$cn" ] && [ -n "$NODES" ] && [ "$NODES" != "$cn" ]; then
		log "$DATA holds a $cn-node cluster; use another --data (or remove $DATA) for $NODES nodes"
		exit 1
	fi
	# an option given now wins, then what the last start used, then the defaults
	NODES="${NODES:-${cn:-1}}"
	PORT="${PORT:-${cp:-9200}}"
	if [ -z "$TPORT" ] && [ -n "$ct" ] && [ "$PORT" = "$cp" ]; then TPORT="$ct"; fi
	TPORT="${TPORT:-$((PORT + 100))}"
	return 0
}

node_list() {
	if [ -n "$ONLY" ]; then
		echo "$ONLY"
	else
		seq 0 $((NODES - 1))
	fi
}

health() { # port [extra query] -> 0 when the node answers with a cluster manager and >= yellow
	curl -sf -m 5 "http://127.0.0.1:$1/_cluster/health?wait_for_status=yellow&timeout=1s${2:-}" >/dev/null 2>&1
}

start() {
	load_conf
	build
	local major
	major="$(java_major)"
	if [ -z "$major" ] || [ "$major" -lt 17 ]; then
		log "need Java 17+ (found '${major:-none}' at $JAVA); set JAVA_HOME"; exit 1
	fi

	local opts=(-Xms"$HEAP" -Xmx"$HEAP" -Xss1m -XX:+UseG1GC -XX:-OmitStackTraceInFastThrow
		-Dfile.encoding=UTF-8 -Djava.awt.headless=true
		-Dio.netty.noUnsafe=true -Dio.netty.noKeySetOptimization=true
		-Dio.netty.recycler.maxCapacityPerThread=0
		-Dlog4j.shutdownHookEnabled=false -Dlog4j2.disable.jmx=true)
	# what the 2.19 distribution's jvm.options sets; COMPAT is gone from Java 23 on
	[ "$major" -lt 23 ] && opts+=(-Djava.locale.providers=SPI,COMPAT)
	# shellcheck disable=SC2206
	[ -n "${OPENSEARCH_JAVA_OPTS:-}" ] && opts+=(${OPENSEARCH_JAVA_OPTS})

	local i todo=() started=() port
	for i in $(node_list); do
		port=$((PORT + i))
		if alive "$DATA/node-$i.pid"; then
			log "node-$i already running (pid $(cat "$DATA/node-$i.pid"))"
			continue
		fi
		if curl -s -m 2 -o /dev/null "http://127.0.0.1:$port/"; then
			log "port $port is already answering but node-$i is not ours: stop that server or use --port"; exit 1
		fi
		todo+=("$i")
	done
	printf 'nodes=%s\nhttp_port=%s\ntransport_port=%s\n' "$NODES" "$PORT" "$TPORT" >"$CONF"

	for i in "${todo[@]}"; do
		port=$((PORT + i))
		mkdir -p "$DATA/node-$i/tmp"
		rm -f "$DATA/node-$i.pid"
		echo "==== $(date -u +%FT%TZ) start node-$i of $NODES http $port transport $((TPORT + i))" >>"$DATA/node-$i.log"
		local launcher=(nohup)
		command -v setsid >/dev/null && launcher+=(setsid)
		"${launcher[@]}" "$JAVA" "${opts[@]}" -Djava.io.tmpdir="$DATA/node-$i/tmp" \
			-cp "$HERE/target/classes:$HERE/target/lib/*" infowork.OpenSearchDev \
			--nodes "$NODES" --node-index "$i" --base-http-port "$PORT" \
			--base-transport-port "$TPORT" --data "$DATA" --pid-file "$DATA/node-$i.pid" \
			--ready-timeout "${TIMEOUT:-120}" \
			</dev/null >>"$DATA/node-$i.log" 2>&1 &
		echo "$!" >"$DATA/node-$i.pid"
		started+=("$i")
	done

	local deadline=$((SECONDS + ${TIMEOUT:-120})) urls=()
	for i in $(node_list); do urls+=("http://127.0.0.1:$((PORT + i))"); done
	for i in "${started[@]}"; do
		port=$((PORT + i))
		until health "$port"; do
			if ! alive "$DATA/node-$i.pid"; then
				log "node-$i exited; last lines of $DATA/node-$i.log:"
				tail -40 "$DATA/node-$i.log" >&2
				exit 1
			fi
			if [ "$SECONDS" -ge "$deadline" ]; then
				log "node-$i not ready after ${TIMEOUT:-120}s; last lines of $DATA/node-$i.log:"
				tail -40 "$DATA/node-$i.log" >&2
				exit 1
			fi
			sleep 0.5
		done
	done
	if [ "${#started[@]}" -gt 0 ] && [ "$NODES" -gt 1 ] && [ -z "$ONLY" ]; then
		until health "$PORT" "&wait_for_nodes=$NODES"; do
			if [ "$SECONDS" -ge "$deadline" ]; then
				log "cluster did not reach $NODES nodes in ${TIMEOUT:-120}s"
				curl -s -m 5 "http://127.0.0.1:$PORT/_cat/nodes?v" >&2 || true
				exit 1
			fi
			sleep 0.5
		done
	fi
	log "ready (${NODES} node(s), data $DATA)"
	local IFS=,
	echo "OPENSEARCH_URL=${urls[*]}"
}

stop() {
	load_conf
	local i pid pids=() waited
	for i in $(node_list); do
		if alive "$DATA/node-$i.pid"; then
			pid="$(cat "$DATA/node-$i.pid")"
			kill -TERM "$pid" 2>/dev/null || true
			pids+=("$i:$pid")
		else
			rm -f "$DATA/node-$i.pid"
		fi
	done
	[ "${#pids[@]}" -eq 0 ] && { log "nothing running in $DATA"; return 0; }
	waited=0
	for entry in "${pids[@]}"; do
		i="${entry%%:*}"; pid="${entry#*:}"
		while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt $((${TIMEOUT:-30} * 10)) ]; do
			sleep 0.1; waited=$((waited + 1))
		done
		if kill -0 "$pid" 2>/dev/null; then
			log "node-$i (pid $pid) ignored SIGTERM for ${TIMEOUT:-30}s: SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
		fi
		rm -f "$DATA/node-$i.pid"
		log "stopped node-$i (pid $pid)"
	done
}

status() {
	load_conf
	local i port rc=0 pid
	for i in $(node_list); do
		port=$((PORT + i))
		if alive "$DATA/node-$i.pid"; then
			pid="$(cat "$DATA/node-$i.pid")"
			if health "$port"; then
				echo "node-$i running pid $pid http://127.0.0.1:$port"
			else
				echo "node-$i running pid $pid http://127.0.0.1:$port (not answering yet)"; rc=1
			fi
		else
			echo "node-$i stopped"; rc=1
		fi
	done
	curl -s -m 5 "http://127.0.0.1:$PORT/_cluster/health?pretty" 2>/dev/null | grep -E '"(status|number_of_nodes)"' || true
	return "$rc"
}

case "$CMD" in
start) start ;;
stop) stop ;;
status) status ;;
build) build ;;
*) usage ;;
esac
