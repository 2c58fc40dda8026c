#!/usr/bin/env bash
# pushdeskctl migrate on fresh databases of the test cluster: applies every
# sql/*.sql once, records one schema_migrations row per file, a second run
# applies nothing; two runs at once do not race; a failing file rolls back.
# Prints TAP lines (tests/run counts them).
set -uo pipefail
: "${PD_BUILD:?run through tests/run}" "${PD_TMP:?}" "${PD_PGBIN:?}" "${PD_CONF:?}"
# shellcheck source=../lib/stack.sh
source "$PD_STACK"

n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; shift; for l in "$@"; do echo "#   $l"; done; }
check() { # WHAT COMMAND...
	local what=$1 out
	shift
	if out=$("$@" 2>&1); then ok "$what"; else not_ok "$what" "$out"; fi
}

CTL=$PD_BUILD/cli/pushdeskctl
files=$(ls "$PD_SRC"/sql/*.sql | wc -l)
db=mig_$$_$RANDOM
url=postgresql://pushdesk@127.0.0.1:$PD_PG_PORT/$db
sql() { pd_psql "$1" -At -c "$2"; }
ctl() { pd__env_clean PUSHDESK_DATABASE_URL="$1" timeout 60 "$CTL" --config "$PD_CONF" "${@:2}"; }

sql postgres "CREATE DATABASE $db" >/dev/null || not_ok "create database $db"

out1=$(ctl "$url" migrate 2>&1); rc1=$?
if [ $rc1 = 0 ] && [ "$(grep -c '^applied ' <<<"$out1")" = "$files" ]; then
	ok "first migrate applies all $files files"
else
	not_ok "first migrate applies all $files files" "exit $rc1" "$out1"
fi

rows=$(sql "$db" "SELECT count(*) FROM schema_migrations")
names=$(sql "$db" "SELECT string_agg(version, ' ' ORDER BY version) FROM schema_migrations")
want=$(cd "$PD_SRC/sql" && ls *.sql | sed 's/\.sql$//' | sort | tr '\n' ' ' | sed 's/ $//')
if [ "$rows" = "$files" ] && [ "$names" = "$want" ]; then
	ok "schema_migrations has one row per file ($names)"
else
	not_ok "schema_migrations has one row per file" "rows=$rows names=$names want=$want"
fi
applied_at=$(sql "$db" "SELECT count(*) FROM schema_migrations WHERE applied_at IS NOT NULL AND applied_at <= now()")
[ "$applied_at" = "$files" ] && ok "every row has applied_at" || not_ok "every row has applied_at" "$applied_at"

check "the schema is there (organizations, users, tickets, outbox)" \
	sql "$db" "SELECT 'organizations'::regclass, 'users'::regclass, 'tickets'::regclass, 'outbox'::regclass"

out2=$(ctl "$url" migrate 2>&1); rc2=$?
if [ $rc2 = 0 ] && ! grep -q '^applied ' <<<"$out2"; then
	ok "second migrate applies nothing and exits 0 ($out2)"
else
	not_ok "second migrate applies nothing and exits 0" "exit $rc2" "$out2"
fi
json=$(ctl "$url" --json migrate 2>&1)
if grep -q '"applied":\[\]' <<<"$json"; then ok "--json says applied: []"; else not_ok "--json says applied: []" "$json"; fi
rows2=$(sql "$db" "SELECT count(*) FROM schema_migrations")
[ "$rows2" = "$files" ] && ok "still one row per file" || not_ok "still one row per file" "rows=$rows2"

# Two migrates at once on another fresh database: the advisory lock serialises them.
db2=${db}_b
url2=postgresql://pushdesk@127.0.0.1:$PD_PG_PORT/$db2
sql postgres "CREATE DATABASE $db2" >/dev/null
ctl "$url2" migrate >"$PD_TMP/mig-a.out" 2>&1 &
pa=$!
ctl "$url2" migrate >"$PD_TMP/mig-b.out" 2>&1 &
pb=$!
wait $pa; ra=$?
wait $pb; rb=$?
applied=$(cat "$PD_TMP/mig-a.out" "$PD_TMP/mig-b.out" | grep -c '^applied ')
rows3=$(sql "$db2" "SELECT count(*) FROM schema_migrations")
if [ $ra = 0 ] && [ $rb = 0 ] && [ "$applied" = "$files" ] && [ "$rows3" = "$files" ]; then
	ok "two concurrent migrates: both exit 0, each file applied once"
else
	not_ok "two concurrent migrates" "exits $ra $rb, applied lines $applied, rows $rows3" \
		"$(cat "$PD_TMP/mig-a.out" "$PD_TMP/mig-b.out")"
fi

# A failing migration: nothing of it stays, no row for it, a one-line reason.
bad=$PD_TMP/badsql
mkdir -p "$bad"
cp "$PD_SRC"/sql/*.sql "$bad/"
printf 'CREATE TABLE zz_half_done (a int);\nSELECT no_such_function();\n' >"$bad/9999_broken.sql"
err=$(ctl "$url" migrate --sql-dir "$bad" 2>&1 >/dev/null); rc=$?
if [ $rc = 1 ] && [ "$(wc -l <<<"$err")" = 1 ] && grep -q '^pushdeskctl: .*9999_broken' <<<"$err"; then
	ok "a failing migration exits 1 with one line naming the file"
else
	not_ok "a failing migration exits 1 with one line naming the file" "exit $rc" "$err"
fi
left=$(sql "$db" "SELECT coalesce(to_regclass('zz_half_done')::text, 'none') || ' ' || (SELECT count(*) FROM schema_migrations WHERE version = '9999_broken')")
[ "$left" = "none 0" ] && ok "the failing migration rolled back whole" || not_ok "the failing migration rolled back whole" "$left"

# Where the files come from: PUSHDESK_SQL_DIR, and an empty folder is an error.
mkdir -p "$PD_TMP/emptysql"
err=$(pd__env_clean PUSHDESK_SQL_DIR="$PD_TMP/emptysql" \
	PUSHDESK_DATABASE_URL="$url" timeout 60 "$CTL" --config "$PD_CONF" migrate 2>&1); rc=$?
if [ $rc = 1 ] && grep -q "emptysql" <<<"$err"; then
	ok "PUSHDESK_SQL_DIR is used; an empty folder is an error"
else
	not_ok "PUSHDESK_SQL_DIR is used; an empty folder is an error" "exit $rc" "$err"
fi

sql postgres "DROP DATABASE $db" >/dev/null
sql postgres "DROP DATABASE $db2" >/dev/null
echo "1..$n"
[ $failed = 0 ]
