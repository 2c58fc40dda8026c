/* pd_kvc: redirect-following synchronous commands (pd_kvc.h). The command
 * is formatted once and the same bytes go to each node it is sent to. */
#include "pd_kvc.h"

#include <hiredis.h>
#include <stdlib.h>
#include <string.h>

#include "pd_log.h"
#include "pd_slot.h"
#include "pd_url.h"

static redisReply *run(redisContext *c, const char *cmd, size_t len)
{
	void *r = NULL;
	if (redisAppendFormattedCommand(c, cmd, len) != REDIS_OK || redisGetReply(c, &r) != REDIS_OK)
		return NULL;
	return r;
}

/* A connection to host:port with old's timeout, authenticated as url
 * says; NULL when it cannot be had. */
static redisContext *node_connect(const redisContext *old, const char *url, const char *host,
				  int port)
{
	struct pd_redis_url u;
	struct timeval tv = {2, 0};
	redisContext *c;
	redisReply *r = NULL;

	if (pd_redis_url_parse(url, &u) != 0)
		return NULL;
	if (old->timeout != NULL)
		tv = *old->timeout;
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

static redisReply *run_follow(redisContext **cp, const char *url, const char *cmd, size_t len)
{
	redisReply *r = run(*cp, cmd, len);
	struct pd_slot_redirect rd;

	for (int hop = 0; hop < PD_KVC_HOPS && r != NULL && r->type == REDIS_REPLY_ERROR &&
			  pd_slot_redirect_parse(r->str, r->len, &rd) == 0;
	     hop++) {
		/* an empty host is the node that answered */
		const char *host = rd.host[0] != '\0' ? rd.host : (*cp)->tcp.host;
		redisContext *nc;
		if (host == NULL || (nc = node_connect(*cp, url, host, rd.port)) == NULL)
			break; /* the redirect stands as the reply: an error */
		freeReplyObject(r);
		if (rd.ask) {
			redisReply *a = redisCommand(nc, "ASKING");
			if (a != NULL)
				freeReplyObject(a);
			r = a != NULL ? run(nc, cmd, len) : NULL;
			redisFree(nc);
			if (r == NULL)
				return NULL;
		} else {
			redisFree(*cp);
			*cp = nc;
			r = run(nc, cmd, len);
		}
	}
	return r;
}

/* run_follow on a command formatted by hiredis (len < 0: it failed), freed */
static redisReply *run_formatted(redisContext **cp, const char *url, char *cmd, int len)
{
	redisReply *r = len < 0 ? NULL : run_follow(cp, url, cmd, (size_t)len);
	free(cmd);
	return r;
}

redisReply *pd_kvc_argv(redisContext **cp, const char *url, int argc, const char **argv,
			const size_t *lens)
{
	char *cmd = NULL;
	int len = redisFormatCommandArgv(&cmd, argc, argv, lens);
	return run_formatted(cp, url, cmd, len);
}

redisReply *pd_kvc_vcommand(redisContext **cp, const char *url, const char *fmt, va_list ap)
{
	char *cmd = NULL;
	int len = redisvFormatCommand(&cmd, fmt, ap);
	return run_formatted(cp, url, cmd, len);
}

redisReply *pd_kvc_command(redisContext **cp, const char *url, const char *fmt, ...)
{
	va_list ap;
	redisReply *r;
	va_start(ap, fmt);
	r = pd_kvc_vcommand(cp, url, fmt, ap);
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

int pd_kvc_route(redisContext **cp, const char *url, const char *key)
{
	const char *argv[2] = {"EXISTS", key};
	redisReply *r = pd_kvc_argv(cp, url, 2, argv, NULL);
	int ok = r != NULL && r->type == REDIS_REPLY_INTEGER;
	if (r != NULL)
		freeReplyObject(r);
	return ok ? 0 : -1;
}
