/* recovery: connection state recovery across brokers (see recovery.h).
 * Events and sessions live in Valkey; the order of delivery is the order
 * of the namespace's stream, which is the order of its channel because one
 * script appends and publishes. */
#include "recovery.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter_codec.h"
#include "broker.h"
#include "cluster.h"
#include "dialect.h"
#include "loop.h"
#include "pd_cfg.h"
#include "pd_emitter.h"
#include "pd_keys.h"
#include "pd_log.h"
#include "pd_rooms.h"
#include "room.h"
#include "sio.h"
#include "vk.h"

#define REC_TICK_MS 1000       /* how soon a change of rooms is persisted */
#define REC_CATCHUP_DELAY_MS 300 /* after Valkey came back: let PSUBSCRIBE settle */
#define REC_QUEUE_MAX 100000   /* live events held while a namespace catches up */

/* One event with its offset, shared by the deliveries that need it. */
struct rec_item {
	atomic_int ref;
	struct adapter_broadcast b;
};

/* A queue of items (home only); an item may be in several. */
struct rec_node {
	struct rec_node *next;
	struct rec_item *it;
};

struct rec_ilist {
	struct rec_node *head, *tail;
	size_t n;
};

/* A restore waiting for Valkey (home): collects live events of its
 * namespace from the moment the script was sent. */
struct rec_wait {
	struct recovery *r;
	struct rec_wait *next;
	struct loop *loop; /* the socket's */
	size_t nsp_idx;
	char es_sid[EIO_SID_LEN + 16];
	char pid[EIO_SID_LEN + 1];
	char offset[ADAPTER_MAX_OFFSET + 1];
	json_t *auth;
	struct sio_ident *ident;
	struct rec_ilist live;
	/* the result, for the socket's loop */
	json_t *session; /* NULL: not recovered */
	struct rec_item **items;
	size_t nitems;
};

struct rec_nsp {
	char last[ADAPTER_MAX_OFFSET + 1]; /* last offset delivered here */
	int catching;
	struct rec_ilist queue;
};

struct rec_loop {
	struct recovery *r;
	struct loop *loop;
	struct loop_timer t;
};

struct recovery {
	struct cluster *c;
	struct loop *home;
	long window_ms, max_events, grace_ms;
	struct rec_nsp *ns;
	struct rec_wait *waits;
	struct rec_loop *loops;
	struct loop_timer catchup;
	atomic_ullong recovered, missed, replayed, caught_up;
};

#define CNT(r, f, n) atomic_fetch_add_explicit(&(r)->f, (n), memory_order_relaxed)

/* KEYS: session, stream; ARGV: offset, count. {session, entries} or {}. */
static const char lua_restore[] =
    "local s = redis.call('GET', KEYS[1])\n"
    "if not s then return {} end\n"
    "return {s, redis.call('XRANGE', KEYS[2], ARGV[1], '+', 'COUNT', ARGV[2])}\n";

/* ---------------- items ---------------- */

static struct rec_item *item_take(struct adapter_broadcast *b)
{
	struct rec_item *it = calloc(1, sizeof(*it));
	if (it == NULL)
		return NULL;
	atomic_init(&it->ref, 1);
	it->b = *b;
	memset(b, 0, sizeof(*b)); /* moved: the caller's clear frees nothing */
	return it;
}

static void item_unref(struct rec_item *it)
{
	if (it != NULL && atomic_fetch_sub(&it->ref, 1) == 1) {
		adapter_broadcast_clear(&it->b);
		free(it);
	}
}

static void ilist_push(struct rec_ilist *l, struct rec_item *it)
{
	struct rec_node *n = malloc(sizeof(*n));
	if (n == NULL) {
		pd_log(LOG_ERR, "recovery queue: out of memory, one event not held");
		return;
	}
	atomic_fetch_add(&it->ref, 1);
	n->it = it;
	n->next = NULL;
	if (l->tail != NULL)
		l->tail->next = n;
	else
		l->head = n;
	l->tail = n;
	l->n++;
}

static void ilist_clear(struct rec_ilist *l)
{
	while (l->head != NULL) {
		struct rec_node *n = l->head;
		l->head = n->next;
		item_unref(n->it);
		free(n);
	}
	l->tail = NULL;
	l->n = 0;
}

/* A stream entry [id, [field, value...]] decoded as an item, or NULL. */
static struct rec_item *item_from_entry(const redisReply *e)
{
	char err[128];
	if (e == NULL || e->type != REDIS_REPLY_ARRAY || e->elements < 2 ||
	    e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_ARRAY ||
	    e->element[1]->elements < 2 || e->element[1]->element[1]->type != REDIS_REPLY_STRING ||
	    !adapter_offset_valid(e->element[0]->str, e->element[0]->len))
		return NULL;
	const redisReply *v = e->element[1]->element[1];
	struct adapter_broadcast b;
	if (adapter_broadcast_decode((const uint8_t *)v->str, v->len, &b, err, sizeof(err)) < 0) {
		pd_log(LOG_WARNING, "recovery stream entry refused id=%s err=\"%s\"", e->element[0]->str,
		       err);
		return NULL;
	}
	memcpy(b.offset, e->element[0]->str, e->element[0]->len + 1);
	struct rec_item *it = item_take(&b);
	adapter_broadcast_clear(&b);
	return it;
}

/* ---------------- live delivery (home) ---------------- */

/* The EVENT of b in namespace nsp with data (b's own or its dialect's),
 * its attachments as they came; NULL for any other packet or ENOMEM. */
static struct msg *event_msg(const char *nsp, const struct adapter_broadcast *b,
			     const json_t *data)
{
	struct sio_bin bins[ADAPTER_MAX_ATTACHMENTS];
	int type = b->packet.type == 5 ? 2 : b->packet.type;
	if (type != 2 || data == NULL)
		return NULL;
	for (size_t i = 0; i < b->packet.natt && i < ADAPTER_MAX_ATTACHMENTS; i++) {
		bins[i].p = b->packet.att[i].p;
		bins[i].len = b->packet.att[i].len;
	}
	struct msg *m = sio_msg(2, nsp, -1, data, bins, b->packet.natt);
	if (m == NULL)
		pd_log(LOG_ERR, "recovery delivery dropped (out of memory)");
	return m;
}

/* To this broker's members, with the offset; once per offset. */
static void deliver_live(struct recovery *r, size_t nsp_idx, struct rec_item *it)
{
	struct rec_nsp *ns = &r->ns[nsp_idx];
	struct adapter_broadcast *b = &it->b;
	if (adapter_offset_cmp(b->offset, ns->last) <= 0)
		return; /* delivered already (catch-up and live overlap) */
	memcpy(ns->last, b->offset, sizeof(ns->last));
	struct msg *m = event_msg(g_broker.nsps[nsp_idx].name, b, b->packet.data);
	if (m == NULL)
		return;
	room_emit(worker_of(r->home), nsp_idx, (const char *const *)b->rooms.v, b->rooms.n,
		  (const char *const *)b->except.v, b->except.n, m,
		  b->packet.natt == 0 ? b->packet.data : NULL, b->offset);
	msg_unref(m);
}

static int on_broadcast(void *ud, size_t nsp_idx, struct adapter_broadcast *b)
{
	struct recovery *r = ud;
	struct rec_nsp *ns = &r->ns[nsp_idx];
	struct rec_item *it = item_take(b);
	if (it == NULL)
		return 0;
	for (struct rec_wait *w = r->waits; w != NULL; w = w->next)
		if (w->nsp_idx == nsp_idx)
			ilist_push(&w->live, it);
	if (ns->catching && ns->queue.n < REC_QUEUE_MAX)
		ilist_push(&ns->queue, it);
	else
		deliver_live(r, nsp_idx, it);
	item_unref(it);
	return 1;
}

/* ---------------- catch-up after Valkey came back (home) ---------------- */

struct catchup {
	struct recovery *r;
	size_t nsp_idx;
};

static void catchup_done(struct recovery *r, size_t nsp_idx)
{
	struct rec_nsp *ns = &r->ns[nsp_idx];
	struct rec_ilist q = ns->queue;
	memset(&ns->queue, 0, sizeof(ns->queue));
	ns->catching = 0;
	for (struct rec_node *n = q.head; n != NULL; n = n->next)
		deliver_live(r, nsp_idx, n->it);
	ilist_clear(&q);
}

static void on_catchup_reply(struct vk *v, const redisReply *rep, void *ud)
{
	struct catchup *cu = ud;
	struct recovery *r = cu->r;
	(void)v;
	if (rep != NULL && rep->type == REDIS_REPLY_ARRAY) {
		for (size_t i = 0; i < rep->elements; i++) {
			struct rec_item *it = item_from_entry(rep->element[i]);
			if (it == NULL)
				continue;
			if (adapter_offset_cmp(it->b.offset, r->ns[cu->nsp_idx].last) > 0)
				CNT(r, caught_up, 1);
			deliver_live(r, cu->nsp_idx, it);
			item_unref(it);
		}
	} else {
		pd_log(LOG_WARNING, "recovery catch-up failed nsp=%s",
		       g_broker.nsps[cu->nsp_idx].name);
	}
	catchup_done(r, cu->nsp_idx);
	free(cu);
}

static void catchup_fire(struct loop_timer *t)
{
	struct recovery *r = container_of(t, struct recovery, catchup);
	char sk[PD_KEYS_MAX], from[ADAPTER_MAX_OFFSET + 2], count[24];
	snprintf(count, sizeof(count), "%ld", r->max_events);
	for (size_t i = 0; i < g_broker.nnsps; i++) {
		struct rec_nsp *ns = &r->ns[i];
		if (!ns->catching)
			continue;
		struct catchup *cu = malloc(sizeof(*cu));
		snprintf(from, sizeof(from), "(%s", ns->last);
		const char *argv[] = {"XRANGE", sk, from, "+", "COUNT", count};
		if (cu == NULL ||
		    pd_keys_recovery_stream(sk, sizeof(sk), cluster_key(r->c),
					    g_broker.nsps[i].name) < 0) {
			free(cu);
			catchup_done(r, i);
			continue;
		}
		cu->r = r;
		cu->nsp_idx = i;
		if (vk_command(cluster_vk(r->c), on_catchup_reply, cu, 6, argv, NULL) < 0) {
			free(cu);
			catchup_done(r, i);
		}
	}
}

static void on_state(void *ud, int up)
{
	struct recovery *r = ud;
	if (!up)
		return;
	/* hold live events from now on until the gap was read from the stream */
	int any = 0;
	for (size_t i = 0; i < g_broker.nnsps; i++)
		if (r->ns[i].last[0] != '\0') {
			r->ns[i].catching = 1;
			any = 1;
		}
	if (any)
		loop_timer_set(r->home, &r->catchup, r->home->now + REC_CATCHUP_DELAY_MS);
}

/* ---------------- publishing (any loop, then home) ---------------- */

struct rec_pub {
	struct recovery *r;
	size_t nsp_idx;
	size_t chlen, len;
	char *ch;
	char data[];
};

/* Delivered locally without an offset when the script failed. */
static void pub_fallback(struct rec_pub *p)
{
	struct adapter_broadcast b;
	char err[128];
	if (adapter_broadcast_decode((const uint8_t *)p->data, p->len, &b, err, sizeof(err)) < 0)
		return;
	struct msg *m = event_msg(g_broker.nsps[p->nsp_idx].name, &b, b.packet.data);
	if (m != NULL)
		room_emit(worker_of(p->r->home), p->nsp_idx, (const char *const *)b.rooms.v,
			  b.rooms.n, (const char *const *)b.except.v, b.except.n, m,
			  b.packet.natt == 0 ? b.packet.data : NULL, NULL);
	msg_unref(m);
	adapter_broadcast_clear(&b);
}

static void on_pub_reply(struct vk *v, const redisReply *rep, void *ud)
{
	struct rec_pub *p = ud;
	(void)v;
	if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
		pd_log(LOG_WARNING, "recovery publish failed: %s; delivered here without offset",
		       rep != NULL ? rep->str : "no reply");
		pub_fallback(p);
	}
	free(p);
}

static void pub_on_home(struct loop *l, void *arg)
{
	struct rec_pub *p = arg;
	struct recovery *r = p->r;
	char sk[PD_KEYS_MAX], max[24];
	(void)l;
	snprintf(max, sizeof(max), "%ld", r->max_events);
	const char *argv[] = {"EVAL", pd_keys_lua_xpub, "1", sk, p->data, p->ch, max};
	size_t lens[] = {4, strlen(pd_keys_lua_xpub), 1, 0, p->len, p->chlen, strlen(max)};
	if (pd_keys_recovery_stream(sk, sizeof(sk), cluster_key(r->c),
				    g_broker.nsps[p->nsp_idx].name) < 0) {
		pub_fallback(p);
		free(p);
		return;
	}
	lens[3] = strlen(sk);
	if (vk_command(cluster_vk(r->c), on_pub_reply, p, 7, argv, lens) < 0) {
		pub_fallback(p);
		free(p);
	}
}

static int on_publish(void *ud, size_t nsp_idx, const char *ch, size_t chlen, const char *msg,
		      size_t len)
{
	struct recovery *r = ud;
	if (!cluster_is_up(r->c))
		return -ENOTCONN;
	if (len < 1 || (uint8_t)msg[0] != 0x93)
		return -EINVAL; /* the script turns [uid, packet, opts] into 4 items */
	struct rec_pub *p = malloc(sizeof(*p) + len + chlen + 1);
	if (p == NULL)
		return -ENOMEM;
	p->r = r;
	p->nsp_idx = nsp_idx;
	p->len = len;
	p->chlen = chlen;
	memcpy(p->data, msg, len);
	p->ch = p->data + len;
	memcpy(p->ch, ch, chlen);
	p->ch[chlen] = '\0';
	if (loop_post(r->home, pub_on_home, p) < 0) {
		free(p);
		return -ENOMEM;
	}
	return 0;
}

static const struct cluster_rec_hooks rec_hooks = {
    .broadcast = on_broadcast,
    .state = on_state,
    .publish = on_publish,
};

/* ---------------- sessions (socket's loop, then home) ---------------- */

struct rec_cmd {
	struct recovery *r;
	int argc;
	size_t lens[5];
	char *argv[5];
	char buf[];
};

static void cmd_on_home(struct loop *l, void *arg)
{
	struct rec_cmd *k = arg;
	(void)l;
	vk_command(cluster_vk(k->r->c), NULL, NULL, k->argc, (const char **)k->argv, k->lens);
	free(k);
}

/* Post one command of up to 5 string arguments to home. */
static void post_cmd(struct recovery *r, int argc, const char *const *argv)
{
	size_t total = 0;
	for (int i = 0; i < argc; i++)
		total += strlen(argv[i]) + 1;
	struct rec_cmd *k = malloc(sizeof(*k) + total);
	if (k == NULL)
		return;
	k->r = r;
	k->argc = argc;
	char *q = k->buf;
	for (int i = 0; i < argc; i++) {
		k->lens[i] = strlen(argv[i]);
		memcpy(q, argv[i], k->lens[i] + 1);
		k->argv[i] = q;
		q += k->lens[i] + 1;
	}
	if (loop_post(r->home, cmd_on_home, k) < 0)
		free(k);
}

static uint64_t rooms_sig(const struct sio_socket *s)
{
	uint64_t h = 1469598103934665603ULL ^ s->nrooms;
	for (uint16_t i = 0; i < s->nrooms; i++)
		h = (h ^ (uint64_t)(uintptr_t)s->rooms[i].r) * 1099511628211ULL;
	return h | 1; /* 0 = never persisted */
}

static void persist(struct recovery *r, struct sio_socket *s)
{
	char key[PD_KEYS_MAX], px[24];
	json_t *rooms = json_array(), *j = NULL;
	char *txt = NULL;
	if (rooms == NULL)
		return;
	for (uint16_t i = 0; i < s->nrooms; i++)
		json_array_append_new(rooms, json_string(s->rooms[i].r->name));
	j = json_pack("{s:s,s:s?,s:o}", "sid", s->id, "sub",
		      s->ident != NULL ? s->ident->sub : NULL, "rooms", rooms);
	if (j == NULL)
		return;
	txt = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (txt == NULL || pd_keys_recovery_session(key, sizeof(key), cluster_key(r->c), s->pid) < 0) {
		free(txt);
		return;
	}
	snprintf(px, sizeof(px), "%ld", r->window_ms);
	const char *argv[] = {"SET", key, txt, "PX", px};
	post_cmd(r, 5, argv);
	free(txt);
	s->rec_sig = rooms_sig(s);
	s->rec_at = s->nsp->w->loop->now;
}

void recovery_socket_opened(struct recovery *r, struct sio_socket *s)
{
	persist(r, s);
}

int recovery_reason_keeps(const char *reason)
{
	static const char *const keep[] = {"transport close", "transport error", "ping timeout",
					   "server shutting down"};
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		if (strcmp(reason, keep[i]) == 0)
			return 1;
	return 0;
}

void recovery_socket_closed(struct recovery *r, struct sio_socket *s, const char *reason)
{
	char key[PD_KEYS_MAX];
	if (recovery_reason_keeps(reason)) {
		persist(r, s);
		s->rec_keep_ms = (uint32_t)r->grace_ms; /* presence keeps it a while */
		return;
	}
	if (pd_keys_recovery_session(key, sizeof(key), cluster_key(r->c), s->pid) == 0) {
		const char *argv[] = {"DEL", key};
		post_cmd(r, 2, argv);
	}
}

/* Every loop, every REC_TICK_MS: persist the sessions whose rooms changed,
 * and refresh each one every window/3. */
static void tick(struct loop_timer *t)
{
	struct rec_loop *rl = container_of(t, struct rec_loop, t);
	struct recovery *r = rl->r;
	struct worker *w = worker_of(rl->loop);
	uint64_t now = rl->loop->now, refresh = (uint64_t)r->window_ms / 3;
	for (size_t i = 0; w->nsps != NULL && i < g_broker.nnsps; i++)
		for (struct sio_socket *s = w->nsps[i].head; s != NULL; s = s->nnext)
			if (s->pid[0] != '\0' && s->connected &&
			    (rooms_sig(s) != s->rec_sig || now - s->rec_at >= refresh))
				persist(r, s);
	loop_timer_set(rl->loop, t, now + REC_TICK_MS);
}

static void arm_tick(struct loop *l, void *arg)
{
	struct rec_loop *rl = arg;
	loop_timer_set(l, &rl->t, l->now + REC_TICK_MS);
}

/* ---------------- restore ---------------- */

static void wait_free(struct rec_wait *w)
{
	ilist_clear(&w->live);
	for (size_t i = 0; i < w->nitems; i++)
		item_unref(w->items[i]);
	free(w->items);
	json_decref(w->auth);
	json_decref(w->session);
	free(w->ident);
	free(w);
}

/* Does the event select socket s (its rooms, its own id, except)? */
static int selects(const struct sio_socket *s, const struct adapter_broadcast *b)
{
	char alias[PD_ROOM_MAX];
	for (size_t i = 0; i < b->except.n; i++) {
		const char *n = b->except.v[i];
		if (pd_room_unalias(n, alias, sizeof(alias)) == 0)
			n = alias;
		if (strcmp(n, s->id) == 0 || room_has(s, n))
			return 0;
	}
	if (b->rooms.n == 0)
		return 1;
	for (size_t i = 0; i < b->rooms.n; i++) {
		const char *n = b->rooms.v[i];
		if (pd_room_unalias(n, alias, sizeof(alias)) == 0)
			n = alias;
		if (strcmp(n, s->id) == 0 || room_has(s, n))
			return 1;
	}
	return 0;
}

/* Send item to s as its dialect has it, offset last. 0 when sent. */
static int replay_one(struct sio_socket *s, const struct rec_item *it)
{
	const struct adapter_broadcast *b = &it->b;
	json_t *data = b->packet.data, *out = NULL;
	if (data == NULL)
		return -1;
	if (b->packet.natt == 0 && strcmp(s->nsp->def->name, "/") == 0) {
		int x = dia_out(&dia_table[s->dialect], data, &out);
		if (x < 0)
			return -1;
		if (x == 0)
			data = out;
	}
	int rc = -1;
	struct msg *m = event_msg(s->nsp->def->name, b, data), *om = NULL;
	if (m != NULL && (om = msg_splice_arg(m, b->offset)) != NULL)
		rc = sio_send(s, om);
	msg_unref(om);
	msg_unref(m);
	json_decref(out);
	return rc;
}

static void restore_on_loop(struct loop *l, void *arg)
{
	struct rec_wait *w = arg;
	struct recovery *r = w->r;
	struct eio_session *es = eio_find(worker_of(l), w->es_sid);
	struct sio_client *c = es != NULL ? es->upper : NULL;
	const char *sid = json_string_value(json_object_get(w->session, "sid"));
	const char *sub = json_string_value(json_object_get(w->session, "sub"));
	const char *mine = w->ident != NULL ? w->ident->sub : NULL;
	if (c == NULL)
		goto out; /* gone while we waited */
	if (sid != NULL && ((sub == NULL) != (mine == NULL) || (sub != NULL && strcmp(sub, mine) != 0))) {
		pd_log(LOG_NOTICE, "recovery refused: the session belongs to another user");
		sid = NULL;
	}
	struct sio_ident *ident = w->ident;
	w->ident = NULL;
	struct sio_socket *s = sio_connect_finish(c, w->nsp_idx, w->auth, ident, sid,
						  sid != NULL ? w->pid : NULL);
	if (s == NULL)
		goto out;
	if (sid == NULL || strcmp(s->id, sid) != 0) {
		CNT(r, missed, 1);
		pd_log(LOG_INFO, "recovery missed nsp=%s", s->nsp->def->name);
		goto out;
	}
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(w->session, "rooms"), i, v)
		if (json_is_string(v))
			room_join(s, json_string_value(v));
	unsigned long long n = 0;
	for (size_t k = 0; k < w->nitems && s->connected; k++)
		if (selects(s, &w->items[k]->b) && replay_one(s, w->items[k]) == 0)
			n++;
	/* live copies of what was replayed may still come (home read the
	 * script's reply before their messages): the socket skips them */
	const char *until = w->nitems > 0 ? w->items[w->nitems - 1]->b.offset : w->offset;
	char *end;
	s->rec_until_ms = strtoull(until, &end, 10);
	s->rec_until_seq = *end == '-' ? strtoull(end + 1, NULL, 10) : 0;
	CNT(r, recovered, 1);
	CNT(r, replayed, n);
	pd_log(LOG_INFO, "recovery id=%s nsp=%s replayed=%llu", s->id, s->nsp->def->name, n);
	if (s->connected)
		persist(r, s);
out:
	wait_free(w);
}

static void on_restore_reply(struct vk *v, const redisReply *rep, void *ud)
{
	struct rec_wait *w = ud;
	struct recovery *r = w->r;
	(void)v;
	for (struct rec_wait **pp = &r->waits; *pp != NULL; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	/* {session, entries}: entries[0] must be the client's offset itself,
	 * else events after it were trimmed (or it never was ours) */
	if (rep != NULL && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
	    rep->element[0]->type == REDIS_REPLY_STRING && rep->element[1]->type == REDIS_REPLY_ARRAY &&
	    rep->element[1]->elements >= 1) {
		const redisReply *es = rep->element[1];
		const redisReply *first = es->element[0];
		int ok = first->type == REDIS_REPLY_ARRAY && first->elements >= 1 &&
			 first->element[0]->type == REDIS_REPLY_STRING &&
			 strcmp(first->element[0]->str, w->offset) == 0 &&
			 es->elements <= (size_t)r->max_events;
		w->session = ok ? json_loadb(rep->element[0]->str, rep->element[0]->len, 0, NULL) : NULL;
		if (w->session != NULL) {
			w->items = calloc(es->elements + w->live.n, sizeof(*w->items));
			if (w->items == NULL) {
				json_decref(w->session);
				w->session = NULL;
			}
		}
		char last[ADAPTER_MAX_OFFSET + 1];
		memcpy(last, w->offset, sizeof(last));
		for (size_t i = 1; w->session != NULL && i < es->elements; i++) {
			struct rec_item *it = item_from_entry(es->element[i]);
			if (it == NULL)
				continue;
			memcpy(last, it->b.offset, sizeof(last));
			w->items[w->nitems++] = it;
		}
		/* then what came live after the script ran, each once */
		for (struct rec_node *nd = w->live.head; w->session != NULL && nd != NULL; nd = nd->next) {
			struct rec_item *it = nd->it;
			if (adapter_offset_cmp(it->b.offset, last) > 0) {
				atomic_fetch_add(&it->ref, 1);
				w->items[w->nitems++] = it;
				memcpy(last, it->b.offset, sizeof(last));
			}
		}
	}
	ilist_clear(&w->live);
	/* on home itself at once: a live event read next must find the socket */
	if (w->loop == r->home)
		restore_on_loop(w->loop, w);
	else if (loop_post(w->loop, restore_on_loop, w) < 0)
		wait_free(w);
}

static void restore_on_home(struct loop *l, void *arg)
{
	struct rec_wait *w = arg;
	struct recovery *r = w->r;
	char sk[PD_KEYS_MAX], kk[PD_KEYS_MAX], count[24];
	(void)l;
	snprintf(count, sizeof(count), "%ld", r->max_events + 1);
	const char *argv[] = {"EVAL", lua_restore, "2", kk, sk, w->offset, count};
	if (pd_keys_recovery_session(kk, sizeof(kk), cluster_key(r->c), w->pid) < 0 ||
	    pd_keys_recovery_stream(sk, sizeof(sk), cluster_key(r->c),
				    g_broker.nsps[w->nsp_idx].name) < 0)
		goto fail;
	w->next = r->waits;
	r->waits = w;
	if (vk_command(cluster_vk(r->c), on_restore_reply, w, 7, argv, NULL) == 0)
		return;
	r->waits = w->next;
fail:
	if (loop_post(w->loop, restore_on_loop, w) < 0)
		wait_free(w);
}

int recovery_connect(struct recovery *r, struct sio_client *c, size_t nsp_idx,
		     const json_t *auth, struct sio_ident *ident)
{
	const json_t *pid = json_object_get(auth, "pid"), *off = json_object_get(auth, "offset");
	if (!json_is_string(pid) || json_string_length(pid) != EIO_SID_LEN || !json_is_string(off) ||
	    !adapter_offset_valid(json_string_value(off), json_string_length(off)) ||
	    strlen(c->es->sid) >= sizeof(((struct rec_wait *)0)->es_sid))
		return 0;
	for (const char *p = json_string_value(pid); *p != '\0'; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      *p == '-' || *p == '_'))
			return 0;
	struct rec_wait *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return 0;
	w->r = r;
	w->loop = c->es->w->loop;
	w->nsp_idx = nsp_idx;
	snprintf(w->es_sid, sizeof(w->es_sid), "%s", c->es->sid);
	snprintf(w->pid, sizeof(w->pid), "%s", json_string_value(pid));
	snprintf(w->offset, sizeof(w->offset), "%s", json_string_value(off));
	w->auth = json_deep_copy(auth);
	w->ident = ident;
	if (w->auth == NULL || !cluster_is_up(r->c) || loop_post(r->home, restore_on_home, w) < 0) {
		w->ident = NULL;
		wait_free(w);
		return 0;
	}
	return 1;
}

/* ---------------- life ---------------- */

struct recovery *recovery_new(struct cluster *c, long window_ms, long max_events, long grace_ms)
{
	struct recovery *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->c = c;
	r->home = cluster_home(c);
	r->window_ms = window_ms;
	r->max_events = max_events;
	r->grace_ms = grace_ms < window_ms ? grace_ms : window_ms;
	r->ns = calloc(g_broker.nnsps ? g_broker.nnsps : 1, sizeof(*r->ns));
	r->loops = calloc((size_t)g_broker.nloops, sizeof(*r->loops));
	if (r->ns == NULL || r->loops == NULL) {
		free(r->ns);
		free(r->loops);
		free(r);
		return NULL;
	}
	loop_timer_init(&r->catchup, catchup_fire);
	for (int i = 0; i < g_broker.nloops; i++) {
		r->loops[i].r = r;
		r->loops[i].loop = &g_broker.loops[i];
		loop_timer_init(&r->loops[i].t, tick);
	}
	cluster_set_rec_hooks(c, &rec_hooks, r);
	return r;
}

int recovery_setup(struct cluster *c, const struct pd_cfg *cfg, char *err, size_t errlen)
{
	long window, max, grace;
	if (pd_emitter_recovery_cfg(cfg, &window, &max, NULL, err, errlen) != 0 ||
	    pd_cfg_get_long(cfg, "recovery_presence_grace", 0, 86400000, &grace, err, errlen) != 0)
		return -1;
	if (window == 0)
		return 0;
	if ((g_broker.recovery = recovery_new(c, window, max, grace)) == NULL) {
		snprintf(err, errlen, "connection state recovery: out of memory");
		return -1;
	}
	pd_log(LOG_INFO, "connection state recovery on window_ms=%ld max_events=%ld", window, max);
	return 0;
}

int recovery_start(struct recovery *r)
{
	for (int i = 0; i < g_broker.nloops; i++)
		if (loop_post(&g_broker.loops[i], arm_tick, &r->loops[i]) < 0)
			return -ENOMEM;
	return 0;
}

void recovery_free(struct recovery *r)
{
	if (r == NULL)
		return;
	/* the loops stopped: take our timers out of their heaps */
	loop_timer_cancel(r->home, &r->catchup);
	for (int i = 0; r->loops != NULL && i < g_broker.nloops; i++)
		loop_timer_cancel(&g_broker.loops[i], &r->loops[i].t);
	for (size_t i = 0; r->ns != NULL && i < g_broker.nnsps; i++)
		ilist_clear(&r->ns[i].queue);
	while (r->waits != NULL) {
		struct rec_wait *w = r->waits;
		r->waits = w->next;
		wait_free(w);
	}
	free(r->ns);
	free(r->loops);
	free(r);
}

void recovery_get_stats(const struct recovery *r, struct recovery_stats *o)
{
	o->recovered = atomic_load(&r->recovered);
	o->missed = atomic_load(&r->missed);
	o->replayed = atomic_load(&r->replayed);
	o->caught_up = atomic_load(&r->caught_up);
}
