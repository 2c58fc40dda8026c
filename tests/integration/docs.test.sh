#!/bin/bash
# docs.test.sh: the manual pages and the sample deployment files.
#  * every page in man/ is listed in man/local.mk and the other way round;
#  * mandoc -T lint -W warning, groff -ww and man -l are clean on each page;
#  * pushdesk.conf(5) documents exactly the keys of shared/pd_cfg.c's table,
#    with their defaults and PUSHDESK_<KEY> variables;
#  * pushdesk-events(7) documents every event of the contract and every
#    "word:word" event literal in broker/, api/, shared/, cli/;
#  * its DIALECTS section has a subsection per seed-001 namespace and per
#    dialect of contract section 7 (helpdesk, rooms, presence, workspace),
#    each documenting that vocabulary's own events, rooms and errors;
#  * every long option of a getopt_long table is in its program's page;
#  * the sample nginx site passes nginx -t, the sample units
#    systemd-analyze verify.
# Needs no running stack: PD_SRC (default: the tree this file is in) and
# PD_BUILD (optional: the build tree, for the compiled key table).
# Prints "ok N - ..." / "not ok N - ..." and exits 1 on any failure.
set -u

here=$(cd "$(dirname "$0")" && pwd)
src=${PD_SRC:-$(cd "$here/../.." && pwd)}
build=${PD_BUILD:-}
check="$here/lib/docs_check.py"
tmp=$(mktemp -d "${PD_TMP:-${TMPDIR:-/tmp}}/docs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
# Show a command's output as TAP comments.
diag() { sed 's/^/# /' "$1"; }

pages=()
for f in "$src"/man/*.[1-8]; do
	[ -e "$f" ] && pages+=("$f")
done

# --- the pages and man/local.mk agree -------------------------------------
listed=$(sed -n '/^dist_man_MANS/,/^$/p' "$src/man/local.mk" | grep -o 'man/[^ \\]*' | sort)
present=$(cd "$src" && printf '%s\n' man/*.[1-8] | sort)
for want in pushdeskctl.1 pushdesk.conf.5 pushdesk-events.7 pushdesk-api.8 pushdesk-broker.8; do
	if [ -f "$src/man/$want" ]; then ok "man/$want exists"; else not_ok "man/$want exists"; fi
done
if [ "$listed" = "$present" ]; then
	ok "man/local.mk dist_man_MANS lists exactly the pages in man/"
else
	not_ok "man/local.mk dist_man_MANS lists exactly the pages in man/"
	diff <(echo "$listed") <(echo "$present") | sed 's/^/# /'
fi

# --- each page renders without a warning ------------------------------------
for f in "${pages[@]}"; do
	name=${f##*/}
	if command -v mandoc >/dev/null; then
		if mandoc -T lint -W warning "$f" >"$tmp/out" 2>&1 && ! [ -s "$tmp/out" ]; then
			ok "$name: mandoc -T lint -W warning"
		else
			not_ok "$name: mandoc -T lint -W warning"
			diag "$tmp/out"
		fi
	else
		skip "$name: mandoc -T lint -W warning" "mandoc not installed (apt-get install mandoc)"
	fi
	if command -v groff >/dev/null; then
		if groff -ww -mandoc -z "$f" >"$tmp/out" 2>&1 && ! [ -s "$tmp/out" ]; then
			ok "$name: groff -ww -mandoc"
		else
			not_ok "$name: groff -ww -mandoc"
			diag "$tmp/out"
		fi
	else
		skip "$name: groff -ww -mandoc" "groff not installed"
	fi
	if command -v man >/dev/null; then
		if MANPAGER=cat MANWIDTH=80 man -l "$f" >"$tmp/out" 2>"$tmp/err" &&
			[ "$(wc -l <"$tmp/out")" -gt 10 ] && ! grep -q . "$tmp/err"; then
			ok "$name: man -l renders it without a warning"
		else
			not_ok "$name: man -l renders it without a warning"
			diag "$tmp/err"
		fi
	else
		skip "$name: man -l renders it" "man not installed"
	fi
done

# --- the pages against the code ---------------------------------------------
run_check() { # description, docs_check arguments...
	local what=$1 rc
	shift
	python3 "$check" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	case $rc in
	0) ok "$what ($(tr '\n' ' ' <"$tmp/out" | sed 's/ *$//'))" ;;
	77) skip "$what" "$(tr '\n' ' ' <"$tmp/out" | sed 's/ *$//')" ;;
	*) not_ok "$what"; diag "$tmp/out"; diag "$tmp/err" ;;
	esac
}
if command -v python3 >/dev/null; then
	run_check "pushdesk.conf(5) documents every configuration key, default and variable" \
		keys "$src" "$build"
	run_check "pushdesk-events(7) documents every event the contract names and the code emits" \
		events "$src"
	run_check "pushdesk-events(7) DIALECTS documents each namespace's and dialect's events (contract 7)" \
		dialects "$src"
	run_check "every long option is in its program's page" options "$src"
else
	skip "pages against the code" "python3 not installed"
fi

# --- the sample nginx site ----------------------------------------------------
site="$src/share/nginx-site/pushdesk.conf"
if ! [ -f "$site" ]; then
	not_ok "share/nginx-site/pushdesk.conf exists"
elif ! command -v nginx >/dev/null || ! command -v openssl >/dev/null; then
	skip "share/nginx-site/pushdesk.conf passes nginx -t" "nginx or openssl not installed"
else
	mkdir -p "$tmp/nginx"
	openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=pushdesk.test -days 1 \
		-keyout "$tmp/nginx/key.pem" -out "$tmp/nginx/cert.pem" >/dev/null 2>&1
	params=/etc/nginx/fastcgi_params
	[ -f "$params" ] || : >"$tmp/nginx/fastcgi_params"
	[ -f "$params" ] && cp "$params" "$tmp/nginx/fastcgi_params"
	sed -e "s#/etc/ssl/pushdesk/fullchain.pem#$tmp/nginx/cert.pem#" \
		-e "s#/etc/ssl/pushdesk/privkey.pem#$tmp/nginx/key.pem#" \
		-e "s#/var/log/nginx/#$tmp/nginx/#" "$site" >"$tmp/nginx/site.conf"
	cat >"$tmp/nginx/nginx.conf" <<EOF
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log;
events {}
http {
    client_body_temp_path $tmp/nginx/cb;
    proxy_temp_path $tmp/nginx/pt;
    fastcgi_temp_path $tmp/nginx/ft;
    uwsgi_temp_path $tmp/nginx/ut;
    scgi_temp_path $tmp/nginx/st;
    include $tmp/nginx/site.conf;
}
EOF
	if nginx -t -q -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/error.log" \
		>"$tmp/out" 2>&1; then
		ok "share/nginx-site/pushdesk.conf passes nginx -t"
	else
		not_ok "share/nginx-site/pushdesk.conf passes nginx -t"
		diag "$tmp/out"
	fi
fi
# The parts operators rely on (literal text: no expansion meant).
# shellcheck disable=SC2016
for want in 'fastcgi_pass pushdesk_api' 'proxy_pass http://$pushdesk_upstream' \
	'map $arg_sid $pushdesk_sid_route' 'default pushdesk_brokers;' \
	'hash $pushdesk_route consistent' 'proxy_set_header Upgrade $http_upgrade' \
	'error_page 413' 'error_page 502' 'error_page 503' 'error_page 504'; do
	if grep -qF "$want" "$site" 2>/dev/null; then
		ok "nginx site: $want"
	else
		not_ok "nginx site: $want"
	fi
done

# --- the sample systemd units -------------------------------------------------
units=(pushdesk-api.socket pushdesk-api.service pushdesk-broker.service pushdesk-broker@.service)
if ! command -v systemd-analyze >/dev/null; then
	skip "sample systemd units pass systemd-analyze verify" "systemd-analyze not installed"
else
	mkdir -p "$tmp/units"
	# The programs and the pushdesk user need not exist here.
	for u in "${units[@]}"; do
		sed -e 's#^ExecStart=[^ ]*#ExecStart=/bin/true#' -e 's/^User=.*/User=root/' \
			-e 's/^Group=.*/Group=root/' "$src/share/systemd/$u" >"$tmp/units/$u"
	done
	cp "$tmp/units/pushdesk-broker@.service" "$tmp/units/pushdesk-broker@3000.service"
	(cd "$tmp/units" && SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no \
		./pushdesk-api.socket ./pushdesk-api.service ./pushdesk-broker.service \
		./pushdesk-broker@3000.service) >"$tmp/out" 2>&1
	# verify exits 0 on unknown keys: any output is a finding.
	if grep -v -e 'Failed to connect' -e 'not a symlink' "$tmp/out" | grep -q .; then
		not_ok "sample systemd units pass systemd-analyze verify"
		diag "$tmp/out"
	else
		ok "sample systemd units pass systemd-analyze verify"
	fi
fi
for f in "$src"/share/systemd/pushdesk-*.service; do
	name=${f##*/}
	# shellcheck disable=SC2016
	for want in '^ExecReload=/bin/kill -HUP \$MAINPID' '^NoNewPrivileges=yes' \
		'^ProtectSystem=strict' '^PrivateTmp=yes' '^Restart=on-failure'; do
		if grep -q "$want" "$f"; then ok "$name: $want"; else not_ok "$name: $want"; fi
	done
done
if grep -q '^StandardInput=socket' "$src/share/systemd/pushdesk-api.service" &&
	grep -q '^StandardOutput=journal' "$src/share/systemd/pushdesk-api.service"; then
	ok "pushdesk-api.service takes the FastCGI socket on stdin, logs to the journal"
else
	not_ok "pushdesk-api.service takes the FastCGI socket on stdin, logs to the journal"
fi

echo "1..$n"
[ "$failed" -eq 0 ]
