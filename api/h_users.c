/* h_users: POST /auth/login, GET /me, POST /users and GET /users. */
#include <ctype.h>
#include <hiredis.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "pd_db.h"
#include "pd_json.h"
#include "pd_log.h"
#include "valid.h"

#define USER_JSON                                                                           \
	"json_build_object('id',u.id,'orgId',u.org_id,'teamId',u.team_id,'role',u.role,"      \
	"'name',u.name,'email',u.email,'lastSeenAt'," PD_DB_TS("u.last_seen_at")             \
	",'createdAt'," PD_DB_TS("u.created_at") ")::text"

static json_t *row_json(PGresult *res, int row, int col)
{
	char err[128];
	const char *s = PQgetvalue(res, row, col);
	return pd_json_parse(s, strlen(s), err, sizeof(err));
}

/* Count one attempt under key; 0 allowed, >0 seconds to wait, -1 Valkey down. */
static long rate_hit(struct api_ctx *c, const char *kind, const char *who)
{
	redisReply *rep;
	long long n, ttl;

	rep = api_kv_cmd(c, "INCR %s:ratelimit:login:%s:%s", c->adapter_key, kind, who);
	if (rep == NULL || rep->type != REDIS_REPLY_INTEGER)
		goto down;
	n = rep->integer;
	freeReplyObject(rep);
	if (n == 1) {
		rep = api_kv_cmd(c, "EXPIRE %s:ratelimit:login:%s:%s %ld", c->adapter_key, kind,
				   who, c->login_s);
		if (rep == NULL)
			goto down;
		freeReplyObject(rep);
	}
	if (n <= c->login_n)
		return 0;
	rep = api_kv_cmd(c, "TTL %s:ratelimit:login:%s:%s", c->adapter_key, kind, who);
	if (rep == NULL || rep->type != REDIS_REPLY_INTEGER)
		goto down;
	ttl = rep->integer;
	freeReplyObject(rep);
	if (ttl < 0) {
		/* A key without expiry (lost EXPIRE): give it one now. */
		rep = api_kv_cmd(c, "EXPIRE %s:ratelimit:login:%s:%s %ld", c->adapter_key, kind,
				   who, c->login_s);
		if (rep != NULL)
			freeReplyObject(rep);
		ttl = c->login_s;
	}
	return ttl > 0 ? (long)ttl : 1;
down:
	if (rep != NULL)
		freeReplyObject(rep);
	api_kv_drop(c);
	return -1;
}

/* A successful login does not count against the limits: take it back. */
static void rate_refund(struct api_ctx *c, const char *addr, const char *email)
{
	redisReply *rep;
	if (api_kv(c) == NULL)
		return;
	rep = api_kv_cmd(c, "DECR %s:ratelimit:login:addr:%s", c->adapter_key, addr);
	if (rep != NULL)
		freeReplyObject(rep);
	rep = api_kv_cmd(c, "DECR %s:ratelimit:login:account:%s", c->adapter_key, email);
	if (rep != NULL)
		freeReplyObject(rep);
	else
		api_kv_drop(c);
}

/* Verified for an unknown e-mail so that it costs what a wrong password
 * costs: an argon2id hash with the parameters pushdeskctl and POST /users
 * use (OPSLIMIT/MEMLIMIT_INTERACTIVE) of a random password nobody knows. */
static const char DUMMY_HASH[] =
	"$argon2id$v=19$m=65536,t=2,p=1$YgVw/k/iIcQcN3z/yoC7kQ$"
	"gtg7Dcgp6T57RNHL2UxhqJKjS9kdhZdYKt+ieZG6V/w";

void h_login(struct req *r)
{
	struct api_ctx *c = r->ctx;
	struct v_login v;
	char err[256], email[256];
	json_t *body;
	PGconn *db;
	PGresult *res = NULL;
	const char *hash;
	const char *addr = r->fcgi != NULL ? FCGX_GetParam("REMOTE_ADDR", r->fcgi->envp) : NULL;
	const char *https = r->fcgi != NULL ? FCGX_GetParam("HTTPS", r->fcgi->envp) : NULL;
	int ok;

	if ((body = api_body(r)) == NULL)
		return;
	if (valid_login(body, &v, err, sizeof(err)) != 0) {
		api_error(r, PD_E_BAD_REQUEST, err);
		goto out;
	}
	snprintf(email, sizeof(email), "%s", v.email);
	for (char *p = email; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	if (addr == NULL)
		addr = "-";
	if (c->valkey_url[0] != '\0') {
		long wait = -1, w2;
		if (api_kv(c) != NULL) {
			wait = rate_hit(c, "addr", addr);
			if (wait >= 0 && api_kv(c) != NULL && (w2 = rate_hit(c, "account", email)) != 0)
				wait = w2 < 0 ? -1 : (w2 > wait ? w2 : wait);
			else if (c->kv == NULL)
				wait = -1;
		}
		if (wait < 0) {
			api_error(r, PD_E_UNAVAILABLE, "valkey unavailable");
			goto out;
		}
		if (wait > 0) {
			snprintf(r->retry_after, sizeof(r->retry_after), "%ld", wait);
			api_errorf(r, PD_E_RATE_LIMITED, "too many login attempts; retry in %ld s", wait);
			goto out;
		}
	}
	if ((db = api_db(r)) == NULL)
		goto out;
	{
		const char *p[1] = {email};
		enum pd_err e = PD_E_UNAVAILABLE;
		res = pd_db_exec(db,
				 "SELECT id, org_id, role, name, email, COALESCE(team_id::text, ''), "
				 "password_hash FROM users WHERE lower(email) = $1",
				 1, p, &e);
		if (res == NULL) {
			api_db_error(r, e, NULL);
			goto out;
		}
	}
	/* Same work whether or not the account exists: verify a dummy hash. */
	hash = PQntuples(res) == 1 ? pd_db_get(res, 0, 6) : NULL;
	if (hash == NULL)
		hash = DUMMY_HASH;
	ok = crypto_pwhash_str_verify(hash, v.password, strlen(v.password)) == 0 &&
	     PQntuples(res) == 1 && pd_db_get(res, 0, 6) != NULL;
	if (!ok) {
		api_error(r, PD_E_UNAUTHORIZED, "invalid email or password");
		goto out;
	}
	{
		struct pd_claims cl;
		char *tok;
		memset(&cl, 0, sizeof(cl));
		snprintf(cl.sub, sizeof(cl.sub), "%s", PQgetvalue(res, 0, 0));
		snprintf(cl.org, sizeof(cl.org), "%s", PQgetvalue(res, 0, 1));
		snprintf(cl.role, sizeof(cl.role), "%s", PQgetvalue(res, 0, 2));
		snprintf(cl.name, sizeof(cl.name), "%s", PQgetvalue(res, 0, 3));
		snprintf(cl.email, sizeof(cl.email), "%s", PQgetvalue(res, 0, 4));
		snprintf(cl.team, sizeof(cl.team), "%s", PQgetvalue(res, 0, 5));
		if (c->valkey_url[0] != '\0')
			rate_refund(c, addr, email);
		tok = pd_jwt_sign(c->jwt, &cl, time(NULL), c->token_ttl, err, sizeof(err));
		if (tok == NULL) {
			pd_log(LOG_ERR, "login: cannot sign a token: %s", err);
			api_error(r, PD_E_UNAVAILABLE, "token signing unavailable");
			goto out;
		}
		api_reply(r, 200,
			  json_pack("{s:s,s:s,s:I}", "access_token", tok, "token_type", "Bearer",
				    "expires_in", (json_int_t)c->token_ttl));
		/* The same token as a cookie, so that a browser client connecting
		 * withCredentials is authenticated at the handshake (section 2);
		 * HttpOnly keeps it from page scripts. Secure when the front end
		 * says the request came over TLS. */
		if (asprintf(&r->set_cookie, "%s=%s; Path=/; Max-Age=%ld; HttpOnly; SameSite=Lax%s",
			     c->token_cookie, tok, c->token_ttl,
			     https != NULL && strcasecmp(https, "on") == 0 ? "; Secure" : "") < 0)
			r->set_cookie = NULL;
		free(tok);
	}
out:
	PQclear(res);
	json_decref(body);
}

void h_me(struct req *r)
{
	const char *p[2];
	enum pd_err e = PD_E_UNAVAILABLE;
	PGconn *db;
	PGresult *res;

	if (api_auth(r) != 0 || (db = api_db(r)) == NULL)
		return;
	p[0] = r->claims.sub;
	p[1] = r->claims.org;
	res = pd_db_exec(db, "SELECT " USER_JSON " FROM users u WHERE u.id = $1 AND u.org_id = $2",
			 2, p, &e);
	if (res == NULL) {
		api_db_error(r, e, NULL);
		return;
	}
	if (PQntuples(res) == 0)
		api_error(r, PD_E_NOT_FOUND, "user not found");
	else
		api_reply(r, 200, row_json(res, 0, 0));
	PQclear(res);
}

void h_users_create(struct req *r)
{
	struct v_user v;
	char err[256], hash[crypto_pwhash_STRBYTES];
	enum pd_err e = PD_E_UNAVAILABLE;
	json_t *body;
	PGconn *db;
	PGresult *res = NULL;

	if (api_require(r, "admin") != 0 || (body = api_body(r)) == NULL)
		return;
	if (valid_user(body, &v, err, sizeof(err)) != 0) {
		api_error(r, PD_E_BAD_REQUEST, err);
		goto out;
	}
	if (v.password != NULL &&
	    crypto_pwhash_str(hash, v.password, strlen(v.password),
			      crypto_pwhash_OPSLIMIT_INTERACTIVE,
			      crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
		api_error(r, PD_E_UNAVAILABLE, "out of memory");
		goto out;
	}
	if ((db = api_db(r)) == NULL)
		goto out;
	if (v.team_id != NULL) {
		const char *p[2] = {v.team_id, r->claims.org};
		res = pd_db_exec(db, "SELECT 1 FROM teams WHERE id = $1 AND org_id = $2", 2, p, &e);
		if (res == NULL) {
			api_db_error(r, e, NULL);
			goto out;
		}
		if (PQntuples(res) == 0) {
			api_error(r, PD_E_BAD_REQUEST, "teamId must be a team of this organization");
			goto out;
		}
		PQclear(res);
	}
	{
		const char *p[6] = {r->claims.org, v.team_id, v.role, v.name, v.email,
				    v.password != NULL ? hash : NULL};
		res = pd_db_exec(db,
				 "WITH u AS (INSERT INTO users (org_id, team_id, role, name, email, "
				 "password_hash) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *) "
				 "SELECT " USER_JSON " FROM u",
				 6, p, &e);
	}
	if (res == NULL) {
		if (e == PD_E_CONFLICT)
			api_error(r, PD_E_CONFLICT, "email is already in use");
		else
			api_db_error(r, e, e == PD_E_BAD_REQUEST ? "invalid user" : NULL);
		goto out;
	}
	api_reply(r, 201, row_json(res, 0, 0));
out:
	sodium_memzero(hash, sizeof(hash));
	PQclear(res);
	json_decref(body);
}

int api_list_limit(struct req *r, long *limit)
{
	char q[32];
	int rc = api_query(r, "limit", q, sizeof(q));

	*limit = api_parse_limit(rc == 1 ? q : NULL, 50, 100);
	if (rc < 0 || *limit < 0) {
		api_error(r, PD_E_BAD_REQUEST, "limit must be an integer of 1..100");
		return -1;
	}
	return 0;
}

int api_list_cursor(struct req *r, char *micros, size_t mlen, char *id, size_t idlen,
		    long *limit)
{
	char q[128];
	int rc;

	micros[0] = id[0] = '\0';
	if (api_list_limit(r, limit) != 0)
		return -1;
	rc = api_query(r, "cursor", q, sizeof(q));
	if (rc == 1 && q[0] != '\0') {
		long long us;
		if (api_cursor_decode(q, &us, id, idlen) != 0) {
			api_error(r, PD_E_BAD_REQUEST, "cursor is not valid");
			return -1;
		}
		snprintf(micros, mlen, "%lld", us);
	} else if (rc < 0) {
		api_error(r, PD_E_BAD_REQUEST, "cursor is not valid");
		return -1;
	}
	return 0;
}

void api_list_reply(struct req *r, PGresult *res, long limit)
{
	json_t *data = json_array();
	int n = PQntuples(res);
	json_t *next = json_null();

	for (int i = 0; i < n && i < limit; i++)
		json_array_append_new(data, row_json(res, i, 0));
	if (n > limit) {
		char cur[128];
		if (api_cursor_encode(strtoll(PQgetvalue(res, (int)limit - 1, 1), NULL, 10),
				      PQgetvalue(res, (int)limit - 1, 2), cur, sizeof(cur)) == 0)
			next = json_string(cur);
	}
	api_reply(r, 200, json_pack("{s:o,s:o}", "data", data, "nextCursor", next));
}

void h_users_list(struct req *r)
{
	char us[32], id[64], lim[24], role[32];
	long limit;
	enum pd_err e = PD_E_UNAVAILABLE;
	PGconn *db;
	PGresult *res;
	int rc;

	if (api_require(r, "admin") != 0 || api_list_cursor(r, us, sizeof(us), id, sizeof(id), &limit) != 0)
		return;
	rc = api_query(r, "role", role, sizeof(role));
	if (rc < 0 || (rc == 1 && !pd_role_valid(role))) {
		api_error(r, PD_E_BAD_REQUEST, "role must be one of customer, agent, admin, service");
		return;
	}
	if ((db = api_db(r)) == NULL)
		return;
	snprintf(lim, sizeof(lim), "%ld", limit + 1);
	{
		const char *p[5] = {r->claims.org, rc == 1 ? role : NULL, us[0] ? us : NULL,
				    id[0] ? id : NULL, lim};
		res = pd_db_exec(db,
				 "SELECT " USER_JSON ", (extract(epoch FROM u.created_at) * 1000000)::bigint, u.id "
				 "FROM users u WHERE u.org_id = $1 AND ($2::text IS NULL OR u.role = $2) "
				 "AND ($3::bigint IS NULL OR (u.created_at, u.id) < "
				 "(timestamptz 'epoch' + $3::bigint * interval '1 microsecond', $4::uuid)) "
				 "ORDER BY u.created_at DESC, u.id DESC LIMIT $5",
				 5, p, &e);
	}
	if (res == NULL) {
		api_db_error(r, e, NULL);
		return;
	}
	api_list_reply(r, res, limit);
	PQclear(res);
}
