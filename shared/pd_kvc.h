/* pd_kvc: synchronous hiredis commands that follow a Valkey Cluster's
 * redirections, for the API (its requests and outbox relay) and
 * pushdeskctl. A client (struct pd_kvc) holds the caller's connection and,
 * on a cluster, one connection per node (at most PD_SLOT_NODES_MAX) with a
 * slot map learnt from MOVED ("MOVED slot host:port": the command is sent
 * again there and the slot's next commands go straight there). "ASK" sends
 * ASKING and the command on the target's connection, once. On one Valkey
 * no reply is a redirect: one connection, no extra round trip, and these
 * are redisCommand with one more check.
 *
 * A command goes to the node of its key's slot when MOVED told it (the
 * key: argv[1], EVAL/EVALSHA's first key, pd_slot_cmd_key); one with no
 * key (PING, SCAN, PUBLISH...) or a slot not known goes to the connection
 * of the last command (pd_kvc_ctx), which redirects if need be. A node's
 * connection that failed or that the server closed is made again when it
 * is next needed; a node that cannot be reached loses its slots (its
 * commands go back through the redirects). Classic pub/sub needs none of
 * this: a cluster delivers a PUBLISH from any node to every node's
 * subscribers. */
#ifndef PD_KVC_H
#define PD_KVC_H

#include <stdarg.h>
#include <stddef.h>

struct redisContext;
struct redisReply;

#define PD_KVC_HOPS 5 /* redirects followed for one command */

struct pd_redis_url;
struct timeval;
struct pd_kvc;

/* A connection to u: its unix socket, else its seeds in turn (the first
 * that accepts; a cluster's other nodes may be down). Not authenticated.
 * NULL (out of memory) or a context whose err says why the last failed. */
struct redisContext *pd_kvc_connect(const struct pd_redis_url *u, struct timeval tv);

/* A client on c (connected, authenticated and SELECTed by the caller: it
 * becomes the client's, freed by pd_kvc_free); url is the valkey_url (its
 * user and password AUTH the nodes' connections, which take c's timeout).
 * NULL: out of memory, c is still the caller's. */
struct pd_kvc *pd_kvc_new(struct redisContext *c, const char *url);

/* Frees k, its connections and c. pd_kvc_free(NULL) is a no-op. */
void pd_kvc_free(struct pd_kvc *k);

/* Frees k and the nodes' connections but hands pd_kvc_new's c back. */
struct redisContext *pd_kvc_release(struct pd_kvc *k);

/* The connection of the last command (borrowed): after a NULL reply its
 * err says why (the caller then drops k, as after any I/O error). */
struct redisContext *pd_kvc_ctx(const struct pd_kvc *k);

/* 1 when pd_kvc_new's c can be used: no error, and not closed by the
 * server while idle (a restart, a client timeout); 0: drop k. */
int pd_kvc_usable(const struct pd_kvc *k);

/* Run argv (lens NULL: strlen) on k, routed and following redirects. The
 * reply, or NULL: no reply (pd_kvc_ctx(k)'s err says why). */
struct redisReply *pd_kvc_argv(struct pd_kvc *k, int argc, const char **argv,
			       const size_t *lens);

/* The same with redisCommand's format. */
struct redisReply *pd_kvc_command(struct pd_kvc *k, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
struct redisReply *pd_kvc_vcommand(struct pd_kvc *k, const char *fmt, va_list ap);

/* The connection of the node that serves key's slot, made the one of the
 * last command (for what has no key to route on: a pipeline, SCAN MATCH
 * of a tagged pattern); borrowed. NULL when Valkey did not answer. */
struct redisContext *pd_kvc_route(struct pd_kvc *k, const char *key);

#endif
