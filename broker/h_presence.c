/* h_presence: the socket's presence (presence.c keeps it in Valkey across
 * brokers): connect / disconnect, presence:sync on connect, presence:ping,
 * presence:status, presence:subscribe (same-org users checked in the
 * database, presence:list, then presence:update through the room
 * presence:<userId>) and presence:unsubscribe. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "cluster.h"
#include "pd_log.h"
#include "presence.h"
#include "room.h"

#define SUBSCRIBE_MAX 200 /* presence:<id> rooms one socket may hold */

static int need_presence(struct sio_socket *s, long long ack)
{
	if (g_app.presence != NULL)
		return 0;
	sio_error(s, ack, "INTERNAL", "presence needs a Valkey server (valkey_url)");
	return -1;
}

/* ---- connect: presence:sync ---- */

struct sync_req {
	char sid[EIO_SID_LEN + 1];
	struct loop *l;
	char org[DBQ_ID];
};

static void sync_send(struct loop *l, const char *sid, json_t *ids)
{
	struct sio_socket *s = sio_socket_find(l, sid);
	json_t *a = json_pack("[O]", ids);
	if (s != NULL && a != NULL)
		sio_emit(s, "presence:sync", a, NULL, 0);
	json_decref(a);
}

static void sync_cluster(json_t *results, int missing, void *ud)
{
	struct sync_req *r = ud;
	json_t *ids = json_array(), *x, *u;
	size_t i, k;
	(void)missing;
	json_array_foreach(results, i, x)
	{
		json_array_foreach(json_object_get(x, "result"), k, u)
		{
			int seen = 0;
			for (size_t j = 0; j < json_array_size(ids) && !seen; j++)
				seen = json_equal(json_array_get(ids, j), u);
			if (!seen)
				json_array_append(ids, u);
		}
	}
	json_decref(results);
	sync_send(r->l, r->sid, ids);
	json_decref(ids);
	free(r);
}

static void sync_list(const json_t *list, void *ud)
{
	struct sync_req *r = ud;
	if (list == NULL) {
		/* Valkey down: the brokers we can still reach (this one) */
		json_t *arg = json_pack("{s:s}", "org", r->org);
		if (arg != NULL &&
		    cluster_request(g_app.cluster, r->l, "online", arg, sync_cluster, r) == 0)
			return;
		free(r);
		return;
	}
	json_t *ids = json_array(), *x;
	size_t i;
	json_array_foreach(list, i, x)
	{
		json_t *u = json_object_get(x, "userId");
		if (json_is_string(u))
			json_array_append(ids, u);
	}
	sync_send(r->l, r->sid, ids);
	json_decref(ids);
	free(r);
}

void h_presence_connect(struct sio_socket *s)
{
	if (g_app.presence == NULL || s->ident == NULL)
		return;
	if (presence_connect(g_app.presence, s->id, s->ident->sub, s->ident->org) < 0) {
		pd_log(LOG_WARNING, "presence connect refused id=%s", s->id);
		return;
	}
	struct sync_req *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return;
	memcpy(r->sid, s->id, sizeof(r->sid));
	snprintf(r->org, sizeof(r->org), "%s", s->ident->org);
	r->l = s->nsp->w->loop;
	if (presence_online(g_app.presence, s->ident->org, r->l, sync_list, r) < 0)
		free(r);
}

void h_presence_disconnect(struct sio_socket *s)
{
	if (g_app.presence != NULL)
		presence_disconnect(g_app.presence, s->id);
}

/* ---- client events ---- */

void h_presence_ping(struct sio_socket *s, const json_t *arg, long long ack)
{
	(void)arg;
	if (need_presence(s, ack) < 0)
		return;
	if (presence_ping(g_app.presence, s->id) < 0)
		sio_error(s, ack, "INTERNAL", "presence refresh failed");
	else
		app_ok(s, ack, NULL);
}

void h_presence_status(struct sio_socket *s, const json_t *arg, long long ack)
{
	const char *st = app_id_arg(arg, "status");
	if (st == NULL || (strcmp(st, "online") != 0 && strcmp(st, "away") != 0 &&
			   strcmp(st, "busy") != 0)) {
		sio_error(s, ack, "BAD_REQUEST", "status must be online, away or busy");
		return;
	}
	if (need_presence(s, ack) < 0)
		return;
	if (presence_set_status(g_app.presence, s->id, st) < 0)
		sio_error(s, ack, "INTERNAL", "presence update failed");
	else
		app_ok(s, ack, json_pack("{s:s}", "status", st));
}

struct sub_req {
	struct dbq_members q;
	char sid[EIO_SID_LEN + 1];
	long long ack;
	struct loop *l;
	const char **ids; /* into q.ids: the members */
	size_t n;
};

static void sub_free(struct sub_req *r)
{
	free(r->ids);
	dbq_members_clear(&r->q);
	free(r);
}

static void sub_list(const json_t *list, void *ud)
{
	struct sub_req *r = ud;
	struct sio_socket *s = sio_socket_find(r->l, r->sid);
	if (s == NULL)
		goto out;
	if (list == NULL) {
		sio_error(s, r->ack, "INTERNAL", "presence is unavailable, try again");
		goto out;
	}
	for (size_t i = 0; i < r->n; i++) {
		char room[DBQ_ID + 16];
		snprintf(room, sizeof(room), "presence:%s", r->ids[i]);
		if (room_join(s, room) < 0) {
			sio_error(s, r->ack, "BAD_REQUEST", "too many subscriptions");
			goto out;
		}
	}
	json_t *a = json_pack("[O]", list);
	if (a != NULL)
		sio_emit(s, "presence:list", a, NULL, 0);
	json_decref(a);
	app_ok(s, r->ack, json_pack("{s:O}", "users", list));
out:
	sub_free(r);
}

static void sub_done(struct loop *l, void *arg, enum pd_err st)
{
	struct sub_req *r = container_of(arg, struct sub_req, q);
	struct sio_socket *s = sio_socket_find(l, r->sid);
	if (s == NULL) {
		sub_free(r);
		return;
	}
	if (st != PD_OK) {
		app_fail(s, r->ack, st, r->q.msg);
		sub_free(r);
		return;
	}
	if (r->q.nmembers == 0) {
		sio_error(s, r->ack, "NOT_FOUND", "no user of your organization among userIds");
		sub_free(r);
		return;
	}
	r->ids = calloc(r->q.nmembers, sizeof(*r->ids));
	if (r->ids == NULL) {
		sio_error(s, r->ack, "INTERNAL", "out of memory");
		sub_free(r);
		return;
	}
	for (size_t i = 0; i < r->q.nids; i++) {
		int dup = 0;
		for (size_t k = 0; k < r->n && !dup; k++)
			dup = strcmp(r->ids[k], r->q.ids[i]) == 0;
		if (r->q.member[i] && !dup)
			r->ids[r->n++] = r->q.ids[i];
	}
	if (r->n > SUBSCRIBE_MAX) {
		sio_error(s, r->ack, "BAD_REQUEST", "too many userIds");
		sub_free(r);
		return;
	}
	if (presence_get(g_app.presence, r->ids, r->n, l, sub_list, r) < 0) {
		sio_error(s, r->ack, "INTERNAL", "out of memory");
		sub_free(r);
	}
}

void h_presence_subscribe(struct sio_socket *s, const json_t *arg, long long ack)
{
	if (!json_is_object(arg) || !json_is_array(json_object_get(arg, "userIds"))) {
		sio_error(s, ack, "BAD_REQUEST", "expected {userIds: [ids]}");
		return;
	}
	if (need_presence(s, ack) < 0)
		return;
	struct sub_req *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		sio_error(s, ack, "INTERNAL", "out of memory");
		return;
	}
	int rc = dbq_members_prepare(&r->q, app_of(s)->who.org, json_object_get(arg, "userIds"));
	if (rc != 0) {
		if (rc < 0)
			sio_error(s, ack, "INTERNAL", "out of memory");
		else
			app_fail(s, ack, r->q.err, r->q.msg);
		sub_free(r);
		return;
	}
	memcpy(r->sid, s->id, sizeof(r->sid));
	r->ack = ack;
	r->l = s->nsp->w->loop;
	if (app_submit(s, ack, dbq_members_job, sub_done, &r->q) < 0)
		sub_free(r);
}

void h_presence_unsubscribe(struct sio_socket *s, const json_t *arg, long long ack)
{
	const json_t *ids = json_is_object(arg) ? json_object_get(arg, "userIds") : NULL;
	size_t i;
	const json_t *x;
	if (!json_is_array(ids)) {
		sio_error(s, ack, "BAD_REQUEST", "expected {userIds: [ids]}");
		return;
	}
	json_array_foreach(ids, i, x)
	{
		const char *id = json_string_value(x);
		char room[ROOM_NAME_MAX + 1];
		if (id == NULL || strlen(id) >= DBQ_ID)
			continue;
		snprintf(room, sizeof(room), "presence:%s", id);
		for (char *p = room; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		room_leave(s, room);
	}
	app_ok(s, ack, NULL);
}
