/* h_presence: the socket's presence (presence.c keeps it in Valkey across
 * brokers): connect / disconnect, presence:sync on connect, presence:ping,
 * presence:status, presence:subscribe (same-org users checked in the
 * database, presence:list, then presence:update through the room
 * presence:<userId>) and presence:unsubscribe. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "dialect.h"
#include "cluster.h"
#include "pd_log.h"
#include "presence.h"
#include "room.h"

#define SUBSCRIBE_MAX 200 /* presence:<id> rooms one socket may hold */

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- without Valkey: presence of this broker's own sockets ----
 * One node (contract 6): statuses live in the sockets' app state, and a
 * query visits every loop (gather) and merges on the asking one. */

struct gather {
	struct loop *origin;
	atomic_int left;
	char org[DBQ_ID];
	const char **users; /* NULL: every user of org */
	size_t nusers;
	json_t **parts;     /* one per loop: {userId: status} */
	void (*done)(struct gather *g, json_t *merged);
	void *ud;
};

static void gather_back(struct loop *l, void *arg)
{
	struct gather *g = arg;
	json_t *merged = json_object();
	(void)l;
	for (int i = 0; i < g_broker.nloops; i++) {
		const char *k;
		json_t *v;
		json_object_foreach(g->parts[i], k, v)
		{
			/* a user with several sockets: any non-online status wins */
			const char *have = json_string_value(json_object_get(merged, k));
			if (have == NULL || strcmp(have, "online") == 0)
				json_object_set(merged, k, v);
		}
		json_decref(g->parts[i]);
	}
	g->done(g, merged);
	json_decref(merged);
	free(g->parts);
	free(g);
}

static void gather_on(struct loop *l, void *arg)
{
	struct gather *g = arg;
	struct worker *w = worker_of(l);
	json_t *o = json_object();
	for (struct sio_socket *s = w->nsps[0].head; o != NULL && s != NULL; s = s->nnext) {
		struct app_sock *a = app_of(s);
		if (a == NULL || !a->who_ok || strcmp(a->who.org, g->org) != 0)
			continue;
		int want = g->users == NULL;
		for (size_t i = 0; i < g->nusers && !want; i++)
			want = strcmp(g->users[i], a->who.id) == 0;
		if (want)
			json_object_set_new(o, a->who.id,
					    json_string(a->status[0] ? a->status : "online"));
	}
	g->parts[l->idx] = o;
	if (atomic_fetch_sub(&g->left, 1) == 1 && loop_post(g->origin, gather_back, g) < 0)
		pd_log(LOG_ERR, "presence gather lost (out of memory)");
}

static int gather_start(struct loop *origin, const char *org, const char **users, size_t nusers,
			void (*done)(struct gather *g, json_t *merged), void *ud)
{
	struct gather *g = calloc(1, sizeof(*g));
	if (g == NULL || (g->parts = calloc((size_t)g_broker.nloops, sizeof(*g->parts))) == NULL) {
		free(g);
		return -1;
	}
	g->origin = origin;
	snprintf(g->org, sizeof(g->org), "%s", org);
	g->users = users;
	g->nusers = nusers;
	g->done = done;
	g->ud = ud;
	atomic_init(&g->left, g_broker.nloops);
	for (int i = 0; i < g_broker.nloops; i++) {
		if (&g_broker.loops[i] == origin)
			continue;
		if (loop_post(&g_broker.loops[i], gather_on, g) < 0)
			atomic_fetch_sub(&g->left, 1); /* nothing seen there (parts[i] NULL) */
	}
	gather_on(origin, g);
	return 0;
}

/* user:online / user:offline: a count of connections per user for the
 * whole process (one mutex: a connect or disconnect is one probe). */
struct lp_user {
	struct hnode hn;
	long conns;
	char id[DBQ_ID];
};

static pthread_mutex_t lp_mu = PTHREAD_MUTEX_INITIALIZER;
static struct hmap lp_users;
static int lp_ready;

static const char *lp_key(const struct hnode *n)
{
	return container_of(n, struct lp_user, hn)->id;
}

/* +1 / -1 connection of user: 1 when it was the first / the last. */
static int lp_change(const char *user, int delta)
{
	int edge = 0;
	pthread_mutex_lock(&lp_mu);
	if (!lp_ready) {
		hmap_init(&lp_users, lp_key);
		lp_ready = 1;
	}
	struct hnode *h = hmap_get(&lp_users, user, strlen(user));
	struct lp_user *u = h ? container_of(h, struct lp_user, hn) : NULL;
	if (u == NULL && delta > 0 && (u = calloc(1, sizeof(*u))) != NULL) {
		snprintf(u->id, sizeof(u->id), "%s", user);
		if (hmap_put(&lp_users, &u->hn, u->id, strlen(u->id)) < 0) {
			free(u);
			u = NULL;
		}
	}
	if (u != NULL) {
		u->conns += delta;
		edge = delta > 0 ? u->conns == 1 : u->conns == 0;
		if (u->conns <= 0) {
			hmap_del(&lp_users, &u->hn);
			free(u);
		}
	}
	pthread_mutex_unlock(&lp_mu);
	return edge;
}

void h_presence_fini(void)
{
	size_t it = 0;
	struct hnode *cur = NULL, *h;
	pthread_mutex_lock(&lp_mu);
	while (lp_ready && (h = hmap_next(&lp_users, &it, &cur)) != NULL) {
		hmap_del(&lp_users, h);
		free(container_of(h, struct lp_user, hn));
	}
	if (lp_ready)
		hmap_fini(&lp_users);
	lp_ready = 0;
	pthread_mutex_unlock(&lp_mu);
}

/* seed 001's /presence: presence:team {userId, status[, lastSeen]} to the
 * user's team (only that view shows it, as presence:update). */
static void team_update(struct sio_socket *s, const char *status)
{
	char room[ROOM_NAME_MAX + 8], at[DIA_ISO_LEN];
	if (s->ident == NULL || s->ident->team[0] == '\0')
		return;
	snprintf(room, sizeof(room), "team:%s", s->ident->team);
	const char *rooms[1] = {room};
	dia_iso_time(dia_now_ms(), at, sizeof(at));
	json_t *p = strcmp(status, "offline") == 0
			? json_pack("{s:s, s:s, s:s}", "userId", app_of(s)->who.id, "status", status,
				    "lastSeen", at)
			: json_pack("{s:s, s:s}", "userId", app_of(s)->who.id, "status", status);
	if (p != NULL)
		app_emit(s->nsp->w->loop, app_emit_nsp(s), rooms, 1, NULL, 0, "presence:team", p);
	json_decref(p);
}

static void local_transition(struct sio_socket *s, int online)
{
	struct app_sock *a = app_of(s);
	char org_room[DBQ_ID + 8], sub_room[DBQ_ID + 16];
	snprintf(org_room, sizeof(org_room), "org:%s", a->who.org);
	snprintf(sub_room, sizeof(sub_room), "presence:%s", a->who.id);
	const char *org[1] = {org_room}, *sub[1] = {sub_room};
	json_t *uid = json_string(a->who.id);
	json_t *upd = json_pack("{s:s, s:s, s:I}", "userId", a->who.id, "status",
				online ? "online" : "offline", "lastSeen", (json_int_t)now_ms());
	struct loop *l = s->nsp->w->loop;
	if (uid != NULL)
		app_emit(l, app_emit_nsp(s), org, 1, NULL, 0, online ? "user:online" : "user:offline", uid);
	if (upd != NULL)
		app_emit(l, app_emit_nsp(s), sub, 1, NULL, 0, "presence:update", upd);
	json_decref(uid);
	json_decref(upd);
	team_update(s, online ? "online" : "offline");
}

static void local_update(struct sio_socket *s, const char *status)
{
	struct app_sock *a = app_of(s);
	char org_room[DBQ_ID + 8], sub_room[DBQ_ID + 16];
	snprintf(org_room, sizeof(org_room), "org:%s", a->who.org);
	snprintf(sub_room, sizeof(sub_room), "presence:%s", a->who.id);
	const char *rooms[2] = {org_room, sub_room};
	json_t *upd = json_pack("{s:s, s:s, s:I}", "userId", a->who.id, "status", status,
				"lastSeen", (json_int_t)now_ms());
	if (upd != NULL)
		app_emit(s->nsp->w->loop, app_emit_nsp(s), rooms, 2, NULL, 0, "presence:update", upd);
	json_decref(upd);
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

static void sync_local(struct gather *g, json_t *merged)
{
	struct sync_req *r = g->ud;
	json_t *ids = json_array();
	const char *k;
	json_t *v;
	json_object_foreach(merged, k, v)
	{
		json_array_append_new(ids, json_string(k));
	}
	sync_send(r->l, r->sid, ids);
	json_decref(ids);
	free(r);
}

/* seed 003's presence:connected: the roster to one new socket */
struct roster_req {
	char sid[EIO_SID_LEN + 1];
	struct loop *l;
	const char *event;
};

static void roster_back(const json_t *list, void *ud)
{
	struct roster_req *r = ud;
	struct sio_socket *s = sio_socket_find(r->l, r->sid);
	json_t *a = list != NULL ? json_pack("[O]", list) : NULL;
	if (s != NULL && a != NULL)
		sio_emit(s, r->event, a, NULL, 0);
	json_decref(a);
	free(r);
}

static void roster_to(struct sio_socket *s, const char *event)
{
	struct roster_req *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return;
	memcpy(r->sid, s->id, sizeof(r->sid));
	r->l = s->nsp->w->loop;
	r->event = event;
	if (presence_roster(g_app.presence, s->ident->org, r->l, roster_back, r) < 0)
		free(r);
}

void h_presence_connect(struct sio_socket *s)
{
	struct app_sock *a = app_of(s);
	if (s->ident == NULL || a == NULL || !a->who_ok)
		return;
	a->pres = 1;
	if (g_app.presence == NULL) {
		if (lp_change(a->who.id, 1))
			local_transition(s, 1);
		struct sync_req *r = calloc(1, sizeof(*r));
		if (r == NULL)
			return;
		memcpy(r->sid, s->id, sizeof(r->sid));
		r->l = s->nsp->w->loop;
		if (gather_start(r->l, a->who.org, NULL, 0, sync_local, r) < 0)
			free(r);
		return;
	}
	/* the role for seed 003's roster, written before the connection so
	 * that the roster its user:online sends has it */
	presence_set_info(g_app.presence, s->ident->sub, "role", s->ident->role);
	presence_set_info(g_app.presence, s->ident->sub, "team", s->ident->team);
	if (presence_connect(g_app.presence, s->id, s->ident->sub, s->ident->org) < 0) {
		pd_log(LOG_WARNING, "presence connect refused id=%s", s->id);
		return;
	}
	if (dia_table[s->dialect].on_connect_roster != NULL)
		roster_to(s, dia_table[s->dialect].on_connect_roster);
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
	struct app_sock *a = app_of(s);
	if (a == NULL || !a->pres)
		return;
	a->pres = 0;
	if (g_app.presence != NULL)
		presence_disconnect_keep(g_app.presence, s->id, s->rec_keep_ms); /* recovery hook */
	else if (lp_change(a->who.id, -1))
		local_transition(s, 0);
}

/* ---- client events ---- */

void h_presence_ping(struct sio_socket *s, const json_t *arg, long long ack)
{
	(void)arg;
	if (g_app.presence == NULL) { /* one node: the connection itself is the presence */
		app_ok(s, ack, NULL);
		return;
	}
	if (presence_ping(g_app.presence, s->id) < 0)
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
	if (g_app.presence == NULL) {
		struct app_sock *a = app_of(s);
		snprintf(a->status, sizeof(a->status), "%s", st);
		local_update(s, st);
		team_update(s, st);
		app_ok(s, ack, json_pack("{s:s}", "status", st));
		return;
	}
	if (presence_set_status(g_app.presence, s->id, st) < 0) {
		sio_error(s, ack, "INTERNAL", "presence update failed");
		return;
	}
	team_update(s, st);
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

static void sub_local(struct gather *g, json_t *merged)
{
	struct sub_req *r = g->ud;
	json_t *list = json_array();
	for (size_t i = 0; list != NULL && i < r->n; i++) {
		const char *st = json_string_value(json_object_get(merged, r->ids[i]));
		json_array_append_new(list, json_pack("{s:s, s:s, s:n}", "userId", r->ids[i], "status",
						      st ? st : "offline", "lastSeen"));
	}
	sub_list(list, r);
	json_decref(list);
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
	if (g_app.presence == NULL) {
		if (gather_start(l, r->q.org, r->ids, r->n, sub_local, r) < 0) {
			sio_error(s, r->ack, "INTERNAL", "out of memory");
			sub_free(r);
		}
		return;
	}
	if (presence_get(g_app.presence, r->ids, r->n, l, sub_list, r) < 0) {
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
