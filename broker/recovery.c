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
#include "pd_wire.h"
#include "room.h"
#include "sio.h"
#include "vk.h"

#define REC_TICK_MS 1000       /* how soon a change of rooms is persisted */
#define REC_CATCHUP_DELAY_MS 300 /* after Valkey came back: let PSUBSCRIBE settle */
#define REC_QUEUE_MAX 100000   /* live events held while a namespace catches up */
/* adapter_mode sharded (see recovery.h) */
#define REC_RECENT 8192          /* ids delivered lately, per namespace */
#define REC_GAP_MARGIN_MS 2000   /* a gap is read from this long before the loss */
#define REC_GAP_RETRY_MS 500    /* a gap read Valkey refused is sent again after this */
#define REC_GAP_HOLD_MS 10000    /* live events wait this long at most for a refused gap read */
#define REC_GAPSET_MS 10000      /* how long late live copies of a gap read are skipped */

struct rec_id {
	uint64_t ms, seq;
};

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
	json_t *held; /* sharded: the session's rooms whose channels home holds */
	/* the result, for the socket's loop */
	json_t *session; /* NULL: not recovered */
	struct rec_item **items;
	size_t nitems;
};

struct rec_nsp {
	char last[ADAPTER_MAX_OFFSET + 1]; /* last offset delivered here */
	int catching;
	struct rec_ilist queue;
	/* sharded: live order is not stream order, so no watermark; a ring
	 * of what was delivered, and what a gap read delivered */
	struct rec_id *recent;
	size_t rpos, rn;
	struct rec_id *gapset;
	size_t ngap, capgap;
	uint64_t gap_until; /* home's clock */
};

struct rec_loop {
	struct recovery *r;
	struct loop *loop;
	struct loop_timer t;
};

struct recovery {
	struct cluster *c;
	const struct broker *cfg; /* its namespaces and loops */
	struct loop *home;
	long window_ms, max_events, grace_ms;
	struct rec_nsp *ns;
	struct rec_wait *waits;
	struct rec_loop *loops;
	struct loop_timer catchup;
	int sharded;
	struct gap_read *gap; /* sharded: the gap read under way, or NULL */
	/* sharded: live events held since a loss not yet reported (a channel
	 * can be subscribed again, and deliver newer events, before vkss
	 * reports the gap); pend_for is that loss, held once */
	uint64_t pend_for;
	struct loop_timer pend;
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

static struct rec_id id_of(const char *offset)
{
	char *end;
	struct rec_id id = {strtoull(offset, &end, 10), 0};
	if (*end == '-')
		id.seq = strtoull(end + 1, NULL, 10);
	return id;
}

static int ids_has(const struct rec_id *v, size_t n, struct rec_id id)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].ms == id.ms && v[i].seq == id.seq)
			return 1;
	return 0;
}

/* To this broker's members, with the offset. */
static void emit_item(struct recovery *r, size_t nsp_idx, const struct rec_item *it, int gap)
{
	const struct adapter_broadcast *b = &it->b;
	struct msg *m = event_msg(r->cfg->nsps[nsp_idx].name, b, b->packet.data);
	if (m == NULL)
		return;
	(gap ? room_emit_gap : room_emit)(worker_of(r->home), nsp_idx,
					  (const char *const *)b->rooms.v, b->rooms.n,
					  (const char *const *)b->except.v, b->except.n, m,
					  b->packet.natt == 0 ? b->packet.data : NULL, b->offset);
	msg_unref(m);
}

/* Classic: once per offset, in stream order (the channel's). Sharded:
 * once per offset, as it comes (a room's own order holds; rooms on
 * different nodes interleave as they arrive, as with any sharded
 * adapter). */
static void deliver_live(struct recovery *r, size_t nsp_idx, struct rec_item *it)
{
	struct rec_nsp *ns = &r->ns[nsp_idx];
	if (!r->sharded) {
		if (adapter_offset_cmp(it->b.offset, ns->last) <= 0)
			return; /* delivered already (catch-up and live overlap) */
		memcpy(ns->last, it->b.offset, sizeof(ns->last));
		emit_item(r, nsp_idx, it, 0);
		return;
	}
	struct rec_id id = id_of(it->b.offset);
	if (ns->ngap > 0 && r->home->now > ns->gap_until)
		ns->ngap = 0;
	if (ns->ngap > 0 && ids_has(ns->gapset, ns->ngap, id))
		return; /* a gap read delivered it before its message came */
	if (ns->recent != NULL) {
		ns->recent[ns->rpos] = id;
		ns->rpos = (ns->rpos + 1) % REC_RECENT;
		if (ns->rn < REC_RECENT)
			ns->rn++;
	}
	emit_item(r, nsp_idx, it, 0);
}

static void catchup_done(struct recovery *r, size_t nsp_idx);

/* The loss was not reported within REC_GAP_HOLD_MS (a node still down):
 * what was held flows, unless a gap read has it now. */
static void pend_fire(struct loop_timer *t)
{
	struct recovery *r = container_of(t, struct recovery, pend);
	if (r->gap != NULL)
		return;
	for (size_t i = 0; i < r->cfg->nnsps; i++)
		if (r->ns[i].catching)
			catchup_done(r, i);
}

static int on_broadcast(void *ud, size_t nsp_idx, struct adapter_broadcast *b)
{
	struct recovery *r = ud;
	struct rec_nsp *ns = &r->ns[nsp_idx];
	struct rec_item *it = item_take(b);
	if (it == NULL)
		return 0;
	uint64_t lost;
	if (r->sharded && r->gap == NULL && !ns->catching &&
	    (lost = cluster_sh_gap_pending(r->c)) != 0 && lost != r->pend_for) {
		/* newer than what the coming gap read may find: wait for it */
		r->pend_for = lost;
		for (size_t i = 0; i < r->cfg->nnsps; i++)
			if (!r->cfg->nsps[i].view)
				r->ns[i].catching = 1;
		loop_timer_set(r->home, &r->pend, r->home->now + REC_GAP_HOLD_MS);
	}
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
		       r->cfg->nsps[cu->nsp_idx].name);
	}
	catchup_done(r, cu->nsp_idx);
	free(cu);
}

static void catchup_fire(struct loop_timer *t)
{
	struct recovery *r = container_of(t, struct recovery, catchup);
	char sk[PD_KEYS_MAX], from[ADAPTER_MAX_OFFSET + 2], count[24];
	snprintf(count, sizeof(count), "%ld", r->max_events);
	for (size_t i = 0; i < r->cfg->nnsps; i++) {
		struct rec_nsp *ns = &r->ns[i];
		if (!ns->catching)
			continue;
		struct catchup *cu = malloc(sizeof(*cu));
		snprintf(from, sizeof(from), "(%s", ns->last);
		const char *argv[] = {"XRANGE", sk, from, "+", "COUNT", count};
		if (cu == NULL ||
		    pd_keys_recovery_stream(sk, sizeof(sk), cluster_key(r->c),
					    r->cfg->nsps[i].name) < 0) {
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
	if (!up || r->sharded)
		return; /* sharded: the channels' gap (on_gap) instead */
	/* hold live events from now on until the gap was read from the stream */
	int any = 0;
	for (size_t i = 0; i < r->cfg->nnsps; i++)
		if (r->ns[i].last[0] != '\0') {
			r->ns[i].catching = 1;
			any = 1;
		}
	if (any)
		loop_timer_set(r->home, &r->catchup, r->home->now + REC_CATCHUP_DELAY_MS);
}

/* ---------------- gap after lost shard subscriptions (sharded, home) ---------------- */

/* One gap read at a time: the channels subscribed again (sorted) and, per
 * namespace, where its read of the stream stands. Live events keep
 * flowing meanwhile (a node may stay down for long); what the read finds
 * was delivered here already (the ring) is skipped, and what it delivers
 * is skipped when its live copy comes late (the gap set). */
struct gap_read {
	size_t n;
	char **names;
	uint64_t since_ms;
	int again;     /* more channels came while reading: read once more */
	int inflight;  /* XRANGEs sent */
	int failed;    /* namespaces to read again (Valkey refused) */
	int logged;    /* a refusal was logged */
	uint64_t hold_until; /* home's clock: live events held until then */
	unsigned long long delivered;
	struct loop_timer retry;
	struct gap_nsp {
		char from[ADAPTER_MAX_OFFSET + 2]; /* "(ID" or "MS-0" */
		int state; /* 0 to read, 1 reading, 2 done, 3 failed */
	} *ns;
	struct recovery *r;
};

struct gap_part {
	struct recovery *r;
	size_t nsp_idx;
};

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void gap_free(struct gap_read *g)
{
	if (g == NULL)
		return;
	loop_timer_cancel(g->r->home, &g->retry);
	for (size_t i = 0; i < g->n; i++)
		free(g->names[i]);
	free(g->names);
	free(g->ns);
	free(g);
}

/* it was delivered by a gap read: its live message, if it still comes,
 * is skipped (deliver_live) */
static void gapset_add(struct recovery *r, struct rec_nsp *ns, struct rec_id id)
{
	if (ns->ngap == ns->capgap) {
		size_t cap = ns->capgap ? ns->capgap * 2 : 64;
		struct rec_id *v = realloc(ns->gapset, cap * sizeof(*v));
		if (v == NULL)
			return;
		ns->gapset = v;
		ns->capgap = cap;
	}
	ns->gapset[ns->ngap++] = id;
	ns->gap_until = r->home->now + REC_GAPSET_MS;
}

static void gap_send(struct recovery *r);

static void gap_restart(struct gap_read *g)
{
	char from[32];
	snprintf(from, sizeof(from), "%llu-0",
		 (unsigned long long)(g->since_ms > REC_GAP_MARGIN_MS ? g->since_ms - REC_GAP_MARGIN_MS
								     : 0));
	for (size_t i = 0; i < g->r->cfg->nnsps; i++) {
		snprintf(g->ns[i].from, sizeof(g->ns[i].from), "%s", from);
		g->ns[i].state = g->r->cfg->nsps[i].view ? 2 : 0;
	}
	g->again = 0;
	g->failed = 0;
}

/* Entries of the namespace's stream since the loss: those on a channel
 * that was down and not delivered here already. */
static void on_gap_reply(struct vk *v, const redisReply *rep, void *ud)
{
	struct gap_part *p = ud;
	struct recovery *r = p->r;
	struct gap_read *g = r->gap;
	size_t idx = p->nsp_idx;
	struct rec_nsp *ns = &r->ns[idx];
	const char *nsp = r->cfg->nsps[idx].name;
	struct pd_buf ch;
	(void)v;
	free(p);
	if (g == NULL)
		return; /* freed at shutdown */
	g->inflight--;
	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY) {
		if (!g->logged++)
			pd_log(LOG_WARNING, "recovery gap read failed nsp=%s err=\"%s\" (retrying)", nsp,
			       rep != NULL && rep->type == REDIS_REPLY_ERROR ? rep->str : "no reply");
		g->ns[idx].state = 3;
		g->failed++;
		/* live events wait behind the gap (stream order) while Valkey
		 * refuses for a short while (a cluster healing), then flow */
		if (g->hold_until == 0)
			g->hold_until = r->home->now + REC_GAP_HOLD_MS;
		if (r->home->now >= g->hold_until)
			catchup_done(r, idx);
		gap_send(r);
		return;
	}
	pd_buf_init(&ch, 0);
	for (size_t i = 0; i < rep->elements; i++) {
		struct rec_item *it = item_from_entry(rep->element[i]);
		if (it == NULL)
			continue;
		struct rec_id id = id_of(it->b.offset);
		const char *name;
		snprintf(g->ns[idx].from, sizeof(g->ns[idx].from), "(%s", it->b.offset);
		pd_buf_reset(&ch);
		if (cluster_sh_channel(r->c, &ch, nsp, (const char *const *)it->b.rooms.v,
				       it->b.rooms.n) == 0 &&
		    (name = ch.data, bsearch(&name, g->names, g->n, sizeof(*g->names), name_cmp)) &&
		    !ids_has(ns->recent, ns->rn, id) && !ids_has(ns->gapset, ns->ngap, id)) {
			gapset_add(r, ns, id);
			CNT(r, caught_up, 1);
			g->delivered++;
			emit_item(r, idx, it, 1);
		}
		item_unref(it);
	}
	pd_buf_free(&ch);
	/* a full page: the rest from after its last entry */
	g->ns[idx].state = rep->elements >= (size_t)r->max_events ? 0 : 2;
	if (g->ns[idx].state == 2)
		catchup_done(r, idx); /* then what came live meanwhile, each once */
	gap_send(r);
}

static void gap_retry(struct loop_timer *t)
{
	struct gap_read *g = container_of(t, struct gap_read, retry);
	for (size_t i = 0; i < g->r->cfg->nnsps; i++)
		if (g->ns[i].state == 3)
			g->ns[i].state = 0;
	g->failed = 0;
	gap_send(g->r);
}

/* Send what is to read; when all is read, once more if asked, else done. */
static void gap_send(struct recovery *r)
{
	struct gap_read *g = r->gap;
	char sk[PD_KEYS_MAX], count[24];
	int pending = 0;
	snprintf(count, sizeof(count), "%ld", r->max_events);
	for (size_t i = 0; i < r->cfg->nnsps; i++) {
		struct gap_part *p;
		if (g->ns[i].state == 1 || g->ns[i].state == 3)
			pending = 1;
		if (g->ns[i].state != 0)
			continue;
		const char *argv[] = {"XRANGE", sk, g->ns[i].from, "+", "COUNT", count};
		if (pd_keys_recovery_stream(sk, sizeof(sk), cluster_key(r->c), r->cfg->nsps[i].name) <
			0 ||
		    (p = malloc(sizeof(*p))) == NULL) {
			g->ns[i].state = 2;
			continue;
		}
		p->r = r;
		p->nsp_idx = i;
		if (vk_command(cluster_vk(r->c), on_gap_reply, p, 6, argv, NULL) < 0) {
			free(p);
			g->ns[i].state = 3;
			g->failed++;
		} else {
			g->ns[i].state = 1;
			g->inflight++;
			r->ns[i].catching = 1; /* live events wait behind the gap */
		}
		pending = 1;
	}
	if (g->failed > 0 && g->inflight == 0) {
		loop_timer_set(r->home, &g->retry, r->home->now + REC_GAP_RETRY_MS);
		return;
	}
	if (pending)
		return;
	if (g->again) {
		gap_restart(g);
		gap_send(r);
		return;
	}
	pd_log(LOG_NOTICE, "recovery: gap read done channels=%zu delivered=%llu", g->n,
	       (unsigned long long)g->delivered);
	r->gap = NULL;
	gap_free(g);
}

static void on_gap(void *ud, const char *const *channels, size_t n, uint64_t since_ms)
{
	struct recovery *r = ud;
	struct gap_read *g = r->gap;
	int fresh = g == NULL;
	if (fresh) {
		g = calloc(1, sizeof(*g));
		if (g == NULL || (g->ns = calloc(r->cfg->nnsps, sizeof(*g->ns))) == NULL) {
			free(g);
			pd_log(LOG_ERR, "recovery gap read: out of memory");
			return;
		}
		g->r = r;
		g->since_ms = since_ms;
		loop_timer_init(&g->retry, gap_retry);
	}
	char **v = realloc(g->names, (g->n + n) * sizeof(*v));
	if (v == NULL && g->n + n > 0) {
		if (fresh)
			gap_free(g);
		pd_log(LOG_ERR, "recovery gap read: out of memory");
		return;
	}
	g->names = v;
	size_t had = g->n;
	for (size_t i = 0; i < n; i++) {
		size_t k = 0;
		while (k < had && strcmp(g->names[k], channels[i]) != 0)
			k++;
		if (k == had && (g->names[g->n] = strdup(channels[i])) != NULL)
			g->n++;
	}
	qsort(g->names, g->n, sizeof(*g->names), name_cmp);
	if (since_ms < g->since_ms)
		g->since_ms = since_ms;
	if (!fresh) {
		g->again = 1; /* read again from the earliest loss once this round ends */
		return;
	}
	pd_log(LOG_NOTICE, "recovery: %zu shard channels subscribed again, reading the streams from %llu ms",
	       n, (unsigned long long)since_ms);
	r->gap = g;
	gap_restart(g);
	gap_send(r);
}

/* ---------------- publishing (any loop, then home) ---------------- */

struct rec_pub {
	struct recovery *r;
	size_t nsp_idx;
	size_t chlen, len, slen;
	char *ch;
	char *sdata; /* sharded: the message to SPUBLISH; NULL in classic */
	char data[];
};

/* Sharded: SPUBLISH p's message, with offset when not NULL. */
static void pub_shard(struct rec_pub *p, const char *offset)
{
	struct pd_buf m;
	pd_buf_init(&m, 0);
	if (pd_buf_append(&m, p->sdata, p->slen) != 0 ||
	    (offset != NULL && pd_wire_sh_offset(&m, offset, strlen(offset)) != 0)) {
		pd_log(LOG_WARNING, "recovery: sharded publish dropped (encoding)");
		pd_buf_free(&m);
		return;
	}
	const char *argv[3] = {"SPUBLISH", p->ch, m.data};
	size_t lens[3] = {8, p->chlen, m.len};
	if (vk_command(cluster_vk(p->r->c), NULL, NULL, 3, argv, lens) < 0)
		pd_log(LOG_WARNING, "recovery: sharded publish failed (valkey down)");
	pd_buf_free(&m);
}

/* Delivered locally without an offset when the script failed. */
static void pub_fallback(struct rec_pub *p)
{
	struct adapter_broadcast b;
	char err[128];
	if (adapter_broadcast_decode((const uint8_t *)p->data, p->len, &b, err, sizeof(err)) < 0)
		return;
	struct msg *m = event_msg(p->r->cfg->nsps[p->nsp_idx].name, &b, b.packet.data);
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
		if (p->sdata != NULL)
			pub_shard(p, NULL);
	}
	free(p);
}

/* Sharded: the XADD's id; delivered here with it, then published. */
static void on_xadd_reply(struct vk *v, const redisReply *rep, void *ud)
{
	struct rec_pub *p = ud;
	struct adapter_broadcast b;
	char err[128];
	if (rep == NULL || rep->type != REDIS_REPLY_STRING ||
	    !adapter_offset_valid(rep->str, rep->len) ||
	    adapter_broadcast_decode((const uint8_t *)p->data, p->len, &b, err, sizeof(err)) < 0) {
		on_pub_reply(v, rep != NULL && rep->type == REDIS_REPLY_ERROR ? rep : NULL, p);
		return;
	}
	memcpy(b.offset, rep->str, rep->len + 1);
	pub_shard(p, b.offset);
	on_broadcast(p->r, p->nsp_idx, &b); /* restores in flight see it too */
	adapter_broadcast_clear(&b);
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
	/* sharded: the stream and the room's channel are in different slots */
	const char *xargv[] = {"XADD", sk, "MAXLEN", "~", max, "*", "m", p->data};
	size_t xlens[] = {4, 0, 6, 1, strlen(max), 1, 1, p->len};
	if (pd_keys_recovery_stream(sk, sizeof(sk), cluster_key(r->c),
				    r->cfg->nsps[p->nsp_idx].name) < 0) {
		on_pub_reply(NULL, NULL, p);
		return;
	}
	lens[3] = xlens[1] = strlen(sk);
	int rc = p->sdata != NULL ? vk_command(cluster_vk(r->c), on_xadd_reply, p, 8, xargv, xlens)
				  : vk_command(cluster_vk(r->c), on_pub_reply, p, 7, argv, lens);
	if (rc < 0)
		on_pub_reply(NULL, NULL, p);
}

static int on_publish(void *ud, size_t nsp_idx, const char *ch, size_t chlen, const char *msg,
		      size_t len, const char *smsg, size_t slen)
{
	struct recovery *r = ud;
	if (!cluster_is_up(r->c))
		return -ENOTCONN;
	if (len < 1 || (uint8_t)msg[0] != 0x93)
		return -EINVAL; /* the script turns [uid, packet, opts] into 4 items */
	struct rec_pub *p = malloc(sizeof(*p) + len + chlen + 1 + (smsg != NULL ? slen : 0));
	if (p == NULL)
		return -ENOMEM;
	p->r = r;
	p->nsp_idx = nsp_idx;
	p->len = len;
	p->chlen = chlen;
	p->slen = slen;
	memcpy(p->data, msg, len);
	p->ch = p->data + len;
	memcpy(p->ch, ch, chlen);
	p->ch[chlen] = '\0';
	p->sdata = NULL;
	if (smsg != NULL) {
		p->sdata = p->ch + chlen + 1;
		memcpy(p->sdata, smsg, slen);
	}
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
    .gap = on_gap,
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
	for (size_t i = 0; w->nsps != NULL && i < r->cfg->nnsps; i++)
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

/* Sharded: home stops holding the channels of w's session rooms. */
struct held_release {
	struct recovery *r;
	size_t nsp_idx;
	json_t *rooms;
};

static void hold_rooms(struct recovery *r, size_t nsp_idx, json_t *rooms, int up)
{
	size_t i;
	json_t *v;
	json_array_foreach(rooms, i, v)
		if (json_is_string(v)) {
			const char *name = json_string_value(v);
			cluster_hold_rooms(r->c, nsp_idx, &name, 1, up);
		}
}

static void release_on_home(struct loop *l, void *arg)
{
	struct held_release *h = arg;
	(void)l;
	hold_rooms(h->r, h->nsp_idx, h->rooms, 0);
	json_decref(h->rooms);
	free(h);
}

/* Any loop: after the socket joined (its own watch holds them now). */
static void release_held(struct rec_wait *w)
{
	struct held_release *h;
	if (w->held == NULL)
		return;
	if ((h = malloc(sizeof(*h))) == NULL) {
		pd_log(LOG_ERR, "recovery: out of memory, shard channels stay subscribed");
		return;
	}
	*h = (struct held_release){w->r, w->nsp_idx, w->held};
	w->held = NULL;
	if (loop_post(w->r->home, release_on_home, h) < 0) {
		json_decref(h->rooms);
		free(h);
	}
}

static void wait_free(struct rec_wait *w)
{
	release_held(w);
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
	release_held(w);
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

static int item_cmp(const void *a, const void *b)
{
	return adapter_offset_cmp((*(struct rec_item *const *)a)->b.offset,
				  (*(struct rec_item *const *)b)->b.offset);
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
			if (r->sharded ? adapter_offset_cmp(it->b.offset, w->offset) > 0
				       : adapter_offset_cmp(it->b.offset, last) > 0) {
				atomic_fetch_add(&it->ref, 1);
				w->items[w->nitems++] = it;
				memcpy(last, it->b.offset, sizeof(last));
			}
		}
		/* sharded: live came in arrival order, from before and after the
		 * script: stream order, each once */
		if (r->sharded && w->nitems > 1) {
			qsort(w->items, w->nitems, sizeof(*w->items), item_cmp);
			size_t k = 1;
			for (size_t i = 1; i < w->nitems; i++) {
				if (adapter_offset_cmp(w->items[i]->b.offset, w->items[k - 1]->b.offset) == 0)
					item_unref(w->items[i]);
				else
					w->items[k++] = w->items[i];
			}
			w->nitems = k;
		}
	}
	ilist_clear(&w->live);
	/* on home itself at once: a live event read next must find the socket */
	if (w->loop == r->home)
		restore_on_loop(w->loop, w);
	else if (loop_post(w->loop, restore_on_loop, w) < 0)
		wait_free(w);
}

/* The session and the events after the offset, in one script. */
static void restore_read(void *ud)
{
	struct rec_wait *w = ud;
	struct recovery *r = w->r;
	char sk[PD_KEYS_MAX], kk[PD_KEYS_MAX], count[24];
	snprintf(count, sizeof(count), "%ld", r->max_events + 1);
	const char *argv[] = {"EVAL", lua_restore, "2", kk, sk, w->offset, count};
	if (pd_keys_recovery_session(kk, sizeof(kk), cluster_key(r->c), w->pid) < 0 ||
	    pd_keys_recovery_stream(sk, sizeof(sk), cluster_key(r->c),
				    r->cfg->nsps[w->nsp_idx].name) < 0)
		goto fail;
	if (w->held == NULL) { /* sharded: waiting since the session was read */
		w->next = r->waits;
		r->waits = w;
	}
	if (vk_command(cluster_vk(r->c), on_restore_reply, w, 7, argv, NULL) == 0)
		return;
	for (struct rec_wait **pp = &r->waits; *pp != NULL; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
fail:
	if (loop_post(w->loop, restore_on_loop, w) < 0)
		wait_free(w);
}

/* Sharded: the session's rooms have shard channels this broker may not
 * hold; hold them, and read the stream once they are subscribed, so an
 * event published meanwhile comes either from the stream or live. */
static void on_session_reply(struct vk *v, const redisReply *rep, void *ud)
{
	struct rec_wait *w = ud;
	struct recovery *r = w->r;
	json_t *sess = NULL, *rooms;
	(void)v;
	if (rep != NULL && rep->type == REDIS_REPLY_STRING)
		sess = json_loadb(rep->str, rep->len, 0, NULL);
	rooms = json_object_get(sess, "rooms");
	if (!json_is_array(rooms)) { /* gone: not recovered */
		json_decref(sess);
		if (loop_post(w->loop, restore_on_loop, w) < 0)
			wait_free(w);
		return;
	}
	w->held = json_incref(rooms);
	json_decref(sess);
	hold_rooms(r, w->nsp_idx, w->held, 1);
	w->next = r->waits; /* live events from now on */
	r->waits = w;
	if (cluster_sync(r->c, restore_read, w) < 0)
		restore_read(w);
}

static void restore_on_home(struct loop *l, void *arg)
{
	struct rec_wait *w = arg;
	struct recovery *r = w->r;
	char kk[PD_KEYS_MAX];
	(void)l;
	if (!r->sharded) {
		restore_read(w);
		return;
	}
	const char *argv[] = {"GET", kk};
	if (pd_keys_recovery_session(kk, sizeof(kk), cluster_key(r->c), w->pid) < 0 ||
	    vk_command(cluster_vk(r->c), on_session_reply, w, 2, argv, NULL) < 0)
		on_session_reply(NULL, NULL, w);
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

struct recovery *recovery_new(struct cluster *c, const struct broker *b, long window_ms,
			      long max_events, long grace_ms)
{
	struct recovery *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->c = c;
	r->cfg = b;
	r->home = cluster_home(c);
	r->window_ms = window_ms;
	r->max_events = max_events;
	r->grace_ms = grace_ms < window_ms ? grace_ms : window_ms;
	r->ns = calloc(b->nnsps ? b->nnsps : 1, sizeof(*r->ns));
	r->loops = calloc((size_t)b->nloops, sizeof(*r->loops));
	if (r->ns == NULL || r->loops == NULL) {
		free(r->ns);
		free(r->loops);
		free(r);
		return NULL;
	}
	loop_timer_init(&r->catchup, catchup_fire);
	loop_timer_init(&r->pend, pend_fire);
	for (int i = 0; i < b->nloops; i++) {
		r->loops[i].r = r;
		r->loops[i].loop = &b->loops[i];
		loop_timer_init(&r->loops[i].t, tick);
	}
	r->sharded = cluster_is_sharded(c);
	for (size_t i = 0; r->sharded && i < b->nnsps; i++)
		if (!b->nsps[i].view && /* views offer no recovery */
		    (r->ns[i].recent = calloc(REC_RECENT, sizeof(struct rec_id))) == NULL) {
			recovery_free(r);
			return NULL;
		}
	cluster_set_rec_hooks(c, &rec_hooks, r);
	return r;
}

int recovery_setup(struct cluster *c, struct broker *b, const struct pd_cfg *cfg, char *err,
		   size_t errlen)
{
	long window, max, grace;
	if (pd_emitter_recovery_cfg(cfg, &window, &max, NULL, err, errlen) != 0 ||
	    pd_cfg_get_long(cfg, "recovery_presence_grace", 0, 86400000, &grace, err, errlen) != 0)
		return -1;
	if (window == 0)
		return 0;
	if ((b->recovery = recovery_new(c, b, window, max, grace)) == NULL) {
		snprintf(err, errlen, "connection state recovery: out of memory");
		return -1;
	}
	pd_log(LOG_INFO, "connection state recovery on window_ms=%ld max_events=%ld", window, max);
	return 0;
}

int recovery_start(struct recovery *r)
{
	for (int i = 0; i < r->cfg->nloops; i++)
		if (loop_post(&r->cfg->loops[i], arm_tick, &r->loops[i]) < 0)
			return -ENOMEM;
	return 0;
}

void recovery_free(struct recovery *r)
{
	if (r == NULL)
		return;
	/* the loops stopped: take our timers out of their heaps */
	loop_timer_cancel(r->home, &r->catchup);
	loop_timer_cancel(r->home, &r->pend);
	for (int i = 0; r->loops != NULL && i < r->cfg->nloops; i++)
		loop_timer_cancel(&r->cfg->loops[i], &r->loops[i].t);
	gap_free(r->gap);
	r->gap = NULL;
	for (size_t i = 0; r->ns != NULL && i < r->cfg->nnsps; i++) {
		ilist_clear(&r->ns[i].queue);
		free(r->ns[i].recent);
		free(r->ns[i].gapset);
	}
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
