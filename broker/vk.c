/* vk: hiredis async glue on our loop. Each context's fd is one loop watch;
 * the context is freed only outside its own callbacks or through hiredis's
 * own deferral, and the watch is freed at the end of the loop turn. The two
 * connections live and die together: any failure tears both down, marks
 * Valkey down once, and a timer retries with doubling backoff. */
#include "vk.h"

#include <arpa/inet.h>
#include <errno.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "loop.h"
#include "pd_log.h"
#include "pd_slot.h"
#include "pd_url.h"

/* cluster nodes a broker keeps command connections to, besides its seed */
#define VK_NODES_MAX 64
#define VK_HOPS_MAX 5 /* redirects followed for one command */

enum vk_state { VK_DOWN = 0, VK_CONNECTING, VK_UP };

struct vk;

/* One per redisAsyncContext (ac->ev.data); freed by the cleanup hook at
 * the end of the loop turn, since epoll may still hold it this turn. */
struct vk_ev {
	struct loop_watch w;
	struct vk *v;
	redisAsyncContext *ac; /* NULL once hiredis has cleaned up */
	int fd;
	uint32_t mask;
	int added;
};

struct vk_cmd {
	struct vk_cmd *next, *prev;
	struct vk *v;
	vk_reply_fn fn;
	void *ud;
	uint64_t deadline;
	int hops;    /* cluster redirects followed */
	size_t len;  /* of cmd: the command as sent, to send again on a redirect */
	char *cmd;
};

/* A cluster node other than the one connected first (MOVED/ASK named it):
 * one command connection, opened on the first redirect to it, and closed
 * with the others (any failure tears everything down). */
struct vk_node {
	char ip[INET6_ADDRSTRLEN];
	int port;
	redisAsyncContext *ac; /* NULL until needed, or once lost */
};

struct vk_sub {
	struct vk_sub *next;
	struct vk *v;
	int pattern;
	vk_msg_fn fn;
	void *ud;
	char name[];
};

struct vk {
	struct loop *l;
	char host[VK_HOST_MAX];
	char ip[INET6_ADDRSTRLEN]; /* of the seed connected to now */
	/* valkey_url's seeds (several for a cluster), resolved; tried in turn */
	struct {
		char ip[INET6_ADDRSTRLEN];
		int port;
	} seeds[PD_URL_SEEDS_MAX];
	int nseeds, seed;
	/* Valkey Cluster: the nodes redirects named and, for each slot, the
	 * node (index + 1) that last answered MOVED for it; 0 = v->cmd */
	struct vk_node nodes[VK_NODES_MAX];
	int nnodes;
	uint8_t slot_node[PD_SLOT_COUNT];
	char addr[VK_HOST_MAX + 16];
	char password[256];
	int port, db;
	long timeout_ms;
	enum vk_state state;
	redisAsyncContext *cmd, *sub; /* ours while non-NULL */
	int cmd_ok, sub_ok;           /* connect callbacks seen */
	int ever_up, logged_down;
	long backoff;
	struct loop_timer conn_timer; /* connect deadline or next retry */
	struct loop_timer cmd_timer;  /* oldest pending command's deadline */
	struct loop_timer ping_timer;
	struct vk_cmd pending; /* list head, oldest first */
	struct vk_sub *subs;
	vk_state_fn state_fn;
	void *state_ud;
	struct vk_stats st;
	int freeing;
};


/* 16 KB reads of the Valkey socket taken in one loop turn at most */
#define VK_READS_PER_TURN 16

#define VK_OF(t, field) ((struct vk *)((char *)(t) - offsetof(struct vk, field)))

static void teardown(struct vk *v, const char *why);
static void schedule_retry(struct vk *v);

/* ---- url ---- */

int vk_parse_url(const char *url, char *host, size_t hostlen, int *port, int *db, char *password,
		 size_t passlen, char *err, size_t errlen)
{
	struct pd_redis_url u;

	*port = PD_URL_DEFAULT_PORT;
	*db = 0;
	if (password != NULL && passlen > 0)
		password[0] = '\0';
	if (pd_redis_url_parse(url, &u) != 0) {
		snprintf(err, errlen, "valkey_url: %s", u.err);
		return -1;
	}
	/* The broker's connections are TCP only, and AUTH sends the password
	 * alone (a user in the url is ignored, as before). */
	if (u.unix_path[0] != '\0') {
		snprintf(err, errlen, "valkey_url: unix:// is not supported by the broker");
		return -1;
	}
	if (strlen(u.host) >= hostlen) {
		snprintf(err, errlen, "valkey_url: bad host");
		return -1;
	}
	if (password != NULL && strlen(u.password) >= passlen) {
		snprintf(err, errlen, "valkey_url: password too long");
		return -1;
	}
	strcpy(host, u.host);
	if (password != NULL)
		strcpy(password, u.password);
	*port = u.port;
	*db = u.db;
	return 0;
}

/* ---- event hooks ---- */

static void ev_update(struct vk_ev *e, uint32_t mask)
{
	if (e->ac == NULL || mask == e->mask)
		return;
	struct loop *l = e->v->l;
	int rc;
	if (!e->added) {
		rc = loop_watch_add(l, e->fd, mask, &e->w);
		e->added = rc == 0;
	} else {
		rc = loop_watch_mod(l, e->fd, mask, &e->w);
	}
	if (rc < 0)
		pd_log(LOG_ERR, "valkey epoll_ctl failed fd=%d err=%s", e->fd, strerror(-rc));
	else
		e->mask = mask;
}

static void ev_add_read(void *p)
{
	struct vk_ev *e = p;
	ev_update(e, e->mask | EPOLLIN);
}

static void ev_del_read(void *p)
{
	struct vk_ev *e = p;
	ev_update(e, e->mask & ~(uint32_t)EPOLLIN);
}

static void ev_add_write(void *p)
{
	struct vk_ev *e = p;
	ev_update(e, e->mask | EPOLLOUT);
}

static void ev_del_write(void *p)
{
	struct vk_ev *e = p;
	ev_update(e, e->mask & ~(uint32_t)EPOLLOUT);
}

static void ev_cleanup(void *p)
{
	struct vk_ev *e = p;
	if (e->added)
		loop_watch_del(e->v->l, e->fd);
	e->added = 0;
	e->ac = NULL;
	loop_defer_free(e->v->l, free, e);
}

static void ev_on_io(struct loop_watch *w, uint32_t events)
{
	struct vk_ev *e = (struct vk_ev *)w;
	if (e->ac != NULL && (events & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
		/* hiredis reads 16 KB a call. When events queue up (the loop
		 * was busy writing), take up to VK_READS_PER_TURN of them in
		 * this turn, so that all their deliveries to one socket leave
		 * in one write at the end of it */
		for (int i = 0; i < VK_READS_PER_TURN; i++) {
			redisAsyncHandleRead(e->ac);
			int avail = 0;
			if (e->ac == NULL || ioctl(e->fd, FIONREAD, &avail) < 0 || avail <= 0)
				break;
		}
	}
	/* the read may have freed the context (cleanup cleared e->ac) */
	if (e->ac != NULL && (events & EPOLLOUT))
		redisAsyncHandleWrite(e->ac);
}

static int ev_attach(struct vk *v, redisAsyncContext *ac)
{
	struct vk_ev *e = calloc(1, sizeof(*e));
	if (e == NULL)
		return -ENOMEM;
	e->w.fn = ev_on_io;
	e->v = v;
	e->ac = ac;
	e->fd = ac->c.fd;
	ac->ev.data = e;
	ac->ev.addRead = ev_add_read;
	ac->ev.delRead = ev_del_read;
	ac->ev.addWrite = ev_add_write;
	ac->ev.delWrite = ev_del_write;
	ac->ev.cleanup = ev_cleanup;
	return 0;
}

/* ---- commands ---- */

static void arm_cmd_timer(struct vk *v)
{
	struct vk_cmd *c = v->pending.next;
	if (c == &v->pending)
		loop_timer_cancel(v->l, &v->cmd_timer);
	else
		loop_timer_set(v->l, &v->cmd_timer, c->deadline);
}

static redisAsyncContext *node_ctx(struct vk *v, const char *ip, int port);
static void on_cmd_reply(redisAsyncContext *ac, void *reply, void *priv);

static void cmd_free(struct vk_cmd *c)
{
	free(c->cmd);
	free(c);
}

/* A Valkey Cluster redirect of c's command: send it again to the node
 * named (ASKING first for ASK; MOVED also routes the slot there from now
 * on). 1 when sent again (c stays pending), 0 when r is not a redirect. */
static int follow_redirect(struct vk *v, struct vk_cmd *c, const redisAsyncContext *from,
			   const redisReply *r)
{
	struct pd_slot_redirect rd;
	redisAsyncContext *to;
	if (r->type != REDIS_REPLY_ERROR || c->hops >= VK_HOPS_MAX ||
	    pd_slot_redirect_parse(r->str, r->len, &rd) != 0)
		return 0;
	to = node_ctx(v, rd.host[0] != '\0' ? rd.host : from->c.tcp.host, rd.port);
	if (to == NULL)
		return 0; /* the redirect error stands as the reply */
	if (rd.ask && redisAsyncCommand(to, NULL, NULL, "ASKING") != REDIS_OK)
		return 0;
	if (!rd.ask)
		for (int i = 0; i < v->nnodes; i++)
			if (v->nodes[i].ac == to)
				v->slot_node[rd.slot] = (uint8_t)(i + 1);
	if (redisAsyncFormattedCommand(to, on_cmd_reply, c, c->cmd, c->len) != REDIS_OK)
		return 0;
	c->hops++;
	v->st.redirects++;
	return 1;
}

static void on_cmd_reply(redisAsyncContext *ac, void *reply, void *priv)
{
	struct vk_cmd *c = priv;
	struct vk *v = c->v;
	if (v == NULL) { /* detached by vk_free */
		cmd_free(c);
		return;
	}
	const redisReply *r = reply;
	if (r != NULL && !v->freeing && v->state == VK_UP && follow_redirect(v, c, ac, r))
		return;
	c->prev->next = c->next;
	c->next->prev = c->prev;
	if (r != NULL) {
		v->st.replies++;
		if (r->type == REDIS_REPLY_ERROR)
			v->st.errors++;
	}
	if (c->fn != NULL)
		c->fn(v, r, c->ud);
	cmd_free(c);
	if (!v->freeing)
		arm_cmd_timer(v);
}

static int cmd_send(struct vk *v, redisAsyncContext *ac, vk_reply_fn fn, void *ud, int argc,
		    const char **argv, const size_t *lens)
{
	struct vk_cmd *c = calloc(1, sizeof(*c));
	int len;
	if (c == NULL)
		return -ENOMEM;
	c->v = v;
	c->fn = fn;
	c->ud = ud;
	c->deadline = loop_clock_ms() + (uint64_t)v->timeout_ms;
	c->prev = v->pending.prev;
	c->next = &v->pending;
	len = redisFormatCommandArgv(&c->cmd, argc, argv, lens);
	if (len < 0 || redisAsyncFormattedCommand(ac, on_cmd_reply, c, c->cmd, (size_t)len) != REDIS_OK) {
		cmd_free(c);
		return -ENOMEM;
	}
	c->len = (size_t)len;
	v->pending.prev->next = c;
	v->pending.prev = c;
	v->st.commands++;
	if (c->prev == &v->pending)
		arm_cmd_timer(v);
	return 0;
}

int vk_command(struct vk *v, vk_reply_fn fn, void *ud, int argc, const char **argv,
	       const size_t *lens)
{
	redisAsyncContext *ac;
	int k;
	if (v->state != VK_UP || v->cmd == NULL)
		return -ENOTCONN;
	/* on a cluster, straight to the node that owns the key's slot when a
	 * redirect told us; else the seed, which redirects if need be */
	ac = v->cmd;
	if (v->nnodes > 0 && (k = pd_slot_cmd_key(argc, argv, lens)) >= 0) {
		unsigned slot = pd_slot_of(argv[k], lens != NULL ? lens[k] : strlen(argv[k]));
		int n = v->slot_node[slot];
		if (n > 0 && v->nodes[n - 1].ac != NULL)
			ac = v->nodes[n - 1].ac;
	}
	return cmd_send(v, ac, fn, ud, argc, argv, lens);
}

int vk_publish(struct vk *v, const char *channel, size_t chlen, const void *p, size_t len)
{
	const char *argv[3] = {"PUBLISH", channel, p};
	size_t lens[3] = {7, chlen, len};
	int rc = vk_command(v, NULL, NULL, 3, argv, lens);
	if (rc == 0)
		v->st.published++;
	else
		v->st.dropped++;
	return rc;
}

static void on_cmd_timeout(struct loop_timer *t)
{
	struct vk *v = VK_OF(t, cmd_timer);
	struct vk_cmd *c = v->pending.next;
	if (c == &v->pending)
		return;
	if (c->deadline > v->l->now) {
		loop_timer_set(v->l, t, c->deadline);
		return;
	}
	v->st.timeouts++;
	/* replies come in order: a command this late means the connection is
	 * stuck, and every command queued behind it with it */
	teardown(v, "command timeout");
}

static void on_ping(struct loop_timer *t)
{
	struct vk *v = VK_OF(t, ping_timer);
	if (v->state != VK_UP)
		return;
	const char *argv[1] = {"PING"};
	vk_command(v, NULL, NULL, 1, argv, NULL);
	loop_timer_set(v->l, t, v->l->now + VK_PING_MS);
}

/* ---- subscriptions ---- */

static void on_sub_msg(redisAsyncContext *ac, void *reply, void *priv)
{
	struct vk_sub *s = priv;
	struct vk *v = s->v;
	const redisReply *r = reply;
	(void)ac;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 3)
		return;
	for (size_t i = 0; i < r->elements; i++)
		if (r->element[i]->type != REDIS_REPLY_STRING &&
		    r->element[i]->type != REDIS_REPLY_INTEGER)
			return;
	const char *kind = r->element[0]->str;
	if (strcmp(kind, "message") == 0 && r->elements == 3 &&
	    r->element[2]->type == REDIS_REPLY_STRING) {
		v->st.messages++;
		s->fn(v, NULL, r->element[1]->str, r->element[1]->len, r->element[2]->str,
		      r->element[2]->len, s->ud);
	} else if (strcmp(kind, "pmessage") == 0 && r->elements == 4 &&
		   r->element[3]->type == REDIS_REPLY_STRING) {
		v->st.messages++;
		s->fn(v, s->name, r->element[2]->str, r->element[2]->len, r->element[3]->str,
		      r->element[3]->len, s->ud);
	}
	/* subscribe / psubscribe confirmations need nothing */
}

static int sub_send(struct vk *v, struct vk_sub *s)
{
	const char *argv[2] = {s->pattern ? "PSUBSCRIBE" : "SUBSCRIBE", s->name};
	if (redisAsyncCommandArgv(v->sub, on_sub_msg, s, 2, argv, NULL) != REDIS_OK)
		return -ENOMEM;
	return 0;
}

int vk_subscribe(struct vk *v, const char *channel, int pattern, vk_msg_fn fn, void *ud)
{
	for (struct vk_sub *s = v->subs; s != NULL; s = s->next)
		if (s->pattern == pattern && strcmp(s->name, channel) == 0)
			return -EEXIST;
	size_t n = strlen(channel);
	struct vk_sub *s = malloc(sizeof(*s) + n + 1);
	if (s == NULL)
		return -ENOMEM;
	memcpy(s->name, channel, n + 1);
	s->v = v;
	s->pattern = pattern;
	s->fn = fn;
	s->ud = ud;
	s->next = v->subs;
	v->subs = s;
	if (v->state == VK_UP && sub_send(v, s) < 0) {
		teardown(v, "subscribe failed");
		return 0; /* re-sent on reconnect */
	}
	return 0;
}

/* ---- connection life ---- */

static void go_up(struct vk *v)
{
	for (struct vk_sub *s = v->subs; s != NULL; s = s->next) {
		if (sub_send(v, s) < 0) {
			teardown(v, "out of memory");
			return;
		}
	}
	v->state = VK_UP;
	v->backoff = 0;
	v->logged_down = 0;
	v->st.ups++;
	loop_timer_cancel(v->l, &v->conn_timer);
	loop_timer_set(v->l, &v->ping_timer, v->l->now + VK_PING_MS);
	pd_log(LOG_NOTICE, "valkey up addr=%s db=%d subscriptions=%s", v->addr, v->db,
	       v->subs ? "resent" : "none");
	v->ever_up = 1;
	if (v->state_fn != NULL)
		v->state_fn(v, 1, v->state_ud);
}

static void on_hello(struct vk *v, const redisReply *r, void *ud)
{
	(void)ud;
	if (r == NULL || v->state != VK_CONNECTING)
		return; /* torn down meanwhile */
	if (r->type == REDIS_REPLY_ERROR) {
		char why[256];
		snprintf(why, sizeof(why), "%s", r->str); /* r dies with the context */
		teardown(v, why);
		return;
	}
	go_up(v);
}

/* The index of a cluster node's context in v->nodes, or -1. */
static int node_of(const struct vk *v, const redisAsyncContext *ac)
{
	for (int i = 0; i < v->nnodes; i++)
		if (v->nodes[i].ac == ac)
			return i;
	return -1;
}

/* A node's connection failed or closed: only the commands sent to it fail
 * (hiredis gives them their NULL reply); the seed's connections and the
 * subscriptions on them stay, and the node's slots go back to the seed,
 * whose next redirect opens it again. Not a teardown: one master down must
 * not take the events of the rest of the cluster with it. */
static int node_lost(struct vk *v, const redisAsyncContext *ac, int status)
{
	int i = v != NULL ? node_of(v, ac) : -1;
	if (i < 0)
		return 0;
	if (status != REDIS_OK) {
		/* hiredis frees ac itself after this callback */
		v->nodes[i].ac = NULL;
		for (size_t k = 0; k < sizeof(v->slot_node); k++)
			if (v->slot_node[k] == i + 1)
				v->slot_node[k] = 0;
		v->st.node_losses++;
		pd_log(LOG_WARNING, "valkey cluster node lost addr=%s:%d reason=\"%s\"",
		       v->nodes[i].ip, v->nodes[i].port, ac->errstr[0] ? ac->errstr : "closed");
	}
	return 1;
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	struct vk *v = ac->data;
	if (node_lost(v, ac, status))
		return;
	if (v == NULL || (ac != v->cmd && ac != v->sub))
		return; /* a context we already gave up */
	if (status != REDIS_OK) {
		/* hiredis frees ac itself after this callback */
		if (ac == v->cmd)
			v->cmd = NULL;
		else
			v->sub = NULL;
		teardown(v, ac->errstr[0] ? ac->errstr : "connect failed");
		return;
	}
	if (ac == v->cmd)
		v->cmd_ok = 1;
	else
		v->sub_ok = 1;
	if (v->cmd_ok && v->sub_ok && v->state == VK_CONNECTING) {
		/* a TCP connect says little (a frozen server's kernel accepts):
		 * up only once the server answers, under the command timeout */
		const char *argv[1] = {"PING"};
		if (cmd_send(v, v->cmd, on_hello, NULL, 1, argv, NULL) < 0)
			teardown(v, "out of memory");
	}
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	struct vk *v = ac->data;
	(void)status;
	if (node_lost(v, ac, REDIS_ERR))
		return;
	if (v == NULL || (ac != v->cmd && ac != v->sub))
		return;
	if (ac == v->cmd)
		v->cmd = NULL;
	else
		v->sub = NULL;
	teardown(v, ac->errstr[0] ? ac->errstr : "connection closed");
}

static redisAsyncContext *open_ctx(struct vk *v, const char *ip, int port)
{
	redisAsyncContext *ac = redisAsyncConnect(ip, port);
	if (ac == NULL)
		return NULL;
	if (ac->err) {
		pd_log(LOG_DEBUG, "valkey connect failed addr=%s:%d err=%s", ip, port, ac->errstr);
		redisAsyncFree(ac);
		return NULL;
	}
	ac->data = v;
	if (ev_attach(v, ac) < 0) {
		redisAsyncFree(ac);
		return NULL;
	}
	redisEnableKeepAlive(&ac->c);
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	/* hiredis arms write for the connect only on the first command: arm it */
	ev_add_write(ac->ev.data);
	return ac;
}

static void start_connect(struct vk *v)
{
	v->st.connect_attempts++;
	v->cmd_ok = v->sub_ok = 0;
	v->state = VK_CONNECTING;
	/* a cluster's seeds in turn: the next one after each failure */
	snprintf(v->ip, sizeof(v->ip), "%s", v->seeds[v->seed].ip);
	v->port = v->seeds[v->seed].port;
	snprintf(v->addr, sizeof(v->addr), "%s:%d", v->nseeds > 1 ? v->ip : v->host, v->port);
	v->cmd = open_ctx(v, v->ip, v->port);
	v->sub = v->cmd ? open_ctx(v, v->ip, v->port) : NULL;
	if (v->cmd == NULL || v->sub == NULL) {
		teardown(v, "connect failed");
		return;
	}
	if (v->password[0] != '\0') {
		const char *argv[2] = {"AUTH", v->password};
		if (cmd_send(v, v->cmd, NULL, NULL, 2, argv, NULL) < 0 ||
		    redisAsyncCommandArgv(v->sub, NULL, NULL, 2, argv, NULL) != REDIS_OK) {
			teardown(v, "out of memory");
			return;
		}
	}
	if (v->db != 0) {
		char dbs[16];
		snprintf(dbs, sizeof(dbs), "%d", v->db);
		const char *argv[2] = {"SELECT", dbs};
		if (cmd_send(v, v->cmd, NULL, NULL, 2, argv, NULL) < 0) {
			teardown(v, "out of memory");
			return;
		}
	}
	loop_timer_set(v->l, &v->conn_timer, loop_clock_ms() + (uint64_t)v->timeout_ms);
}

/* The command connection to cluster node ip:port (the seed's own for
 * it), opened now and authenticated like the seed's; NULL when it cannot
 * be (then the caller gives up on the redirect). */
static redisAsyncContext *node_ctx(struct vk *v, const char *ip, int port)
{
	struct vk_node *n = NULL;
	if (strcmp(ip, v->ip) == 0 && port == v->port)
		return v->cmd;
	for (int i = 0; i < v->nnodes && n == NULL; i++)
		if (strcmp(v->nodes[i].ip, ip) == 0 && v->nodes[i].port == port)
			n = &v->nodes[i];
	if (n == NULL) {
		if (v->nnodes == VK_NODES_MAX || strlen(ip) >= sizeof(n->ip))
			return NULL;
		n = &v->nodes[v->nnodes++];
		strcpy(n->ip, ip);
		n->port = port;
	}
	if (n->ac != NULL)
		return n->ac;
	if ((n->ac = open_ctx(v, ip, port)) == NULL)
		return NULL;
	if (v->password[0] != '\0') {
		const char *argv[2] = {"AUTH", v->password};
		if (redisAsyncCommandArgv(n->ac, NULL, NULL, 2, argv, NULL) != REDIS_OK)
			return NULL; /* teardown frees it */
	}
	pd_log(LOG_INFO, "valkey cluster node addr=%s:%d (redirected there)", ip, port);
	return n->ac;
}

static void on_conn_timer(struct loop_timer *t)
{
	struct vk *v = VK_OF(t, conn_timer);
	if (v->state == VK_CONNECTING)
		teardown(v, "connect timeout");
	else if (v->state == VK_DOWN)
		start_connect(v);
}

static void schedule_retry(struct vk *v)
{
	v->backoff = v->backoff == 0 ? VK_BACKOFF_MIN_MS : v->backoff * 2;
	if (v->backoff > VK_BACKOFF_MAX_MS)
		v->backoff = VK_BACKOFF_MAX_MS;
	/* +-25% jitter so that brokers do not reconnect in step */
	long j = v->backoff / 4;
	long d = v->backoff - j + (j > 0 ? (long)(arc4random_uniform((uint32_t)(2 * j + 1))) : 0);
	loop_timer_set(v->l, &v->conn_timer, loop_clock_ms() + (uint64_t)d);
}

/* Drop both connections. Pending commands get their NULL reply from
 * hiredis (or from a context freed later, inside its own callback). */
static void teardown(struct vk *v, const char *why)
{
	int was_up = v->state == VK_UP;
	redisAsyncContext *cmd = v->cmd, *sub = v->sub;
	if (v->state == VK_DOWN && cmd == NULL && sub == NULL && v->nnodes == 0)
		return;
	v->state = VK_DOWN;
	v->cmd = v->sub = NULL;
	loop_timer_cancel(v->l, &v->ping_timer);
	loop_timer_cancel(v->l, &v->cmd_timer);
	loop_timer_cancel(v->l, &v->conn_timer);
	if (was_up) {
		v->st.downs++;
		if (v->freeing)
			pd_log(LOG_NOTICE, "valkey closed addr=%s", v->addr);
		else
			pd_log(LOG_WARNING, "valkey down addr=%s reason=\"%s\" (serving on, retrying)",
			       v->addr, why);
	} else if (!v->logged_down && !v->freeing) {
		pd_log(LOG_WARNING, "valkey unreachable addr=%s reason=\"%s\" (retrying)", v->addr, why);
	}
	v->logged_down = 1;
	/* contexts we still hold: hiredis defers the free when inside their
	 * callbacks; their callbacks see v->cmd/v->sub no longer match */
	if (cmd != NULL)
		redisAsyncFree(cmd);
	if (sub != NULL)
		redisAsyncFree(sub);
	for (int i = 0; i < v->nnodes; i++) {
		redisAsyncContext *ac = v->nodes[i].ac;
		v->nodes[i].ac = NULL;
		if (ac != NULL)
			redisAsyncFree(ac);
	}
	/* the slots may have moved meanwhile: redirects will tell again */
	v->nnodes = 0;
	memset(v->slot_node, 0, sizeof(v->slot_node));
	if (!was_up && v->nseeds > 1)
		v->seed = (v->seed + 1) % v->nseeds;
	if (!v->freeing)
		schedule_retry(v);
	if (was_up && v->state_fn != NULL && !v->freeing)
		v->state_fn(v, 0, v->state_ud);
}

/* ---- public ---- */

/* host's address as text into ip (INET6_ADDRSTRLEN), IPv4 preferred:
 * hiredis 0.14 takes one address string. 0, or -1 with err filled. */
static int resolve(const char *host, char *ip, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
	int rc = getaddrinfo(host, NULL, &hints, &ai);
	if (rc != 0 || ai == NULL) {
		snprintf(err, errlen, "valkey_url: cannot resolve %s: %s", host, gai_strerror(rc));
		return -1;
	}
	const struct addrinfo *pick = ai;
	for (const struct addrinfo *a = ai; a != NULL; a = a->ai_next)
		if (a->ai_family == AF_INET) {
			pick = a;
			break;
		}
	const void *ap = pick->ai_family == AF_INET
			     ? (const void *)&((const struct sockaddr_in *)pick->ai_addr)->sin_addr
			     : (const void *)&((const struct sockaddr_in6 *)pick->ai_addr)->sin6_addr;
	inet_ntop(pick->ai_family, ap, ip, INET6_ADDRSTRLEN);
	freeaddrinfo(ai);
	return 0;
}

struct vk *vk_new(struct loop *l, const char *url, long timeout_ms, char *err, size_t errlen)
{
	struct vk *v = calloc(1, sizeof(*v));
	if (v == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (vk_parse_url(url, v->host, sizeof(v->host), &v->port, &v->db, v->password,
			 sizeof(v->password), err, errlen) < 0) {
		free(v);
		return NULL;
	}
	struct pd_redis_url u;
	pd_redis_url_parse(url, &u); /* vk_parse_url took it */
	for (int i = 0; i < u.nseeds; i++) {
		if (resolve(u.seeds[i].host, v->seeds[i].ip, err, errlen) != 0) {
			free(v);
			return NULL;
		}
		v->seeds[i].port = u.seeds[i].port;
	}
	v->nseeds = u.nseeds;
	snprintf(v->ip, sizeof(v->ip), "%s", v->seeds[0].ip);
	snprintf(v->addr, sizeof(v->addr), "%s:%d", v->host, v->port);
	v->l = l;
	v->timeout_ms = timeout_ms > 0 ? timeout_ms : VK_DEFAULT_TIMEOUT_MS;
	v->pending.next = v->pending.prev = &v->pending;
	loop_timer_init(&v->conn_timer, on_conn_timer);
	loop_timer_init(&v->cmd_timer, on_cmd_timeout);
	loop_timer_init(&v->ping_timer, on_ping);
	return v;
}

int vk_start(struct vk *v)
{
	if (v->state != VK_DOWN || v->conn_timer.idx != SIZE_MAX)
		return -EALREADY;
	start_connect(v);
	return 0;
}

void vk_free(struct vk *v)
{
	if (v == NULL)
		return;
	v->freeing = 1;
	teardown(v, "shutting down");
	loop_timer_cancel(v->l, &v->conn_timer);
	/* commands of a context freed inside its own callback are still
	 * pending: hiredis calls them later with our vk gone, so detach them */
	for (struct vk_cmd *c = v->pending.next, *n; c != &v->pending; c = n) {
		n = c->next;
		if (c->fn != NULL)
			c->fn(v, NULL, c->ud);
		c->v = NULL;
	}
	for (struct vk_sub *s = v->subs, *n; s != NULL; s = n) {
		n = s->next;
		free(s);
	}
	free(v);
}

void vk_set_state_cb(struct vk *v, vk_state_fn fn, void *ud)
{
	v->state_fn = fn;
	v->state_ud = ud;
}

int vk_is_up(const struct vk *v)
{
	return v->state == VK_UP;
}

struct loop *vk_loop(const struct vk *v)
{
	return v->l;
}

void vk_get_stats(const struct vk *v, struct vk_stats *out)
{
	*out = v->st;
}

const char *vk_addr(const struct vk *v)
{
	return v->addr;
}

void vk_peer(const struct vk *v, char *ip, size_t iplen, int *port)
{
	snprintf(ip, iplen, "%s", v->ip);
	*port = v->port;
}

const char *vk_password(const struct vk *v)
{
	return v->password;
}
