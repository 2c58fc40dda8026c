# shellcheck shell=bash
# tests/lib/stack.sh: start and stop a pushdesk stack (PostgreSQL, redis-server,
# pushdesk-api, pushdesk-broker, nginx) under one folder. Sourced by tests/run
# (a private stack under `mktemp -d`, on free loopback ports: pd_stack_start,
# pd_stack_stop), by scripts/stack (the developer's stack under ./var, fixed
# ports) and by tests that break things on purpose:
#
#   bash -c 'source "$PD_STACK" && pd_stop_pg'      # then pd_start_pg
#
# Sourcing has no side effect. Every function returns non-zero with a line
# "stack: reason" on stderr when it fails; every wait is bounded.
#
# The folder PD_DIR (= PD_TMP in tests) holds:
#   pushdesk.conf  env (the exported variables, for `source`)
#   pg/data pg/log/postgresql.log pg/run (PostgreSQL's socket)
#   redis/ (redis.pid, redis.log)   run/ (api.pid broker.pid nginx.pid api.sock)
#   log/ (api.log broker.log nginx-error.log nginx-access.log)   nginx/ (nginx.conf, tmp/)
#   apache/ (httpd.conf, run/) and log/apache-*.log when PD_FRONT=apache
#
# PD_FRONT (nginx, the default, or apache) picks the front end that
# pd_start_front, pd_front_running and the test stack use.

PD_SRC=${PD_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
PD_STACK=${PD_STACK:-$PD_SRC/tests/lib/stack.sh}

pd__say() { printf 'stack: %s\n' "$*" >&2; }

# pd_wait SECONDS WHAT COMMAND...: run COMMAND until it succeeds, at most SECONDS.
pd_wait() {
	local secs=$1 what=$2 deadline
	shift 2
	deadline=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS >= deadline)); then
			pd__say "timed out after ${secs}s waiting for $what"
			return 1
		fi
		sleep 0.2
	done
}

# The environment without PUSHDESK_* variables, so that a developer's exported
# PUSHDESK_DATABASE_URL cannot point a stack at the wrong database.
pd__env_clean() {
	local v args=()
	for v in $(compgen -e); do
		case $v in PUSHDESK_*) args+=(-u "$v") ;; esac
	done
	env "${args[@]}" "$@"
}

# ---- processes by pidfile ------------------------------------------------

pd_pid_alive() { # PIDFILE
	local pid
	[ -s "$1" ] && pid=$(cat "$1" 2>/dev/null) && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

pd__gone() { ! kill -0 "$1" 2>/dev/null; }

pd__group_gone() { ! kill -0 -- "-$1" 2>/dev/null; }

# pd_pid_stop PIDFILE [SECONDS]: TERM, wait, then KILL. Removes the pidfile.
# The daemons run in their own session: children that outlive their leader
# (workers whose master did not stop them) are reported, then stopped too.
pd_pid_stop() {
	local f=$1 secs=${2:-15} pid leader=0
	if pd_pid_alive "$f"; then
		pid=$(cat "$f")
		[ "$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ')" = "$pid" ] && leader=1
		kill -TERM "$pid" 2>/dev/null || true
		if ! pd_wait "$secs" "pid $pid ($f) to exit" pd__gone "$pid"; then
			pd__say "killing pid $pid"
			kill -KILL "$pid" 2>/dev/null || true
			pd_wait 5 "pid $pid to die" pd__gone "$pid" || return 1
		fi
		if [ $leader = 1 ] && ! pd_wait 5 "the rest of process group $pid to exit" pd__group_gone "$pid"; then
			pd__say "process group $pid outlived its leader ($f): killing it"
			kill -KILL -- "-$pid" 2>/dev/null || true
			pd_wait 5 "process group $pid to die" pd__group_gone "$pid" || return 1
		fi
	fi
	rm -f "$f"
}

# pd_daemon PIDFILE LOG COMMAND...: start COMMAND in the background, in its own
# session, reparented to init (so that no shell has to reap it).
pd_daemon() {
	local pidf=$1 log=$2
	shift 2
	(
		local v args=()
		cd / || exit 1
		for v in $(compgen -e); do
			case $v in PUSHDESK_*) args+=(-u "$v") ;; esac
		done
		# env and setsid exec in turn: $! is the daemon's own pid.
		env "${args[@]}" setsid "$@" >>"$log" 2>&1 </dev/null &
		echo $! >"$pidf"
	)
}

# ---- free ports -----------------------------------------------------------

pd__port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# pd_free_port: a loopback port nobody listens on, below the ephemeral range
# (32768+), reserved under /tmp/pushdesk-ports until pd_stack_stop, so that two
# stacks started at once never pick the same one.
pd_free_port() {
	local p lock owner tries=0 root=/tmp/pushdesk-ports
	mkdir -p "$root" 2>/dev/null && chmod 1777 "$root" 2>/dev/null
	while ((tries++ < 500)); do
		p=$((20000 + RANDOM % 12000))
		lock=$root/$p
		if ! mkdir "$lock" 2>/dev/null; then
			owner=$(cat "$lock/owner" 2>/dev/null || echo)
			# A lock left by a run that died: take it over.
			if [ -n "$owner" ] && ! kill -0 "$owner" 2>/dev/null; then
				rm -rf "$lock"
				mkdir "$lock" 2>/dev/null || continue
			else
				continue
			fi
		fi
		echo "$$" >"$lock/owner"
		if pd__port_busy "$p"; then
			rm -rf "$lock"
			continue
		fi
		echo "$p"
		return 0
	done
	pd__say "no free loopback port found"
	return 1
}

pd__release_ports() {
	local p
	for p in ${PD_PORTS:-}; do
		[ "$(cat "/tmp/pushdesk-ports/$p/owner" 2>/dev/null)" = "${PD_PORTS_OWNER:-$$}" ] &&
			rm -rf "/tmp/pushdesk-ports/$p"
	done
	return 0
}

# ---- PostgreSQL -----------------------------------------------------------

pd_pgbin() {
	local d
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
			echo "$d"
			return 0
		fi
	done
	pd__say "PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin (apt-get install postgresql)"
	return 1
}

# The system user that runs PostgreSQL when we are root (PostgreSQL refuses
# root): postgres, else pushdesk (created). Empty when not root.
pd_pg_osuser() {
	if [ "$(id -u)" != 0 ]; then
		echo ""
	elif id -u postgres >/dev/null 2>&1; then
		echo postgres
	else
		if ! id -u pushdesk >/dev/null 2>&1; then
			useradd --system --user-group --no-create-home --home-dir /nonexistent \
				--shell /usr/sbin/nologin pushdesk >&2 || {
				pd__say "cannot create the system user pushdesk"
				return 1
			}
		fi
		echo pushdesk
	fi
}

# pd_as_pg SECONDS COMMAND...: COMMAND as PostgreSQL's user, bounded.
pd_as_pg() {
	local secs=$1
	shift
	if [ -n "${PD_PG_OSUSER:-}" ]; then
		(cd / && timeout "$secs" runuser -u "$PD_PG_OSUSER" -- "$@")
	else
		(cd / && timeout "$secs" "$@")
	fi
}

# pd_pg_init: initdb in $PD_PGDATA, listening on 127.0.0.1:$PD_PG_PORT and a
# socket in $PD_DIR/pg/run, trust authentication (loopback only), superuser
# "pushdesk". PD_PG_FAST=1 trades durability for speed (tests).
pd_pg_init() {
	local pg=$PD_DIR/pg sync=()
	mkdir -p "$pg/data" "$pg/log" "$pg/run"
	chmod 700 "$pg/data"
	if [ -n "${PD_PG_OSUSER:-}" ]; then
		chown -R "$PD_PG_OSUSER:" "$pg"
		if ! runuser -u "$PD_PG_OSUSER" -- test -w "$pg/data"; then
			pd__say "$PD_PG_OSUSER cannot reach $pg/data: every parent folder must be searchable (chmod o+x)"
			return 1
		fi
	fi
	[ "${PD_PG_FAST:-0}" = 1 ] && sync=(--no-sync)
	if ! pd_as_pg 120 "$PD_PGBIN/initdb" -D "$PD_PGDATA" -U pushdesk -A trust -E UTF8 \
		--locale=C "${sync[@]}" >"$pg/log/initdb.log" 2>&1; then
		pd__say "initdb failed:"
		tail -n 20 "$pg/log/initdb.log" >&2
		return 1
	fi
	{
		echo "# pushdesk stack"
		echo "listen_addresses = '127.0.0.1'"
		echo "port = $PD_PG_PORT"
		echo "unix_socket_directories = '$pg/run'"
		echo "max_connections = 200"
		if [ "${PD_PG_FAST:-0}" = 1 ]; then
			echo "fsync = off"
			echo "synchronous_commit = off"
			echo "full_page_writes = off"
		fi
	} >>"$PD_PGDATA/postgresql.conf"
}

pd_pg_running() {
	pd__pg_env || return 1
	[ -f "$PD_PGDATA/postmaster.pid" ] &&
		pd_as_pg 10 "$PD_PGBIN/pg_ctl" -D "$PD_PGDATA" status >/dev/null 2>&1
}

pd_start_pg() {
	local log=$PD_DIR/pg/log/postgresql.log
	pd__pg_env || return 1
	pd_pg_running && return 0
	if ! pd_as_pg 90 "$PD_PGBIN/pg_ctl" -D "$PD_PGDATA" -l "$log" -w -t 60 start >/dev/null; then
		pd__say "PostgreSQL did not start:"
		tail -n 20 "$log" >&2
		return 1
	fi
	pd_wait 30 "PostgreSQL to accept connections" \
		"$PD_PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PD_PG_PORT" -U pushdesk -d postgres
}

pd_stop_pg() {
	pd__pg_env || return 1
	pd_pg_running || return 0
	pd_as_pg 60 "$PD_PGBIN/pg_ctl" -D "$PD_PGDATA" -m fast -w -t 45 stop >/dev/null || {
		pd__say "PostgreSQL did not stop"
		return 1
	}
}

pd_restart_pg() { pd_stop_pg && pd_start_pg; }

# From a fresh shell (a test), everything comes from the exported variables.
pd__pg_env() {
	: "${PD_DIR:=${PD_TMP:-}}"
	if [ -z "${PD_PGDATA:-}" ] || [ -z "${PD_DIR:-}" ]; then
		pd__say "PD_PGDATA and PD_TMP (or PD_DIR) must be set"
		return 1
	fi
	: "${PD_PGBIN:=$(pd_pgbin)}"
	if [ -z "${PD_PG_OSUSER+set}" ]; then
		PD_PG_OSUSER=""
		[ "$(id -u)" = 0 ] && PD_PG_OSUSER=$(stat -c %U "$PD_PGDATA")
		[ "$PD_PG_OSUSER" = root ] && PD_PG_OSUSER=""
	fi
	if [ -z "${PD_PG_PORT:-}" ]; then
		PD_PG_PORT=$(sed -n 's/^port = \([0-9]*\)$/\1/p' "$PD_PGDATA/postgresql.conf" | tail -n 1)
	fi
	return 0
}

# pd_psql DB ARGS...: psql as the superuser over TCP, quiet, stopping on error.
pd_psql() {
	local db=$1
	shift
	timeout 60 "$PD_PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PD_PG_PORT" \
		-U pushdesk -d "$db" "$@"
}

pd_pg_createdb() { # NAME
	local have
	have=$(pd_psql postgres -At -c "SELECT 1 FROM pg_database WHERE datname = '$1'") || return 1
	[ "$have" = 1 ] || pd_psql postgres -c "CREATE DATABASE \"$1\""
}

# ---- redis-server ----------------------------------------------------------

pd__redis_ping() (
	exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
	printf 'PING\r\n' >&3
	IFS= read -r -t 2 reply <&3 || reply=
	[ "${reply%$'\r'}" = "+PONG" ]
)

pd_start_redis() {
	local dir=${PD_DIR:-$PD_TMP}/redis
	# shellcheck disable=SC2046
	[ "${PD_VALKEY:-}" = cluster ] && { pd_start_vcluster "$dir" $(pd_vcluster_ports); return; }
	mkdir -p "$dir"
	pd_pid_alive "$dir/redis.pid" && return 0
	if pd__port_busy "$PD_REDIS_PORT"; then
		pd__say "port $PD_REDIS_PORT is taken by another program: cannot start redis-server"
		return 1
	fi
	(cd / && pd__env_clean timeout 30 redis-server --bind 127.0.0.1 --port "$PD_REDIS_PORT" \
		--daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir" \
		--save '' --appendonly no) || {
		pd__say "redis-server did not start"
		tail -n 20 "$dir/redis.log" >&2 2>/dev/null
		return 1
	}
	pd_wait 20 "redis-server on port $PD_REDIS_PORT" pd__redis_ping "$PD_REDIS_PORT" || {
		tail -n 20 "$dir/redis.log" >&2 2>/dev/null
		return 1
	}
}

pd_stop_redis() {
	local dir=${PD_DIR:-$PD_TMP}/redis
	# shellcheck disable=SC2046
	[ "${PD_VALKEY:-}" = cluster ] && { pd_stop_vcluster "$dir" $(pd_vcluster_ports); return; }
	pd_pid_stop "$dir/redis.pid" 20
}

pd_redis_running() {
	local p
	if [ "${PD_VALKEY:-}" = cluster ]; then
		for p in $(pd_vcluster_ports); do pd_pid_alive "${PD_DIR:-$PD_TMP}/redis/node-$p.pid" || return 1; done
		return 0
	fi
	pd_pid_alive "${PD_DIR:-$PD_TMP}/redis/redis.pid"
}

# ---- pushdesk-api and pushdesk-broker ---------------------------------------

pd__dir() { echo "${PD_DIR:-$PD_TMP}"; }

pd__http_code() { # URL
	curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$1" 2>/dev/null || true
}
pd__is_200() { [ "$(pd__http_code "$1")" = 200 ]; }

pd_start_api() {
	local d
	d=$(pd__dir)
	pd_pid_alive "$d/run/api.pid" && return 0
	if [ ! -x "$PD_BUILD/api/pushdesk-api" ]; then
		pd__say "$PD_BUILD/api/pushdesk-api is not built"
		return 1
	fi
	rm -f "$d/run/api.sock"
	pd_daemon "$d/run/api.pid" "$d/log/api.log" "$PD_BUILD/api/pushdesk-api" --config "$PD_CONF"
	pd_wait 30 "pushdesk-api's socket $d/run/api.sock" test -S "$d/run/api.sock" || {
		pd__say "pushdesk-api did not come up; the end of $d/log/api.log:"
		tail -n 20 "$d/log/api.log" >&2
		return 1
	}
}

pd_stop_api() { pd_pid_stop "$(pd__dir)/run/api.pid" 20; }

pd_start_broker() {
	local d
	d=$(pd__dir)
	pd_pid_alive "$d/run/broker.pid" && return 0
	if [ ! -x "$PD_BUILD/broker/pushdesk-broker" ]; then
		pd__say "$PD_BUILD/broker/pushdesk-broker is not built"
		return 1
	fi
	pd_daemon "$d/run/broker.pid" "$d/log/broker.log" \
		"$PD_BUILD/broker/pushdesk-broker" --config "$PD_CONF"
	pd_wait 30 "pushdesk-broker's $PD_BROKER_ADMIN/healthz" pd__is_200 "$PD_BROKER_ADMIN/healthz" || {
		pd__say "pushdesk-broker did not come up; the end of $d/log/broker.log:"
		tail -n 20 "$d/log/broker.log" >&2
		return 1
	}
}

pd_stop_broker() { pd_pid_stop "$(pd__dir)/run/broker.pid" 20; }

# ---- nginx ----------------------------------------------------------------

pd__nginx() { command -v nginx || echo /usr/sbin/nginx; }

# pd_nginx_render: $PD_DIR/nginx/nginx.conf from share/nginx/pushdesk.conf.in.
pd_nginx_render() {
	local d out user_line="" max_body sio_body servers="" b
	d=$(pd__dir)
	out=$d/nginx/nginx.conf
	case "$d$PD_SRC" in *'|'* | *'&'* | *'\'*)
		pd__say "paths with |, & or \\ are not supported: $d, $PD_SRC"
		return 1 ;;
	esac
	mkdir -p "$d/nginx/tmp" "$d/run" "$d/log"
	# The API's socket is created by our own user: nginx's workers must be
	# that user too to connect to it.
	[ "$(id -u)" = 0 ] && user_line="user $(id -un) $(id -gn);"
	max_body=$(pd_conf_get api_max_body 1048576)
	sio_body=$(($(pd_conf_get max_payload 1000000) * 2))
	for b in ${PD_BROKER_SERVERS:-127.0.0.1:$PD_BROKER_PORT}; do
		servers+="        server $b max_fails=0;"$'\n'
	done
	local esc_servers=${servers//$'\n'/\\n}
	sed -e "s|@USER_LINE@|$user_line|" \
		-e "s|@RUN_DIR@|$d/run|g" \
		-e "s|@LOG_DIR@|$d/log|g" \
		-e "s|@NGINX_TMP@|$d/nginx/tmp|g" \
		-e "s|@API_SOCKET@|$d/run/api.sock|g" \
		-e "s|@BROKER_SERVERS@|${esc_servers%\\n}|" \
		-e "s|@HTTP_ADDR@|${PD_HTTP_ADDR:-127.0.0.1}|g" \
		-e "s|@HTTP_PORT@|$PD_HTTP_PORT|g" \
		-e "s|@WEB_ROOT@|$PD_SRC/web|g" \
		-e "s|@ERRORS_DIR@|$PD_SRC/share/errors|g" \
		-e "s|@SHARE_DIR@|$PD_SRC/share|g" \
		-e "s|@API_MAX_BODY@|$max_body|g" \
		-e "s|@SIO_MAX_BODY@|$sio_body|g" \
		"$PD_SRC/share/nginx/pushdesk.conf.in" >"$out.tmp"
	if grep -q '@[A-Z_]*@' "$out.tmp"; then
		pd__say "unreplaced placeholders in $out.tmp: $(grep -o '@[A-Z_]*@' "$out.tmp" | sort -u | tr '\n' ' ')"
		return 1
	fi
	mv "$out.tmp" "$out"
}

pd_start_nginx() {
	local d ngx
	d=$(pd__dir)
	ngx=$(pd__nginx)
	pd_pid_alive "$d/run/nginx.pid" && return 0
	pd_nginx_render || return 1
	if ! timeout 20 "$ngx" -q -t -p "$d/nginx/" -c "$d/nginx/nginx.conf" -e "$d/log/nginx-error.log" \
		>"$d/log/nginx-test.log" 2>&1; then
		pd__say "nginx refuses $d/nginx/nginx.conf:"
		cat "$d/log/nginx-test.log" >&2
		return 1
	fi
	if ! timeout 20 "$ngx" -p "$d/nginx/" -c "$d/nginx/nginx.conf" -e "$d/log/nginx-error.log"; then
		pd__say "nginx did not start; the end of $d/log/nginx-error.log:"
		tail -n 20 "$d/log/nginx-error.log" >&2
		return 1
	fi
	pd_wait 20 "nginx's pidfile" pd_pid_alive "$d/run/nginx.pid"
}

pd_stop_nginx() { pd_pid_stop "$(pd__dir)/run/nginx.pid" 20; }

# ---- Apache httpd (PD_FRONT=apache) --------------------------------------------

pd__apache() { command -v apache2 || command -v httpd || echo /usr/sbin/apache2; }
pd__apache_modules() {
	local d
	for d in /usr/lib/apache2/modules /usr/lib64/httpd/modules /usr/lib/httpd/modules; do
		[ -f "$d/mod_proxy_fcgi.so" ] && { echo "$d"; return 0; }
	done
	pd__say "Apache's modules (mod_proxy_fcgi.so) not found (apt-get install apache2)"
	return 1
}

# pd_apache_render: $PD_DIR/apache/httpd.conf from share/apache/httpd.conf.in.
# PD_BROKER_SERVERS entries may be ADDR:PORT=ROUTE (that broker's broker_route);
# without =ROUTE a member's route is PD_BROKER_ROUTE (b1), the stack broker's.
pd_apache_render() {
	local d out mods user_lines="" max_body sio_body members="" b addr route
	d=$(pd__dir)
	out=$d/apache/httpd.conf
	case "$d$PD_SRC" in *'|'* | *'&'* | *'\'* | *'"'*)
		pd__say "paths with |, &, \" or \\ are not supported: $d, $PD_SRC"
		return 1 ;;
	esac
	mods=$(pd__apache_modules) || return 1
	mkdir -p "$d/apache/run" "$d/run" "$d/log"
	# Apache refuses to serve as root: its children run as www-data, which
	# may connect to the API's socket (mode 0666) and read web/.
	if [ "$(id -u)" = 0 ]; then
		user_lines="User ${PD_APACHE_USER:-www-data}\\nGroup ${PD_APACHE_GROUP:-www-data}"
	fi
	max_body=$(pd_conf_get api_max_body 1048576)
	sio_body=$(($(pd_conf_get max_payload 1000000) * 2))
	for b in ${PD_BROKER_SERVERS:-127.0.0.1:$PD_BROKER_PORT}; do
		addr=${b%%=*}
		route=${PD_BROKER_ROUTE:-b1}
		[ "$addr" != "$b" ] && route=${b#*=}
		[ -n "$members" ] && members+='\n'
		members+="    BalancerMember \"http://$addr\" route=$route upgrade=websocket"
		members+=" connectiontimeout=5 timeout=3600 retry=1"
	done
	sed -e "s|@USER_LINES@|$user_lines|" \
		-e "s|@APACHE_DIR@|$d/apache|g" \
		-e "s|@MOD_DIR@|$mods|g" \
		-e "s|@RUN_DIR@|$d/run|g" \
		-e "s|@LOG_DIR@|$d/log|g" \
		-e "s|@API_SOCKET@|$d/run/api.sock|g" \
		-e "s|@BROKER_MEMBERS@|$members|" \
		-e "s|@HTTP_ADDR@|${PD_HTTP_ADDR:-127.0.0.1}|g" \
		-e "s|@HTTP_PORT@|$PD_HTTP_PORT|g" \
		-e "s|@WEB_ROOT@|$PD_SRC/web|g" \
		-e "s|@ERRORS_DIR@|$PD_SRC/share/errors|g" \
		-e "s|@API_MAX_BODY@|$max_body|g" \
		-e "s|@SIO_MAX_BODY@|$sio_body|g" \
		"$PD_SRC/share/apache/httpd.conf.in" >"$out.tmp"
	if grep -q '@[A-Z_]*@' "$out.tmp"; then
		pd__say "unreplaced placeholders in $out.tmp: $(grep -o '@[A-Z_]*@' "$out.tmp" | sort -u | tr '\n' ' ')"
		return 1
	fi
	mv "$out.tmp" "$out"
}

pd_start_apache() {
	local d bin
	d=$(pd__dir)
	bin=$(pd__apache)
	pd_pid_alive "$d/run/apache.pid" && return 0
	pd_apache_render || return 1
	if ! (cd / && pd__env_clean timeout 20 "$bin" -t -f "$d/apache/httpd.conf") \
		>"$d/log/apache-test.log" 2>&1; then
		pd__say "Apache refuses $d/apache/httpd.conf:"
		cat "$d/log/apache-test.log" >&2
		return 1
	fi
	# Without -DFOREGROUND apache2 detaches into its own session and writes
	# run/apache.pid itself.
	rm -f "$d/run/apache.pid"
	if ! (cd / && pd__env_clean timeout 20 "$bin" -f "$d/apache/httpd.conf") \
		>>"$d/log/apache-error.log" 2>&1; then
		pd__say "Apache did not start; the end of $d/log/apache-error.log:"
		tail -n 20 "$d/log/apache-error.log" >&2
		return 1
	fi
	pd_wait 20 "Apache's pidfile" pd_pid_alive "$d/run/apache.pid" &&
		pd_wait 20 "Apache on port $PD_HTTP_PORT" pd__port_busy "$PD_HTTP_PORT" || {
		tail -n 20 "$d/log/apache-error.log" >&2
		return 1
	}
}

pd_stop_apache() { pd_pid_stop "$(pd__dir)/run/apache.pid" 20; }

# ---- the front end: nginx or Apache (PD_FRONT) -----------------------------------

pd_front() {
	case ${PD_FRONT:-nginx} in
	nginx | apache) echo "${PD_FRONT:-nginx}" ;;
	*)
		pd__say "PD_FRONT must be nginx or apache, not '$PD_FRONT'"
		return 1
		;;
	esac
}
pd_start_front() {
	local f
	f=$(pd_front) || return 1
	"pd_start_$f"
}
# Stops whichever front end runs (both: after a switch none is left).
pd_stop_front() {
	local rc=0
	pd_stop_nginx || rc=1
	pd_stop_apache || rc=1
	return $rc
}
pd_front_running() {
	local f
	f=$(pd_front) || return 1
	pd_pid_alive "$(pd__dir)/run/$f.pid"
}

# ---- configuration -----------------------------------------------------------

# pd_conf_get KEY [DEFAULT]: a key of $PD_CONF (last one wins), else DEFAULT.
pd_conf_get() {
	local v=""
	[ -f "${PD_CONF:-}" ] &&
		v=$(sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*\(.*[^[:space:]]\)[[:space:]]*$/\1/p" "$PD_CONF" | tail -n 1)
	echo "${v:-${2:-}}"
}

pd_random_hex() { od -An -tx1 -N"${1:-32}" /dev/urandom | tr -d ' \n'; }

# pd_write_conf SECRET: $PD_CONF for this stack, then $PD_STACK_CONF_EXTRA
# (lines) so that a caller can change any key.
pd_write_conf() {
	local d
	d=$(pd__dir)
	umask 077
	cat >"$PD_CONF.tmp" <<EOF
# pushdesk.conf written by tests/lib/stack.sh (pd_write_conf); see pushdesk.conf(5).
database_url = $PD_DATABASE_URL
valkey_url = $PD_REDIS_URL
jwt_alg = HS256
jwt_secret = $1
api_socket = $d/run/api.sock
broker_listen = 127.0.0.1:$PD_BROKER_PORT
broker_admin_listen = 127.0.0.1:$PD_BROKER_ADMIN_PORT
cors_origins = http://127.0.0.1:$PD_HTTP_PORT,http://localhost:$PD_HTTP_PORT
EOF
	# Behind Apache the broker's sids carry the route of its balancer member.
	[ "${PD_FRONT:-nginx}" = apache ] && echo "broker_route = ${PD_BROKER_ROUTE:-b1}" >>"$PD_CONF.tmp"
	[ -n "${PD_STACK_CONF_EXTRA:-}" ] && printf '%s\n' "$PD_STACK_CONF_EXTRA" >>"$PD_CONF.tmp"
	umask 022
	mv "$PD_CONF.tmp" "$PD_CONF"
	chmod 644 "$PD_CONF"
}

pd_ctl() { pd__env_clean timeout 120 "$PD_BUILD/cli/pushdeskctl" --config "$PD_CONF" "$@"; }

# pd_wait_health SECONDS: GET /api/v1/health through the front end answers 200.
pd_wait_health() {
	pd_wait "${1:-60}" "$PD_HTTP/api/v1/health to answer 200" pd__is_200 "$PD_HTTP/api/v1/health"
}

# pd_tail_logs [LINES]: the end of every log of the stack, for a failure report.
pd_tail_logs() {
	local d f
	d=$(pd__dir)
	for f in "$d"/log/*.log "$d"/redis/redis.log "$d"/pg/log/postgresql.log; do
		[ -s "$f" ] || continue
		echo "---- ${f#"$d"/} (last ${1:-20} lines)" >&2
		tail -n "${1:-20}" "$f" >&2
	done
}

# ---- the test stack -----------------------------------------------------------

# pd_stack_start: a private stack under a new `mktemp -d` folder, using the
# binaries of $PD_BUILD (default $PD_SRC/build). Exports the variables of
# docs/DEVELOPING.md and writes them to $PD_TMP/env.
pd_stack_start() {
	local secret p
	: "${PD_BUILD:=$PD_SRC/build}"
	PD_BUILD=$(cd "$PD_BUILD" && pwd) || return 1
	for p in cli/pushdeskctl api/pushdesk-api broker/pushdesk-broker; do
		if [ ! -x "$PD_BUILD/$p" ]; then
			pd__say "$PD_BUILD/$p is not built (make -C $PD_BUILD)"
			return 1
		fi
	done
	command -v curl >/dev/null || { pd__say "curl is missing (apt-get install curl)"; return 1; }
	command -v redis-server >/dev/null || { pd__say "redis-server is missing (apt-get install redis-server)"; return 1; }
	PD_TMP=$(mktemp -d "${TMPDIR:-/tmp}/pushdesk-test.XXXXXX") || return 1
	chmod 755 "$PD_TMP"
	PD_DIR=$PD_TMP
	mkdir -p "$PD_TMP/run" "$PD_TMP/log" "$PD_TMP/redis" "$PD_TMP/nginx/tmp"

	PD_PORTS_OWNER=$$
	PD_PG_PORT=$(pd_free_port) && PD_REDIS_PORT=$(pd_free_port) &&
		PD_HTTP_PORT=$(pd_free_port) && PD_BROKER_PORT=$(pd_free_port) &&
		PD_BROKER_ADMIN_PORT=$(pd_free_port) || return 1
	PD_PORTS="$PD_PG_PORT $PD_REDIS_PORT $PD_HTTP_PORT $PD_BROKER_PORT $PD_BROKER_ADMIN_PORT"
	# PD_VALKEY=cluster: three nodes from PD_REDIS_PORT on, their bus ports too
	if [ "${PD_VALKEY:-}" = cluster ] && [ -z "${PD_VCLUSTER_PORTS:-}" ]; then
		PD_REDIS_PORT=$(pd_free_cluster_port) || return 1
		PD_PORTS="$PD_PORTS $(pd__cluster_port_set "$PD_REDIS_PORT")"
	fi

	PD_PGBIN=$(pd_pgbin) || return 1
	PD_PG_OSUSER=$(pd_pg_osuser) || return 1
	PD_PGDATA=$PD_TMP/pg/data
	PD_CONF=$PD_TMP/pushdesk.conf
	PD_HTTP=http://127.0.0.1:$PD_HTTP_PORT
	PD_BROKER=http://127.0.0.1:$PD_BROKER_PORT
	PD_BROKER_ADMIN=http://127.0.0.1:$PD_BROKER_ADMIN_PORT
	PD_DATABASE_URL=postgresql://pushdesk@127.0.0.1:$PD_PG_PORT/pushdesk
	PD_REDIS_URL=redis://127.0.0.1:$PD_REDIS_PORT
	PD_FRONT=$(pd_front) || return 1
	export PD_SRC PD_BUILD PD_TMP PD_DIR PD_CONF PD_HTTP PD_HTTP_PORT PD_BROKER PD_BROKER_PORT \
		PD_BROKER_ADMIN PD_BROKER_ADMIN_PORT PD_DATABASE_URL PD_REDIS_URL PD_REDIS_PORT \
		PD_PGDATA PD_PGBIN PD_PG_PORT PD_PG_OSUSER PD_STACK PD_PORTS PD_PORTS_OWNER PD_FRONT
	declare -p PD_SRC PD_BUILD PD_TMP PD_DIR PD_CONF PD_HTTP PD_HTTP_PORT PD_BROKER PD_BROKER_PORT \
		PD_BROKER_ADMIN PD_BROKER_ADMIN_PORT PD_DATABASE_URL PD_REDIS_URL PD_REDIS_PORT \
		PD_PGDATA PD_PGBIN PD_PG_PORT PD_PG_OSUSER PD_STACK PD_PORTS PD_PORTS_OWNER PD_FRONT |
		sed -E 's/^declare -[-x] /export /' >"$PD_TMP/env"

	PD_PG_FAST=1 pd_pg_init || return 1
	pd_start_pg || return 1
	pd_pg_createdb pushdesk || return 1
	pd_start_redis || return 1
	secret=$(pd_random_hex 32)
	pd_write_conf "$secret" || return 1
	pd_ctl migrate >"$PD_TMP/log/migrate.log" 2>&1 || {
		pd__say "pushdeskctl migrate failed:"
		cat "$PD_TMP/log/migrate.log" >&2
		return 1
	}
	pd_start_api || return 1
	pd_start_broker || return 1
	pd_start_front || return 1
	pd_wait_health 60 || {
		pd_tail_logs 20
		return 1
	}
}

# pd_stack_heal: put back whatever a test left stopped (PostgreSQL, redis,
# the front end). Prints what it found dead; returns 1 if pushdesk-api or
# pushdesk-broker had died (a crash is a failure), after restarting them.
pd_stack_heal() {
	local rc=0 d
	d=$(pd__dir)
	pd_pg_running || { pd__say "PostgreSQL was down: starting it"; pd_start_pg || rc=1; }
	pd_redis_running || { pd__say "redis-server was down: starting it"; pd_start_redis || rc=1; }
	if ! pd_pid_alive "$d/run/api.pid"; then
		pd__say "pushdesk-api is not running: the end of its log:"
		tail -n 20 "$d/log/api.log" >&2
		pd_start_api
		rc=1
	fi
	if ! pd_pid_alive "$d/run/broker.pid"; then
		pd__say "pushdesk-broker is not running: the end of its log:"
		tail -n 20 "$d/log/broker.log" >&2
		pd_start_broker
		rc=1
	fi
	pd_front_running || { pd__say "$(pd_front) was down: starting it"; pd_start_front || rc=1; }
	pd_wait_health 30 || rc=1
	return $rc
}

# pd_stack_stop: stop everything pd_stack_start started, by pidfile, and
# remove $PD_TMP unless PD_KEEP_TMP=1. Safe to call twice, and from a trap.
pd_stack_stop() {
	local d
	d=${PD_DIR:-${PD_TMP:-}}
	[ -n "$d" ] && [ -d "$d" ] || return 0
	pd_stop_front || true
	pd_stop_broker || true
	pd_stop_api || true
	pd_stop_redis || true
	[ -n "${PD_PGDATA:-}" ] && { pd_stop_pg || true; }
	pd__release_ports
	if [ "${PD_KEEP_TMP:-0}" != 1 ] && [ "$d" = "${PD_TMP:-}" ]; then
		rm -rf "$d"
	fi
	return 0
}

# ---- Valkey Cluster: three masters on loopback (issue 14) -------------------
# PD_VALKEY=cluster makes pd_start_redis/pd_stop_redis/pd_redis_running run
# these on the ports PD_VCLUSTER_PORTS (default PD_REDIS_PORT and the next
# two) under $dir/redis; PD_REDIS_URL then names the three as seeds
# (pd_vcluster_url). A test may also start its own: pd_start_vcluster DIR
# PORT PORT PORT. No persistence: a node restarted comes back with its
# slots (nodes-PORT.conf) but no data, as a single redis-server here does.

pd_vcluster_ports() { echo "${PD_VCLUSTER_PORTS:-$PD_REDIS_PORT $((PD_REDIS_PORT + 1)) $((PD_REDIS_PORT + 2))}"; }

# pd__take_port PORT: reserves PORT as pd_free_port does; 1 if another live
# process holds it or something listens there.
pd__take_port() {
	local lock=/tmp/pushdesk-ports/$1 owner
	if ! mkdir "$lock" 2>/dev/null; then
		owner=$(cat "$lock/owner" 2>/dev/null || echo)
		{ [ -n "$owner" ] && ! kill -0 "$owner" 2>/dev/null; } || return 1
		rm -rf "$lock"
		mkdir "$lock" 2>/dev/null || return 1
	fi
	echo "$$" >"$lock/owner"
	if pd__port_busy "$1"; then
		rm -rf "$lock"
		return 1
	fi
}

pd__cluster_port_set() { echo "$1 $(($1 + 1)) $(($1 + 2)) $(($1 + 10000)) $(($1 + 10001)) $(($1 + 10002))"; }

# pd_free_cluster_port: a PORT for pd_vcluster_ports' three nodes (PORT,
# +1, +2), reserved with their cluster bus ports (+10000), all below the
# ephemeral range: pd_free_port's port was reserved alone, and a bus port up
# to 42001 could be held by another stack or an outgoing connection (a node
# then did not start: "timed out ... waiting for cluster node").
pd_free_cluster_port() {
	local p q tries=0 got
	mkdir -p /tmp/pushdesk-ports 2>/dev/null && chmod 1777 /tmp/pushdesk-ports 2>/dev/null
	while ((tries++ < 500)); do
		p=$((20000 + RANDOM % 1998))
		got=()
		for q in $(pd__cluster_port_set "$p"); do
			pd__take_port "$q" || break
			got+=("$q")
		done
		[ ${#got[@]} -eq 6 ] && { echo "$p"; return 0; }
		for q in "${got[@]}"; do rm -rf "/tmp/pushdesk-ports/$q"; done
	done
	pd__say "no free loopback ports for a Valkey Cluster found"
	return 1
}

# pd_vcluster_url PORT...: redis://127.0.0.1:P1,127.0.0.1:P2,...
pd_vcluster_url() {
	local p url=""
	for p in "$@"; do url="$url${url:+,}127.0.0.1:$p"; done
	echo "redis://$url"
}

pd__vcluster_ok() { # PORT: the node sees the whole cluster serving
	redis-cli -p "$1" cluster info 2>/dev/null | tr -d '\r' | grep -q '^cluster_state:ok$'
}

# pd_start_vcluster_node DIR PORT: one node (again, after a stop).
pd_start_vcluster_node() {
	local dir=$1 p=$2
	mkdir -p "$dir"
	pd_pid_alive "$dir/node-$p.pid" && return 0
	(cd / && pd__env_clean timeout 30 redis-server --bind 127.0.0.1 --port "$p" \
		--cluster-enabled yes --cluster-config-file "$dir/nodes-$p.conf" \
		--cluster-node-timeout 2000 --daemonize yes --pidfile "$dir/node-$p.pid" \
		--logfile "$dir/node-$p.log" --dir "$dir" --save '' --appendonly no) || {
		pd__say "redis-server (cluster node $p) did not start"
		return 1
	}
	pd_wait 20 "cluster node on port $p" pd__redis_ping "$p"
}

pd_stop_vcluster_node() { pd_pid_stop "$1/node-$2.pid" 20; } # DIR PORT

# pd_start_vcluster DIR PORT PORT PORT: three masters sharing the 16384
# slots, created once (nodes-*.conf keep it), then waited for.
pd_start_vcluster() {
	local dir=$1 p hosts=() created=1
	shift
	command -v redis-cli >/dev/null || { pd__say "redis-cli is missing (apt-get install redis-tools)"; return 1; }
	for p in "$@"; do
		[ -s "$dir/nodes-$p.conf" ] || created=0
		pd_start_vcluster_node "$dir" "$p" || return 1
		hosts+=("127.0.0.1:$p")
	done
	if [ "$created" = 0 ]; then
		pd__env_clean timeout 60 redis-cli --cluster create "${hosts[@]}" --cluster-yes \
			>"$dir/create.log" 2>&1 || {
			pd__say "redis-cli --cluster create failed:"
			tail -n 20 "$dir/create.log" >&2
			return 1
		}
	fi
	for p in "$@"; do
		pd_wait 30 "cluster_state:ok on node $p" pd__vcluster_ok "$p" || return 1
	done
}

pd_stop_vcluster() { # DIR PORT...
	local dir=$1 p rc=0
	shift
	for p in "$@"; do pd_stop_vcluster_node "$dir" "$p" || rc=1; done
	return $rc
}
