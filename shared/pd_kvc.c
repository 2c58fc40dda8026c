/* pd_kvc: redirect-following synchronous commands with a connection per
 * cluster node (pd_kvc.h). The command is formatted once and the same
 * bytes go to each node it is sent to. */
#include "pd_kvc.h"

#include <errno.h>
#include <hiredis.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "pd_log.h"
#include "pd_slot.h"
#include "pd_url.h"

struct pd_kvc {
	redisContext *home; /* the caller's: where a slot not known starts */
	/* node i's connection (pd_slot_map's index), NULL until needed; it
	 * is home itself when home is that node */
	redisContext *conn[PD_SLOT_NODES_MAX];
	struct pd_slot_map *map;
	int cur; /* the last command's node, -1: home */
	char *url;
};

static redisReply *run(redisContext *c, const char *cmd, size_t len)
{
	void *r = NULL;
	if (redisAppendFormattedCommand(c, cmd, len) != REDIS_OK || redisGetReply(c, &r) != REDIS_OK)
		return NULL;
	return r;
}

/* An idle synchronous context has no reply pending: a readable socket is
 * the server closing it (restart, client timeout). */
static int idle_closed(const redisContext *c)
{
	struct pollfd p = {c->fd, POLLIN, 0};
	int n;
	do
		n = poll(&p, 1, 0);
	while (n < 0 && errno == EINTR);
	return n != 0;
}

/* A connection to host:port with home's timeout, authenticated as url
 * says; NULL when it cannot be had (logged). */
static redisContext *node_connect(const redisContext *home, const char *url, const char *host,
				  int port)
{
	struct pd_redis_url u;
	struct timeval tv = {2, 0};
	redisContext *c;
	redisReply *r = NULL;

	if (pd_redis_url_parse(url, &u) != 0)
		return NULL;
	if (home->timeout != NULL)
		tv = *home->timeout;
	c = redisConnectWithTimeout(host, port, tv);
	if (c == NULL || c->err != 0) {
		pd_log(LOG_WARNING, "valkey node %s:%d: %s", host, port,
		       c != NULL ? c->errstr : "out of memory");
		goto fail;
	}
	redisSetTimeout(c, tv);
	if (u.password[0] != '\0') {
		r = u.user[0] != '\0' ? redisCommand(c, "AUTH %s %s", u.user, u.password)
				      : redisCommand(c, "AUTH %s", u.password);
		if (r == NULL || r->type == REDIS_REPLY_ERROR) {
			pd_log(LOG_WARNING, "valkey node %s:%d: auth failed", host, port);
			goto fail;
		}
		freeReplyObject(r);
	}
	return c;
fail:
	if (r != NULL)
		freeReplyObject(r);
	if (c != NULL)
		redisFree(c);
	return NULL;
}

static void conn_drop(struct pd_kvc *k, int i)
{
	if (k->conn[i] != NULL && k->conn[i] != k->home)
		redisFree(k->conn[i]);
	k->conn[i] = NULL;
}

/* Node i's connection, made (again) when it has none or a broken one;
 * NULL when it cannot be had: the node's slots are then forgotten. */
static redisContext *node_conn(struct pd_kvc *k, int i)
{
	const char *host;
	int port;

	if (k->conn[i] != NULL && k->conn[i] != k->home &&
	    (k->conn[i]->err != 0 || idle_closed(k->conn[i])))
		conn_drop(k, i);
	if (k->conn[i] != NULL)
		return k->conn[i];
	if ((host = pd_slot_map_addr(k->map, i, &port)) == NULL)
		return NULL;
	/* the seed the caller connected to is often one of the nodes */
	if (k->home->connection_type == REDIS_CONN_TCP && k->home->tcp.host != NULL &&
	    k->home->tcp.port == port && strcmp(k->home->tcp.host, host) == 0)
		k->conn[i] = k->home;
	else
		k->conn[i] = node_connect(k->home, k->url, host, port);
	if (k->conn[i] == NULL)
		pd_slot_map_forget(k->map, i);
	return k->conn[i];
}

/* The connection of node i (-1: the last command's), set as the last
 * command's; home when node i's cannot be had. */
static redisContext *use(struct pd_kvc *k, int i)
{
	redisContext *c;
	if (i < 0)
		i = k->cur;
	c = i >= 0 ? node_conn(k, i) : NULL;
	k->cur = c != NULL ? i : -1;
	return c != NULL ? c : k->home;
}

static redisReply *run_follow(struct pd_kvc *k, const char *cmd, size_t len)
{
	redisContext *c = use(k, pd_slot_map_route(k->map, cmd, len));
	redisReply *r = run(c, cmd, len);
	struct pd_slot_redirect rd;

	for (int hop = 0; hop < PD_KVC_HOPS && r != NULL && r->type == REDIS_REPLY_ERROR &&
			  pd_slot_redirect_parse(r->str, r->len, &rd) == 0;
	     hop++) {
		/* an empty host is the node that answered */
		const char *host = rd.host[0] != '\0' ? rd.host : c->tcp.host;
		int i = host != NULL ? pd_slot_map_node(k->map, host, rd.port) : -1;
		redisContext *nc;
		if (i >= 0)
			nc = node_conn(k, i);
		else if (host != NULL) /* more nodes than the map holds: once */
			nc = node_connect(c, k->url, host, rd.port);
		else
			nc = NULL;
		if (nc == NULL)
			break; /* the redirect stands as the reply: an error */
		freeReplyObject(r);
		r = NULL;
		if (rd.ask) {
			/* ASKING holds for the next command on nc only */
			redisReply *a = redisCommand(nc, "ASKING");
			if (a != NULL) {
				freeReplyObject(a);
				r = run(nc, cmd, len);
			}
		} else {
			if (i >= 0)
				pd_slot_map_set(k->map, rd.slot, i);
			r = run(nc, cmd, len);
		}
		if (i >= 0) {
			k->cur = i;
			c = nc;
		} else {
			if (r == NULL)
				pd_log(LOG_WARNING, "valkey node %s:%d: %s", host, rd.port,
				       nc->errstr);
			redisFree(nc);
		}
		if (r == NULL)
			break;
	}
	return r;
}

/* run_follow on a command formatted by hiredis (len < 0: it failed), freed */
static redisReply *run_formatted(struct pd_kvc *k, char *cmd, int len)
{
	redisReply *r = len < 0 ? NULL : run_follow(k, cmd, (size_t)len);
	free(cmd);
	return r;
}

redisReply *pd_kvc_argv(struct pd_kvc *k, int argc, const char **argv, const size_t *lens)
{
	char *cmd = NULL;
	int len = redisFormatCommandArgv(&cmd, argc, argv, lens);
	return run_formatted(k, cmd, len);
}

redisReply *pd_kvc_vcommand(struct pd_kvc *k, const char *fmt, va_list ap)
{
	char *cmd = NULL;
	int len = redisvFormatCommand(&cmd, fmt, ap);
	return run_formatted(k, cmd, len);
}

redisReply *pd_kvc_command(struct pd_kvc *k, const char *fmt, ...)
{
	va_list ap;
	redisReply *r;
	va_start(ap, fmt);
	r = pd_kvc_vcommand(k, fmt, ap);
	va_end(ap);
	return r;
}

redisContext *pd_kvc_connect(const struct pd_redis_url *u, struct timeval tv)
{
	redisContext *c = NULL;
	if (u->unix_path[0] != '\0')
		return redisConnectUnixWithTimeout(u->unix_path, tv);
	for (int i = 0; i < u->nseeds; i++) {
		if (c != NULL)
			redisFree(c);
		c = redisConnectWithTimeout(u->seeds[i].host, u->seeds[i].port, tv);
		if (c == NULL || c->err == 0)
			break;
	}
	return c;
}

struct pd_kvc *pd_kvc_new(redisContext *c, const char *url)
{
	struct pd_kvc *k = calloc(1, sizeof(*k));
	if (k == NULL || (k->map = pd_slot_map_new()) == NULL || (k->url = strdup(url)) == NULL) {
		if (k != NULL)
			pd_slot_map_free(k->map);
		free(k);
		return NULL;
	}
	k->home = c;
	k->cur = -1;
	return k;
}

redisContext *pd_kvc_release(struct pd_kvc *k)
{
	redisContext *c;
	if (k == NULL)
		return NULL;
	for (int i = 0; i < PD_SLOT_NODES_MAX; i++)
		conn_drop(k, i);
	c = k->home;
	pd_slot_map_free(k->map);
	free(k->url);
	free(k);
	return c;
}

void pd_kvc_free(struct pd_kvc *k)
{
	redisContext *c = pd_kvc_release(k);
	if (c != NULL)
		redisFree(c);
}

redisContext *pd_kvc_ctx(const struct pd_kvc *k)
{
	return k->cur >= 0 && k->conn[k->cur] != NULL ? k->conn[k->cur] : k->home;
}

int pd_kvc_usable(const struct pd_kvc *k)
{
	return k->home->err == 0 && !idle_closed(k->home);
}

redisContext *pd_kvc_route(struct pd_kvc *k, const char *key)
{
	const char *argv[2] = {"EXISTS", key};
	redisReply *r = pd_kvc_argv(k, 2, argv, NULL);
	int ok = r != NULL && r->type == REDIS_REPLY_INTEGER;
	if (r != NULL)
		freeReplyObject(r);
	return ok ? pd_kvc_ctx(k) : NULL;
}
