#!/usr/bin/env bash
# bench/run.sh: pushdesk-broker and the Node Socket.IO reference server,
# side by side in one run, under the same load generator (bench/pd-loadgen),
# the same Valkey/Redis and the same publisher. The server under test is
# pinned to core 0; the load generator, redis-server and the publisher to
# core 1. Prints one table: both figures and their ratio.
#
#   bench/run.sh [--smoke] [--servers pushdesk,node] [--build DIR] [--out DIR]
#                [--duration S] [--no-ceiling] [--broker PATH] [--broker-arg ARG]...
#
#   --smoke        50 clients, 2 s per workload (CI: checks the harness works)
#   --servers      which servers to measure (default: pushdesk,node; pushdesk
#                  is skipped with a note when its binary is missing)
#   --build DIR    build tree holding bench/pd-loadgen, bench/pd-trivial-server
#                  and broker/pushdesk-broker (default: $PD_BUILD, else the
#                  source tree)
#   --out DIR      keep every JSON result and log there (default: a temporary
#                  folder, removed at exit)
#   --duration S   seconds per measurement window (default 10; smoke 2)
#   --no-ceiling   skip the harness ceiling (pd-trivial-server)
#   --broker-arg A extra argument for pushdesk-broker (repeatable)
#   --broker-threads N  event loops of pushdesk-broker (default 1: one core,
#                  as the Node server)
#   --only LIST    run only these workloads (comma-separated; default all):
#                  memory, fanout, broadcast, ack, ceiling (the side-by-side
#                  table), twocore (pushdesk-broker --threads 2 on the room
#                  fan-out; runs the one-core sweep too when fanout is not in
#                  LIST, for the ratio), e2e (POST a message through nginx to
#                  message:new at the ticket's room members: the real stack of
#                  tests/lib/stack.sh, pushdesk only)
#
# All traffic stays on 127.0.0.0/8; every step is bounded with timeout.
set -u -o pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${PD_BUILD:-$SRC}
SERVERS="pushdesk,node"
SMOKE=0
OUT=""
DUR=""
CEILING=1
BROKER=""
BROKER_ARGS=()
BROKER_THREADS=1
ONLY="memory,fanout,broadcast,ack,ceiling,twocore,e2e"

while [ $# -gt 0 ]; do
	case "$1" in
	--smoke) SMOKE=1 ;;
	--servers) SERVERS=$2; shift ;;
	--build) BUILD=$2; shift ;;
	--out) OUT=$2; shift ;;
	--duration) DUR=$2; shift ;;
	--no-ceiling) CEILING=0 ;;
	--broker) BROKER=$2; shift ;;
	--broker-arg) BROKER_ARGS+=("$2"); shift ;;
	--broker-threads) BROKER_THREADS=$2; shift ;;
	--only) ONLY=$2; shift ;;
	-h | --help) sed -n '2,34p' "$0"; exit 0 ;;
	*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done

LOADGEN=$BUILD/bench/pd-loadgen
TRIVIAL=$BUILD/bench/pd-trivial-server
BROKER=${BROKER:-$BUILD/broker/pushdesk-broker}
NODE_MODULES=${PD_NODE_MODULES:-$SRC/tests/node/node_modules}
export PD_NODE_MODULES=$NODE_MODULES

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

for t in jq node redis-server timeout; do
	command -v "$t" >/dev/null || die "$t not found"
done
[ -x "$LOADGEN" ] || die "$LOADGEN missing: make bench/pd-loadgen in the build tree"
[ -d "$NODE_MODULES/socket.io" ] || die "$NODE_MODULES: run npm ci in tests/node"

# ---- sizes -------------------------------------------------------------
if [ "$SMOKE" = 1 ]; then
	D=${DUR:-2}
	MEM_SIZES="50"
	FAN_CLIENTS=50; ROOM=10
	FAN_RATES="10 20"
	FAN_EQ_RATE=10
	BCAST_CLIENTS=50; BCAST_RATES="1 10"
	ACK_CLIENTS=50
	CEIL_RATES="20 40"
	E2E_CLIENTS=10; E2E_RATE=20
	SETTLE=1
else
	D=${DUR:-10}
	MEM_SIZES="10000 19000"
	FAN_CLIENTS=10000; ROOM=100
	FAN_RATES="25 50 100 200 400 800 1600 3200 6400"
	FAN_EQ_RATE=200
	BCAST_CLIENTS=10000; BCAST_RATES="1 10 100"
	ACK_CLIENTS=1000
	CEIL_RATES="100 200 400 800 1600 3200 6400 12800"
	E2E_CLIENTS=100; E2E_RATE=200
	SETTLE=3
fi
DRAIN=2
P99_LIMIT_MS=50
SECRET="bench-$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
CLK_TCK=$(getconf CLK_TCK)
want() { [[ ",$ONLY," == *",$1,"* ]]; }
for w in ${ONLY//,/ }; do
	case "$w" in memory | fanout | broadcast | ack | ceiling | twocore | e2e) ;;
	*) die "unknown workload $w in --only" ;;
	esac
done
LG_TIMEOUT=$((180 + ${D%.*} * 2))

# ---- pinning ------------------------------------------------------------
PIN0=(); PIN1=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
	PIN0=(taskset -c 0); PIN1=(taskset -c 1)
else
	log "fewer than 2 cores or no taskset: nothing is pinned"
fi

# one process may hold at most the hard limit of open files: take it all
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# ---- scratch, cleanup ------------------------------------------------------
KEEP_OUT=1
if [ -z "$OUT" ]; then
	OUT=$(mktemp -d "${TMPDIR:-/tmp}/pd-bench.XXXXXX")
	KEEP_OUT=0
fi
mkdir -p "$OUT" || die "cannot create $OUT"
: >"$OUT/results.tsv"
PIDS=()
E2E_UP=0
cleanup() {
	local p
	[ "$E2E_UP" = 1 ] && { pd_stack_stop >/dev/null 2>&1 || true; }
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	sleep 0.2
	for p in "${PIDS[@]}"; do
		kill -9 "$p" 2>/dev/null
	done
	[ "$KEEP_OUT" = 0 ] && rm -rf "$OUT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() {
	local i p
	# below the ephemeral range (32768-60999) that the clients' ports come from
	for i in $(seq 200); do
		p=$((20000 + RANDOM % 12000))
		# reserved by a test stack or test (tests/lib/stack.sh, pd_free_port)
		[ -e "/tmp/pushdesk-ports/$p" ] && continue
		port_busy "$p" || { echo "$p"; return 0; }
	done
	return 1
}
wait_port() { # pid port seconds
	local i
	for i in $(seq $(($3 * 10))); do
		kill -0 "$1" 2>/dev/null || return 1
		port_busy "$2" && return 0
		sleep 0.1
	done
	return 1
}
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }
cpu_ticks() { # utime + stime, from /proc/PID/stat (fields after the comm)
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
	s=${s##*) }
	awk '{print $12 + $13}' <<<"$s"
}
user_ticks() { # utime alone: the server's own code, not the kernel's
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
	s=${s##*) }
	awk '{print $12}' <<<"$s"
}
put() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$OUT/results.tsv"; }
get() { awk -F'\t' -v s="$1" -v m="$2" '$1 == s && $2 == m {v = $3} END {print v}' "$OUT/results.tsv"; }
calc() { awk "BEGIN {printf \"$1\", ($2)}" </dev/null; }
jget() { jq -r "$2 // empty" "$1" 2>/dev/null; }

# ---- redis --------------------------------------------------------------
REDIS_PORT=$(pick_port) || die "no free port"
mkdir -p "$OUT/redis"
"${PIN1[@]}" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
	--dir "$OUT/redis" --logfile "$OUT/redis/redis.log" >/dev/null 2>&1 &
PIDS+=($!)
REDIS_PID=$!
wait_port "$REDIS_PID" "$REDIS_PORT" 10 || die "redis-server did not start"
REDIS_URL="redis://127.0.0.1:$REDIS_PORT"

BROKER_CONF=$OUT/pushdesk-bench.conf
cat >"$BROKER_CONF" <<EOF
# written by bench/run.sh
jwt_alg = HS256
jwt_secret = $SECRET
valkey_url = $REDIS_URL
adapter_key = socket.io
log_level = notice
EOF

# ---- servers ------------------------------------------------------------
SRV_PID=""; SRV_PORT=""
start_server() { # kind [trivial-server args...]
	local kind=$1
	shift
	SRV_PORT=$(pick_port) || return 1
	case "$kind" in
	node)
		"${PIN0[@]}" node "$SRC/bench/node/server.mjs" --port "$SRV_PORT" \
			--jwt-secret "$SECRET" --redis "$REDIS_URL" >>"$OUT/node.log" 2>&1 &
		;;
	pushdesk | pushdesk2)
		# pushdesk2: --threads 2 on both cores (not pinned)
		local admin threads=$BROKER_THREADS pin=("${PIN0[@]}")
		[ "$kind" = pushdesk2 ] && { threads=2; pin=(); }
		admin=$(pick_port) || return 1
		# the environment wins over the file: pin what this run needs
		PUSHDESK_JWT_SECRET=$SECRET PUSHDESK_VALKEY_URL=$REDIS_URL PUSHDESK_DATABASE_URL= \
			PUSHDESK_BROKER_LISTEN=127.0.0.1:$SRV_PORT PUSHDESK_LOG_LEVEL=notice \
			PUSHDESK_BROKER_ADMIN_LISTEN=127.0.0.1:$admin \
			"${pin[@]}" "$BROKER" --config "$BROKER_CONF" --profile bench \
			--listen "127.0.0.1:$SRV_PORT" --admin-listen "127.0.0.1:$admin" \
			--threads "$threads" "${BROKER_ARGS[@]}" >>"$OUT/$kind.log" 2>&1 &
		;;
	trivial)
		"${PIN0[@]}" "$TRIVIAL" --listen "127.0.0.1:$SRV_PORT" --max-seconds 900 "$@" \
			>"$OUT/trivial.out" 2>>"$OUT/trivial.log" &
		;;
	trivialvk)
		# the trivial server fed by the publisher through redis-server
		"${PIN0[@]}" "$TRIVIAL" --listen "127.0.0.1:$SRV_PORT" --max-seconds 900 \
			--redis "127.0.0.1:$REDIS_PORT" >"$OUT/trivialvk.out" 2>>"$OUT/trivialvk.log" &
		;;
	esac
	SRV_PID=$!
	PIDS+=("$SRV_PID")
	if ! wait_port "$SRV_PID" "$SRV_PORT" 20; then
		log "$kind did not start listening (see $OUT/$kind.log)"
		stop_server
		return 1
	fi
	sleep 0.5
}
stop_server() {
	[ -n "$SRV_PID" ] || return 0
	kill "$SRV_PID" 2>/dev/null
	local i
	for i in $(seq 50); do
		kill -0 "$SRV_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$SRV_PID" 2>/dev/null
	wait "$SRV_PID" 2>/dev/null
	SRV_PID=""
}

# ---- load generator -------------------------------------------------------
LG_PID=""
lg_start() { # name loadgen-args...
	local name=$1
	shift
	rm -f "$OUT/$name.ready"
	timeout "$LG_TIMEOUT" "${PIN1[@]}" "$LOADGEN" --url "127.0.0.1:$SRV_PORT" \
		--jwt-secret "$SECRET" --sources 4 --ready-file "$OUT/$name.ready" "$@" \
		>"$OUT/$name.json" 2>"$OUT/$name.err" &
	LG_PID=$!
	PIDS+=("$LG_PID")
}
lg_wait_ready() {
	local i
	for i in $(seq 1800); do
		[ -s "$OUT/$1.ready" ] && return 0
		kill -0 "$LG_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
lg_wait() { wait "$LG_PID"; }

# ---- one fan-out measurement ---------------------------------------------
# fan_step SERVER NAME RATE CLIENTS ROOMSIZE(0 = broadcast): sets F_* globals
fan_step() {
	local s=$1 name=$2 rate=$3 clients=$4 rs=$5
	F_RECV=0 F_EXP=0 F_P50="" F_P99="" F_CPU_US="" F_USER_US="" F_DPS=0 F_OK=0 F_LOSS="" F_NOTE=""
	local lgargs=(--mode fanout --clients "$clients" --duration "$D" --drain "$DRAIN")
	local rooms=0
	if [ "$rs" -gt 0 ]; then
		rooms=$(((clients + rs - 1) / rs))
		lgargs+=(--rooms-per-client 1 --room-size "$rs")
	fi
	if [ "$s" = trivial ]; then
		start_server trivial --rate "$rate" --duration "$D" --room-size "$rs" || return 1
	else
		start_server "$s" || return 1
	fi
	lg_start "$name" "${lgargs[@]}"
	if ! lg_wait_ready "$name"; then
		F_NOTE="clients did not connect"
		lg_wait
		stop_server
		return 1
	fi
	local connected c0 c1 u0 u1 published secs
	connected=$(cut -d' ' -f1 "$OUT/$name.ready")
	c0=$(cpu_ticks "$SRV_PID") u0=$(user_ticks "$SRV_PID")
	if [ "$s" = trivial ]; then
		kill -USR1 "$SRV_PID"
		sleep "$D"
	else
		local pargs=(--redis "$REDIS_URL" --rate "$rate" --duration "$D")
		if [ "$rs" -gt 0 ]; then pargs+=(--rooms "$rooms"); else pargs+=(--broadcast); fi
		timeout $((${D%.*} + 30)) "${PIN1[@]}" node "$SRC/bench/publish.mjs" "${pargs[@]}" \
			>"$OUT/$name.pub.json" 2>>"$OUT/publish.log"
	fi
	lg_wait
	c1=$(cpu_ticks "$SRV_PID") u1=$(user_ticks "$SRV_PID")
	if [ "$s" = trivial ]; then
		for _ in $(seq 50); do [ -s "$OUT/trivial.out" ] && grep -q deliveries "$OUT/trivial.out" && break; sleep 0.1; done
		F_EXP=$(grep deliveries "$OUT/trivial.out" | tail -1 | jq -r .deliveries)
		secs=$D
	else
		published=$(jget "$OUT/$name.pub.json" .published)
		secs=$(jget "$OUT/$name.pub.json" .seconds)
		published=${published:-0}
		if [ "$rs" -gt 0 ]; then
			[ "$connected" = "$clients" ] || F_NOTE="only $connected of $clients connected"
			F_EXP=$((published * rs))
		else
			F_EXP=$((published * connected))
		fi
	fi
	stop_server
	F_RECV=$(jget "$OUT/$name.json" .events)
	F_RECV=${F_RECV:-0}
	F_P50=$(jget "$OUT/$name.json" .latency_ms.p50)
	F_P99=$(jget "$OUT/$name.json" .latency_ms.p99)
	F_LGCPU=$(jget "$OUT/$name.json" .cpu_percent)
	F_LOSS=$((F_EXP - F_RECV))
	F_DPS=$(calc "%.0f" "$F_RECV / (${secs:-$D} > 0 ? ${secs:-$D} : 1)")
	if [ "$F_RECV" -gt 0 ]; then
		F_CPU_US=$(calc "%.2f" "($c1 - $c0) / $CLK_TCK * 1e6 / $F_RECV")
		F_USER_US=$(calc "%.2f" "($u1 - $u0) / $CLK_TCK * 1e6 / $F_RECV")
	fi
	if [ "$F_LOSS" = 0 ] && [ "$F_RECV" -gt 0 ] && [ -z "$F_NOTE" ] &&
		awk "BEGIN {exit !(${F_P99:-1e9} < $P99_LIMIT_MS)}"; then
		F_OK=1
	fi
	log "$name: rate=$rate/s received=$F_RECV expected=$F_EXP deliveries/s=$F_DPS p50=${F_P50}ms p99=${F_P99}ms cpu/delivery=${F_CPU_US}us (user ${F_USER_US}us) loadgen-cpu=${F_LGCPU}% ${F_NOTE}"
	return 0
}

# ---- workloads ------------------------------------------------------------
wl_memory() {
	local s=$1 n rss0 rss1 name connected
	for n in $MEM_SIZES; do
		name="$s-idle-$n"
		start_server "$s" || { put "$s" "mem_$n" "failed"; continue; }
		sleep 1
		rss0=$(rss_kb "$SRV_PID")
		lg_start "$name" --mode idle --clients "$n" --rooms-per-client 2 --room-size "$ROOM" \
			--duration $((SETTLE + 2)) --drain 0
		rss1=""
		if lg_wait_ready "$name"; then
			sleep "$SETTLE"
			rss1=$(rss_kb "$SRV_PID")
		fi
		lg_wait
		connected=$(jget "$OUT/$name.json" .connected)
		if [ -n "$rss1" ] && [ "${connected:-0}" -gt 0 ]; then
			put "$s" "mem_$n" "$(calc "%.1f" "($rss1 - $rss0) / $connected")"
			put "$s" "conn_rate_$n" "$(jget "$OUT/$name.json" .connects_per_s)"
			log "$name: connected=$connected rss $rss0 -> $rss1 KB: $(get "$s" "mem_$n") KB/connection, $(get "$s" "conn_rate_$n") connections/s"
		else
			put "$s" "mem_$n" "failed"
			log "$name: failed (connected=${connected:-0})"
		fi
		[ "${connected:-0}" = "$n" ] || put "$s" "mem_${n}_note" "connected ${connected:-0}/$n"
		stop_server
	done
}

# fan_try SERVER RATE: one sweep step, retried once on failure (a single bad
# run on a shared machine is often noise). 0 passed, 1 failed, 2 broken.
fan_try() {
	local s=$1 r=$2
	fan_step "$s" "$s-room-$r" "$r" "$FAN_CLIENTS" "$ROOM" || return 2
	[ "$F_RECV" = 0 ] && return 1
	if [ "$F_OK" != 1 ] && [ "$SMOKE" = 0 ]; then
		log "$s: rate $r failed once, retrying"
		fan_step "$s" "$s-room-$r-retry" "$r" "$FAN_CLIENTS" "$ROOM" || return 2
	fi
	[ "$F_OK" = 1 ] && return 0
	return 1
}

wl_fanout() { # server rates
	local s=$1 rates=$2 r best=0 first=1 failed="" rc
	for r in $rates; do
		fan_try "$s" "$r"
		rc=$?
		if [ "$rc" = 2 ]; then
			put "$s" fan_best "failed"
			return
		fi
		if [ "$first" = 1 ] && [ "$F_RECV" = 0 ]; then
			log "$s: nothing delivered: fan-out n/a"
			put "$s" fan_best "n/a"
			put "$s" fan_nodeliver 1
			return
		fi
		first=0
		[ "$rc" = 0 ] || { failed=$r; break; }
		best=$r
		put "$s" fan_best_dps "$F_DPS"
		put "$s" fan_best_lat "$F_P50/$F_P99"
		put "$s" fan_best_cpu_us "$F_CPU_US"
	done
	# the doubling sweep brackets the ceiling; narrow it to steps of 1/4 of
	# the last rate that passed (1.25x, 1.5x, 1.75x), so that a ratio
	# between two servers reads finer than 1, 2, 4
	if [ "$best" != 0 ] && [ -n "$failed" ] && [ "$SMOKE" = 0 ]; then
		local q
		for q in 5 6 7; do
			r=$((best / 4 * q))
			[ "$r" -lt "$failed" ] || break
			fan_try "$s" "$r"
			rc=$?
			[ "$rc" = 2 ] && break
			[ "$rc" = 0 ] || break
			put "$s" fan_best_dps "$F_DPS"
			put "$s" fan_best_lat "$F_P50/$F_P99"
			put "$s" fan_best_cpu_us "$F_CPU_US"
			put "$s" fan_best_refined "$r"
		done
		[ -n "$(get "$s" fan_best_refined)" ] && best=$(get "$s" fan_best_refined)
	fi
	local half
	if [ "$best" = 0 ]; then
		put "$s" fan_best "none"
		half=${rates%% *}
	else
		put "$s" fan_best "$best"
		half=$(calc "%g" "$best / 2")
	fi
	if [ "$s" != trivial ] && [ "$s" != trivialvk ]; then
		put "$s" fan_half_rate "$half"
		if fan_step "$s" "$s-room-half-$half" "$half" "$FAN_CLIENTS" "$ROOM"; then
			put "$s" fan_half "$F_P50/$F_P99"
			put "$s" fan_half_loss "$F_LOSS"
			put "$s" fan_cpu_us "$F_CPU_US"
			put "$s" fan_user_us "$F_USER_US"
		fi
	fi
	# the same load for every server, for the ratios of p99 and CPU
	[ "$s" = pushdesk2 ] && return
	if fan_step "$s" "$s-room-eq-$FAN_EQ_RATE" "$FAN_EQ_RATE" "$FAN_CLIENTS" "$ROOM"; then
		put "$s" fan_eq "$F_P50/$F_P99"
		put "$s" fan_eq_loss "$F_LOSS"
		put "$s" fan_eq_cpu_us "$F_CPU_US"
		put "$s" fan_eq_user_us "$F_USER_US"
	fi
}

wl_broadcast() {
	local s=$1 r
	if [ "$(get "$s" fan_nodeliver)" = 1 ]; then
		for r in $BCAST_RATES; do put "$s" "bcast_$r" "n/a"; done
		return
	fi
	for r in $BCAST_RATES; do
		if fan_step "$s" "$s-bcast-$r" "$r" "$BCAST_CLIENTS" 0; then
			local lossp
			lossp=$(calc "%.1f" "$F_EXP > 0 ? 100 * $F_LOSS / $F_EXP : 0")
			put "$s" "bcast_$r" "${F_P50:-?}/${F_P99:-?}"
			put "$s" "bcast_${r}_loss" "$lossp"
			put "$s" "bcast_${r}_dps" "$F_DPS"
			put "$s" "bcast_${r}_cpu_us" "$F_CPU_US"
			put "$s" "bcast_${r}_user_us" "$F_USER_US"
		else
			put "$s" "bcast_$r" "failed"
		fi
	done
}

wl_ack() {
	local s=$1 name="$1-ack" c0 c1 u0 u1 acks
	start_server "$s" || { put "$s" ack_rate failed; return; }
	lg_start "$name" --mode ack --rate 0 --window 1 --clients "$ACK_CLIENTS" --duration "$D" --drain "$DRAIN"
	if lg_wait_ready "$name"; then
		c0=$(cpu_ticks "$SRV_PID") u0=$(user_ticks "$SRV_PID")
		lg_wait
		c1=$(cpu_ticks "$SRV_PID") u1=$(user_ticks "$SRV_PID")
	else
		lg_wait
		c0=0 c1=0 u0=0 u1=0
	fi
	stop_server
	acks=$(jget "$OUT/$name.json" .acks)
	put "$s" ack_rate "$(jget "$OUT/$name.json" .acks_per_s)"
	put "$s" ack_p99 "$(jget "$OUT/$name.json" .ack_latency_ms.p99)"
	if [ "${acks:-0}" -gt 0 ]; then
		put "$s" ack_cpu_us "$(calc "%.2f" "($c1 - $c0) / $CLK_TCK * 1e6 / $acks")"
		put "$s" ack_user_us "$(calc "%.2f" "($u1 - $u0) / $CLK_TCK * 1e6 / $acks")"
	fi
	log "$name: $(get "$s" ack_rate) acks/s, p99 $(get "$s" ack_p99) ms, cpu/ack $(get "$s" ack_cpu_us) us, loadgen-cpu $(jget "$OUT/$name.json" .cpu_percent)%"
}

# the room fan-out sweep again with pushdesk-broker --threads 2, unpinned
# (pd-loadgen, redis-server and the publisher stay on core 1, so they share
# a core with the broker): the highest rate and its ratio to one core
wl_twocore() {
	if [ -z "$(get pushdesk fan_best)" ]; then
		log "== pushdesk: room fan-out on one core (for the ratio)"
		wl_fanout pushdesk "$FAN_RATES"
	fi
	log "== pushdesk, --threads 2 unpinned: room fan-out (rooms of $ROOM, $FAN_CLIENTS clients)"
	wl_fanout pushdesk2 "$FAN_RATES"
	local one two
	one=$(get pushdesk fan_best) two=$(get pushdesk2 fan_best)
	if num "$one" && num "$two" && [ "$one" != 0 ]; then
		put pushdesk2 fan_ratio "$(calc "%.2f" "$two / $one")"
	fi
	log "two cores: $two events/s, one core: $one events/s"
}

# end to end through nginx: the real stack (tests/lib/stack.sh: PostgreSQL,
# redis-server, pushdesk-api, pushdesk-broker in normal mode, nginx) in a
# temporary folder on free ports; E2E_CLIENTS agents ticket:join one ticket
# (pd-loadgen, one token each from pushdeskctl), the ticket's customer POSTs
# /api/v1/tickets/{id}/messages at E2E_RATE/s (bench/e2e_post.mjs), each
# message's content carrying its send time; pd-loadgen times message:new.
e2e_skip() { log "e2e: skipped: $1"; put e2e skip "$1"; }
wl_e2e() {
	local x n=$E2E_CLIENTS rate=$E2E_RATE name=pushdesk-e2e
	for x in api/pushdesk-api cli/pushdeskctl broker/pushdesk-broker; do
		[ -x "$BUILD/$x" ] || { e2e_skip "no $BUILD/$x"; return; }
	done
	command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { e2e_skip "no nginx"; return; }
	command -v curl >/dev/null || { e2e_skip "no curl"; return; }
	# a private stack: forget any the caller's environment names (tests/run
	# exports its own PD_*), so that nothing here can touch it
	for x in $(compgen -v); do
		case $x in PD_NODE_MODULES) ;; PD_*) unset "$x" ;; esac
	done
	PD_SRC=$SRC PD_BUILD=$BUILD
	# shellcheck source=../tests/lib/stack.sh
	source "$SRC/tests/lib/stack.sh"
	E2E_UP=1
	log "e2e: starting the stack (PostgreSQL, redis-server, pushdesk-api, pushdesk-broker, nginx)"
	if ! pd_stack_start >"$OUT/e2e-stack.log" 2>&1; then
		e2e_skip "the stack did not start ($(tail -n 1 "$OUT/e2e-stack.log"))"
		e2e_stop
		return
	fi
	log "e2e: stack in $PD_TMP, nginx on $PD_HTTP; creating an org, a customer, $n agents, a ticket"
	local org cust ctok tid a i
	org=$(pd_ctl org add "bench-e2e") &&
		cust=$(pd_ctl user add --org "$org" --role customer --name "bench customer" \
			--email bench-customer@example.invalid) &&
		ctok=$(pd_ctl token --user "$cust" --ttl 3600) || {
		e2e_skip "pushdeskctl failed"
		e2e_stop
		return
	}
	: >"$OUT/e2e.tokens"
	for i in $(seq "$n"); do
		a=$(pd_ctl user add --org "$org" --role agent --name "bench agent $i" \
			--email "bench-agent-$i@example.invalid") &&
			pd_ctl token --user "$a" --ttl 3600 >>"$OUT/e2e.tokens" || {
			e2e_skip "pushdeskctl failed on agent $i"
			e2e_stop
			return
		}
	done
	tid=$(curl -s --max-time 10 -H "authorization: Bearer $ctok" -H 'content-type: application/json' \
		-d '{"subject":"bench e2e"}' "$PD_HTTP/api/v1/tickets" | jq -r '.id // empty')
	[ -n "$tid" ] || { e2e_skip "POST /api/v1/tickets failed"; e2e_stop; return; }
	rm -f "$OUT/$name.ready"
	timeout "$LG_TIMEOUT" "$LOADGEN" --url "127.0.0.1:$PD_HTTP_PORT" --token-file "$OUT/e2e.tokens" \
		--clients "$n" --join-event ticket:join --join-arg "\"$tid\"" --mode fanout \
		--duration "$D" --drain 3 --sources 4 --ready-file "$OUT/$name.ready" \
		>"$OUT/$name.json" 2>"$OUT/$name.err" &
	LG_PID=$!
	PIDS+=("$LG_PID")
	if ! lg_wait_ready "$name"; then
		lg_wait
		e2e_skip "members did not connect ($(head -c 300 "$OUT/$name.err"))"
		e2e_stop
		return
	fi
	local connected
	connected=$(cut -d' ' -f1 "$OUT/$name.ready")
	timeout $((${D%.*} + 40)) node "$SRC/bench/e2e_post.mjs" --http "$PD_HTTP" --ticket "$tid" \
		--token "$ctok" --rate "$rate" --duration "$D" >"$OUT/$name.pub.json" 2>>"$OUT/e2e.log"
	lg_wait
	local okw sent rec exp
	okw=$(jget "$OUT/$name.pub.json" .ok) sent=$(jget "$OUT/$name.pub.json" .sent)
	rec=$(jget "$OUT/$name.json" .latency_ms.count)
	exp=$((${okw:-0} * ${connected:-0}))
	put e2e members "${connected:-0}/$n"
	put e2e writes "${okw:-0}/${sent:-0}"
	put e2e lat "$(jget "$OUT/$name.json" .latency_ms.p50)/$(jget "$OUT/$name.json" .latency_ms.p99)"
	put e2e api "$(jget "$OUT/$name.pub.json" .api_ms.p50)/$(jget "$OUT/$name.pub.json" .api_ms.p99)"
	put e2e recv "${rec:-0}/$exp"
	log "e2e: $connected/$n members, writes 201 ${okw:-0}/${sent:-0} ($(jq -c .statuses "$OUT/$name.pub.json" 2>/dev/null)), message:new received ${rec:-0}/$exp (+$(jget "$OUT/$name.json" .events_untimed) other events), delivery p50/p99 $(get e2e lat) ms, API p50/p99 $(get e2e api) ms, loadgen-cpu $(jget "$OUT/$name.json" .cpu_percent)%"
	e2e_stop
}
e2e_stop() {
	[ "$E2E_UP" = 1 ] || return 0
	if [ "$KEEP_OUT" = 1 ] && [ -d "${PD_TMP:-}/log" ]; then
		cp -r "$PD_TMP/log" "$OUT/e2e-stack-logs" 2>/dev/null
	fi
	pd_stack_stop >>"$OUT/e2e-stack.log" 2>&1
	E2E_UP=0
}

# ---- run ------------------------------------------------------------------
RUN_SERVERS=()
for s in ${SERVERS//,/ }; do
	case "$s" in
	pushdesk)
		if [ -x "$BROKER" ]; then RUN_SERVERS+=(pushdesk); else
			log "no $BROKER: pushdesk not measured"
		fi
		;;
	node) RUN_SERVERS+=(node) ;;
	*) die "unknown server $s" ;;
	esac
done
[ ${#RUN_SERVERS[@]} -gt 0 ] || die "no server to measure"
in_run() { local x; for x in "${RUN_SERVERS[@]}"; do [ "$x" = "$1" ] && return 0; done; return 1; }
num() { [[ "$1" =~ ^[0-9]+(\.[0-9]+)?$ ]]; }
nonzero() { awk -v x="$1" 'BEGIN {exit !(x + 0 != 0)}'; }

log "machine: $(nproc) cores, $(awk '/model name/ {sub(/.*: /, ""); print; exit}' /proc/cpuinfo), $(uname -r), fd limit $(ulimit -n)"
log "results in $OUT; window ${D}s, redis on $REDIS_URL"
LOAD_MAX=0
note_load() { # the figures mean little if other work shares the cores
	local l
	l=$(cut -d' ' -f1 /proc/loadavg)
	LOAD_MAX=$(calc "%.2f" "$l > $LOAD_MAX ? $l : $LOAD_MAX")
	log "load average $l${1:+ ($1)}"
}
note_load "before the run"
MAIN=0
for w in memory fanout broadcast ack; do want $w && MAIN=1; done
for s in "${RUN_SERVERS[@]}"; do
	[ "$MAIN" = 1 ] || break
	note_load "before $s"
	if want memory; then
		log "== $s: memory and connection rate"
		wl_memory "$s"
	fi
	if want fanout; then
		log "== $s: room fan-out (rooms of $ROOM, $FAN_CLIENTS clients)"
		wl_fanout "$s" "$FAN_RATES"
	fi
	if want broadcast; then
		log "== $s: broadcast to $BCAST_CLIENTS"
		wl_broadcast "$s"
	fi
	if want ack; then
		log "== $s: ack round trips ($ACK_CLIENTS clients)"
		wl_ack "$s"
	fi
done
# equal load at the highest rate Node held: Node's p99 there is from its own
# sweep step; pushdesk runs the same rate once more
if want fanout && in_run pushdesk && in_run node; then
	nb=$(get node fan_best)
	if num "$nb" && [ "$nb" != 0 ] && [ -n "$(get node fan_best_lat)" ]; then
		log "== pushdesk at Node's highest room fan-out rate ($nb/s)"
		if fan_step pushdesk "pushdesk-room-at-node-$nb" "$nb" "$FAN_CLIENTS" "$ROOM"; then
			put pushdesk fan_at_node "$F_P50/$F_P99"
			put pushdesk fan_at_node_cpu_us "$F_CPU_US"
			put node fan_at_node "$(get node fan_best_lat)"
			put node fan_at_node_cpu_us "$(get node fan_best_cpu_us)"
		fi
	fi
fi
want ceiling || CEILING=0
if [ "$CEILING" = 1 ] && [ -x "$TRIVIAL" ]; then
	note_load "before the ceiling"
	log "== harness ceiling: pd-trivial-server"
	wl_fanout trivial "$CEIL_RATES"
	log "== harness ceiling: pd-trivial-server fed through redis-server by the same publisher"
	wl_fanout trivialvk "$CEIL_RATES"
	wl_ack trivial
	top=${BCAST_RATES##* }
	if fan_step trivial "trivial-bcast-$top" "$top" "$BCAST_CLIENTS" 0; then
		put trivial bcast_top "${F_P50}/${F_P99}"
		put trivial bcast_top_dps "$F_DPS"
		put trivial bcast_top_lg "$F_LGCPU"
	fi
fi

HAVE_PD=0
in_run pushdesk && HAVE_PD=1
if want twocore; then
	if [ "$HAVE_PD" = 1 ]; then
		note_load "before two cores"
		wl_twocore
	else
		log "two cores: pushdesk not measured, skipped"
	fi
fi
if want e2e; then
	if [ "$HAVE_PD" = 1 ]; then
		note_load "before end to end"
		log "== pushdesk end to end through nginx ($E2E_CLIENTS members, $E2E_RATE writes/s)"
		wl_e2e
	else
		e2e_skip "pushdesk not measured"
	fi
fi

note_load "after the run"

# ---- table ----------------------------------------------------------------
row() { # label metric [unit-note]
	local a b r="" s
	a=$(get pushdesk "$2"); b=$(get node "$2")
	for s in pushdesk node; do
		in_run "$s" || { [ $s = pushdesk ] && a="not run" || b="not run"; }
	done
	if num "${a%%/*}" && num "${b%%/*}" && nonzero "${b%%/*}"; then
		r=$(calc "%.2f" "${a%%/*} / ${b%%/*}")
		if [[ "$a" == */* ]] && num "${a##*/}" && num "${b##*/}" && nonzero "${b##*/}"; then
			r="$r/$(calc "%.2f" "${a##*/} / ${b##*/}")"
		fi
	fi
	printf '| %-68s | %16s | %16s | %13s |\n' "$1" "${a:--}" "${b:--}" "${r:--}"
}

if [ "$MAIN" = 1 ]; then
echo
echo "pushdesk-broker vs Node Socket.IO 4.8 + redis-adapter (ratio = pushdesk / node)"
printf '| %-68s | %16s | %16s | %13s |\n' "figure" "pushdesk" "node" "ratio"
printf '|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' $(seq 70))" "$(printf -- '-%.0s' $(seq 18))" "$(printf -- '-%.0s' $(seq 18))" "$(printf -- '-%.0s' $(seq 15))"
for n in $MEM_SIZES; do
	row "RSS per idle connection, $n clients, 2 rooms (KB; lower better)" "mem_$n"
done
n1=${MEM_SIZES%% *}
row "connections set up/s ($n1 clients, handshake+2 joins)" "conn_rate_$n1"
row "room fan-out: highest events/s, p99<${P99_LIMIT_MS}ms, no loss (x$ROOM)" fan_best
row "  deliveries/s at that rate" fan_best_dps
row "  events/s at half that rate" fan_half_rate
row "  p50/p99 ms at half that rate" fan_half
row "  server CPU us per delivery at half rate (lower better)" fan_cpu_us
row "    of which user space (the server's own code)" fan_user_us
row "room fan-out at $FAN_EQ_RATE events/s for both (equal load): p50/p99 ms" fan_eq
row "  server CPU us per delivery (lower better)" fan_eq_cpu_us
row "    of which user space (the server's own code)" fan_eq_user_us
if [ -n "$(get pushdesk fan_at_node)" ]; then
	row "room fan-out at Node's highest rate, $(get node fan_best)/s, for both: p50/p99 ms" fan_at_node
	row "  server CPU us per delivery (lower better)" fan_at_node_cpu_us
fi
for r in $BCAST_RATES; do
	row "broadcast to $BCAST_CLIENTS at $r/s: p50/p99 ms" "bcast_$r"
	row "  lost % (not delivered within ${DRAIN}s after the run)" "bcast_${r}_loss"
	row "  server CPU us per delivery" "bcast_${r}_cpu_us"
	row "    of which user space" "bcast_${r}_user_us"
done
row "ack round trips/s ($ACK_CLIENTS clients, 1 in flight each)" ack_rate
row "  ack p99 ms" ack_p99
row "  server CPU us per ack (lower better)" ack_cpu_us
row "    of which user space" ack_user_us
fi
if [ "$CEILING" = 1 ]; then
	echo
	echo "harness ceiling (pd-trivial-server on core 0, pd-loadgen on core 1):"
	echo "  rooms of $ROOM, events from its own timer: highest events/s with p99<${P99_LIMIT_MS}ms and no loss: $(get trivial fan_best) ($(get trivial fan_best_dps || true) deliveries/s)" | sed 's/ ( deliveries\/s)//' 
	echo "  rooms of $ROOM at $FAN_EQ_RATE events/s (the equal load above): p50/p99 $(get trivial fan_eq) ms, CPU $(get trivial fan_eq_cpu_us) us per delivery (user space $(get trivial fan_eq_user_us) us)"
	echo "  rooms of $ROOM, events from the same publisher through redis-server (the servers' load): highest events/s with p99<${P99_LIMIT_MS}ms and no loss: $(get trivialvk fan_best); at $FAN_EQ_RATE events/s p50/p99 $(get trivialvk fan_eq) ms, CPU $(get trivialvk fan_eq_cpu_us) us per delivery"
	echo "  ack round trips/s ($ACK_CLIENTS clients, 1 in flight each): $(get trivial ack_rate), p99 $(get trivial ack_p99) ms, CPU $(get trivial ack_cpu_us) us per ack"
	echo "  broadcast to $BCAST_CLIENTS at ${BCAST_RATES##* }/s: p50/p99 $(get trivial bcast_top) ms, $(get trivial bcast_top_dps) deliveries/s, loadgen CPU $(get trivial bcast_top_lg)%"
fi
# pushdesk-only rows: figure in the pushdesk column
prow() { # label server metric
	printf '| %-68s | %16s | %16s | %13s |\n' "$1" "$(v=$(get "$2" "$3"); echo "${v:--}")" "n/a" "-"
}
if { want twocore && [ -n "$(get pushdesk2 fan_best)" ]; } || { want e2e && [ -n "$(get e2e lat)" ]; }; then
	echo
	echo "pushdesk only (Node's server is single-threaded and has no API):"
	printf '| %-68s | %16s | %16s | %13s |\n' "figure" "pushdesk" "node" "ratio"
	printf '|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' $(seq 70))" "$(printf -- '-%.0s' $(seq 18))" "$(printf -- '-%.0s' $(seq 18))" "$(printf -- '-%.0s' $(seq 15))"
	if want twocore && [ -n "$(get pushdesk2 fan_best)" ]; then
		prow "fan-out, --threads 2: highest events/s, p99<${P99_LIMIT_MS}ms, no loss (x$ROOM)" pushdesk2 fan_best
		prow "  ratio to one core (--threads 1: $(get pushdesk fan_best) events/s)" pushdesk2 fan_ratio
		prow "  deliveries/s at that rate" pushdesk2 fan_best_dps
		prow "  events/s at half that rate" pushdesk2 fan_half_rate
		prow "  p50/p99 ms at half that rate" pushdesk2 fan_half
		prow "  server CPU us per delivery at half rate (lower better)" pushdesk2 fan_cpu_us
	fi
	if want e2e && [ -n "$(get e2e lat)" ]; then
		prow "e2e via nginx: POST -> message:new at $E2E_CLIENTS members, $E2E_RATE/s: p50/p99 ms" e2e lat
		prow "  POST /api/v1/tickets/{id}/messages via nginx: p50/p99 ms" e2e api
		prow "  writes answered 201 / sent" e2e writes
		prow "  message:new received / expected (writes x members)" e2e recv
	fi
	want twocore && [ -n "$(get pushdesk2 fan_best)" ] &&
		echo "note: two cores: pushdesk-broker --threads 2 not pinned; pd-loadgen, redis-server and the publisher stay pinned to core 1, so they share a core with the broker"
	want e2e && [ -n "$(get e2e lat)" ] &&
		echo "note: e2e: the stack of tests/lib/stack.sh (PostgreSQL with fsync off, pushdesk-api, pushdesk-broker in normal mode, nginx), pd-loadgen and the writer share both cores, nothing pinned; latency = POST sent to message:new received"
fi
want e2e && [ -n "$(get e2e skip)" ] && echo "note: e2e skipped: $(get e2e skip)"
for s in "${RUN_SERVERS[@]}"; do
	for n in $MEM_SIZES; do
		note=$(get "$s" "mem_${n}_note")
		[ -n "$note" ] && echo "note: $s idle $n: $note"
	done
done
# this run keeps about 2 cores busy; 3 with the broker on two threads
LOAD_OWN=2
[ -n "$(get pushdesk2 fan_best)" ] && LOAD_OWN=3
echo "highest 1-minute load average seen: $LOAD_MAX on $(nproc) cores$(awk -v l="$LOAD_MAX" -v o="$LOAD_OWN" 'BEGIN {if (l > o + 0.5) print " -- above the " o " this run puts on the machine: other work shared the cores, figures are not comparable"}')"
if [ "$KEEP_OUT" = 1 ]; then
	echo "results: $OUT/results.tsv (JSON per run beside it)"
else
	echo "results: not kept (use --out DIR to keep every JSON summary and log)"
fi
exit 0
