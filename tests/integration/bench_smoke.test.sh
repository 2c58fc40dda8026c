#!/usr/bin/env bash
# bench_smoke: bench/run.sh --smoke works end to end (builds nothing). Runs
# the tiny benchmark against the Node reference server and, when
# $PD_BUILD/broker/pushdesk-broker exists, against pushdesk-broker; checks
# that every client connected, that every pd-loadgen summary is valid JSON,
# and that the table was printed. Figures are not judged here.
# tests/run: long (two servers through every workload: about 3 minutes)
set -u -o pipefail

SRC=${PD_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BUILD=${PD_BUILD:-$SRC}
TMPBASE=${PD_TMP:-${TMPDIR:-/tmp}}
OUT=$(mktemp -d "$TMPBASE/bench-smoke.XXXXXX")
trap 'rm -rf "$OUT"' EXIT

n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $*"; }
check() { # description command...
	local d=$1
	shift
	if "$@"; then ok "$d"; else notok "$d"; fi
}

SMOKE_CLIENTS=50
servers=node
if [ -x "$BUILD/broker/pushdesk-broker" ]; then
	servers=pushdesk,node
else
	echo "# no $BUILD/broker/pushdesk-broker: Node server only"
fi

if [ ! -x "$BUILD/bench/pd-loadgen" ]; then
	notok "pd-loadgen built at $BUILD/bench/pd-loadgen"
	echo "1..$n"
	exit 1
fi

timeout 600 bash "$SRC/bench/run.sh" --smoke --servers "$servers" --build "$BUILD" \
	--out "$OUT/run" >"$OUT/table.txt" 2>"$OUT/log.txt"
rc=$?
check "bench/run.sh --smoke exits 0" test "$rc" = 0
if [ "$rc" != 0 ]; then
	sed 's/^/# /' "$OUT/log.txt" | tail -40
fi

check "table printed" grep -q '^| figure' "$OUT/table.txt"
check "table has the ack row" grep -q '^| ack round trips/s' "$OUT/table.txt"
check "harness ceiling printed" grep -q 'harness ceiling' "$OUT/table.txt"

for s in ${servers//,/ }; do
	for f in "$OUT/run/$s-idle-$SMOKE_CLIENTS.json" "$OUT/run/$s-ack.json"; do
		name=$(basename "$f" .json)
		if ! jq -e . "$f" >/dev/null 2>&1; then
			notok "$name: summary is JSON"
			continue
		fi
		ok "$name: summary is JSON"
		c=$(jq -r .connected "$f")
		check "$name: connected == clients ($c/$SMOKE_CLIENTS)" test "$c" = "$SMOKE_CLIENTS"
	done
	f="$OUT/run/$s-ack.json"
	a=$(jq -r '.acks // 0' "$f" 2>/dev/null)
	check "$s-ack: acks answered ($a)" test "${a:-0}" -gt 0
	mem=$(awk -F'\t' -v s="$s" '$1 == s && $2 == "mem_50" {print $3}' "$OUT/run/results.tsv")
	check "$s: memory per connection measured ($mem KB)" test -n "$mem" -a "$mem" != failed
done

# fan-out through redis: Node must deliver; pushdesk may not have its adapter yet
f="$OUT/run/node-room-10.json"
if jq -e . "$f" >/dev/null 2>&1; then
	ev=$(jq -r .events "$f")
	check "node room fan-out delivered events ($ev)" test "$ev" -gt 0
else
	notok "node room fan-out summary is JSON"
fi
bad=0
for f in "$OUT"/run/*.json; do
	case "$f" in *.pub.json) continue ;; esac
	jq -e '.connected and .latency_ms and (.cpu_percent != null)' "$f" >/dev/null 2>&1 || {
		echo "# bad summary: $f"
		bad=1
	}
done
check "every pd-loadgen summary parses with the expected fields" test "$bad" = 0

sed 's/^/# /' "$OUT/table.txt"
echo "1..$n"
[ "$fails" = 0 ]
