/* h_misc: GET /health, GET /presence and POST /emit. */
#include <errno.h>
#include <hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "pd_db.h"
#include "pd_json.h"
#include "pd_keys.h"
#include "pd_kvc.h"
#include "pd_log.h"
#include "pd_rooms.h"
#include "pd_store.h"
#include "valid.h"

void h_health(struct req *r)
{
	struct api_ctx *c = r->ctx;
	const char *db = "down", *kv = "down";
	PGresult *res;
	struct pd_kvc *k;

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
		redisReply *rep = pd_kvc_command(k, "PING");
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
#define PRESENCE_MAX_ONLINE 100000 /* members of an org's online set read at once */

/* Status and lastSeen of every item of data ({userId, ...}) from the
 * presence hashes the broker keeps (broker/presence.c: hash
 * <adapter_key>:{presence}:<user>, fields status and lastSeen in ms),
 * pipelined. online: the items come from the org's online set, which is the
 * truth of "online" (a hash just swept may lag), so "offline" or no hash
 * reads "online". 0, or -1 after dropping the context (Valkey down). */
static int kv_presence(struct api_ctx *c, json_t *data, int online)
{
	size_t i, sent = 0, n = json_array_size(data);
	json_t *item;
	int rc = 0;
	char tag[PD_KEYS_MAX];
	redisContext *kv;

	/* every presence hash is in one slot: pipeline on its node */
	if (pd_keys_presence_all(tag, sizeof(tag), c->adapter_key) < 0 ||
	    (kv = pd_kvc_route(c->kv, tag)) == NULL) {
		api_kv_drop(c);
		return -1;
	}

	json_array_foreach(data, i, item)
	{
		char key[PD_KEYS_MAX];
		if (pd_keys_presence_user(key, sizeof(key), c->adapter_key,
					  json_string_value(json_object_get(item, "userId"))) < 0 ||
		    redisAppendCommand(kv, "HMGET %s status lastSeen", key) != REDIS_OK)
			break;
		sent++;
	}
	for (i = 0; i < sent; i++) {
		redisReply *rep = NULL;
		if (redisGetReply(kv, (void **)&rep) != REDIS_OK || rep == NULL) {
			rc = -1;
			break;
		}
		item = json_array_get(data, i);
		if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2) {
			const redisReply *st = rep->element[0], *seen = rep->element[1];
			if (st->type == REDIS_REPLY_STRING && (!online || strcmp(st->str, "offline") != 0))
				json_object_set_new(item, "status", json_string(st->str));
			if (seen->type == REDIS_REPLY_STRING)
				json_object_set_new(item, "lastSeen",
						    pd_json_time_ms(strtoll(seen->str, NULL, 10)));
		}
		freeReplyObject(rep);
	}
	if (rc != 0 || sent != n) {
		api_kv_drop(c);
		return -1;
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* GET /presence without userIds: the users of the caller's org online now,
 * from the org's online set, ordered by user id; the cursor is the last
 * user id of the previous page. */
static void presence_online(struct req *r)
{
	char cursor[64];
	long limit;
	struct pd_kvc *kv = NULL;
	redisReply *set = NULL;
	const char **ids = NULL;
	size_t n = 0, from = 0;
	json_t *data = json_array(), *next = json_null();
	int rc;

	if (api_list_limit(r, &limit) != 0)
		goto out;
	rc = api_query(r, "cursor", cursor, sizeof(cursor));
	if (rc < 0 || (rc == 1 && !pd_uuid_valid(cursor))) {
		api_error(r, PD_E_BAD_REQUEST, "cursor is not valid");
		goto out;
	}
	if (rc != 1)
		cursor[0] = '\0';
	if (r->ctx->valkey_url[0] == '\0') /* no Valkey, no broker presence: nobody */
		goto reply;
	char key[PD_KEYS_MAX];
	if (pd_keys_presence_org(key, sizeof(key), r->ctx->adapter_key, r->claims.org) < 0 ||
	    (kv = api_kv(r->ctx)) == NULL || (set = api_kv_cmd(r->ctx, "SMEMBERS %s", key)) == NULL) {
		if (kv != NULL)
			api_kv_drop(r->ctx);
		api_error(r, PD_E_UNAVAILABLE, "valkey unavailable");
		goto out;
	}
	if (set->type == REDIS_REPLY_ARRAY && set->elements > 0) {
		size_t max = set->elements < PRESENCE_MAX_ONLINE ? set->elements : PRESENCE_MAX_ONLINE;
		if ((ids = calloc(max, sizeof(*ids))) == NULL) {
			api_error(r, PD_E_UNAVAILABLE, "out of memory");
			goto out;
		}
		for (size_t i = 0; i < max; i++)
			if (set->element[i]->type == REDIS_REPLY_STRING &&
			    pd_uuid_valid(set->element[i]->str))
				ids[n++] = set->element[i]->str;
		qsort(ids, n, sizeof(*ids), cmp_str);
	}
	while (cursor[0] != '\0' && from < n && strcmp(ids[from], cursor) <= 0)
		from++;
	for (size_t i = from; i < n && i < from + (size_t)limit; i++)
		json_array_append_new(data, json_pack("{s:s,s:s,s:n}", "userId", ids[i], "status",
						      "online", "lastSeen"));
	if (n > from + (size_t)limit) {
		json_decref(next);
		next = json_string(ids[from + (size_t)limit - 1]);
	}
	if (json_array_size(data) > 0 && kv_presence(r->ctx, data, 1) != 0) {
		api_error(r, PD_E_UNAVAILABLE, "valkey unavailable");
		goto out;
	}
reply:
	api_reply(r, 200, json_pack("{s:O,s:O}", "data", data, "nextCursor", next));
out:
	json_decref(data);
	json_decref(next);
	free(ids);
	if (set != NULL)
		freeReplyObject(set);
}

void h_presence(struct req *r)
{
	char q[PRESENCE_MAX_IDS * 40], *save = NULL, *tok;
	const char *ids[PRESENCE_MAX_IDS];
	struct pd_buf arr;
	size_t n = 0;
	PGconn *db;
	PGresult *res;
	struct pd_kvc *kv = NULL;
	json_t *data;
	int rc;

	if (api_auth(r) != 0)
		return;
	if ((rc = api_query(r, "userIds", q, sizeof(q))) == 0) {
		presence_online(r);
		return;
	}
	if (rc < 0 || q[0] == '\0') {
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
	if (n == 0) { /* "," alone */
		api_errorf(r, PD_E_BAD_REQUEST,
			   "userIds must be a comma-separated list of 1..%d user ids", PRESENCE_MAX_IDS);
		return;
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
		const char *seen = pd_db_get(res, i, 1);
		json_t *item = json_pack("{s:s,s:s}", "userId", PQgetvalue(res, i, 0), "status",
					 "offline");
		json_object_set_new(item, "lastSeen",
				    pd_json_time_ms(seen != NULL ? strtoll(seen, NULL, 10) : 0));
		json_array_append_new(data, item);
	}
	PQclear(res);
	if (kv != NULL && json_array_size(data) > 0 && kv_presence(r->ctx, data, 0) != 0) {
		json_decref(data);
		api_error(r, PD_E_UNAVAILABLE, "valkey unavailable");
		return;
	}
	api_reply(r, 200, json_pack("{s:o,s:n}", "data", data, "nextCursor"));
}

/* Resolve a room as the caller names it (pd_rooms: alias rooms, free
 * rooms of the org, canonical ids) into canon, and check that a user,
 * ticket or team room names one of the org's. 1 yes, 0 not a room the
 * caller may name (403), -1 an id that is not one of the org's (404), -2
 * database error, -3 not a room name at all (400). */
static int room_in_org(PGconn *db, const char *org, const char *room, char *canon, size_t cn,
		       enum pd_err *e)
{
	static const struct {
		enum pd_room_kind kind;
		const char *sql;
	} BY_ID[] = {
		{PD_ROOM_TICKET, "SELECT 1 FROM tickets WHERE id = $1 AND org_id = $2"},
		{PD_ROOM_USER, "SELECT 1 FROM users WHERE id = $1 AND org_id = $2"},
		{PD_ROOM_TEAM, "SELECT 1 FROM teams WHERE id = $1 AND org_id = $2"},
	};
	enum pd_room_kind kind;
	const char *id;
	int rc;

	if (pd_room_classify(room) == PD_ROOM_INVALID)
		return -3;
	if ((rc = pd_room_resolve(org, room, canon, cn, &kind, &id)) != 0)
		return rc == -ENAMETOOLONG ? -3 : 0;
	for (size_t i = 0; i < sizeof(BY_ID) / sizeof(BY_ID[0]); i++) {
		PGresult *res;
		const char *p[2] = {id, org};
		int found;
		if (kind != BY_ID[i].kind)
			continue;
		if (!pd_uuid_valid(id))
			return -1;
		if ((res = pd_db_exec(db, BY_ID[i].sql, 2, p, e)) == NULL)
			return -2;
		found = PQntuples(res) > 0;
		PQclear(res);
		return found ? 1 : -1;
	}
	return 1;
}

/* Resolve v's rooms and users into rooms[] (canonical names in canon),
 * except into except[]. 0, or -1 after replying. */
static int emit_rooms(struct req *r, PGconn *db, const struct v_emit *v,
		      char (*canon)[PD_ROOM_MAX], const char **rooms, size_t *nrooms,
		      const char **except)
{
	enum pd_err e = PD_E_UNAVAILABLE;
	size_t n = 0;

	for (size_t i = 0; i < v->nrooms + v->nusers; i++) {
		int user = i >= v->nrooms, ok;
		const char *name = user ? v->users[i - v->nrooms] : v->rooms[i];
		char room[PD_ROOM_MAX];
		size_t at = user ? i - v->nrooms : i;
		if (user && pd_room_user(room, sizeof(room), name) != 0)
			ok = -1;
		else
			ok = room_in_org(db, r->claims.org, user ? room : name, canon[n],
					 sizeof(canon[0]), &e);
		if (ok == -2) {
			api_db_error(r, e, NULL);
			return -1;
		}
		if (ok != 1) {
			/* why, by room_in_org's answer: 0, -1, -3 */
			enum pd_err code = user || ok == -1 ? PD_E_NOT_FOUND
					   : ok == 0        ? PD_E_FORBIDDEN
							    : PD_E_BAD_REQUEST;
			const char *why = user ? "is not a user of this organization"
					  : ok == -3 ? "is not a room name (1..200 bytes, no control "
						       "characters)"
						     : "is not a room of this organization";
			api_errorf(r, code, "%s[%zu] %s", user ? "users" : "rooms", at, why);
			return -1;
		}
		rooms[n] = canon[n];
		n++;
	}
	/* except narrows delivery: resolved like rooms, no id lookups needed */
	for (size_t i = 0; i < v->nexcept; i++) {
		char *x = canon[2 * V_EMIT_MAX_ROOMS + i];
		int rc = pd_room_resolve(r->claims.org, v->except[i], x, PD_ROOM_MAX, NULL, NULL);
		if (rc != 0) {
			api_errorf(r, rc == -EPERM ? PD_E_FORBIDDEN : PD_E_BAD_REQUEST,
				   "except[%zu] is not a room of this organization", i);
			return -1;
		}
		except[i] = x;
	}
	if (n == 0 && pd_room_org(canon[0], sizeof(canon[0]), r->claims.org) == 0)
		rooms[n++] = canon[0];
	*nrooms = n;
	return 0;
}

void h_emit(struct req *r)
{
	char err[256];
	struct v_emit v;
	/* rooms and users, then except: per worker, too big for its stack */
	static char canon[3 * V_EMIT_MAX_ROOMS][PD_ROOM_MAX];
	const char *rooms[2 * V_EMIT_MAX_ROOMS], *except[V_EMIT_MAX_ROOMS];
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
	if ((db = api_db(r)) == NULL || emit_rooms(r, db, &v, canon, rooms, &nrooms, except) != 0)
		goto out;
	/* A room named twice (rooms and users, or an alias and its room) is sent once. */
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
	e = pd_store_emit(db, act.org, v.nsp, v.event, rooms, nrooms, except, v.nexcept, payload,
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
