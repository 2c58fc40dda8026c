/* vkss: one non-blocking hiredis context per cluster node that holds a
 * subscribed shard channel, a slot -> node map from CLUSTER SLOTS and
 * MOVED, and a retry timer for the channels of a lost node.
 *
 * A slot moving between masters (CLUSTER SETSLOT ... MIGRATING/IMPORTING,
 * then NODE), as Redis 7.0 does it: during the window the old owner still
 * serves SSUBSCRIBE and SPUBLISH of the slot's channels (no ASK: a channel
 * is not a key that could be missing), the importing node answers MOVED
 * back to it; once the new owner has the slot, the old one ends every
 * subscription of the slot's channels with an "sunsubscribe" push and
 * answers MOVED. Such a push makes us learn the slots again and subscribe
 * at once where the channel lives now. */
#include "vkss.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>

#include "hmap.h"
#include "loop.h"
#include "pd_log.h"
#include "pd_slot.h"
#include "vk.h"

#define VKSS_NODES_MAX 64
#define VKSS_HOPS_MAX 5 /* redirects of one channel before waiting VKSS_RETRY_MS */

struct vkss_node {
	struct loop_watch w;
	struct vkss *s;
	char ip[64];
	int port;
	redisContext *c; /* NULL: not connected */
	int connected, writing, lost_logged;
	int pings; /* PINGs sent and not answered on this connection */
	int want;  /* the sync in flight waits for its last PONG */
};

struct vkss_ch {
	struct hnode hn;
	int node; /* index in nodes, -1: not sent */
	int ok;   /* the node confirmed the SSUBSCRIBE */
	int hops; /* MOVED followed since the last confirmation or retry */
	unsigned slot;
	int gap; /* its subscription was lost: messages may be missing */
	char name[];
};

struct vkss {
	struct vk *v;
	struct loop *l;
	vkss_msg_fn fn;
	void *ud;
	struct hmap chans;
	struct vkss_node nodes[VKSS_NODES_MAX];
	int nnodes;
	uint8_t slot_node[PD_SLOT_COUNT]; /* index + 1; 0: the seed vk is on */
	int up, mapping, mapped;
	struct loop_timer retry;
	struct vkss_stats st;
	/* sync: a PING on every node connection after every channel was
	 * sent; their PONGs (in order after the SSUBSCRIBE replies) mean
	 * each channel is subscribed */
	struct vkss_waiter *waiting, *inflight;
	int syncing;     /* a sync is in flight */
	int gap_run;     /* the sync in flight reports the gap */
	uint64_t gap_since; /* wall ms of the first loss not yet reported, 0: none */
	vkss_gap_fn gap_fn;
	void *gap_ud;
};

struct vkss_waiter {
	struct vkss_waiter *next;
	vkss_sync_fn fn;
	void *ud;
};

static const char *ch_key(const struct hnode *n)
{
	return ((const struct vkss_ch *)n)->name;
}

static void node_lost(struct vkss_node *n, const char *why);
static void sync_try(struct vkss *s);
static void sync_pong(struct vkss_node *n);

static uint64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ch's subscription is gone (its node lost, a slot moved): what was
 * published on it meanwhile is reported once it is back (gap_fn) */
static void ch_lost(struct vkss *s, struct vkss_ch *ch)
{
	ch->node = -1;
	ch->gap = 1;
	if (s->gap_since == 0)
		s->gap_since = wall_ms();
}

static void learn_slots(struct vkss *s);

static void retry_later(struct vkss *s)
{
	loop_timer_set(s->l, &s->retry, s->l->now + VKSS_RETRY_MS);
}

/* ---- one node's connection ---- */

static void node_flush(struct vkss_node *n)
{
	int done = 1;
	if (n->c == NULL || !n->connected)
		return;
	if (redisBufferWrite(n->c, &done) != REDIS_OK) {
		node_lost(n, n->c->errstr);
		return;
	}
	if (done != n->writing)
		return;
	n->writing = !done;
	loop_watch_mod(n->s->l, n->c->fd, EPOLLIN | (n->writing ? EPOLLOUT : 0), &n->w);
}

static int node_send(struct vkss_node *n, const char *cmd, const char *arg)
{
	const char *argv[2] = {cmd, arg};
	if (n->c == NULL || redisAppendCommandArgv(n->c, arg ? 2 : 1, argv, NULL) != REDIS_OK)
		return -ENOMEM;
	node_flush(n);
	return 0;
}

static struct vkss_ch *ch_find(struct vkss *s, const char *name, size_t len)
{
	struct hnode *h = hmap_get(&s->chans, name, len);
	return h ? (struct vkss_ch *)h : NULL;
}

static void route(struct vkss *s, struct vkss_ch *ch);

static void on_moved(struct vkss *s, const struct pd_slot_redirect *r)
{
	struct pd_slot_redirect rd = *r;
	s->st.moved++;
	int to = -1;
	for (int i = 0; i < s->nnodes; i++)
		if (strcmp(s->nodes[i].ip, rd.host) == 0 && s->nodes[i].port == rd.port)
			to = i;
	if (to < 0 && s->nnodes < VKSS_NODES_MAX && strlen(rd.host) < sizeof(s->nodes[0].ip)) {
		to = s->nnodes++;
		memset(&s->nodes[to], 0, sizeof(s->nodes[to]));
		snprintf(s->nodes[to].ip, sizeof(s->nodes[to].ip), "%s", rd.host);
		s->nodes[to].port = rd.port;
		s->nodes[to].s = s;
	}
	if (to < 0)
		return;
	s->slot_node[rd.slot] = (uint8_t)(to + 1);
	/* every channel of that slot sent elsewhere goes to its owner */
	size_t i = 0;
	struct hnode *cur = NULL, *h;
	while ((h = hmap_next(&s->chans, &i, &cur)) != NULL) {
		struct vkss_ch *ch = (struct vkss_ch *)h;
		if (ch->slot != rd.slot || ch->node == to)
			continue;
		ch->node = -1;
		if (++ch->hops <= VKSS_HOPS_MAX) {
			route(s, ch);
			continue;
		}
		/* the nodes disagree (SETSLOT NODE given to the old owner
		 * before the new one): no ping-pong, ask again later */
		s->mapped = 0;
		retry_later(s);
	}
}

/* ASK: the slot is migrating and this node refused the SSUBSCRIBE. ASKING
 * would have to come right before it, and a connection already in
 * subscribed mode refuses ASKING; so the channels of that slot this node
 * has not confirmed go again to the owner after VKSS_RETRY_MS (MOVED
 * names the new one once the slot has moved). Redis 7.0 never sends it
 * for a shard channel; a server that does is not left looping. */
static void on_ask(struct vkss_node *n, const struct pd_slot_redirect *rd)
{
	struct vkss *s = n->s;
	int idx = (int)(n - s->nodes);
	s->st.asks++;
	size_t i = 0;
	struct hnode *cur = NULL, *h;
	while ((h = hmap_next(&s->chans, &i, &cur)) != NULL) {
		struct vkss_ch *ch = (struct vkss_ch *)h;
		if (ch->slot == rd->slot && ch->node == idx && !ch->ok)
			ch->node = -1;
	}
	retry_later(s);
}

/* The server ended ch's subscription on n without our asking: its slot
 * has moved (or, rarely, ours crossed a SUNSUBSCRIBE of an earlier
 * subscription of the same name: subscribing again is harmless). */
static void on_server_unsubscribe(struct vkss_node *n, struct vkss_ch *ch)
{
	struct vkss *s = n->s;
	ch_lost(s, ch); /* what was published meanwhile is read from the stream */
	ch->hops = 0;
	s->st.slot_moves++;
	if (!s->mapping)
		pd_log(LOG_INFO,
		       "valkey shard channel slot moved slot=%u from=%s:%d (subscribing at its owner)",
		       ch->slot, n->ip, n->port);
	/* who owns the slot now: one CLUSTER SLOTS for every channel of the
	 * slot (MOVED corrects a node that has not heard yet) */
	s->mapped = 0;
	learn_slots(s);
}

static void on_reply(struct vkss_node *n, const redisReply *r)
{
	struct vkss *s = n->s;
	struct pd_slot_redirect rd;
	if (r->type == REDIS_REPLY_ERROR) {
		if (strncmp(r->str, "CLUSTERDOWN", 11) == 0 || strncmp(r->str, "TRYAGAIN", 8) == 0) {
			/* an SSUBSCRIBE refused (which one the error does not
			 * say): this node's channels again, from a new connection */
			node_lost(n, r->str);
			return;
		}
		if (pd_slot_redirect_parse(r->str, r->len, &rd) != 0) {
			pd_log(LOG_WARNING, "valkey shard subscriber error addr=%s:%d err=\"%.*s\"", n->ip,
			       n->port, (int)r->len, r->str);
			return;
		}
		if (rd.host[0] == '\0') /* the node answering */
			snprintf(rd.host, sizeof(rd.host), "%s", n->ip);
		if (rd.ask)
			on_ask(n, &rd);
		else
			on_moved(s, &rd);
		return;
	}
	/* PING: ["pong", ""] while subscribed to something, else +PONG */
	if ((r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0) ||
	    (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
	     r->element[0]->type == REDIS_REPLY_STRING && strcmp(r->element[0]->str, "pong") == 0)) {
		sync_pong(n);
		return;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
	    r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_STRING)
		return;
	const char *kind = r->element[0]->str;
	const redisReply *chn = r->element[1];
	if (strcmp(kind, "smessage") == 0 && r->element[2]->type == REDIS_REPLY_STRING) {
		s->st.messages++;
		s->st.bytes += r->element[2]->len;
		s->fn(chn->str, chn->len, r->element[2]->str, r->element[2]->len, s->ud);
	} else if (strcmp(kind, "ssubscribe") == 0) {
		struct vkss_ch *ch = ch_find(s, chn->str, chn->len);
		if (ch != NULL && ch->node == (int)(n - s->nodes))
			ch->ok = 1, ch->hops = 0;
	} else if (strcmp(kind, "sunsubscribe") == 0) {
		/* ours (then the channel is gone), or the server's when the
		 * slot moved: subscribe where it lives now */
		struct vkss_ch *ch = ch_find(s, chn->str, chn->len);
		if (ch != NULL && ch->node == (int)(n - s->nodes))
			on_server_unsubscribe(n, ch);
	}
}

static void node_io(struct loop_watch *w, uint32_t events)
{
	struct vkss_node *n = (struct vkss_node *)w;
	if (n->c == NULL)
		return;
	if (!n->connected && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
		int err = 0;
		socklen_t el = sizeof(err);
		if (getsockopt(n->c->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err != 0) {
			node_lost(n, err ? strerror(err) : "connect failed");
			return;
		}
		n->connected = 1;
		n->lost_logged = 0;
		n->writing = 1; /* node_flush re-arms from what is left */
		node_flush(n);
		return;
	}
	if (events & EPOLLOUT)
		node_flush(n);
	if (n->c == NULL || !(events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
		return;
	if (redisBufferRead(n->c) != REDIS_OK) {
		node_lost(n, n->c->errstr);
		return;
	}
	void *reply = NULL;
	while (n->c != NULL) {
		if (redisGetReplyFromReader(n->c, &reply) != REDIS_OK) {
			node_lost(n, n->c->errstr);
			return;
		}
		if (reply == NULL)
			break;
		on_reply(n, reply);
		freeReplyObject(reply);
	}
}

static int node_open(struct vkss *s, struct vkss_node *n)
{
	n->s = s;
	n->w.fn = node_io;
	n->connected = n->writing = 0;
	n->c = redisConnectNonBlock(n->ip, n->port);
	if (n->c == NULL || n->c->err) {
		if (n->c != NULL)
			redisFree(n->c);
		n->c = NULL;
		return -1;
	}
	if (loop_watch_add(s->l, n->c->fd, EPOLLIN | EPOLLOUT, &n->w) < 0) {
		redisFree(n->c);
		n->c = NULL;
		return -1;
	}
	const char *pw = vk_password(s->v);
	if (pw[0] != '\0')
		node_send(n, "AUTH", pw);
	return 0;
}

static void node_close(struct vkss_node *n)
{
	if (n->c == NULL)
		return;
	loop_watch_del(n->s->l, n->c->fd);
	redisFree(n->c);
	n->c = NULL;
	n->connected = n->writing = 0;
}

/* A node's connection failed: its channels are sent again (to whoever
 * owns their slots then) after VKSS_RETRY_MS, until it answers. */
static void node_lost(struct vkss_node *n, const char *why)
{
	struct vkss *s = n->s;
	int idx = (int)(n - s->nodes);
	if (!n->lost_logged)
		pd_log(LOG_WARNING, "valkey shard subscriber lost addr=%s:%d reason=\"%s\" (retrying)",
		       n->ip, n->port, why && why[0] ? why : "closed");
	n->lost_logged = 1;
	node_close(n);
	s->st.node_losses++;
	size_t i = 0;
	struct hnode *cur = NULL, *h;
	while ((h = hmap_next(&s->chans, &i, &cur)) != NULL)
		if (((struct vkss_ch *)h)->node == idx)
			ch_lost(s, (struct vkss_ch *)h);
	n->pings = n->want = 0;
	s->syncing = 0; /* its PONG will not come: sync again once all is sent */
	s->mapped = 0; /* ask the cluster who owns what now */
	retry_later(s);
}

/* ---- routing ---- */

static int node_for(struct vkss *s, unsigned slot)
{
	int i = s->slot_node[slot] - 1;
	if (i >= 0)
		return i;
	/* unknown: the node vk is connected to (MOVED tells otherwise) */
	char ip[64];
	int port;
	vk_peer(s->v, ip, sizeof(ip), &port);
	for (i = 0; i < s->nnodes; i++)
		if (strcmp(s->nodes[i].ip, ip) == 0 && s->nodes[i].port == port)
			return i;
	if (s->nnodes == VKSS_NODES_MAX)
		return -1;
	i = s->nnodes++;
	memset(&s->nodes[i], 0, sizeof(s->nodes[i]));
	snprintf(s->nodes[i].ip, sizeof(s->nodes[i].ip), "%s", ip);
	s->nodes[i].port = port;
	s->nodes[i].s = s;
	return i;
}

static void route(struct vkss *s, struct vkss_ch *ch)
{
	if (!s->up || !s->mapped || ch->node >= 0)
		return;
	int i = node_for(s, ch->slot);
	if (i < 0)
		return;
	struct vkss_node *n = &s->nodes[i];
	if (n->c == NULL && node_open(s, n) < 0) {
		retry_later(s);
		return;
	}
	if (node_send(n, "SSUBSCRIBE", ch->name) == 0 && n->c != NULL) {
		ch->node = i;
		ch->ok = 0;
		s->st.subscribes++;
	}
}

static void send_all(struct vkss *s)
{
	size_t i = 0;
	struct hnode *cur = NULL, *h;
	while ((h = hmap_next(&s->chans, &i, &cur)) != NULL)
		route(s, (struct vkss_ch *)h);
	sync_try(s);
}

static int node_find_add(struct vkss *s, const char *ip, int port)
{
	for (int i = 0; i < s->nnodes; i++)
		if (strcmp(s->nodes[i].ip, ip) == 0 && s->nodes[i].port == port)
			return i;
	if (s->nnodes == VKSS_NODES_MAX || strlen(ip) >= sizeof(s->nodes[0].ip))
		return -1;
	int i = s->nnodes++;
	memset(&s->nodes[i], 0, sizeof(s->nodes[i]));
	snprintf(s->nodes[i].ip, sizeof(s->nodes[i].ip), "%s", ip);
	s->nodes[i].port = port;
	s->nodes[i].s = s;
	return i;
}

/* CLUSTER SLOTS: [[start, end, [ip, port, id...], replicas...], ...]; an
 * error (no cluster) leaves every slot on the node vk is connected to. */
static void on_slots(struct vk *v, const redisReply *r, void *ud)
{
	struct vkss *s = ud;
	(void)v;
	s->mapping = 0;
	if (r == NULL) {
		retry_later(s);
		return;
	}
	memset(s->slot_node, 0, sizeof(s->slot_node));
	for (size_t k = 0; r->type == REDIS_REPLY_ARRAY && k < r->elements; k++) {
		const redisReply *e = r->element[k];
		if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
		    e->element[0]->type != REDIS_REPLY_INTEGER ||
		    e->element[1]->type != REDIS_REPLY_INTEGER ||
		    e->element[2]->type != REDIS_REPLY_ARRAY || e->element[2]->elements < 2 ||
		    e->element[2]->element[0]->type != REDIS_REPLY_STRING ||
		    e->element[2]->element[1]->type != REDIS_REPLY_INTEGER)
			continue;
		long long a = e->element[0]->integer, b = e->element[1]->integer;
		const char *ip = e->element[2]->element[0]->str;
		char peer[64];
		int port;
		if (ip[0] == '\0') { /* "": the node that answered */
			vk_peer(s->v, peer, sizeof(peer), &port);
			ip = peer;
		}
		int i = node_find_add(s, ip, (int)e->element[2]->element[1]->integer);
		if (i < 0 || a < 0 || b >= PD_SLOT_COUNT || a > b)
			continue;
		for (long long sl = a; sl <= b; sl++)
			s->slot_node[sl] = (uint8_t)(i + 1);
	}
	s->mapped = 1;
	send_all(s);
}

static void learn_slots(struct vkss *s)
{
	const char *argv[2] = {"CLUSTER", "SLOTS"};
	if (s->mapping || !s->up)
		return;
	if (vk_command(s->v, on_slots, s, 2, argv, NULL) == 0)
		s->mapping = 1;
	else
		retry_later(s);
}

static void on_retry(struct loop_timer *t)
{
	struct vkss *s = (struct vkss *)((char *)t - offsetof(struct vkss, retry));
	if (!s->up)
		return;
	/* a new round of redirects for every channel */
	size_t i = 0;
	struct hnode *cur = NULL, *h;
	while ((h = hmap_next(&s->chans, &i, &cur)) != NULL)
		((struct vkss_ch *)h)->hops = 0;
	if (!s->mapped)
		learn_slots(s);
	else
		send_all(s);
}

/* ---- sync and gap ---- */

static void sync_done(struct vkss *s);

/* Every channel sent to its node: PING each open node connection. */
static void sync_try(struct vkss *s)
{
	if (s->syncing || !s->up || !s->mapped ||
	    (s->waiting == NULL && s->inflight == NULL && s->gap_since == 0))
		return;
	size_t i = 0;
	struct hnode *cur = NULL, *h;
	while ((h = hmap_next(&s->chans, &i, &cur)) != NULL)
		if (((struct vkss_ch *)h)->node < 0)
			return; /* not yet: route() or the retry timer calls again */
	/* waiters of a sync cut short by a lost node go with this one */
	struct vkss_waiter **tail = &s->inflight;
	while (*tail != NULL)
		tail = &(*tail)->next;
	*tail = s->waiting;
	s->waiting = NULL;
	s->gap_run = s->gap_since != 0;
	s->syncing = 1;
	for (int k = 0; k < s->nnodes; k++) {
		struct vkss_node *n = &s->nodes[k];
		if (n->c != NULL && node_send(n, "PING", NULL) == 0) {
			n->pings++;
			n->want = 1;
		}
	}
	sync_done(s);
}

/* A PONG: the last one a connection owes ends its part of the sync (an
 * earlier sync's late PONG does not). */
static void sync_pong(struct vkss_node *n)
{
	if (n->pings > 0 && --n->pings == 0 && n->want) {
		n->want = 0;
		sync_done(n->s);
	}
}

/* Report the gap and run the waiters when no connection is owed a PONG. */
static void sync_done(struct vkss *s)
{
	if (!s->syncing)
		return;
	for (int k = 0; k < s->nnodes; k++)
		if (s->nodes[k].want)
			return;
	s->syncing = 0;
	if (s->gap_run) {
		size_t n = 0, k = 0, i = 0;
		struct hnode *cur = NULL, *h;
		while ((h = hmap_next(&s->chans, &i, &cur)) != NULL)
			n += ((struct vkss_ch *)h)->gap != 0;
		const char **names = n > 0 ? malloc(n * sizeof(*names)) : NULL;
		i = 0;
		cur = NULL;
		while (names != NULL && (h = hmap_next(&s->chans, &i, &cur)) != NULL)
			if (((struct vkss_ch *)h)->gap)
				names[k++] = ((struct vkss_ch *)h)->name;
		if (n == 0 || names != NULL) {
			if (n > 0 && s->gap_fn != NULL)
				s->gap_fn((const char *const *)names, k, s->gap_since, s->gap_ud);
			i = 0;
			cur = NULL;
			while ((h = hmap_next(&s->chans, &i, &cur)) != NULL)
				((struct vkss_ch *)h)->gap = 0;
			s->gap_since = 0;
		} /* else out of memory: reported by the next sync */
		free(names);
		s->gap_run = 0;
	}
	struct vkss_waiter *w = s->inflight;
	s->inflight = NULL;
	while (w != NULL) {
		struct vkss_waiter *nx = w->next;
		w->fn(w->ud);
		free(w);
		w = nx;
	}
	sync_try(s); /* for those that came while this one was in flight */
}

int vkss_sync(struct vkss *s, vkss_sync_fn fn, void *ud)
{
	struct vkss_waiter *w = malloc(sizeof(*w));
	if (w == NULL)
		return -ENOMEM;
	w->fn = fn;
	w->ud = ud;
	w->next = s->waiting;
	s->waiting = w;
	sync_try(s);
	return 0;
}

void vkss_doubt(struct vkss *s)
{
	size_t i = 0;
	struct hnode *cur = NULL, *h;
	while ((h = hmap_next(&s->chans, &i, &cur)) != NULL)
		((struct vkss_ch *)h)->gap = 1;
	if (s->gap_since == 0)
		s->gap_since = wall_ms();
	sync_try(s);
}

uint64_t vkss_gap_pending(const struct vkss *s)
{
	return s->gap_since;
}

void vkss_set_gap_fn(struct vkss *s, vkss_gap_fn fn, void *ud)
{
	s->gap_fn = fn;
	s->gap_ud = ud;
}

/* ---- public ---- */

struct vkss *vkss_new(struct vk *v, vkss_msg_fn fn, void *ud)
{
	struct vkss *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->v = v;
	s->l = vk_loop(v);
	s->fn = fn;
	s->ud = ud;
	hmap_init(&s->chans, ch_key);
	loop_timer_init(&s->retry, on_retry);
	return s;
}

void vkss_state(struct vkss *s, int up)
{
	s->up = up;
	for (int i = 0; i < s->nnodes; i++)
		node_close(&s->nodes[i]);
	size_t i = 0;
	struct hnode *cur = NULL, *h;
	while ((h = hmap_next(&s->chans, &i, &cur)) != NULL)
		if (((struct vkss_ch *)h)->node >= 0)
			ch_lost(s, (struct vkss_ch *)h);
	s->syncing = 0;
	s->mapped = 0;
	if (up)
		learn_slots(s);
	else
		loop_timer_cancel(s->l, &s->retry);
}

int vkss_subscribe(struct vkss *s, const char *channel)
{
	size_t len = strlen(channel);
	if (ch_find(s, channel, len) != NULL)
		return -EEXIST;
	struct vkss_ch *ch = malloc(sizeof(*ch) + len + 1);
	if (ch == NULL)
		return -ENOMEM;
	memcpy(ch->name, channel, len + 1);
	ch->node = -1;
	ch->gap = 0;
	ch->ok = ch->hops = 0;
	ch->slot = pd_slot_of(channel, len);
	if (hmap_put(&s->chans, &ch->hn, ch->name, len) < 0) {
		free(ch);
		return -ENOMEM;
	}
	s->st.channels++;
	route(s, ch);
	sync_try(s);
	return 0;
}

int vkss_unsubscribe(struct vkss *s, const char *channel)
{
	struct vkss_ch *ch = ch_find(s, channel, strlen(channel));
	if (ch == NULL)
		return -ENOENT;
	if (ch->node >= 0 && s->nodes[ch->node].c != NULL) {
		node_send(&s->nodes[ch->node], "SUNSUBSCRIBE", ch->name);
		s->st.unsubscribes++;
	}
	hmap_del(&s->chans, &ch->hn);
	free(ch);
	s->st.channels--;
	return 0;
}

static void vkss_release(void *p)
{
	free(p);
}

void vkss_free(struct vkss *s)
{
	if (s == NULL)
		return;
	for (int i = 0; i < s->nnodes; i++)
		node_close(&s->nodes[i]);
	loop_timer_cancel(s->l, &s->retry);
	size_t i = 0;
	struct hnode *cur = NULL, *h;
	struct vkss_ch *dead = NULL;
	while ((h = hmap_next(&s->chans, &i, &cur)) != NULL) {
		/* hmap_next may still read h: free after the walk */
		free(dead);
		dead = (struct vkss_ch *)h;
	}
	free(dead);
	hmap_fini(&s->chans);
	for (struct vkss_waiter *w = s->waiting, *nx; w != NULL; w = nx) {
		nx = w->next;
		free(w);
	}
	for (struct vkss_waiter *w = s->inflight, *nx; w != NULL; w = nx) {
		nx = w->next;
		free(w);
	}
	/* epoll may still hold a node's watch this turn */
	loop_defer_free(s->l, vkss_release, s);
}

void vkss_get_stats(const struct vkss *s, struct vkss_stats *out)
{
	*out = s->st;
}
