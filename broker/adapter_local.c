/* adapter_local: one process. Rooms are room.c's on every loop: an emit
 * is room_emit, a count or a query runs its part on every loop
 * (loop_each) and merges on the asking one. Presence is a table of this
 * process's connections under one mutex (a connect or a disconnect is
 * one probe), with a count per user for user:online / user:offline. */
#include "adapter.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker.h"
#include "hmap.h"
#include "loop.h"
#include "pd_buf.h"
#include "pd_log.h"
#include "pd_rooms.h"
#include "room.h"
#include "sio.h"

/* ================= the part of a query on one loop ================= */

struct sock_vec {
	struct sio_socket **v;
	size_t n, cap;
};

static int collect_one(struct sio_socket *s, void *ud)
{
	struct sock_vec *sv = ud;
	if (sv->n == sv->cap) {
		size_t nc = sv->cap ? sv->cap * 2 : 16;
		struct sio_socket **nv = realloc(sv->v, nc * sizeof(*nv));
		if (nv == NULL)
			return 1; /* out of memory: what we have */
		sv->v = nv;
		sv->cap = nc;
	}
	sv->v[sv->n++] = s;
	return 0;
}

/* The sockets room_select picks, collected first so that the caller may
 * change rooms or disconnect. Appended to sv. */
static void match_sockets(struct nsp_rt *n, const char *const *rooms, size_t nrooms,
			  const char *const *except, size_t nexcept, struct sock_vec *sv)
{
	room_select(n, rooms, nrooms, except, nexcept, collect_one, sv);
}

static json_t *socket_rooms(const struct sio_socket *s)
{
	json_t *a = json_array();
	json_array_append_new(a, json_string(s->id));
	for (size_t i = 0; i < s->nrooms; i++)
		json_array_append_new(a, json_string(s->rooms[i].r->name));
	return a;
}

static json_t *socket_fetch(const struct sio_socket *s)
{
	/* RemoteSocket as the adapter sends it; handshake details stay local */
	json_t *data = json_object();
	if (s->ident != NULL) {
		if (s->ident->sub)
			json_object_set_new(data, "userId", json_string(s->ident->sub));
		if (s->ident->org)
			json_object_set_new(data, "org", json_string(s->ident->org));
		if (s->ident->role)
			json_object_set_new(data, "role", json_string(s->ident->role));
	}
	return json_pack("{s:s, s:{s:{}, s:s, s:s, s:b, s:b, s:i, s:s, s:{}, s:{}}, s:o, s:o}", "id",
			 s->id, "handshake", "headers", "time", "", "address", "", "xdomain", 0,
			 "secure", 0, "issued", 0, "url", "", "query", "auth", "rooms",
			 socket_rooms(s), "data", data);
}

static json_t *part_stats(struct worker *w)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I}", "connections", (json_int_t)w->sessions.n,
			 "sockets", (json_int_t)METRIC_GET(w, sockets), "rooms",
			 (json_int_t)METRIC_GET(w, rooms), "events_in",
			 (json_int_t)METRIC_GET(w, events_in), "events_out",
			 (json_int_t)METRIC_GET(w, events_out));
}

static json_t *part_rooms(struct nsp_rt *n, int counts)
{
	json_t *o = counts ? json_object() : json_array();
	size_t it = 0;
	struct hnode *cur = NULL, *h;
	while (o != NULL && (h = hmap_next(&n->rooms, &it, &cur)) != NULL) {
		struct room *r = container_of(h, struct room, hn);
		if (counts)
			json_object_set_new(o, r->name, json_integer(r->n));
		else
			json_array_append_new(o, json_string(r->name));
	}
	return o;
}

/* A disconnect may free sockets: each one is looked up again by id. */
static void part_disconnect(struct worker *w, const struct sock_vec *sv, int close)
{
	char (*ids)[EIO_SID_LEN + 1] = sv->n ? malloc(sv->n * sizeof(*ids)) : NULL;
	if (ids == NULL)
		return;
	for (size_t i = 0; i < sv->n; i++)
		memcpy(ids[i], sv->v[i]->id, sizeof(ids[i]));
	for (size_t i = 0; i < sv->n; i++) {
		struct hnode *h = hmap_get(&w->sockets, ids[i], strlen(ids[i]));
		if (h != NULL)
			sio_disconnect(container_of(h, struct sio_socket, hn), close);
	}
	free(ids);
}

json_t *adapter_local_part(struct worker *w, const struct adapter_query *q)
{
	if (q->kind == AK_STATS)
		return part_stats(w);
	if (q->nsp_idx >= g_broker.nnsps)
		return NULL;
	struct nsp_rt *n = &w->nsps[q->nsp_idx];
	if (q->kind == AK_ROOMS || q->kind == AK_ALL_ROOMS)
		return part_rooms(n, q->kind == AK_ROOMS);
	const char *const *rooms = q->rooms, *const *except = q->except;
	size_t nrooms = q->nrooms, nexcept = q->nexcept;
	char id_room[PD_ROOM_MAX];
	const char *one[1] = {id_room};
	if (q->kind == AK_USER_SOCKETS || q->kind == AK_ONLINE) {
		if (q->id == NULL)
			return json_array();
		if ((q->kind == AK_USER_SOCKETS ? pd_room_user(id_room, sizeof(id_room), q->id)
						: pd_room_org(id_room, sizeof(id_room), q->id)) < 0)
			return json_array();
		rooms = one;
		nrooms = 1;
		except = NULL;
		nexcept = 0;
	}
	struct sock_vec sv = {NULL, 0, 0};
	json_t *out = NULL;
	switch (q->kind) {
	case AK_SOCKETS:
	case AK_USER_SOCKETS:
	case AK_ONLINE:
		out = json_array();
		/* who is connected to "/" counts its views' sockets too (7.1) */
		for (size_t k = 0; k < g_broker.nnsps; k++) {
			if (k != n->idx &&
			    (strcmp(n->def->name, "/") != 0 || !g_broker.nsps[k].view))
				continue;
			sv.n = 0;
			match_sockets(&w->nsps[k], rooms, nrooms, except, nexcept, &sv);
			for (size_t i = 0; i < sv.n; i++)
				if (q->kind != AK_ONLINE)
					json_array_append_new(out, json_string(sv.v[i]->id));
				else if (sv.v[i]->ident != NULL && sv.v[i]->ident->sub != NULL)
					json_array_append_new(out, json_string(sv.v[i]->ident->sub));
		}
		break;
	case AK_FETCH:
		match_sockets(n, rooms, nrooms, except, nexcept, &sv);
		out = json_array();
		for (size_t i = 0; i < sv.n; i++)
			json_array_append_new(out, socket_fetch(sv.v[i]));
		break;
	case AK_JOIN:
	case AK_LEAVE:
		match_sockets(n, rooms, nrooms, except, nexcept, &sv);
		for (size_t i = 0; i < sv.n; i++)
			for (size_t k = 0; k < q->ntargets; k++) {
				if (q->kind == AK_JOIN)
					room_join(sv.v[i], q->targets[k]);
				else
					room_leave(sv.v[i], q->targets[k]);
			}
		break;
	case AK_DISCONNECT:
		match_sockets(n, rooms, nrooms, except, nexcept, &sv);
		part_disconnect(w, &sv, q->close);
		break;
	case AK_COUNT:
		match_sockets(n, rooms, nrooms, except, nexcept, &sv);
		out = json_integer((json_int_t)sv.n);
		break;
	default:
		break;
	}
	free(sv.v);
	return out;
}

/* ================= the local adapter ================= */

#define LP_ID_MAX 128
#define LP_STATUS_MAX 8

/* One connection in presence (key: its socket id). */
struct lconn {
	struct hnode hn;
	char sid[EIO_SID_LEN + 1];
	char user[LP_ID_MAX + 1], org[LP_ID_MAX + 1], team[LP_ID_MAX + 1];
	char status[LP_STATUS_MAX]; /* "" = online */
	int main;
};

/* Connections per user: user:online on the first, user:offline after the last. */
struct luser {
	struct hnode hn;
	long conns;
	char id[LP_ID_MAX + 1];
};

struct local {
	struct adapter base;
	size_t nsp_idx;
	pthread_mutex_t mu; /* guards conns and users */
	struct hmap conns, users;
};

static const char *lconn_key(const struct hnode *n)
{
	return container_of(n, struct lconn, hn)->sid;
}

static const char *luser_key(const struct hnode *n)
{
	return container_of(n, struct luser, hn)->id;
}

static struct local *local_of(struct adapter *a)
{
	return container_of(a, struct local, base);
}

static int l_start(struct adapter *a, char *err, size_t errlen)
{
	(void)a;
	(void)err;
	(void)errlen;
	return 0;
}

static long l_stop(struct adapter *a)
{
	(void)a;
	return 0;
}

static void l_free(struct adapter *a)
{
	struct local *lc = local_of(a);
	size_t it = 0;
	struct hnode *cur = NULL, *h;
	while ((h = hmap_next(&lc->conns, &it, &cur)) != NULL) {
		hmap_del(&lc->conns, h);
		free(container_of(h, struct lconn, hn));
	}
	it = 0;
	cur = NULL;
	while ((h = hmap_next(&lc->users, &it, &cur)) != NULL) {
		hmap_del(&lc->users, h);
		free(container_of(h, struct luser, hn));
	}
	hmap_fini(&lc->conns);
	hmap_fini(&lc->users);
	pthread_mutex_destroy(&lc->mu);
	free(lc);
}

static const char *l_state(const struct adapter *a)
{
	(void)a;
	return "none";
}

static void l_metrics(const struct adapter *a, struct pd_buf *b)
{
	(void)a;
	(void)b;
}

static int l_emit(struct adapter *a, struct loop *from, size_t nsp_idx, const char *const *rooms,
		  size_t nrooms, const char *const *except, size_t nexcept, const char *event,
		  const json_t *payload)
{
	(void)a;
	json_t *data = json_pack("[s]", event);
	if (data == NULL || (payload != NULL && json_array_append(data, (json_t *)payload) < 0)) {
		json_decref(data);
		return -ENOMEM;
	}
	struct msg *m = sio_msg(SIO_EVENT, g_broker.nsps[nsp_idx].name, -1, data, NULL, 0);
	if (m == NULL) {
		json_decref(data);
		return -ENOMEM;
	}
	/* room_emit translates data per dialect: it must outlive the call */
	int rc = room_emit(worker_of(from), nsp_idx, rooms, nrooms, except, nexcept, m, data, NULL);
	msg_unref(m);
	json_decref(data);
	return rc;
}

/* ---- a query on every loop ---- */

/* One query shared by every loop; its strings copied after the struct. */
struct lquery {
	struct loop_each each;
	struct adapter_query q;
	adapter_result_fn fn;
	adapter_count_fn count_fn; /* a count (q.kind AK_COUNT, views of "/" included) */
	void *ud;
	atomic_size_t found;
	size_t nparts;
	json_t *parts[];
};

static void lquery_each(struct loop *l, struct loop_each *e)
{
	struct lquery *r = container_of(e, struct lquery, each);
	struct worker *w = worker_of(l);
	if (r->count_fn == NULL) {
		if (l->idx >= 0 && (size_t)l->idx < r->nparts)
			r->parts[l->idx] = adapter_local_part(w, &r->q);
		return;
	}
	size_t n = 0;
	/* a socket of a view of "/" counts as connected to "/" (7.1) */
	int main = strcmp(g_broker.nsps[r->q.nsp_idx].name, "/") == 0;
	for (size_t k = 0; k < g_broker.nnsps; k++)
		if (k == r->q.nsp_idx || (main && g_broker.nsps[k].view))
			n += room_count(&w->nsps[k], r->q.rooms, r->q.nrooms, r->q.except,
					r->q.nexcept, (size_t)-1);
	atomic_fetch_add(&r->found, n);
}

static void lquery_done(struct loop *l, struct loop_each *e)
{
	struct lquery *r = container_of(e, struct lquery, each);
	if (r->count_fn != NULL) {
		r->count_fn(l, atomic_load(&r->found), r->ud);
	} else {
		json_t *m = adapter_merge(r->q.kind, r->parts, r->nparts);
		for (size_t i = 0; i < r->nparts; i++)
			json_decref(r->parts[i]);
		r->fn(l, m, 0, r->ud);
	}
	free(r);
}

static size_t names_bytes(const char *const *v, size_t n)
{
	size_t b = 0;
	for (size_t i = 0; i < n; i++)
		b += strlen(v[i]) + 1;
	return b;
}

/* Copy n names into slots / bytes at *p, advancing both. */
static const char **names_copy(const char *const *v, size_t n, const char ***slots, char **p)
{
	const char **out = *slots;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(v[i]) + 1;
		memcpy(*p, v[i], len);
		out[i] = *p;
		*p += len;
	}
	*slots += n;
	return n ? out : NULL;
}

/* A query with its own copy of q's strings. */
static struct lquery *lquery_new(const struct adapter_query *q)
{
	size_t nparts = (size_t)g_broker.nloops;
	size_t names = q->nrooms + q->nexcept + q->ntargets + 1;
	size_t bytes = names_bytes(q->rooms, q->nrooms) + names_bytes(q->except, q->nexcept) +
		       names_bytes(q->targets, q->ntargets) + (q->id ? strlen(q->id) + 1 : 0);
	size_t head = sizeof(struct lquery) + nparts * sizeof(json_t *);
	struct lquery *r = calloc(1, head + names * sizeof(char *) + bytes);
	if (r == NULL)
		return NULL;
	r->nparts = nparts;
	r->q = *q;
	const char **slots = (const char **)((char *)r + head);
	char *p = (char *)(slots + names);
	r->q.rooms = names_copy(q->rooms, q->nrooms, &slots, &p);
	r->q.except = names_copy(q->except, q->nexcept, &slots, &p);
	r->q.targets = names_copy(q->targets, q->ntargets, &slots, &p);
	if (q->id != NULL) {
		const char *id = q->id;
		r->q.id = names_copy(&id, 1, &slots, &p)[0];
	}
	atomic_init(&r->found, 0);
	return r;
}

static int l_count(struct adapter *a, struct loop *origin, size_t nsp_idx,
		   const char *const *rooms, size_t nrooms, const char *const *except,
		   size_t nexcept, adapter_count_fn fn, void *ud)
{
	(void)a;
	struct adapter_query q = {.kind = AK_COUNT,
				  .nsp_idx = nsp_idx,
				  .rooms = (const char **)rooms,
				  .nrooms = nrooms,
				  .except = (const char **)except,
				  .nexcept = nexcept};
	struct lquery *r = lquery_new(&q);
	if (r == NULL)
		return -ENOMEM;
	r->count_fn = fn;
	r->ud = ud;
	loop_each(&r->each, g_broker.loops, g_broker.nloops, origin, lquery_each, lquery_done,
		  origin);
	return 0;
}

static int l_query(struct adapter *a, struct loop *reply_on, const struct adapter_query *q,
		   adapter_result_fn fn, void *ud)
{
	(void)a;
	struct lquery *r = lquery_new(q);
	if (r == NULL)
		return -ENOMEM;
	r->fn = fn;
	r->ud = ud;
	/* every part posted: a part may disconnect sockets */
	loop_each(&r->each, g_broker.loops, g_broker.nloops, NULL, lquery_each, lquery_done,
		  reply_on);
	return 0;
}

/* ---- presence ---- */

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* presence:update {userId, status, lastSeen} to rooms. */
static void emit_update(struct local *lc, struct loop *from, const char *const *rooms,
			size_t nrooms, const char *user, const char *status)
{
	json_t *upd = json_pack("{s:s, s:s, s:I}", "userId", user, "status", status, "lastSeen",
				(json_int_t)now_ms());
	if (upd != NULL)
		l_emit(&lc->base, from, lc->nsp_idx, rooms, nrooms, NULL, 0, "presence:update", upd);
	json_decref(upd);
}

/* user:online / user:offline to the org, presence:update to the user's
 * subscribers, presence:team to the team. */
static void transition(struct local *lc, struct loop *from, const struct lconn *c, int online)
{
	char org_room[PD_ROOM_MAX], sub_room[LP_ID_MAX + 16];
	pd_room_org(org_room, sizeof(org_room), c->org);
	snprintf(sub_room, sizeof(sub_room), "presence:%s", c->user);
	const char *org[1] = {org_room}, *sub[1] = {sub_room};
	json_t *uid = json_string(c->user);
	if (uid != NULL)
		l_emit(&lc->base, from, lc->nsp_idx, org, 1, NULL, 0,
		       online ? "user:online" : "user:offline", uid);
	json_decref(uid);
	emit_update(lc, from, sub, 1, c->user, online ? "online" : "offline");
	adapter_team_emit(&lc->base, from, lc->nsp_idx, c->team, c->user,
			  online ? "online" : "offline");
}

/* +1 / -1 connection of user (mu held): 1 when it was the first / the last. */
static int user_change(struct local *lc, const char *user, int delta)
{
	struct hnode *h = hmap_get(&lc->users, user, strlen(user));
	struct luser *u = h ? container_of(h, struct luser, hn) : NULL;
	if (u == NULL && delta > 0 && (u = calloc(1, sizeof(*u))) != NULL) {
		snprintf(u->id, sizeof(u->id), "%s", user);
		if (hmap_put(&lc->users, &u->hn, u->id, strlen(u->id)) < 0) {
			free(u);
			u = NULL;
		}
	}
	if (u == NULL)
		return 0;
	u->conns += delta;
	int edge = delta > 0 ? u->conns == 1 : u->conns == 0;
	if (u->conns <= 0) {
		hmap_del(&lc->users, &u->hn);
		free(u);
	}
	return edge;
}

static int id_ok(const char *s, size_t max)
{
	return s != NULL && s[0] != '\0' && strlen(s) <= max;
}

static int l_pres_connect(struct adapter *a, struct loop *from, const struct adapter_conn *c)
{
	struct local *lc = local_of(a);
	if (!id_ok(c->sid, EIO_SID_LEN) || !id_ok(c->user, LP_ID_MAX) || !id_ok(c->org, LP_ID_MAX))
		return -EINVAL;
	struct lconn *x = calloc(1, sizeof(*x));
	if (x == NULL)
		return -ENOMEM;
	snprintf(x->sid, sizeof(x->sid), "%s", c->sid);
	snprintf(x->user, sizeof(x->user), "%s", c->user);
	snprintf(x->org, sizeof(x->org), "%s", c->org);
	snprintf(x->team, sizeof(x->team), "%s", c->team ? c->team : "");
	x->main = c->main;
	pthread_mutex_lock(&lc->mu);
	int edge = 0, rc = hmap_get(&lc->conns, x->sid, strlen(x->sid)) != NULL ? -EEXIST
		       : hmap_put(&lc->conns, &x->hn, x->sid, strlen(x->sid));
	if (rc == 0)
		edge = user_change(lc, x->user, 1);
	pthread_mutex_unlock(&lc->mu);
	if (rc < 0) {
		free(x);
		return rc;
	}
	if (edge)
		transition(lc, from, x, 1);
	return 0;
}

static int l_pres_disconnect(struct adapter *a, struct loop *from, const char *sid)
{
	struct local *lc = local_of(a);
	pthread_mutex_lock(&lc->mu);
	struct hnode *h = hmap_get(&lc->conns, sid, strlen(sid));
	struct lconn *x = h ? container_of(h, struct lconn, hn) : NULL;
	int edge = 0;
	if (x != NULL) {
		hmap_del(&lc->conns, &x->hn);
		edge = user_change(lc, x->user, -1);
	}
	pthread_mutex_unlock(&lc->mu);
	if (x == NULL)
		return 0;
	if (edge)
		transition(lc, from, x, 0);
	free(x);
	return 0;
}

static int l_pres_ping(struct adapter *a, const char *sid)
{
	/* one node: the connection itself is the presence */
	(void)a;
	(void)sid;
	return 0;
}

static int l_pres_status(struct adapter *a, struct loop *from, const struct adapter_conn *c,
			 const char *status)
{
	struct local *lc = local_of(a);
	pthread_mutex_lock(&lc->mu);
	struct hnode *h = hmap_get(&lc->conns, c->sid, strlen(c->sid));
	if (h != NULL)
		snprintf(container_of(h, struct lconn, hn)->status, LP_STATUS_MAX, "%s", status);
	pthread_mutex_unlock(&lc->mu);
	char org_room[PD_ROOM_MAX], sub_room[LP_ID_MAX + 16];
	if (pd_room_org(org_room, sizeof(org_room), c->org) < 0 || strlen(c->user) > LP_ID_MAX)
		return -EINVAL;
	snprintf(sub_room, sizeof(sub_room), "presence:%s", c->user);
	const char *rooms[2] = {org_room, sub_room};
	emit_update(lc, from, rooms, 2, c->user, status);
	adapter_team_emit(a, from, lc->nsp_idx, c->team, c->user, status);
	return 0;
}

/* A user's status over their sockets of "/" (mu held): any other than
 * online wins; NULL when none. */
static const char *user_status(struct local *lc, const char *user)
{
	const char *st = NULL;
	size_t it = 0;
	struct hnode *cur = NULL, *h;
	while ((h = hmap_next(&lc->conns, &it, &cur)) != NULL) {
		struct lconn *x = container_of(h, struct lconn, hn);
		if (!x->main || strcmp(x->user, user) != 0)
			continue;
		if (st == NULL || strcmp(st, "online") == 0)
			st = x->status[0] ? x->status : "online";
	}
	return st;
}

/* A presence answer, built and given on reply_on (never before the call
 * returns: a connect's answer follows its CONNECT reply). */
struct lpres {
	struct local *lc;
	adapter_list_fn fn;
	void *ud;
	char org[LP_ID_MAX + 1]; /* online: the org */
	size_t nusers;           /* get: the users, copied after the struct */
	const char *users[];
};

static void pres_answer(struct loop *l, void *arg)
{
	struct lpres *r = arg;
	struct local *lc = r->lc;
	json_t *list = json_array();
	(void)l;
	pthread_mutex_lock(&lc->mu);
	if (r->org[0] != '\0') {
		size_t it = 0;
		struct hnode *cur = NULL, *h;
		while (list != NULL && (h = hmap_next(&lc->conns, &it, &cur)) != NULL) {
			struct lconn *x = container_of(h, struct lconn, hn);
			int seen = 0;
			if (!x->main || strcmp(x->org, r->org) != 0)
				continue;
			for (size_t k = 0; k < json_array_size(list) && !seen; k++)
				seen = strcmp(json_string_value(json_array_get(list, k)), x->user) == 0;
			if (!seen)
				json_array_append_new(list, json_string(x->user));
		}
	}
	for (size_t i = 0; list != NULL && i < r->nusers; i++) {
		const char *st = user_status(lc, r->users[i]);
		json_array_append_new(list, json_pack("{s:s, s:s, s:n}", "userId", r->users[i],
						      "status", st ? st : "offline", "lastSeen"));
	}
	pthread_mutex_unlock(&lc->mu);
	r->fn(list, r->ud);
	json_decref(list);
	free(r);
}

static int pres_post(struct local *lc, const char *org, const char *const *users, size_t n,
		     struct loop *reply_on, adapter_list_fn fn, void *ud)
{
	size_t bytes = names_bytes(users, n);
	struct lpres *r = calloc(1, sizeof(*r) + n * sizeof(char *) + bytes);
	if (r == NULL)
		return -ENOMEM;
	r->lc = lc;
	r->fn = fn;
	r->ud = ud;
	snprintf(r->org, sizeof(r->org), "%s", org ? org : "");
	const char **slots = r->users;
	char *p = (char *)(r->users + n);
	names_copy(users, n, &slots, &p);
	r->nusers = n;
	if (loop_post(reply_on, pres_answer, r) < 0) {
		free(r);
		return -ENOMEM;
	}
	return 0;
}

static int l_pres_online(struct adapter *a, const char *org, struct loop *reply_on,
			 adapter_list_fn fn, void *ud)
{
	if (!id_ok(org, LP_ID_MAX))
		return -EINVAL;
	return pres_post(local_of(a), org, NULL, 0, reply_on, fn, ud);
}

static int l_pres_get(struct adapter *a, const char *const *users, size_t n,
		      struct loop *reply_on, adapter_list_fn fn, void *ud)
{
	return pres_post(local_of(a), NULL, users, n, reply_on, fn, ud);
}

static int l_pres_roster(struct adapter *a, const char *org, struct loop *reply_on,
			 adapter_list_fn fn, void *ud)
{
	/* seed 003's roster lives in Valkey */
	(void)a;
	(void)org;
	(void)reply_on;
	(void)fn;
	(void)ud;
	return -ENOTSUP;
}

static int l_pres_roster_emit(struct adapter *a, const char *org)
{
	(void)a;
	(void)org;
	return 0;
}

static int l_pres_set_info(struct adapter *a, const char *user, const char *field,
			   const char *value)
{
	(void)a;
	(void)user;
	(void)field;
	(void)value;
	return 0;
}

static const struct adapter_ops local_ops = {
    .name = "local",
    .start = l_start,
    .stop = l_stop,
    .free = l_free,
    .state = l_state,
    .metrics = l_metrics,
    .emit = l_emit,
    .count = l_count,
    .query = l_query,
    .pres_connect = l_pres_connect,
    .pres_disconnect = l_pres_disconnect,
    .pres_ping = l_pres_ping,
    .pres_status = l_pres_status,
    .pres_online = l_pres_online,
    .pres_get = l_pres_get,
    .pres_roster = l_pres_roster,
    .pres_roster_emit = l_pres_roster_emit,
    .pres_set_info = l_pres_set_info,
};

struct adapter *adapter_local_new(size_t nsp_idx)
{
	struct local *lc = calloc(1, sizeof(*lc));
	if (lc == NULL)
		return NULL;
	lc->base.ops = &local_ops;
	lc->nsp_idx = nsp_idx;
	pthread_mutex_init(&lc->mu, NULL);
	hmap_init(&lc->conns, lconn_key);
	hmap_init(&lc->users, luser_key);
	return &lc->base;
}
