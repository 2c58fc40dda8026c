/* h_misc: GET /health, GET /presence and POST /emit. */
#include <hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "pd_db.h"
#include "pd_json.h"
#include "pd_log.h"
#include "pd_store.h"
#include "valid.h"

void h_health(struct req *r)
{
	struct api_ctx *c = r->ctx;
	const char *db = "down", *kv = "down";
	PGresult *res;
	redisContext *k;

	api_db_check(c);
	if (c->db == NULL)
		c->db = pd_db_connect(c->database_url, c->statement_timeout);
	if (c->db != NULL && (res = pd_db_exec(c->db, "SELECT 1", 0, NULL, NULL)) != NULL) {
		db = "ok";
		PQclear(res);
	} else if (pd_db_dead(c->db)) {
		api_db_drop(c);
	}
	if (c->valkey_url[0] == '\0') {
		kv = "disabled";
	} else if ((k = api_kv(c)) != NULL) {
		redisReply *rep = redisCommand(k, "PING");
		if (rep != NULL && rep->type != REDIS_REPLY_ERROR)
			kv = "ok";
		else
			api_kv_drop(c);
		if (rep != NULL)
			freeReplyObject(rep);
	}
	if (strcmp(db, "ok") == 0 && strcmp(kv, "down") != 0) {
		api_reply(r, 200, json_pack("{s:s,s:s}", "db", db, "valkey", kv));
		return;
	}
	{
		char msg[64];
		snprintf(msg, sizeof(msg), "%s unavailable",
			 strcmp(db, "ok") != 0 && strcmp(kv, "down") == 0 ? "database and valkey"
			 : strcmp(db, "ok") != 0                          ? "database"
									  : "valkey");
		api_reply(r, 503,
			  json_pack("{s:{s:s,s:s},s:s,s:s}", "error", "code", "UNAVAILABLE", "message",
				    msg, "db", db, "valkey", kv));
	}
}

#define PRESENCE_MAX_IDS 100

void h_presence(struct req *r)
{
	char q[PRESENCE_MAX_IDS * 40], *save = NULL, *tok;
	const char *ids[PRESENCE_MAX_IDS];
	struct pd_buf arr;
	size_t n = 0;
	PGconn *db;
	PGresult *res;
	redisContext *kv = NULL;
	json_t *data;
	int rc;

	if (api_auth(r) != 0)
		return;
	if ((rc = api_query(r, "userIds", q, sizeof(q))) <= 0 || q[0] == '\0') {
		api_errorf(r, PD_E_BAD_REQUEST, "userIds must be a comma-separated list of 1..%d "
						"user ids",
			   PRESENCE_MAX_IDS);
		return;
	}
	for (tok = strtok_r(q, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		if (!pd_uuid_valid(tok) || n == PRESENCE_MAX_IDS) {
			api_errorf(r, PD_E_BAD_REQUEST,
				   "userIds must be a comma-separated list of 1..%d user ids",
				   PRESENCE_MAX_IDS);
			return;
		}
		ids[n++] = tok;
	}
	if ((db = api_db(r)) == NULL)
		return;
	pd_buf_init(&arr, 0);
	pd_buf_append_str(&arr, "{");
	for (size_t i = 0; i < n; i++)
		pd_buf_printf(&arr, "%s%s", i > 0 ? "," : "", ids[i]);
	pd_buf_append_str(&arr, "}");
	{
		const char *p[2] = {arr.data, r->claims.org};
		enum pd_err e = PD_E_UNAVAILABLE;
		/* Only users of the caller's org; others are left out, unseen. */
		res = pd_db_exec(db,
				 "SELECT u.id, (extract(epoch FROM u.last_seen_at) * 1000)::bigint "
				 "FROM unnest($1::uuid[]) WITH ORDINALITY AS x(id, k) "
				 "JOIN users u ON u.id = x.id AND u.org_id = $2 ORDER BY x.k",
				 2, p, &e);
		pd_buf_free(&arr);
		if (res == NULL) {
			api_db_error(r, e, NULL);
			return;
		}
	}
	if (r->ctx->valkey_url[0] != '\0' && (kv = api_kv(r->ctx)) == NULL) {
		PQclear(res);
		api_error(r, PD_E_UNAVAILABLE, "valkey unavailable");
		return;
	}
	data = json_array();
	for (int i = 0; i < PQntuples(res); i++) {
		const char *uid = PQgetvalue(res, i, 0);
		const char *seen = pd_db_get(res, i, 1);
		json_t *item = json_pack("{s:s,s:s}", "userId", uid, "status", "offline");
		json_object_set_new(item, "lastSeen",
				    seen != NULL ? json_integer(strtoll(seen, NULL, 10)) : json_null());
		if (kv != NULL) {
			redisReply *rep = redisCommand(kv, "HMGET %s:presence:%s status lastSeen",
						       r->ctx->adapter_key, uid);
			if (rep == NULL) {
				api_kv_drop(r->ctx);
				json_decref(item);
				json_decref(data);
				PQclear(res);
				api_error(r, PD_E_UNAVAILABLE, "valkey unavailable");
				return;
			}
			if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
			    rep->element[0]->type == REDIS_REPLY_STRING) {
				json_object_set_new(item, "status", json_string(rep->element[0]->str));
				if (rep->element[1]->type == REDIS_REPLY_STRING)
					json_object_set_new(
						item, "lastSeen",
						json_integer(strtoll(rep->element[1]->str, NULL, 10)));
			}
			freeReplyObject(rep);
		}
		json_array_append_new(data, item);
	}
	PQclear(res);
	api_reply(r, 200, json_pack("{s:o,s:n}", "data", data, "nextCursor"));
}

/* Is room a room of org? 1 yes, 0 not an org-scoped name (403), -1 an id
 * that is not one of the org's (404), -2 database error. */
static int room_in_org(PGconn *db, const char *org, const char *room, char *canon, size_t cn,
		       enum pd_err *e)
{
	static const struct {
		const char *prefix, *sql;
	} BY_ID[] = {
		{"ticket:", "SELECT 1 FROM tickets WHERE id = $1 AND org_id = $2"},
		{"user:", "SELECT 1 FROM users WHERE id = $1 AND org_id = $2"},
		{"team:", "SELECT 1 FROM teams WHERE id = $1 AND org_id = $2"},
	};
	char buf[256];

	snprintf(canon, cn, "%s", room);
	if (snprintf(buf, sizeof(buf), "org:%s", org) < (int)sizeof(buf) && strcmp(room, buf) == 0)
		return 1;
	if (snprintf(buf, sizeof(buf), "agents:%s", org) < (int)sizeof(buf) &&
	    strcmp(room, buf) == 0)
		return 1;
	if (snprintf(buf, sizeof(buf), "role:%s:", org) < (int)sizeof(buf) &&
	    strncmp(room, buf, strlen(buf)) == 0)
		return pd_role_valid(room + strlen(buf));
	for (size_t i = 0; i < sizeof(BY_ID) / sizeof(BY_ID[0]); i++) {
		size_t pl = strlen(BY_ID[i].prefix);
		const char *id = room + pl;
		PGresult *res;
		const char *p[2] = {id, org};
		int found;
		if (strncmp(room, BY_ID[i].prefix, pl) != 0)
			continue;
		if (!pd_uuid_valid(id))
			return -1;
		if ((res = pd_db_exec(db, BY_ID[i].sql, 2, p, e)) == NULL)
			return -2;
		found = PQntuples(res) > 0;
		PQclear(res);
		if (found) {
			/* Room names use the canonical lower-case id. */
			snprintf(canon, cn, "%s", room);
			for (char *q = canon + pl; *q != '\0'; q++)
				if (*q >= 'A' && *q <= 'F')
					*q = (char)(*q - 'A' + 'a');
		}
		return found ? 1 : -1;
	}
	return 0;
}

void h_emit(struct req *r)
{
	char err[256];
	struct v_emit v;
	static char canon[2 * V_EMIT_MAX_ROOMS][256];
	const char *rooms[2 * V_EMIT_MAX_ROOMS];
	size_t nrooms = 0;
	struct pd_actor act;
	struct pd_store_out o;
	enum pd_err e = PD_E_UNAVAILABLE;
	char *payload = NULL;
	json_t *body;
	PGconn *db;

	if (api_require(r, "admin service") != 0 || (body = api_body(r)) == NULL)
		return;
	if (valid_emit(body, &v, err, sizeof(err)) != 0) {
		api_error(r, PD_E_BAD_REQUEST, err);
		goto out;
	}
	if ((db = api_db(r)) == NULL)
		goto out;
	for (size_t i = 0; i < v.nrooms; i++) {
		int ok = room_in_org(db, r->claims.org, v.rooms[i], canon[nrooms], sizeof(canon[0]), &e);
		if (ok == -2) {
			api_db_error(r, e, NULL);
			goto out;
		}
		if (ok <= 0) {
			api_errorf(r, ok == 0 ? PD_E_FORBIDDEN : PD_E_NOT_FOUND,
				   "rooms[%zu] is not a room of this organization", i);
			goto out;
		}
		rooms[nrooms] = canon[nrooms];
		nrooms++;
	}
	for (size_t i = 0; i < v.nusers; i++) {
		char room[64];
		int ok;
		snprintf(room, sizeof(room), "user:%s", v.users[i]);
		ok = room_in_org(db, r->claims.org, room, canon[nrooms], sizeof(canon[0]), &e);
		if (ok == -2) {
			api_db_error(r, e, NULL);
			goto out;
		}
		if (ok <= 0) {
			api_errorf(r, PD_E_NOT_FOUND, "users[%zu] is not a user of this organization", i);
			goto out;
		}
		rooms[nrooms] = canon[nrooms];
		nrooms++;
	}
	if (nrooms == 0) {
		snprintf(canon[0], sizeof(canon[0]), "org:%s", r->claims.org);
		rooms[nrooms++] = canon[0];
	}
	/* A room named twice (rooms and users) is sent once. */
	for (size_t i = 1; i < nrooms; i++)
		for (size_t k = 0; k < i; k++)
			if (strcmp(rooms[i], rooms[k]) == 0) {
				memmove(&rooms[i], &rooms[i + 1], (nrooms - i - 1) * sizeof(rooms[0]));
				nrooms--;
				i--;
				break;
			}
	payload = pd_json_dump(v.data != NULL ? v.data : json_null(), NULL);
	act.id = r->claims.sub;
	act.org = r->claims.org;
	act.role = r->claims.role;
	if (payload == NULL) {
		api_error(r, PD_E_UNAVAILABLE, "out of memory");
		goto out;
	}
	e = pd_store_emit(db, act.org, v.nsp, v.event, rooms, nrooms, v.except, v.nexcept, payload,
			  &o);
	if (e != PD_OK) {
		api_db_error(r, e, o.msg);
		pd_store_out_free(&o);
		goto out;
	}
	api_publish_later(r, o.events, o.nevents);
	{
		json_t *ra = json_array();
		for (size_t i = 0; i < nrooms; i++)
			json_array_append_new(ra, json_string(rooms[i]));
		json_object_set_new(o.obj, "rooms", ra);
	}
	api_reply(r, 202, o.obj);
	o.obj = NULL;
out:
	free(payload);
	json_decref(body);
}
