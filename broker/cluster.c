/* cluster: the broker's side of the Socket.IO Redis adapter protocol over
 * vk (fan-out in and out, the adapter's requests), a liveness lease per
 * broker, and queries across brokers that wait only for live leases.
 * Local state is read on the loop that owns it: a query is posted to
 * every loop and merged on the home loop. */
#include "cluster.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapter.h"
#include "adapter_codec.h"
#include "broker.h"
#include "cluster_int.h"
#include "loop.h"
#include "msg.h"
#include "pd_buf.h"
#include "pd_keys.h"
#include "pd_log.h"
#include "pd_wire.h"
#include "room.h"
#include "sio.h"
#include "vk.h"

struct creq;

struct cluster {
	struct loop *home;
	struct vk *vk;
	char uid[CLUSTER_UID_LEN + 1];
	char key[ADAPTER_MAX_KEY + 1];
	char lease_key[PD_KEYS_MAX];
	char brokers_key[PD_KEYS_MAX];
	long lease_ttl_ms, request_timeout_ms;
	const struct sio_nsp_def *nsps; /* cluster_cfg's */
	struct loop *loops;
	struct worker *workers;
	int nloops;
	struct loop_timer lease_timer;
	atomic_int up;
	atomic_int inflight;
	atomic_int nlive;
	int started, stopped;
	uint64_t next_req;
	struct creq *reqs; /* our pending queries */
	cluster_state_fn state_fn;
	void *state_ud;
	const struct cluster_rec_hooks *rec; /* connection state recovery, NULL = off */
	void *rec_ud;
	/* for the events-per-second figure in the lease */
	uint64_t last_events, last_events_ms;
	double eps;
	/* counters, read by any loop */
	atomic_ullong published, publish_dropped, received, delivered_remote, decode_errors;
	atomic_ullong requests_sent, requests_answered, requests_timed_out;
	atomic_ullong lease_renewals, lease_failures;
	/* per namespace: index of subscription user data */
	struct nsp_sub {
		struct cluster *c;
		size_t idx;
	} *subs;
	size_t nnsps;
	struct csh *sh; /* adapter_mode sharded (cluster_sharded.c); NULL: classic */
};

#define CNT_ADD(c, f) atomic_fetch_add_explicit(&(c)->f, 1, memory_order_relaxed)

/* Work posted between loops holds the cluster: cluster_free leaves the
 * last release to free it (posts still queued run in loop_fini). */
static void c_hold(struct cluster *c)
{
	atomic_fetch_add(&c->inflight, 1);
}

static void c_release(struct cluster *c)
{
	/* the base reference is dropped by cluster_free */
	if (atomic_fetch_sub(&c->inflight, 1) == 1)
		free(c);
}

static const char *nsp_name(const struct cluster *c, size_t i)
{
	return c->nsps[i].name;
}

/* ================= local queries, run on every loop ================= */

/* The part of each loop is adapter_local_part: one selection of sockets
 * (room_select) for delivery, counting and the queries of others. */


struct gather {
	struct loop_each each;
	struct cluster *c;
	struct adapter_query q;
	json_t *arg; /* holds q's strings */
	gather_fn done;
	void *ud;
	int nparts;
	json_t *parts[];
};

static void gather_finish(struct loop *l, struct loop_each *e)
{
	struct gather *g = container_of(e, struct gather, each);
	(void)l;
	json_t *m = adapter_merge(g->q.kind, g->parts, (size_t)g->nparts);
	for (int i = 0; i < g->nparts; i++)
		json_decref(g->parts[i]);
	adapter_query_clear(&g->q);
	json_decref(g->arg);
	struct cluster *c = g->c;
	g->done(c, m, g->ud);
	free(g);
	c_release(c);
}

static void gather_on_loop(struct loop *l, struct loop_each *e)
{
	struct gather *g = container_of(e, struct gather, each);
	if (l->idx >= 0 && l->idx < g->nparts)
		g->parts[l->idx] = adapter_local_part(worker_of(l), &g->q);
}

/* Home loop: run kind on every loop, then done(merged) on home. arg stolen. */
int cluster_gather(struct cluster *c, enum adapter_kind kind, json_t *arg, gather_fn done,
			void *ud)
{
	int n = c->nloops;
	struct gather *g = calloc(1, sizeof(*g) + (size_t)n * sizeof(json_t *));
	if (g == NULL || (g->arg = arg ? arg : json_object()) == NULL ||
	    adapter_query_from_json(&g->q, kind, g->arg, c->nsps, c->nnsps) < 0) {
		if (g != NULL)
			adapter_query_clear(&g->q);
		free(g);
		json_decref(arg);
		return -ENOMEM;
	}
	g->c = c;
	g->done = done;
	g->ud = ud;
	g->nparts = n;
	c_hold(c);
	/* every part posted, home's too: a part may disconnect sockets */
	loop_each(&g->each, c->loops, n, NULL, gather_on_loop, gather_finish, c->home);
	return 0;
}

/* ================= fan-out ================= */

static void on_broadcast(struct vk *v, const char *pattern, const char *ch, size_t chlen,
			 const char *data, size_t len, void *ud)
{
	struct nsp_sub *ns = ud;
	struct cluster *c = ns->c;
	struct pd_str room;
	char err[128];
	(void)v;
	(void)pattern;
	/* the pattern also matches K#N#...# of a namespace whose name starts
	 * with ours followed by '#': check as the adapter does */
	if (adapter_channel_room(c->key, nsp_name(c, ns->idx), ch, chlen, &room) != 1)
		return;
	struct adapter_broadcast b;
	memset(&b, 0, sizeof(b));
	if (adapter_broadcast_decode((const uint8_t *)data, len, &b, err, sizeof(err)) < 0) {
		CNT_ADD(c, decode_errors);
		pd_log(LOG_WARNING, "cluster broadcast refused channel=%.*s err=\"%s\"", (int)chlen, ch,
		       err);
		adapter_broadcast_clear(&b);
		return;
	}
	/* recovery hook: events with a stream offset go in stream order */
	if (c->rec != NULL && b.offset[0] != '\0' && c->rec->broadcast(c->rec_ud, ns->idx, &b) == 1)
		goto out;
	if (strcmp(b.uid, c->uid) == 0)
		goto out; /* our own publish: delivered locally already */
	CNT_ADD(c, received);
	int type = b.packet.type;
	if (type == 5)
		type = 2; /* BINARY_EVENT: sio_msg decides from the attachments */
	if (type != 2 || b.packet.data == NULL)
		goto out;
	struct sio_bin bins[ADAPTER_MAX_ATTACHMENTS];
	for (size_t i = 0; i < b.packet.natt && i < ADAPTER_MAX_ATTACHMENTS; i++) {
		bins[i].p = b.packet.att[i].p;
		bins[i].len = b.packet.att[i].len;
	}
	struct msg *m = sio_msg(2, nsp_name(c, ns->idx), -1, b.packet.data, bins, b.packet.natt);
	if (m == NULL) {
		pd_log(LOG_ERR, "cluster broadcast dropped (out of memory)");
		goto out;
	}
	if (room_emit(worker_of(c->home), ns->idx, (const char *const *)b.rooms.v, b.rooms.n,
		      (const char *const *)b.except.v, b.except.n, m,
		      b.packet.natt == 0 ? b.packet.data : NULL, NULL) == 0)
		CNT_ADD(c, delivered_remote);
	msg_unref(m);
out:
	adapter_broadcast_clear(&b);
}

struct pub {
	struct cluster *c;
	size_t chlen, len;
	char *ch;
	char data[];
};

static void do_publish(struct loop *l, void *arg)
{
	struct pub *p = arg;
	struct cluster *c = p->c;
	(void)l;
	if (!c->stopped && cluster_publish_raw(c, p->ch, p->chlen, p->data, p->len) == 0)
		CNT_ADD(c, published);
	else
		CNT_ADD(c, publish_dropped);
	free(p);
	c_release(c);
}

/* Home loop: PUBLISH, or SPUBLISH in sharded mode (vk routes it to the
 * channel's node). */
int cluster_publish_raw(struct cluster *c, const char *ch, size_t chlen, const char *data,
			size_t len)
{
	if (c->sh != NULL)
		return csh_spublish(c->vk, ch, chlen, data, len);
	return vk_publish(c->vk, ch, chlen, data, len);
}

/* Any loop: publish bytes on channel from home. */
int cluster_publish_bytes(struct cluster *c, const char *ch, size_t chlen, const char *data,
			 size_t len)
{
	if (!atomic_load(&c->up)) {
		CNT_ADD(c, publish_dropped);
		return -ENOTCONN;
	}
	struct pub *p = malloc(sizeof(*p) + len + chlen + 1);
	if (p == NULL)
		return -ENOMEM;
	p->c = c;
	p->len = len;
	p->chlen = chlen;
	memcpy(p->data, data, len);
	p->ch = p->data + len;
	memcpy(p->ch, ch, chlen);
	p->ch[chlen] = '\0';
	c_hold(c);
	if (loop_post(c->home, do_publish, p) < 0) {
		c_release(c);
		free(p);
		return -ENOMEM;
	}
	return 0;
}

int cluster_publish(struct cluster *c, size_t nsp_idx, const json_t *data, const struct sio_bin *bins,
		    size_t nbins, const char *const *rooms, size_t nrooms, const char *const *except,
		    size_t nexcept, int vol)
{
	if (nsp_idx >= c->nnsps || nbins > ADAPTER_MAX_ATTACHMENTS)
		return -EINVAL;
	if (!atomic_load(&c->up)) {
		CNT_ADD(c, publish_dropped);
		return -ENOTCONN;
	}
	struct adapter_bin att[ADAPTER_MAX_ATTACHMENTS];
	for (size_t i = 0; i < nbins; i++) {
		att[i].p = (uint8_t *)bins[i].p; /* the encoder only reads */
		att[i].len = bins[i].len;
	}
	struct adapter_flags flags = ADAPTER_FLAGS_NONE;
	if (vol)
		flags.vol = 1;
	struct adapter_emit e = {
	    .uid = c->uid,
	    .type = 2,
	    .nsp = nsp_name(c, nsp_idx),
	    .id = -1,
	    .data = data,
	    .att = att,
	    .natt = nbins,
	    .rooms = rooms,
	    .nrooms = nrooms,
	    .except = except,
	    .nexcept = nexcept,
	    .flags = &flags,
	};
	if (c->sh != NULL) /* adapter_mode sharded */
		return csh_publish(c->sh, nsp_idx, &e);
	struct pd_buf msg, ch;
	pd_buf_init(&msg, ADAPTER_MAX_MSG);
	pd_buf_init(&ch, 0);
	/* one room: the adapter's room channel, so that servers without that
	 * room may skip decoding */
	int rc = adapter_broadcast_encode(&msg, &e);
	if (rc == 0)
		rc = pd_wire_channel_broadcast(&ch, c->key, nsp_name(c, nsp_idx),
					       nrooms == 1 ? rooms[0] : NULL);
	if (rc == 0 && c->rec != NULL)
		rc = c->rec->publish(c->rec_ud, nsp_idx, ch.data, ch.len, msg.data, msg.len, NULL, 0);
	else if (rc == 0)
		rc = cluster_publish_bytes(c, ch.data, ch.len, msg.data, msg.len);
	else
		pd_log(LOG_WARNING, "cluster publish encode failed err=%s", strerror(-rc));
	pd_buf_free(&msg);
	pd_buf_free(&ch);
	return rc;
}

int cluster_emit(struct cluster *c, struct loop *from, size_t nsp_idx, const char *const *rooms,
		 size_t nrooms, const char *const *except, size_t nexcept, const char *event,
		 const json_t *payload)
{
	if (nsp_idx >= c->nnsps)
		return -EINVAL;
	json_t *data = json_array();
	if (data == NULL || json_array_append_new(data, json_string(event)) < 0 ||
	    (payload != NULL && json_array_append(data, (json_t *)payload) < 0)) {
		json_decref(data);
		return -ENOMEM;
	}
	int rc = 0, prc = 0;
	/* with recovery the local copy comes back from Valkey with its offset,
	 * in stream order; without (or when publishing failed) it goes now */
	if (c->rec != NULL)
		prc = cluster_publish(c, nsp_idx, data, NULL, 0, rooms, nrooms, except, nexcept, 0);
	if (c->rec == NULL || prc < 0) {
		struct msg *m = sio_msg(2, nsp_name(c, nsp_idx), -1, data, NULL, 0);
		rc = -ENOMEM;
		if (m != NULL) {
			rc = room_emit(worker_of(from), nsp_idx, rooms, nrooms, except, nexcept, m,
				       data, NULL);
			msg_unref(m);
		}
	}
	if (c->rec == NULL)
		prc = cluster_publish(c, nsp_idx, data, NULL, 0, rooms, nrooms, except, nexcept, 0);
	json_decref(data);
	return rc < 0 ? rc : (prc == -ENOTCONN ? 0 : prc);
}

/* ================= requests: answering ================= */

struct answer {
	struct cluster *c;
	size_t nsp_idx;
	int type; /* adapter request type */
	char request_id[ADAPTER_MAX_UID + 1];
	char requester[ADAPTER_MAX_UID + 1];
};

static void send_response(struct cluster *c, size_t nsp_idx, const char *to_uid,
			  const struct adapter_response *r)
{
	struct pd_buf out, ch;
	pd_buf_init(&out, ADAPTER_MAX_MSG);
	pd_buf_init(&ch, 0);
	int rc = adapter_response_encode(&out, r);
	if (rc == 0)
		rc = pd_wire_channel_response(&ch, c->key, nsp_name(c, nsp_idx), to_uid);
	if (rc == 0)
		rc = cluster_publish_bytes(c, ch.data, ch.len, out.data, out.len);
	if (rc < 0 && rc != -ENOTCONN)
		pd_log(LOG_WARNING, "cluster response failed request=%s err=%s", r->request_id,
		       strerror(-rc));
	pd_buf_free(&out);
	pd_buf_free(&ch);
}

static void answer_done(struct cluster *c, json_t *merged, void *ud)
{
	struct answer *a = ud;
	struct adapter_response r;
	adapter_response_init(&r);
	r.type = -1;
	snprintf(r.request_id, sizeof(r.request_id), "%s", a->request_id);
	const char *to = NULL; /* the shared response channel: every adapter version reads it */
	json_t *wrap = NULL;
	switch (a->type) {
	case ADAPTER_SOCKETS:
		r.sockets = merged;
		break;
	case ADAPTER_REMOTE_FETCH:
		r.sockets = merged;
		break;
	case ADAPTER_ALL_ROOMS: {
		size_t n = json_array_size(merged);
		r.has_rooms = 1;
		r.rooms.v = calloc(n ? n : 1, sizeof(char *));
		for (size_t i = 0; r.rooms.v != NULL && i < n; i++)
			r.rooms.v[r.rooms.n++] = strdup(json_string_value(json_array_get(merged, i)));
		break;
	}
	case ADAPTER_SERVER_SIDE_EMIT:
		r.type = ADAPTER_SERVER_SIDE_EMIT;
		wrap = pd_wire_answer_data(c->uid, merged);
		r.data = wrap;
		to = a->requester; /* ours: pushdesk brokers read their own channel */
		break;
	case ADAPTER_BROADCAST:
		r.type = ADAPTER_BROADCAST_CLIENT_COUNT;
		r.client_count = 0; /* delivered without acks: none to wait for */
		break;
	default: /* REMOTE_JOIN / LEAVE / DISCONNECT: {requestId} */
		break;
	}
	if (a->request_id[0] != '\0' && !c->stopped)
		send_response(c, a->nsp_idx, to, &r);
	if (a->type == ADAPTER_ALL_ROOMS) {
		for (size_t i = 0; i < r.rooms.n; i++)
			free(r.rooms.v[i]);
		free(r.rooms.v);
	}
	json_decref(wrap);
	json_decref(merged);
	CNT_ADD(c, requests_answered);
	free(a);
}

static json_t *rooms_to_json(const struct adapter_rooms *r)
{
	json_t *a = json_array();
	for (size_t i = 0; i < r->n; i++)
		json_array_append_new(a, json_string(r->v[i]));
	return a;
}

static void on_request(struct vk *v, const char *pattern, const char *ch, size_t chlen,
		       const char *data, size_t len, void *ud)
{
	struct nsp_sub *ns = ud;
	struct cluster *c = ns->c;
	struct adapter_request q;
	char err[128];
	(void)v;
	(void)pattern;
	(void)ch;
	(void)chlen;
	adapter_request_init(&q);
	if (adapter_request_decode((const uint8_t *)data, len, &q, err, sizeof(err)) < 0) {
		CNT_ADD(c, decode_errors);
		pd_log(LOG_DEBUG, "cluster request ignored err=\"%s\"", err);
		adapter_request_clear(&q);
		return;
	}
	if (strcmp(q.uid, c->uid) == 0)
		goto out;
	const char *nsp = nsp_name(c, ns->idx);
	int kind = -1;
	json_t *arg = json_pack("{s:s}", "nsp", nsp);
	switch (q.type) {
	case ADAPTER_SOCKETS:
		kind = AK_SOCKETS;
		json_object_set_new(arg, "rooms", rooms_to_json(&q.rooms));
		break;
	case ADAPTER_ALL_ROOMS:
		kind = AK_ALL_ROOMS;
		break;
	case ADAPTER_REMOTE_JOIN:
	case ADAPTER_REMOTE_LEAVE:
	case ADAPTER_REMOTE_DISCONNECT:
		kind = q.type == ADAPTER_REMOTE_JOIN ? AK_JOIN
		       : q.type == ADAPTER_REMOTE_LEAVE ? AK_LEAVE
							: AK_DISCONNECT;
		if (q.has_opts) {
			json_object_set_new(arg, "rooms", rooms_to_json(&q.opt_rooms));
			json_object_set_new(arg, "except", rooms_to_json(&q.opt_except));
			json_object_set_new(arg, "targets", rooms_to_json(&q.rooms));
		} else {
			json_object_set_new(arg, "rooms", json_pack("[s]", q.sid));
			json_object_set_new(arg, "targets", json_pack("[s]", q.room));
		}
		json_object_set_new(arg, "close", json_boolean(q.close));
		break;
	case ADAPTER_REMOTE_FETCH:
		kind = AK_FETCH;
		json_object_set_new(arg, "rooms", rooms_to_json(&q.opt_rooms));
		json_object_set_new(arg, "except", rooms_to_json(&q.opt_except));
		break;
	case ADAPTER_SERVER_SIDE_EMIT: {
		/* ours: ["pushdesk:request", kind, arg]; anything else belongs to
		 * Node servers' serverSideEmit listeners, which we do not have */
		const json_t *a;
		const char *k = pd_wire_query_kind(q.data, &a);
		if (k == NULL || q.request_id[0] == '\0' || q.uid[0] == '\0')
			break;
		kind = adapter_kind_find(k, 1);
		if (a != NULL) {
			json_decref(arg);
			arg = json_deep_copy(a);
		}
		break;
	}
	case ADAPTER_BROADCAST: {
		/* deliver like a broadcast; acks are not collected (clientCount 0) */
		if (q.packet.data != NULL && (q.packet.type == 2 || q.packet.type == 5)) {
			struct sio_bin bins[ADAPTER_MAX_ATTACHMENTS];
			for (size_t i = 0; i < q.packet.natt && i < ADAPTER_MAX_ATTACHMENTS; i++) {
				bins[i].p = q.packet.att[i].p;
				bins[i].len = q.packet.att[i].len;
			}
			struct msg *m = sio_msg(2, nsp, -1, q.packet.data, bins, q.packet.natt);
			if (m != NULL) {
				room_emit(worker_of(c->home), ns->idx,
					  (const char *const *)q.opt_rooms.v, q.opt_rooms.n,
					  (const char *const *)q.opt_except.v, q.opt_except.n, m,
					  q.packet.natt == 0 ? q.packet.data : NULL, NULL);
				msg_unref(m);
			}
		}
		kind = AK_COUNT;
		break;
	}
	default:
		break;
	}
	if (kind < 0 || arg == NULL) {
		json_decref(arg);
		goto out;
	}
	struct answer *a = calloc(1, sizeof(*a));
	if (a == NULL) {
		json_decref(arg);
		goto out;
	}
	a->c = c;
	a->nsp_idx = ns->idx;
	a->type = q.type;
	snprintf(a->request_id, sizeof(a->request_id), "%s", q.request_id);
	snprintf(a->requester, sizeof(a->requester), "%s", q.uid);
	if (cluster_gather(c, (enum adapter_kind)kind, arg, answer_done, a) < 0)
		free(a);
out:
	adapter_request_clear(&q);
}

/* ================= requests: asking ================= */

struct creq {
	struct creq *next;
	struct cluster *c;
	char id[48];
	char kind[32];
	json_t *arg;
	json_t *results;
	char **expect; /* uids still awaited */
	size_t nexpect;
	int local_done, asked, degraded, finished, checking;
	int refs; /* the pending list, the local gather */
	uint64_t deadline;
	struct loop_timer timer;
	struct loop *reply_on;
	cluster_reply_fn fn;
	void *ud;
};

struct creq_reply {
	cluster_reply_fn fn;
	json_t *results;
	int missing;
	void *ud;
};

static void run_reply(struct loop *l, void *p)
{
	struct creq_reply *r = p;
	(void)l;
	r->fn(r->results, r->missing, r->ud);
	free(r);
}

static void creq_unref(void *p)
{
	struct creq *q = p;
	if (--q->refs > 0)
		return;
	for (size_t i = 0; i < q->nexpect; i++)
		free(q->expect[i]);
	free(q->expect);
	json_decref(q->arg);
	json_decref(q->results);
	free(q);
}

static void creq_finish(struct creq *q, int timed_out)
{
	struct cluster *c = q->c;
	if (q->finished)
		return;
	q->finished = 1;
	loop_timer_cancel(c->home, &q->timer);
	for (struct creq **pp = &c->reqs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == q) {
			*pp = q->next;
			break;
		}
	if (timed_out) {
		CNT_ADD(c, requests_timed_out);
		pd_log(LOG_INFO, "cluster query incomplete kind=%s request=%s missing=%zu", q->kind,
		       q->id, q->nexpect);
	}
	struct creq_reply *r = malloc(sizeof(*r));
	if (r != NULL) {
		r->fn = q->fn;
		r->results = q->results;
		r->missing = q->degraded ? -1 : (int)q->nexpect;
		r->ud = q->ud;
		q->results = NULL;
		if (q->reply_on == c->home)
			run_reply(c->home, r);
		else if (loop_post(q->reply_on, run_reply, r) < 0) {
			json_decref(r->results);
			free(r);
		}
	}
	/* the query may be in a hiredis callback's hands: free at turn end */
	loop_defer_free(c->home, creq_unref, q);
}

static void creq_maybe_done(struct creq *q)
{
	if (q->local_done && q->asked && q->nexpect == 0)
		creq_finish(q, 0);
}

static void creq_drop_expect(struct creq *q, size_t i)
{
	free(q->expect[i]);
	q->expect[i] = q->expect[--q->nexpect];
}

static void creq_local_done(struct cluster *c, json_t *merged, void *ud)
{
	struct creq *q = ud;
	if (q->finished) {
		json_decref(merged);
	} else {
		json_t *one = pd_wire_answer_data(c->uid, merged);
		json_decref(merged);
		if (one != NULL)
			json_array_insert_new(q->results, 0, one);
		q->local_done = 1;
		creq_maybe_done(q);
	}
	creq_unref(q);
}

static int result_is(const json_t *results, size_t k, const char *uid)
{
	const char *u = pd_wire_answer_uid(json_array_get(results, k), NULL);
	return u != NULL && strcmp(u, uid) == 0;
}

static struct creq *creq_find(struct cluster *c, const char *id)
{
	for (struct creq *q = c->reqs; q != NULL; q = q->next)
		if (strcmp(q->id, id) == 0)
			return q;
	return NULL;
}

static struct cluster *token_cluster(const char *t)
{
	struct cluster *c;
	memcpy(&c, t + strlen(t) + 1, sizeof(c)); /* may be unaligned */
	return c;
}

/* Replies of pd_keys_lua_live: the uids whose lease is live now. */
static int reply_has(const redisReply *r, const char *uid)
{
	for (size_t i = 0; i < r->elements; i++)
		if (r->element[i]->type == REDIS_REPLY_STRING && strcmp(r->element[i]->str, uid) == 0)
			return 1;
	return 0;
}

static void on_recheck_reply(struct vk *v, const redisReply *r, void *ud)
{
	char *id = ud;
	struct cluster *cl = token_cluster(id);
	struct creq *q = creq_find(cl, id);
	(void)v;
	free(id);
	if (q == NULL)
		return;
	q->checking = 0;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY)
		return;
	for (size_t i = 0; i < q->nexpect;) {
		if (!reply_has(r, q->expect[i])) {
			pd_log(LOG_INFO, "cluster query stops waiting for a dead broker uid=%s request=%s",
			       q->expect[i], q->id);
			creq_drop_expect(q, i);
		} else {
			i++;
		}
	}
	creq_maybe_done(q);
}

/* A copy of the request id, followed by the cluster pointer, to find the
 * query again from a Valkey reply without holding a pointer to it. */
static char *id_token(struct cluster *c, const char *id)
{
	size_t n = strlen(id);
	char *t = malloc(n + 1 + sizeof(c));
	if (t != NULL) {
		memcpy(t, id, n + 1);
		memcpy(t + n + 1, &c, sizeof(c));
	}
	return t;
}

static void creq_on_timer(struct loop_timer *t)
{
	struct creq *q = container_of(t, struct creq, timer);
	struct cluster *c = q->c;
	if (c->home->now >= q->deadline) {
		creq_finish(q, 1);
		return;
	}
	if (q->asked && q->nexpect > 0 && !q->checking && vk_is_up(c->vk)) {
		char *tok = id_token(c, q->id);
		const char *argv[4] = {"EVAL", pd_keys_lua_live, "1", c->brokers_key};
		if (tok != NULL && vk_command(c->vk, on_recheck_reply, tok, 4, argv, NULL) == 0)
			q->checking = 1;
		else
			free(tok);
	}
	uint64_t next = c->home->now + CLUSTER_RECHECK_MS;
	loop_timer_set(c->home, t, next < q->deadline ? next : q->deadline);
}

static void on_live_reply(struct vk *v, const redisReply *r, void *ud)
{
	char *id = ud;
	struct cluster *c = token_cluster(id);
	struct creq *q = creq_find(c, id);
	(void)v;
	free(id);
	if (q == NULL)
		return;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		pd_log(LOG_WARNING, "cluster query: live brokers unknown request=%s err=%s", q->id,
		       r && r->type == REDIS_REPLY_ERROR ? r->str : "no reply");
		q->degraded = 1;
		q->asked = 1;
		creq_maybe_done(q);
		return;
	}
	/* responses that came before this reply are already in results */
	for (size_t i = 0; i < r->elements; i++) {
		const redisReply *e = r->element[i];
		if (e->type != REDIS_REPLY_STRING || strcmp(e->str, c->uid) == 0)
			continue;
		int got = 0;
		for (size_t k = 0; k < json_array_size(q->results); k++)
			if (result_is(q->results, k, e->str))
				got = 1;
		if (got)
			continue;
		char **ne = realloc(q->expect, (q->nexpect + 1) * sizeof(*ne));
		if (ne == NULL)
			continue;
		q->expect = ne;
		if ((q->expect[q->nexpect] = strdup(e->str)) != NULL)
			q->nexpect++;
	}
	q->asked = 1;
	creq_maybe_done(q);
}

struct creq_start {
	struct cluster *c;
	char kind[32];
	json_t *arg;
	struct loop *reply_on;
	cluster_reply_fn fn;
	void *ud;
};

static void creq_begin(struct loop *l, void *p)
{
	struct creq_start *s = p;
	struct cluster *c = s->c;
	(void)l;
	struct creq *q = c->stopped ? NULL : calloc(1, sizeof(*q));
	c_release(c); /* held by cluster_request */
	if (q == NULL || (q->results = json_array()) == NULL) {
		free(q);
		struct creq_reply *r = malloc(sizeof(*r));
		json_decref(s->arg);
		if (r != NULL) {
			*r = (struct creq_reply){s->fn, json_array(), -1, s->ud};
			if (loop_post(s->reply_on, run_reply, r) < 0)
				free(r);
		}
		free(s);
		return;
	}
	q->c = c;
	snprintf(q->kind, sizeof(q->kind), "%s", s->kind);
	q->arg = s->arg;
	q->reply_on = s->reply_on;
	q->fn = s->fn;
	q->ud = s->ud;
	free(s);
	snprintf(q->id, sizeof(q->id), "%s-%llu", c->uid, (unsigned long long)++c->next_req);
	q->deadline = c->home->now + (uint64_t)c->request_timeout_ms;
	loop_timer_init(&q->timer, creq_on_timer);
	q->next = c->reqs;
	c->reqs = q;
	CNT_ADD(c, requests_sent);

	/* ask the others first: the local part runs meanwhile */
	int asked = 0;
	if (vk_is_up(c->vk) && !c->stopped) {
		struct pd_buf out, ch;
		pd_buf_init(&out, ADAPTER_MAX_MSG);
		pd_buf_init(&ch, 0);
		char *tok = id_token(c, q->id);
		const char *argv[4] = {"EVAL", pd_keys_lua_live, "1", c->brokers_key};
		if (tok != NULL &&
		    (c->sh != NULL ? csh_query_encode(c->sh, &out, &ch, q->id, q->kind, q->arg)
				   : pd_wire_query_encode(&out, c->uid, q->id, q->kind, q->arg) ||
					     pd_wire_channel_request(&ch, c->key, nsp_name(c, 0))) == 0 &&
		    vk_command(c->vk, on_live_reply, tok, 4, argv, NULL) == 0) {
			tok = NULL;
			if (cluster_publish_raw(c, ch.data, ch.len, out.data, out.len) == 0)
				asked = 1;
		}
		free(tok);
		pd_buf_free(&out);
		pd_buf_free(&ch);
	}
	if (!asked) {
		q->degraded = 1;
		q->asked = 1;
	}
	loop_timer_set(c->home, &q->timer,
		       c->home->now + (CLUSTER_RECHECK_MS < c->request_timeout_ms
					   ? CLUSTER_RECHECK_MS
					   : (uint64_t)c->request_timeout_ms));
	q->refs = 2;
	if (cluster_gather(c, (enum adapter_kind)adapter_kind_find(q->kind, 1), json_deep_copy(q->arg),
			 creq_local_done, q) < 0) {
		q->refs = 1;
		q->local_done = 1;
	}
	creq_maybe_done(q);
}

int cluster_request(struct cluster *c, struct loop *reply_on, const struct adapter_query *q,
		    cluster_reply_fn fn, void *ud)
{
	if (q->kind > AK_STATS || (q->kind != AK_STATS && q->nsp_idx >= c->nnsps))
		return -EINVAL; /* not on pushdesk's wire */
	/* the wire's argument, which also holds the strings of the local part */
	json_t *arg = q->kind == AK_STATS ? json_object()
					  : adapter_query_to_json(q, c->nsps, c->nnsps);
	struct creq_start *s = arg != NULL ? calloc(1, sizeof(*s)) : NULL;
	if (s == NULL) {
		json_decref(arg);
		return -ENOMEM;
	}
	s->c = c;
	snprintf(s->kind, sizeof(s->kind), "%s", adapter_kind_names[q->kind]);
	s->arg = arg;
	s->reply_on = reply_on;
	s->fn = fn;
	s->ud = ud;
	c_hold(c);
	if (loop_post(c->home, creq_begin, s) < 0) {
		c_release(c);
		json_decref(s->arg);
		free(s);
		return -ENOMEM;
	}
	return 0;
}

static void on_response(struct vk *v, const char *pattern, const char *ch, size_t chlen,
			const char *data, size_t len, void *ud)
{
	struct nsp_sub *ns = ud;
	struct cluster *c = ns->c;
	char request_id[PD_WIRE_MAX_UID + 1];
	json_t *answer;
	(void)v;
	(void)pattern;
	(void)ch;
	(void)chlen;
	if (c->reqs == NULL || pd_wire_answer_decode(data, len, request_id, &answer) != 0)
		return;
	cluster_answer_in(c, request_id, answer);
	json_decref(answer);
}

void cluster_answer_in(struct cluster *c, const char *request_id, json_t *answer)
{
	struct creq *q = creq_find(c, request_id);
	const char *uid = pd_wire_answer_uid(answer, NULL);
	if (q == NULL || q->finished)
		goto out;
	for (size_t k = 0; k < json_array_size(q->results); k++)
		if (result_is(q->results, k, uid))
			goto out; /* a duplicate */
	json_array_append(q->results, answer);
	for (size_t i = 0; i < q->nexpect; i++)
		if (strcmp(q->expect[i], uid) == 0) {
			creq_drop_expect(q, i);
			break;
		}
	creq_maybe_done(q);
out:;
}

/* ================= lease ================= */

static void lease_value(struct cluster *c, struct pd_buf *out)
{
	uint64_t conns = 0, sockets = 0, rooms = 0, ein = 0, eout = 0;
	for (int i = 0; i < c->nloops; i++) {
		struct worker *w = &c->workers[i];
		conns += METRIC_GET(w, conn_ws) + METRIC_GET(w, conn_polling);
		sockets += METRIC_GET(w, sockets);
		rooms += METRIC_GET(w, rooms);
		ein += METRIC_GET(w, events_in);
		eout += METRIC_GET(w, events_out);
	}
	uint64_t now = loop_clock_ms();
	if (c->last_events_ms != 0 && now > c->last_events_ms)
		c->eps = (double)(ein + eout - c->last_events) * 1000.0 /
			 (double)(now - c->last_events_ms);
	c->last_events = ein + eout;
	c->last_events_ms = now;
	char host[128] = "";
	gethostname(host, sizeof(host) - 1);
	json_t *o = json_pack("{s:s, s:s, s:i, s:I, s:I, s:I, s:I, s:I, s:f}", "uid", c->uid, "host",
			      host, "pid", (int)getpid(), "connections", (json_int_t)conns, "sockets",
			      (json_int_t)sockets, "rooms", (json_int_t)rooms, "events_in",
			      (json_int_t)ein, "events_out", (json_int_t)eout, "eps", c->eps);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	pd_buf_append_str(out, s ? s : "{}");
	free(s);
	json_decref(o);
}

static void on_lease_reply(struct vk *v, const redisReply *r, void *ud)
{
	struct cluster *c = ud;
	(void)v;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		CNT_ADD(c, lease_failures);
		if (r != NULL && r->type == REDIS_REPLY_ERROR)
			pd_log(LOG_ERR, "cluster lease renewal failed err=\"%s\"", r->str);
		/* a cluster that refuses commands may have refused publishes
		 * whose stream entries were written: read the gap when it heals */
		if (c->sh != NULL && r != NULL && r->type == REDIS_REPLY_ERROR &&
		    strncmp(r->str, "CLUSTERDOWN", 11) == 0)
			csh_doubt(c->sh);
		return;
	}
	CNT_ADD(c, lease_renewals);
	atomic_store(&c->nlive, (int)r->elements);
}

static void lease_renew(struct cluster *c)
{
	struct pd_buf val;
	pd_buf_init(&val, 0);
	lease_value(c, &val);
	char ttl[24];
	snprintf(ttl, sizeof(ttl), "%ld", c->lease_ttl_ms);
	const char *argv[8] = {"EVAL", pd_keys_lua_lease, "2", c->lease_key, c->brokers_key,
			       c->uid, ttl, val.data ? val.data : "{}"};
	if (vk_command(c->vk, on_lease_reply, c, 8, argv, NULL) < 0)
		CNT_ADD(c, lease_failures);
	pd_buf_free(&val);
}

static void on_lease_timer(struct loop_timer *t)
{
	struct cluster *c = container_of(t, struct cluster, lease_timer);
	if (c->stopped)
		return;
	if (vk_is_up(c->vk))
		lease_renew(c);
	long every = c->lease_ttl_ms / 3;
	loop_timer_set(c->home, t, c->home->now + (uint64_t)(every > 100 ? every : 100));
}

static void on_vk_state(struct vk *v, int up, void *ud)
{
	struct cluster *c = ud;
	(void)v;
	atomic_store(&c->up, up);
	if (c->sh != NULL)
		csh_state(c->sh, up);
	if (up) {
		lease_renew(c);
	} else {
		atomic_store(&c->nlive, 0);
	}
	if (c->state_fn != NULL)
		c->state_fn(c, up, c->state_ud);
	if (c->rec != NULL) /* recovery hook: catch up on the stream */
		c->rec->state(c->rec_ud, up);
}

/* ================= life ================= */

struct cluster *cluster_new(struct loop *home, const struct cluster_cfg *cfg, char *err,
			    size_t errlen)
{
	const char *key = cfg->key && cfg->key[0] ? cfg->key : ADAPTER_DEFAULT_KEY;
	if (strlen(key) > ADAPTER_MAX_KEY) {
		snprintf(err, errlen, "adapter_key longer than %d bytes", ADAPTER_MAX_KEY);
		return NULL;
	}
	if (cfg->nnsps == 0 || cfg->nloops <= 0) {
		snprintf(err, errlen, "cluster: no namespaces");
		return NULL;
	}
	struct cluster *c = calloc(1, sizeof(*c));
	if (c == NULL || (c->subs = calloc(cfg->nnsps, sizeof(*c->subs))) == NULL) {
		free(c);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->home = home;
	atomic_init(&c->inflight, 1);
	c->nnsps = cfg->nnsps;
	c->nsps = cfg->nsps;
	c->loops = cfg->loops;
	c->workers = cfg->workers;
	c->nloops = cfg->nloops;
	for (size_t i = 0; i < c->nnsps; i++) {
		c->subs[i].c = c;
		c->subs[i].idx = i;
	}
	snprintf(c->key, sizeof(c->key), "%s", key);
	/* like the adapter's uid2(6), longer: unique among restarts */
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	for (int i = 0; i < CLUSTER_UID_LEN; i++)
		c->uid[i] = abc[arc4random_uniform(sizeof(abc) - 1)];
	c->uid[CLUSTER_UID_LEN] = '\0';
	/* they fit: key is at most ADAPTER_MAX_KEY bytes, checked above */
	pd_keys_broker(c->lease_key, sizeof(c->lease_key), c->key, c->uid);
	pd_keys_brokers(c->brokers_key, sizeof(c->brokers_key), c->key);
	c->lease_ttl_ms = cfg->lease_ttl_ms > 0 ? cfg->lease_ttl_ms : 10000;
	c->request_timeout_ms = cfg->request_timeout_ms > 0 ? cfg->request_timeout_ms : 5000;
	long cto = cfg->command_timeout_ms > 0 ? cfg->command_timeout_ms : c->request_timeout_ms;
	c->vk = vk_new(home, cfg->valkey_url, cto, err, errlen);
	if (c->vk == NULL) {
		free(c->subs);
		free(c);
		return NULL;
	}
	if (cfg->sharded && (c->sh = csh_new(c, cfg)) == NULL) {
		vk_free(c->vk);
		free(c->subs);
		free(c);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	vk_set_state_cb(c->vk, on_vk_state, c);
	loop_timer_init(&c->lease_timer, on_lease_timer);
	return c;
}

int cluster_start(struct cluster *c)
{
	struct pd_buf ch;
	pd_buf_init(&ch, 0);
	int rc = 0;
	if (c->sh != NULL) /* sharded: csh's channels instead of these */
		rc = csh_start(c->sh);
	for (size_t i = 0; c->sh == NULL && i < c->nnsps && rc == 0; i++) {
		const char *nsp = nsp_name(c, i);
		if (c->nsps[i].view)
			continue; /* fed by "/" (room.c): no channels of its own */
		pd_buf_reset(&ch);
		rc = pd_wire_channel_pattern(&ch, c->key, nsp);
		if (rc == 0)
			rc = vk_subscribe(c->vk, ch.data, 1, on_broadcast, &c->subs[i]);
		pd_buf_reset(&ch);
		if (rc == 0)
			rc = pd_wire_channel_request(&ch, c->key, nsp);
		if (rc == 0)
			rc = vk_subscribe(c->vk, ch.data, 0, on_request, &c->subs[i]);
		pd_buf_reset(&ch);
		if (rc == 0)
			rc = pd_wire_channel_response(&ch, c->key, nsp, c->uid);
		if (rc == 0)
			rc = vk_subscribe(c->vk, ch.data, 0, on_response, &c->subs[i]);
	}
	pd_buf_free(&ch);
	if (rc < 0)
		return rc;
	c->started = 1;
	pd_log(LOG_NOTICE, "cluster starting uid=%s key=%s valkey=%s lease_ttl_ms=%ld", c->uid,
	       c->key, vk_addr(c->vk), c->lease_ttl_ms);
	loop_timer_set(c->home, &c->lease_timer, loop_clock_ms() + (uint64_t)c->lease_ttl_ms / 3);
	return vk_start(c->vk);
}

void cluster_stop(struct cluster *c)
{
	if (c == NULL || c->stopped)
		return;
	if (vk_is_up(c->vk)) {
		const char *del[2] = {"DEL", c->lease_key};
		const char *zrem[3] = {"ZREM", c->brokers_key, c->uid};
		vk_command(c->vk, NULL, NULL, 2, del, NULL);
		vk_command(c->vk, NULL, NULL, 3, zrem, NULL);
	}
	c->stopped = 1;
	atomic_store(&c->up, 0);
	loop_timer_cancel(c->home, &c->lease_timer);
	pd_log(LOG_NOTICE, "cluster leaving uid=%s", c->uid);
}

void cluster_free(struct cluster *c)
{
	if (c == NULL)
		return;
	c->stopped = 1;
	atomic_store(&c->up, 0);
	loop_timer_cancel(c->home, &c->lease_timer);
	while (c->reqs != NULL) {
		struct creq *q = c->reqs;
		q->local_done = 1;
		creq_finish(q, 1);
	}
	vk_free(c->vk);
	c->vk = NULL;
	csh_free(c->sh); /* after vk: a pending command may still name it */
	c->sh = NULL;
	free(c->subs);
	c->subs = NULL;
	c_release(c);
}

const char *cluster_uid(const struct cluster *c)
{
	return c->uid;
}

const char *cluster_key(const struct cluster *c)
{
	return c->key;
}

struct vk *cluster_vk(struct cluster *c)
{
	return c->vk;
}

struct loop *cluster_home(const struct cluster *c)
{
	return c->home;
}

int cluster_is_up(const struct cluster *c)
{
	return atomic_load(&c->up);
}

int cluster_server_count(const struct cluster *c)
{
	return atomic_load(&c->nlive);
}

void cluster_set_rec_hooks(struct cluster *c, const struct cluster_rec_hooks *h, void *ud)
{
	c->rec = h;
	c->rec_ud = ud;
}

void cluster_set_state_hook(struct cluster *c, cluster_state_fn fn, void *ud)
{
	c->state_fn = fn;
	c->state_ud = ud;
}

void cluster_hold(struct cluster *c)
{
	c_hold(c);
}

void cluster_release(struct cluster *c)
{
	c_release(c);
}

struct csh *cluster_sharded(const struct cluster *c)
{
	return c->sh;
}

const struct cluster_rec_hooks *cluster_rec(const struct cluster *c, void **ud)
{
	*ud = c->rec_ud;
	return c->rec;
}

int cluster_is_sharded(const struct cluster *c)
{
	return c->sh != NULL;
}

void cluster_hold_rooms(struct cluster *c, size_t nsp_idx, const char *const *rooms, size_t n,
			int up)
{
	for (size_t i = 0; c->sh != NULL && i < n; i++)
		csh_watch(c->sh, nsp_idx, rooms[i], up);
}

int cluster_sync(struct cluster *c, void (*fn)(void *ud), void *ud)
{
	if (c->sh != NULL)
		return csh_sync(c->sh, fn, ud);
	fn(ud);
	return 0;
}

void cluster_count(struct cluster *c, int what)
{
	if (what == CLUSTER_COUNT_RECEIVED)
		CNT_ADD(c, received);
	else if (what == CLUSTER_COUNT_DELIVERED)
		CNT_ADD(c, delivered_remote);
	else
		CNT_ADD(c, decode_errors);
}

void cluster_get_stats(const struct cluster *c, struct cluster_stats *o)
{
#define G(f) o->f = atomic_load_explicit(&c->f, memory_order_relaxed)
	G(published);
	G(publish_dropped);
	G(received);
	G(delivered_remote);
	G(decode_errors);
	G(requests_sent);
	G(requests_answered);
	G(requests_timed_out);
	G(lease_renewals);
	G(lease_failures);
#undef G
}

uint64_t cluster_sh_gap_pending(const struct cluster *c)
{
	return c->sh != NULL ? csh_gap_pending(c->sh) : 0;
}
