#!/usr/bin/env bash
# bench/api_bench.sh: requests per second and latency of pushdesk-api's two
# hottest writes, through nginx: POST /api/v1/tickets (ticket:created) and
# POST /api/v1/tickets/{id}/messages (message:new + notifications), each a
# transaction with its outbox rows and a publish to Valkey. Prints a table.
#
#   bench/api_bench.sh [-d SECONDS] [-c CONNECTIONS] [-t THREADS]
#
# Against the stack described by PD_HTTP, PD_CONF, PD_DATABASE_URL, PD_PGBIN
# (tests/lib/stack.sh's variables; `source $PD_TMP/env`), else a private
# stack started here with tests/lib/stack.sh (PD_BUILD: the build tree).
# Needs wrk (installed with apt-get when missing), curl, psql, openssl.
set -euo pipefail

DUR=10 CONNS=16 THREADS=2
while getopts d:c:t:h o; do
	case $o in
	d) DUR=$OPTARG ;;
	c) CONNS=$OPTARG ;;
	t) THREADS=$OPTARG ;;
	*) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 2 ;;
	esac
done

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PD_SRC=${PD_SRC:-$SRC} PD_STACK=${PD_STACK:-$SRC/tests/lib/stack.sh}

if ! command -v wrk >/dev/null; then
	echo "api_bench: installing wrk" >&2
	if [ "$(id -u)" = 0 ]; then apt-get install -y wrk >/dev/null; else sudo apt-get install -y wrk >/dev/null; fi
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pd-api-bench.XXXXXX")
OWN_STACK=0
cleanup() {
	[ "$OWN_STACK" = 1 ] && (source "$PD_STACK" && pd_stack_stop) >/dev/null 2>&1
	rm -rf "$WORK"
}
trap cleanup EXIT

if [ -z "${PD_HTTP:-}" ]; then
	# shellcheck source=../tests/lib/stack.sh
	source "$PD_STACK"
	pd_stack_start || { echo "api_bench: could not start a stack" >&2; exit 1; }
	OWN_STACK=1
fi

conf_get() { sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*\(.*[^[:space:]]\)[[:space:]]*$/\1/p" "$PD_CONF" | tail -n 1; }
psql_() { timeout 60 "${PD_PGBIN:+$PD_PGBIN/}psql" -X -q -At -v ON_ERROR_STOP=1 -d "$PD_DATABASE_URL" "$@"; }
b64u() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }

SECRET=$(conf_get jwt_secret)
[ -n "$SECRET" ] || { echo "api_bench: jwt_secret not found in $PD_CONF (HS256 stacks only)" >&2; exit 1; }

# An org with a customer and an agent, and an HS256 token for each.
ORG=$(psql_ -c "INSERT INTO organizations (name) VALUES ('bench') RETURNING id")
mkuser() { psql_ -c "INSERT INTO users (org_id, role, name, email) VALUES ('$ORG', '$1', 'bench $1', 'bench-$1-$RANDOM$RANDOM@bench.test') RETURNING id"; }
CUST=$(mkuser customer)
AGENT=$(mkuser agent)
token() { # USER ROLE
	local now head body sig
	now=$(date +%s)
	head=$(printf '%s' '{"alg":"HS256","typ":"JWT"}' | b64u)
	body=$(printf '{"sub":"%s","org":"%s","role":"%s","name":"bench %s","email":"b@bench.test","iat":%d,"exp":%d}' \
		"$1" "$ORG" "$2" "$2" "$now" $((now + 3600)) | b64u)
	sig=$(printf '%s' "$head.$body" | openssl dgst -sha256 -hmac "$SECRET" -binary | b64u)
	echo "$head.$body.$sig"
}
CTOK=$(token "$CUST" customer)
ATOK=$(token "$AGENT" agent)

TICKET=$(curl -sf -H "authorization: Bearer $CTOK" -H 'content-type: application/json' \
	-d '{"subject":"bench ticket"}' "$PD_HTTP/api/v1/tickets" | sed -n 's/^{"id":"\([^"]*\)".*/\1/p')
[ -n "$TICKET" ] || { echo "api_bench: POST /tickets failed" >&2; exit 1; }
curl -sf -H "authorization: Bearer $ATOK" -H 'content-type: application/json' -X PATCH \
	-d "{\"assigneeId\":\"$AGENT\"}" "$PD_HTTP/api/v1/tickets/$TICKET" >/dev/null

# wrk: POST a body; count non-2xx; print one machine-readable line at the end.
cat >"$WORK/post.lua" <<'LUA'
wrk.method = os.getenv("BENCH_METHOD")
if wrk.method == "POST" then wrk.headers["Content-Type"] = "application/json" end
if os.getenv("BENCH_TOKEN") ~= "" then wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN") end
if wrk.method == "POST" then wrk.body = os.getenv("BENCH_BODY") end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %.1f %.2f %.2f %.2f %.2f %d\n",
    summary.requests, summary.duration,
    summary.requests / (summary.duration / 1e6),
    latency.mean / 1000, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout))
end
LUA

run() { # NAME METHOD PATH TOKEN BODY
	local out
	local name=$1 method=$2
	shift 2
	out=$(BENCH_METHOD=$method BENCH_TOKEN=$2 BENCH_BODY=$3 wrk -t "$THREADS" -c "$CONNS" -d "${DUR}s" --latency \
		-s "$WORK/post.lua" "$PD_HTTP$1" 2>&1) || { echo "$out" >&2; return 1; }
	# shellcheck disable=SC2086
	set -- "$name" $(echo "$out" | sed -n 's/^RESULT //p')
	printf '%-28s %10s %10s %9s %9s %9s %9s %7s\n' "$1" "$2" "$4" "$5" "$6" "$7" "$8" "$9"
}

echo "pushdesk-api through nginx ($PD_HTTP): ${DUR}s per case, $CONNS connections, $THREADS wrk threads"
echo "workers: $(conf_get api_workers)  ($(nproc) cores)"
printf '%-28s %10s %10s %9s %9s %9s %9s %7s\n' case requests 'req/s' 'mean ms' 'p50 ms' 'p99 ms' 'max ms' errors
run "POST /tickets" POST /api/v1/tickets "$CTOK" '{"subject":"bench","priority":"high"}'
run "POST /tickets/{id}/messages" POST "/api/v1/tickets/$TICKET/messages" "$CTOK" '{"content":"hello from the bench"}'
run "GET /tickets/{id} (read)" GET "/api/v1/tickets/$TICKET" "$CTOK" ''
run "GET /health (no auth)" GET /api/v1/health "" ''
echo "errors: non-2xx answers and socket errors; every write also published its events to Valkey."
