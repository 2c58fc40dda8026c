/* cluster_sharded: adapter_mode sharded, the cluster's second wire. As
 * @socket.io/redis-adapter's createShardedAdapter in "dynamic" mode:
 *
 * - every broker SSUBSCRIBEs K#NSP# (broadcasts to several rooms or the
 *   namespace, and requests) and K#NSP#UID# (responses to it), and a
 *   public room's own channel K#NSP#ROOM# while it has a local member in
 *   that room: room.c tells each loop's first join and last leave
 *   (the broker's room_watch); home counts the loops per room, subscribes on
 *   0 -> 1 and unsubscribes on 1 -> 0. Sockets' own ids are no rooms in
 *   room.c, so they never get a channel, as the adapter decides.
 * - publishes with SPUBLISH: one room (not a socket id, no ack) on the
 *   room's channel, anything else on the namespace's.
 * - answers the ClusterAdapter's requests (SOCKETS_JOIN/LEAVE,
 *   DISCONNECT_SOCKETS, FETCH_SOCKETS, BROADCAST with ack: clientCount 0)
 *   and pushdesk's own queries, SERVER_SIDE_EMIT ["pushdesk:request",
 *   kind, arg], with SERVER_SIDE_EMIT_RESPONSE {uid, result} on the
 *   requester's channel.
 *
 * vkss keeps the subscriptions on the nodes that own their slots. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter_codec.h"
#include "broker.h"
#include "cluster_int.h"
#include "loop.h"
#include "msg.h"
#include "pd_log.h"
#include "pd_wire.h"
#include "room.h"
#include "sio.h"
#include "vk.h"
#include "vkss.h"

struct csh {
	struct cluster *c;
	struct vkss *ss;
	const struct sio_nsp_def *nsps;
	size_t nnsps, main_idx; /* main: "/", whose rooms a view's sockets join */
	struct hmap rooms;      /* channel -> loops with a member (home only) */
	struct broker *b;       /* cluster_cfg's: where the room watch is set */
};

struct csh_room {
	struct hnode hn;
	int loops;
	char ch[];
};

static const char *room_ch_key(const struct hnode *n)
{
	return container_of(n, struct csh_room, hn)->ch;
}

/* ---- room channels ---- */

/* Posts to home hold the cluster, not csh: csh may be gone when a post
 * queued at shutdown runs (cluster_sharded is NULL then). */
struct watch_ev {
	struct cluster *c;
	size_t nsp_idx;
	int up;
	char room[];
};

void csh_watch(struct csh *s, size_t nsp_idx, const char *room, int up)
{
	struct pd_buf ch;
	pd_buf_init(&ch, 0);
	if (pd_wire_channel_broadcast(&ch, cluster_key(s->c), s->nsps[nsp_idx].name, room) != 0)
		goto out;
	struct hnode *h = hmap_get(&s->rooms, ch.data, ch.len);
	struct csh_room *r = h ? container_of(h, struct csh_room, hn) : NULL;
	if (up) {
		if (r == NULL) {
			r = calloc(1, sizeof(*r) + ch.len + 1);
			if (r == NULL)
				goto out;
			memcpy(r->ch, ch.data, ch.len);
			if (hmap_put(&s->rooms, &r->hn, r->ch, ch.len) < 0) {
				free(r);
				goto out;
			}
			vkss_subscribe(s->ss, r->ch);
		}
		r->loops++;
	} else if (r != NULL && --r->loops <= 0) {
		vkss_unsubscribe(s->ss, r->ch);
		hmap_del(&s->rooms, &r->hn);
		free(r);
	}
out:
	pd_buf_free(&ch);
}

static void watch_on_home(struct loop *l, void *arg)
{
	struct watch_ev *e = arg;
	struct csh *s = cluster_sharded(e->c);
	(void)l;
	if (s != NULL)
		csh_watch(s, e->nsp_idx, e->room, e->up);
	cluster_release(e->c);
	free(e);
}

void csh_doubt(struct csh *s)
{
	vkss_doubt(s->ss);
}

int csh_sync(struct csh *s, void (*fn)(void *ud), void *ud)
{
	return vkss_sync(s->ss, fn, ud);
}

/* The broker's room_watch: any loop, the first member of a room on that loop
 * joined (up 1) or its last left (0). */
static void room_watch(struct nsp_rt *n, const char *room, int up, void *ud)
{
	struct csh *s = ud;
	size_t len = strlen(room);
	struct watch_ev *e = malloc(sizeof(*e) + len + 1);
	if (e == NULL)
		return;
	e->c = s->c;
	e->nsp_idx = n->def->view ? s->main_idx : n->idx;
	e->up = up;
	memcpy(e->room, room, len + 1);
	cluster_hold(s->c);
	if (loop_post(cluster_home(s->c), watch_on_home, e) < 0) {
		cluster_release(s->c);
		free(e);
	}
}

/* ---- publishing ---- */

int csh_spublish(struct vk *v, const char *ch, size_t chlen, const char *data, size_t len)
{
	const char *argv[3] = {"SPUBLISH", ch, data};
	size_t lens[3] = {8, chlen, len};
	return vk_command(v, NULL, NULL, 3, argv, lens);
}

uint64_t csh_gap_pending(const struct csh *s)
{
	return vkss_gap_pending(s->ss);
}

int cluster_sh_channel(const struct cluster *c, struct pd_buf *out, const char *nsp,
		       const char *const *rooms, size_t nrooms)
{
	return pd_wire_channel_broadcast(
	    out, cluster_key(c), nsp, adapter_sh_room_channel(rooms, nrooms, 0) ? rooms[0] : NULL);
}

int csh_publish(struct csh *s, size_t nsp_idx, const struct adapter_emit *e)
{
	struct pd_buf msg, ch, cmsg;
	void *rud;
	const struct cluster_rec_hooks *rec = cluster_rec(s->c, &rud);
	pd_buf_init(&msg, ADAPTER_MAX_MSG);
	pd_buf_init(&ch, 0);
	pd_buf_init(&cmsg, ADAPTER_MAX_MSG);
	int rc = adapter_sh_broadcast_encode(&msg, e, NULL);
	if (rc == 0)
		rc = cluster_sh_channel(s->c, &ch, e->nsp, e->rooms, e->nrooms);
	/* with recovery the stream keeps the classic form, which its readers
	 * decode whatever the mode */
	if (rc == 0 && rec != NULL)
		rc = adapter_broadcast_encode(&cmsg, e);
	if (rc == 0 && rec != NULL)
		rc = rec->publish(rud, nsp_idx, ch.data, ch.len, cmsg.data, cmsg.len, msg.data,
				  msg.len);
	else if (rc == 0)
		rc = cluster_publish_bytes(s->c, ch.data, ch.len, msg.data, msg.len);
	else
		pd_log(LOG_WARNING, "cluster sharded publish encode failed err=%s", strerror(-rc));
	pd_buf_free(&msg);
	pd_buf_free(&ch);
	pd_buf_free(&cmsg);
	return rc;
}

/* A broadcast with a recovery offset, to recovery (its contents moved
 * out of m). 1 when taken. */
static int to_recovery(struct csh *s, size_t idx, struct adapter_sh_msg *m)
{
	void *rud;
	const struct cluster_rec_hooks *rec = cluster_rec(s->c, &rud);
	if (rec == NULL || m->offset[0] == '\0' || m->request_id[0] != '\0')
		return 0;
	struct adapter_broadcast b;
	memset(&b, 0, sizeof(b));
	memcpy(b.uid, m->uid, sizeof(b.uid));
	b.packet = m->packet;
	b.rooms = m->rooms;
	b.except = m->except;
	b.flags = m->flags;
	memcpy(b.offset, m->offset, sizeof(b.offset));
	memset(&m->packet, 0, sizeof(m->packet));
	memset(&m->rooms, 0, sizeof(m->rooms));
	memset(&m->except, 0, sizeof(m->except));
	cluster_count(s->c, CLUSTER_COUNT_RECEIVED);
	if (rec->broadcast(rud, idx, &b) != 1)
		pd_log(LOG_WARNING, "cluster sharded: recovery refused a broadcast offset=%s", b.offset);
	adapter_broadcast_clear(&b);
	return 1;
}

static void on_gap(const char *const *channels, size_t n, uint64_t since_ms, void *ud)
{
	struct csh *s = ud;
	void *rud;
	const struct cluster_rec_hooks *rec = cluster_rec(s->c, &rud);
	if (rec != NULL && rec->gap != NULL)
		rec->gap(rud, channels, n, since_ms);
}

/* {type, data, uid, nsp} as the ClusterAdapter writes it; data stolen. */
static int sh_message(struct pd_buf *out, const struct csh *s, int type, json_t *data,
		      const char *nsp)
{
	json_t *m = json_object();
	if (m == NULL || data == NULL) {
		json_decref(m);
		json_decref(data);
		return -ENOMEM;
	}
	json_object_set_new(m, "type", json_integer(type));
	json_object_set_new(m, "data", data);
	json_object_set_new(m, "uid", json_string(cluster_uid(s->c)));
	json_object_set_new(m, "nsp", json_string(nsp));
	char *txt = json_dumps(m, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(m);
	if (txt == NULL)
		return -ENOMEM;
	int rc = pd_buf_append_str(out, txt);
	free(txt);
	return rc;
}

int csh_query_encode(struct csh *s, struct pd_buf *out, struct pd_buf *ch, const char *request_id,
		     const char *kind, const json_t *arg)
{
	const char *nsp = s->nsps[s->main_idx].name;
	json_t *data = json_pack("{s:s, s:[s, s, O]}", "requestId", request_id, "packet",
				 CLUSTER_REQUEST_EVENT, kind, arg);
	int rc = sh_message(out, s, ADAPTER_SH_SERVER_SIDE_EMIT, data, nsp);
	if (rc == 0)
		rc = pd_wire_channel_broadcast(ch, cluster_key(s->c), nsp, NULL);
	return rc;
}

/* A response to the requester's own channel K#NSP#UID#. */
static void respond(struct csh *s, size_t nsp_idx, const char *to, int type, json_t *data)
{
	struct pd_buf out, ch;
	pd_buf_init(&out, ADAPTER_MAX_MSG);
	pd_buf_init(&ch, 0);
	const char *nsp = s->nsps[nsp_idx].name;
	int rc = sh_message(&out, s, type, data, nsp);
	if (rc == 0)
		rc = pd_wire_channel_broadcast(&ch, cluster_key(s->c), nsp, to);
	if (rc == 0)
		rc = cluster_publish_bytes(s->c, ch.data, ch.len, out.data, out.len);
	if (rc < 0 && rc != -ENOTCONN)
		pd_log(LOG_WARNING, "cluster sharded response failed type=%d err=%s", type,
		       strerror(-rc));
	pd_buf_free(&out);
	pd_buf_free(&ch);
}

/* ---- answering ---- */

struct answer {
	struct cluster *c;
	size_t nsp_idx;
	int type; /* the request's MessageType */
	char request_id[ADAPTER_MAX_UID + 1];
	char requester[ADAPTER_MAX_UID + 1];
};

static void answer_done(struct cluster *c, json_t *merged, void *ud)
{
	struct answer *a = ud;
	struct csh *s = cluster_sharded(c); /* NULL: freed while it gathered */
	if (s != NULL && a->type == ADAPTER_SH_FETCH_SOCKETS)
		respond(s, a->nsp_idx, a->requester, ADAPTER_SH_FETCH_SOCKETS_RESPONSE,
			json_pack("{s:s, s:O}", "requestId", a->request_id, "sockets",
				  json_is_array(merged) ? merged : json_array()));
	else if (s != NULL && a->type == ADAPTER_SH_SERVER_SIDE_EMIT)
		respond(s, a->nsp_idx, a->requester, ADAPTER_SH_SERVER_SIDE_EMIT_RESPONSE,
			json_pack("{s:s, s:o}", "requestId", a->request_id, "packet",
				  pd_wire_answer_data(cluster_uid(s->c), merged)));
	json_decref(merged);
	free(a);
}

static json_t *names_json(const struct adapter_rooms *r)
{
	json_t *a = json_array();
	for (size_t i = 0; a != NULL && i < r->n; i++)
		json_array_append_new(a, json_string(r->v[i]));
	return a;
}

static void deliver(struct csh *s, size_t idx, const struct adapter_sh_msg *m)
{
	const struct adapter_packet *pk = &m->packet;
	if ((pk->type != 2 && pk->type != 5) || pk->data == NULL)
		return;
	struct sio_bin bins[ADAPTER_MAX_ATTACHMENTS];
	for (size_t i = 0; i < pk->natt && i < ADAPTER_MAX_ATTACHMENTS; i++) {
		bins[i].p = pk->att[i].p;
		bins[i].len = pk->att[i].len;
	}
	struct msg *msg = sio_msg(2, s->nsps[idx].name, -1, pk->data, bins, pk->natt);
	if (msg == NULL) {
		pd_log(LOG_ERR, "cluster sharded broadcast dropped (out of memory)");
		return;
	}
	if (room_emit(worker_of(cluster_home(s->c)), idx, (const char *const *)m->rooms.v,
		      m->rooms.n, (const char *const *)m->except.v, m->except.n, msg,
		      pk->natt == 0 ? pk->data : NULL, NULL) == 0)
		cluster_count(s->c, CLUSTER_COUNT_DELIVERED);
	msg_unref(msg);
}

/* The namespace a channel belongs to and, for K#NSP#X#, X; -1: none of ours. */
static long channel_nsp(const struct csh *s, const char *ch, size_t len, struct pd_str *room)
{
	for (size_t i = 0; i < s->nnsps; i++)
		if (!s->nsps[i].view &&
		    adapter_channel_room(cluster_key(s->c), s->nsps[i].name, ch, len, room) == 1)
			return (long)i;
	return -1;
}

static void on_message(const char *ch, size_t chlen, const char *data, size_t len, void *ud)
{
	struct csh *s = ud;
	struct pd_str room = {0};
	char err[128];
	long idx = channel_nsp(s, ch, chlen, &room);
	if (idx < 0)
		return;
	struct adapter_sh_msg m;
	memset(&m, 0, sizeof(m));
	if (adapter_sh_decode((const uint8_t *)data, len, &m, err, sizeof(err)) < 0) {
		cluster_count(s->c, CLUSTER_COUNT_DECODE_ERROR);
		pd_log(LOG_DEBUG, "cluster sharded message refused channel=%.*s err=\"%s\"",
		       (int)chlen, ch, err);
		adapter_sh_clear(&m);
		return;
	}
	if (strcmp(m.uid, cluster_uid(s->c)) == 0 || strcmp(m.nsp, s->nsps[idx].name) != 0)
		goto out; /* our own, or a namespace whose name holds '#' */
	int kind = -1;
	json_t *arg = NULL;
	switch (m.type) {
	case ADAPTER_SH_BROADCAST:
		if (to_recovery(s, (size_t)idx, &m))
			goto out;
		cluster_count(s->c, CLUSTER_COUNT_RECEIVED);
		deliver(s, (size_t)idx, &m);
		if (m.request_id[0] != '\0') /* acks are not collected: none to wait for */
			respond(s, (size_t)idx, m.uid, ADAPTER_SH_BROADCAST_CLIENT_COUNT,
				json_pack("{s:s, s:i}", "requestId", m.request_id, "clientCount", 0));
		goto out;
	case ADAPTER_SH_SOCKETS_JOIN:
	case ADAPTER_SH_SOCKETS_LEAVE:
	case ADAPTER_SH_DISCONNECT_SOCKETS:
		kind = m.type == ADAPTER_SH_SOCKETS_JOIN    ? AK_JOIN
		       : m.type == ADAPTER_SH_SOCKETS_LEAVE ? AK_LEAVE
							    : AK_DISCONNECT;
		arg = json_pack("{s:s, s:o, s:o, s:o, s:b}", "nsp", m.nsp, "rooms",
				names_json(&m.rooms), "except", names_json(&m.except), "targets",
				names_json(&m.targets), "close", m.close > 0);
		break;
	case ADAPTER_SH_FETCH_SOCKETS:
		kind = AK_FETCH;
		arg = json_pack("{s:s, s:o, s:o}", "nsp", m.nsp, "rooms", names_json(&m.rooms),
				"except", names_json(&m.except));
		break;
	case ADAPTER_SH_SERVER_SIDE_EMIT: {
		/* ours; anything else is for Node servers' serverSideEmit listeners */
		const json_t *a = NULL;
		const char *k = pd_wire_query_kind(m.packet.data, &a);
		if (k == NULL || m.request_id[0] == '\0' || m.uid[0] == '\0')
			goto out;
		kind = adapter_kind_find(k, 1);
		arg = a != NULL ? json_deep_copy(a) : json_object();
		break;
	}
	case ADAPTER_SH_SERVER_SIDE_EMIT_RESPONSE:
		/* an answer to one of our queries, on our own channel */
		if (room.p != NULL && room.len == strlen(cluster_uid(s->c)) &&
		    memcmp(room.p, cluster_uid(s->c), room.len) == 0 && m.packet.data != NULL)
			cluster_answer_in(s->c, m.request_id, m.packet.data);
		goto out;
	default: /* heartbeats, other servers' responses, ADAPTER_CLOSE */
		goto out;
	}
	struct answer *a = kind >= 0 && arg != NULL ? calloc(1, sizeof(*a)) : NULL;
	if (a == NULL) { /* nothing to answer, or out of memory */
		json_decref(arg);
		goto out;
	}
	*a = (struct answer){.c = s->c, .nsp_idx = (size_t)idx, .type = m.type};
	snprintf(a->request_id, sizeof(a->request_id), "%s", m.request_id);
	snprintf(a->requester, sizeof(a->requester), "%s", m.uid);
	if (cluster_gather(s->c, (enum adapter_kind)kind, arg, answer_done, a) < 0)
		free(a);
out:
	adapter_sh_clear(&m);
}

/* ---- life ---- */

struct csh *csh_new(struct cluster *c, const struct cluster_cfg *cfg)
{
	struct csh *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->c = c;
	s->b = cfg->broker;
	s->nsps = cfg->nsps;
	s->nnsps = cfg->nnsps;
	for (size_t i = 0; i < s->nnsps; i++)
		if (strcmp(s->nsps[i].name, "/") == 0)
			s->main_idx = i;
	hmap_init(&s->rooms, room_ch_key);
	if ((s->ss = vkss_new(cluster_vk(c), on_message, s)) == NULL) {
		free(s);
		return NULL;
	}
	vkss_set_gap_fn(s->ss, on_gap, s);
	/* before the loops run: read-only from then on */
	s->b->room_watch = room_watch;
	s->b->room_watch_ud = s;
	return s;
}

int csh_start(struct csh *s)
{
	struct pd_buf ch;
	pd_buf_init(&ch, 0);
	int rc = 0;
	for (size_t i = 0; i < s->nnsps && rc == 0; i++) {
		if (s->nsps[i].view)
			continue; /* fed by "/" */
		pd_buf_reset(&ch);
		rc = pd_wire_channel_broadcast(&ch, cluster_key(s->c), s->nsps[i].name, NULL);
		if (rc == 0)
			rc = vkss_subscribe(s->ss, ch.data);
		pd_buf_reset(&ch);
		if (rc == 0)
			rc = pd_wire_channel_broadcast(&ch, cluster_key(s->c), s->nsps[i].name,
						       cluster_uid(s->c));
		if (rc == 0)
			rc = vkss_subscribe(s->ss, ch.data);
	}
	pd_buf_free(&ch);
	if (rc == 0)
		pd_log(LOG_NOTICE, "cluster adapter_mode=sharded (SSUBSCRIBE, dynamic room channels)");
	return rc;
}

void csh_state(struct csh *s, int up)
{
	vkss_state(s->ss, up);
}

void csh_free(struct csh *s)
{
	if (s == NULL)
		return;
	s->b->room_watch = NULL; /* the other loops have stopped */
	vkss_free(s->ss);
	size_t i = 0;
	struct hnode *cur = NULL, *h;
	struct csh_room *dead = NULL;
	while ((h = hmap_next(&s->rooms, &i, &cur)) != NULL) {
		free(dead);
		dead = container_of(h, struct csh_room, hn);
	}
	free(dead);
	hmap_fini(&s->rooms);
	free(s);
}

void csh_get_stats(const struct csh *s, struct vkss_stats *out)
{
	vkss_get_stats(s->ss, out);
}
