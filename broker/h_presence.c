/* h_presence: the socket's presence through the adapter (adapter.h: in
 * Valkey across brokers, or this process's): connect / disconnect,
 * presence:sync on connect, presence:ping, presence:status,
 * presence:subscribe (same-org users checked in the database,
 * presence:list, then presence:update through the room presence:<userId>)
 * and presence:unsubscribe. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "app.h"
#include "dialect.h"
#include "pd_log.h"
#include "room.h"

#define SUBSCRIBE_MAX 200 /* presence:<id> rooms one socket may hold */

/* The socket as a connection in presence. */
static struct adapter_conn conn_of(const struct sio_socket *s)
{
	return (struct adapter_conn){.sid = s->id,
				     .user = s->ident->sub,
				     .org = s->ident->org,
				     .role = s->ident->role,
				     .team = s->ident->team,
				     .main = s->nsp->idx == 0};
}

/* ---- connect: presence:sync, seed 003's roster ---- */

/* a reply to one socket, found again by id on its loop */
struct to_sock {
	char sid[EIO_SID_LEN + 1];
	struct loop *l;
	const char *event;
};

static struct to_sock *to_sock_new(const struct sio_socket *s, const char *event)
{
	struct to_sock *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	memcpy(r->sid, s->id, sizeof(r->sid));
	r->l = s->nsp->w->loop;
	r->event = event;
	return r;
}

/* list: presence:sync's user ids, or the roster; NULL: nothing to send */
static void to_sock_back(const json_t *list, void *ud)
{
	struct to_sock *r = ud;
	struct sio_socket *s = sio_socket_find(r->l, r->sid);
	json_t *a = list != NULL ? json_pack("[O]", list) : NULL;
	if (s != NULL && a != NULL)
		sio_emit(s, r->event, a, NULL, 0);
	json_decref(a);
	free(r);
}

void h_presence_connect(struct sio_socket *s)
{
	struct app_sock *a = app_of(s);
	struct adapter *ad = g_app.adapter;
	if (s->ident == NULL || a == NULL || !a->who_ok)
		return;
	a->pres = 1;
	struct adapter_conn c = conn_of(s);
	if (ad->ops->pres_connect(ad, s->nsp->w->loop, &c) < 0) {
		pd_log(LOG_WARNING, "presence connect refused id=%s", s->id);
		return;
	}
	const char *roster = dia_table[s->dialect].on_connect_roster;
	struct to_sock *r = roster != NULL ? to_sock_new(s, roster) : NULL;
	if (r != NULL && ad->ops->pres_roster(ad, s->ident->org, r->l, to_sock_back, r) < 0)
		free(r);
	if ((r = to_sock_new(s, "presence:sync")) != NULL &&
	    ad->ops->pres_online(ad, s->ident->org, r->l, to_sock_back, r) < 0)
		free(r);
}

void h_presence_disconnect(struct sio_socket *s)
{
	struct app_sock *a = app_of(s);
	if (a == NULL || !a->pres)
		return;
	a->pres = 0;
	g_app.adapter->ops->pres_disconnect(g_app.adapter, s->nsp->w->loop, s->id);
}

/* ---- client events ---- */

void h_presence_ping(struct sio_socket *s, const json_t *arg, long long ack)
{
	(void)arg;
	if (g_app.adapter->ops->pres_ping(g_app.adapter, s->id) < 0)
		sio_error(s, ack, "INTERNAL", "presence refresh failed");
	else
		app_ok(s, ack, NULL);
}

void h_presence_status(struct sio_socket *s, const json_t *arg, long long ack)
{
	const char *st = json_is_object(arg) ? json_string_value(json_object_get(arg, "status")) : NULL;
	if (st == NULL || (strcmp(st, "online") != 0 && strcmp(st, "away") != 0 &&
			   strcmp(st, "busy") != 0)) {
		sio_error(s, ack, app_status_error(s), "status must be online, away or busy");
		return;
	}
	struct adapter_conn c = conn_of(s);
	if (g_app.adapter->ops->pres_status(g_app.adapter, s->nsp->w->loop, &c, st) < 0) {
		sio_error(s, ack, "INTERNAL", "presence update failed");
		return;
	}
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
	if (g_app.adapter->ops->pres_get(g_app.adapter, r->ids, r->n, l, sub_list, r) < 0) {
		sio_error(s, r->ack, "INTERNAL", "out of memory");
		sub_free(r);
	}
}

/* {userIds: [strings of at most a UUID's length]}, else BAD_REQUEST. */
static const json_t *user_ids(struct sio_socket *s, const json_t *arg, long long ack)
{
	const json_t *ids = json_is_object(arg) ? json_object_get(arg, "userIds") : NULL;
	size_t i;
	const json_t *x;
	int ok = json_is_array(ids) && json_array_size(ids) <= DBQ_MAX_IDS;
	json_array_foreach(ok ? ids : NULL, i, x)
	{
		if (!json_is_string(x) || json_string_length(x) == 0 || json_string_length(x) >= DBQ_ID)
			ok = 0;
	}
	if (!ok) {
		sio_error(s, ack, "BAD_REQUEST", "expected {userIds: [user ids]}");
		return NULL;
	}
	return ids;
}

void h_presence_subscribe(struct sio_socket *s, const json_t *arg, long long ack)
{
	if (user_ids(s, arg, ack) == NULL)
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
	const json_t *ids = user_ids(s, arg, ack), *x;
	size_t i;
	if (ids == NULL)
		return;
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
