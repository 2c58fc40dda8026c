/* pd_kvc: synchronous hiredis commands that follow a Valkey Cluster's
 * redirections, for the API (its requests and outbox relay) and
 * pushdeskctl. A command whose reply is "MOVED slot host:port" is sent
 * again to that node, whose connection then replaces *cp (the next
 * commands on that slot go straight there); "ASK" sends ASKING and the
 * command on a connection of its own, closed after. On one Valkey no
 * reply is a redirect and these are redisCommand with one more check.
 *
 * Not a slot map: a client that moves between slots pays one redirect and
 * one connect each time (the API's keys are in two tags and a few rate
 * limit keys). Classic pub/sub needs none of this: a cluster delivers a
 * PUBLISH from any node to the subscribers of every node. */
#ifndef PD_KVC_H
#define PD_KVC_H

#include <stdarg.h>
#include <stddef.h>

struct redisContext;
struct redisReply;

#define PD_KVC_HOPS 5 /* redirects followed for one command */

struct pd_redis_url;
struct timeval;

/* A connection to u: its unix socket, else its seeds in turn (the first
 * that accepts; a cluster's other nodes may be down). Not authenticated.
 * NULL (out of memory) or a context whose err says why the last failed. */
struct redisContext *pd_kvc_connect(const struct pd_redis_url *u, struct timeval tv);

/* Run argv (lens NULL: strlen) on *cp, following redirects; url is the
 * valkey_url (its user and password AUTH a new connection). The reply, or
 * NULL: no reply (*cp's err says why; it may also be a new node's
 * connection that failed, then *cp is unchanged). */
struct redisReply *pd_kvc_argv(struct redisContext **cp, const char *url, int argc,
			       const char **argv, const size_t *lens);

/* The same with redisCommand's format. */
struct redisReply *pd_kvc_command(struct redisContext **cp, const char *url, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
struct redisReply *pd_kvc_vcommand(struct redisContext **cp, const char *url, const char *fmt,
				   va_list ap);

/* Make *cp the connection of the node that serves key's slot (for what
 * has no key to redirect on: a pipeline, SCAN MATCH of a tagged pattern).
 * 0, or -1 when Valkey did not answer. */
int pd_kvc_route(struct redisContext **cp, const char *url, const char *key);

#endif
