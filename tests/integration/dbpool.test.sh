#!/usr/bin/env bash
# dbpool.test.sh: the broker's database layer (broker/dbpool, broker/dbq)
# against a real PostgreSQL, through tests/integration/dbpool_driver: jobs
# answered on the submitting loop's thread, every broker query, the queue
# bound, statement_timeout, shutdown, and a PostgreSQL stop/start under a
# live pool (jobs fail fast with UNAVAILABLE, then succeed again).
#
# Under tests/run it uses the stack's cluster (PD_DATABASE_URL, PD_PGDATA,
# PD_STACK) and restarts it; run alone (bash tests/integration/dbpool.test.sh
# with PD_BUILD=/path/to/build) it starts a private cluster under mktemp -d.
# Prints TAP lines "ok N - ..." / "not ok N - ...".
set -uo pipefail

PD_SRC=${PD_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
PD_BUILD=${PD_BUILD:-$PD_SRC/build}
PD_STACK=${PD_STACK:-$PD_SRC/tests/lib/stack.sh}
DRIVER=$PD_BUILD/tests/integration/dbpool_driver
export PD_SRC PD_BUILD PD_STACK
# shellcheck source=../lib/stack.sh
source "$PD_STACK"

if [ ! -x "$DRIVER" ]; then
	echo "not ok 1 - tests/integration/dbpool_driver is built in $PD_BUILD (make -C $PD_BUILD)"
	exit 1
fi

OWN_DIR=""
cleanup() {
	if [ -n "$OWN_DIR" ]; then
		pd_stop_pg || true
		pd__release_ports
		rm -rf "$OWN_DIR"
	fi
}
trap cleanup EXIT

if [ -z "${PD_DATABASE_URL:-}" ] || [ -z "${PD_PGDATA:-}" ]; then
	# A private cluster, as stack.sh builds one, with the schema applied.
	OWN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/pushdesk-dbpool.XXXXXX") || exit 1
	chmod 755 "$OWN_DIR"
	PD_TMP=$OWN_DIR
	PD_DIR=$OWN_DIR
	PD_PORTS_OWNER=$$
	PD_PG_PORT=$(pd_free_port) || exit 1
	PD_PORTS=$PD_PG_PORT
	PD_PGBIN=$(pd_pgbin) || exit 1
	PD_PG_OSUSER=$(pd_pg_osuser) || exit 1
	PD_PGDATA=$OWN_DIR/pg/data
	export PD_TMP PD_DIR PD_PORTS_OWNER PD_PG_PORT PD_PORTS PD_PGBIN PD_PG_OSUSER PD_PGDATA
	if ! PD_PG_FAST=1 pd_pg_init || ! pd_start_pg || ! pd_pg_createdb pushdesk; then
		echo "not ok 1 - a private PostgreSQL cluster starts"
		exit 1
	fi
	for f in "$PD_SRC"/sql/[0-9]*.sql; do
		if ! pd_psql pushdesk -1 -f "$f" >/dev/null; then
			echo "not ok 1 - schema $(basename "$f") applies"
			exit 1
		fi
	done
	PD_DATABASE_URL=postgresql://pushdesk@127.0.0.1:$PD_PG_PORT/pushdesk
	export PD_DATABASE_URL
fi

# The driver stops and starts PostgreSQL itself, at the moments it chooses.
export DBPOOL_STOP_CMD="bash -c 'source \"\$PD_STACK\" && pd_stop_pg'"
export DBPOOL_START_CMD="bash -c 'source \"\$PD_STACK\" && pd_start_pg'"
timeout 240 "$DRIVER"
rc=$?
# Whatever happened, leave PostgreSQL running for the next test.
pd_start_pg >/dev/null 2>&1 || true
if [ $rc -eq 124 ]; then
	echo "not ok 999 - dbpool_driver timed out"
fi
exit $rc
