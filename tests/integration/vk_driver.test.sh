#!/usr/bin/env bash
# vk_driver.test.sh: the broker's Valkey layer (vk, cluster, presence)
# against a redis-server of its own, through tests/integration/vk_driver
# (built by `make check TESTS=`): up/down transitions (killed, restarted,
# frozen), resubscription, fan-out between two cluster instances, emitter
# messages, queries, leases, presence once per user across brokers. The
# driver prints the TAP lines; this file only runs it.
set -uo pipefail

PD_SRC=${PD_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
PD_BUILD=${PD_BUILD:-$PD_SRC/build}
DRIVER=$PD_BUILD/tests/integration/vk_driver

if [ ! -x "$DRIVER" ]; then
	echo "not ok 1 - tests/integration/vk_driver is built in $PD_BUILD (make -C $PD_BUILD)"
	exit 1
fi
command -v redis-server >/dev/null || {
	echo "not ok 1 - redis-server installed"
	exit 1
}
# its own folder under the stack's, when tests/run gives one
cd "${PD_TMP:-${TMPDIR:-/tmp}}" || exit 1
timeout --kill-after=5 120 "$DRIVER"
