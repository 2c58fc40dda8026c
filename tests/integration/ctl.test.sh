#!/usr/bin/env bash
# pushdeskctl against the test stack: org, team and user creation, its
# one-line errors and exit codes, and tokens whose claims and HS256 signature
# verify with the stack's jwt_secret. Prints TAP lines (tests/run counts them).
set -uo pipefail
: "${PD_BUILD:?run through tests/run}" "${PD_TMP:?}" "${PD_CONF:?}"
# shellcheck source=../lib/stack.sh
source "$PD_STACK"

n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; shift; for l in "$@"; do echo "#   $l"; done; }
is_uuid() { [[ $1 =~ ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]]; }
ctl() { pd__env_clean timeout 60 "$PD_BUILD/cli/pushdeskctl" --config "$PD_CONF" "$@"; }
sql() { pd_psql pushdesk -At -c "$1"; }

# expect_error WHAT CODE COMMAND...: exits CODE with exactly one stderr line "pushdeskctl: ...".
expect_error() {
	local what=$1 code=$2 out err rc
	shift 2
	out=$("$@" 2>"$PD_TMP/ctl.err" </dev/null); rc=$?
	err=$(cat "$PD_TMP/ctl.err")
	if [ "$rc" = "$code" ] && [ -z "$out" ] && [ "$(printf '%s\n' "$err" | wc -l)" = 1 ] &&
		[[ $err == "pushdeskctl: "* ]]; then
		ok "$what (exit $code: $err)"
	else
		not_ok "$what" "exit $rc (want $code)" "stdout: $out" "stderr: $err"
	fi
}

suffix=$$-$RANDOM
org=$(ctl org add "Ctl Test $suffix" 2>&1)
is_uuid "$org" && ok "org add prints a uuid" || not_ok "org add prints a uuid" "$org"
[ "$(sql "SELECT name FROM organizations WHERE id = '$org'")" = "Ctl Test $suffix" ] &&
	ok "the organization is stored" || not_ok "the organization is stored"

team=$(ctl team add --org "$org" "Support" 2>&1)
is_uuid "$team" && ok "team add prints a uuid" || not_ok "team add prints a uuid" "$team"

email=agent-$suffix@ctl.pushdesk.test
user=$(printf 'correct horse\n' | ctl user add --org "$org" --role agent --name "Ann Agent" \
	--email "$email" --team "$team" --password-stdin 2>&1)
is_uuid "$user" && ok "user add prints a uuid" || not_ok "user add prints a uuid" "$user"
row=$(sql "SELECT org_id || ' ' || role || ' ' || team_id || ' ' || email FROM users WHERE id = '$user'")
[ "$row" = "$org agent $team $email" ] && ok "the user is stored with org, role, team, email" ||
	not_ok "the user is stored with org, role, team, email" "$row"
hash=$(sql "SELECT password_hash FROM users WHERE id = '$user'")
[[ $hash == '$argon2id$'* ]] && ok "the password is stored as an argon2id hash" ||
	not_ok "the password is stored as an argon2id hash" "$hash"

cust=$(ctl --json user add --org "$org" --role customer --name "Carl" --email "cust-$suffix@ctl.pushdesk.test" 2>&1)
cust_id=$(node -e 'const o = JSON.parse(process.argv[1]); if (o.role !== "customer" || o.team !== null) process.exit(1); console.log(o.id)' "$cust" 2>/dev/null)
if is_uuid "$cust_id" && [ -z "$(sql "SELECT password_hash FROM users WHERE id = '$cust_id'")" ]; then
	ok "--json user add; without --password-stdin there is no password"
else
	not_ok "--json user add; without --password-stdin there is no password" "$cust"
fi

expect_error "a bad role is refused" 2 \
	ctl user add --org "$org" --role boss --name X --email "boss-$suffix@ctl.pushdesk.test"
[ "$(sql "SELECT count(*) FROM users WHERE email = 'boss-$suffix@ctl.pushdesk.test'")" = 0 ] &&
	ok "nothing stored for the bad role" || not_ok "nothing stored for the bad role"
expect_error "--org is required" 2 ctl user add --role agent --name X --email "x-$suffix@ctl.pushdesk.test"
expect_error "--org must be a uuid" 2 ctl user add --org nope --role agent --name X --email "y-$suffix@ctl.pushdesk.test"
expect_error "an unknown organization" 1 ctl user add --org 00000000-0000-4000-8000-000000000000 \
	--role agent --name X --email "z-$suffix@ctl.pushdesk.test"
expect_error "an e-mail already in use (any case)" 1 ctl user add --org "$org" --role agent --name X \
	--email "$(tr 'a-z' 'A-Z' <<<"$email")"
expect_error "a team of another organization" 1 ctl user add --org "$(ctl org add "Other $suffix")" \
	--role agent --name X --email "t-$suffix@ctl.pushdesk.test" --team "$team"
expect_error "an unknown command" 2 ctl frobnicate
expect_error "org needs a name" 2 ctl org add
expect_error "token for an unknown user" 1 ctl token --user 00000000-0000-4000-8000-000000000000
expect_error "a bad --ttl" 2 ctl token --user "$user" --ttl soon
expect_error "an unreachable database" 1 pd__env_clean PUSHDESK_DATABASE_URL="postgresql://pushdesk@127.0.0.1:1/x?connect_timeout=2" \
	timeout 60 "$PD_BUILD/cli/pushdeskctl" --config "$PD_CONF" org add Nope
# an emit that reached no Valkey failed: exit 1, not the help text and 0
expect_error "an emit with Valkey unreachable" 1 pd__env_clean PUSHDESK_VALKEY_URL="redis://127.0.0.1:1" \
	timeout 60 "$PD_BUILD/cli/pushdeskctl" --config "$PD_CONF" emit --room org:x ev '{}'

# A token: three parts, the user's claims, HS256 over the configured secret.
tok=$(ctl token --user "$user" --ttl 600 2>&1)
secret=$(pd_conf_get jwt_secret)
verdict=$(node -e '
const [tok, secret, user, org, team, email] = process.argv.slice(1);
const crypto = require("node:crypto");
const [h, p, s] = tok.split(".");
const head = JSON.parse(Buffer.from(h, "base64url"));
const c = JSON.parse(Buffer.from(p, "base64url"));
const sig = crypto.createHmac("sha256", secret).update(`${h}.${p}`).digest("base64url");
const now = Math.floor(Date.now() / 1000);
const bad = [];
if (head.alg !== "HS256") bad.push(`alg ${head.alg}`);
if (sig !== s) bad.push("signature does not verify with jwt_secret");
if (c.sub !== user) bad.push(`sub ${c.sub}`);
if (c.org !== org) bad.push(`org ${c.org}`);
if (c.role !== "agent") bad.push(`role ${c.role}`);
if (c.name !== "Ann Agent") bad.push(`name ${c.name}`);
if (c.email !== email) bad.push(`email ${c.email}`);
if (c.team !== team) bad.push(`team ${c.team}`);
if (c.exp - c.iat !== 600) bad.push(`exp - iat = ${c.exp - c.iat}`);
if (Math.abs(c.iat - now) > 60) bad.push(`iat ${c.iat} vs now ${now}`);
console.log(bad.length ? bad.join("; ") : "ok");
' "$tok" "$secret" "$user" "$org" "$team" "$email" 2>&1)
[ "$verdict" = ok ] && ok "token: HS256 signature verifies; sub, org, role, name, email, team, exp" ||
	not_ok "token verifies with the right claims" "$verdict" "$tok"

json=$(ctl --json token --user "$cust_id" 2>&1)
verdict=$(node -e '
const o = JSON.parse(process.argv[1]);
const c = JSON.parse(Buffer.from(o.access_token.split(".")[1], "base64url"));
const ok = o.token_type === "Bearer" && o.expires_in === 3600 && c.sub === process.argv[2] &&
  c.role === "customer" && c.exp - c.iat === 3600 && !("team" in c && c.team);
console.log(ok ? "ok" : JSON.stringify({o, c}));
' "$json" "$cust_id" 2>&1)
[ "$verdict" = ok ] && ok "--json token: Bearer, expires_in 3600 by default, no team claim" ||
	not_ok "--json token" "$verdict"

echo "1..$n"
[ $failed = 0 ]
