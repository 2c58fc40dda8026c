/* vk: hiredis 0.14 async contexts driven by our loop. Two connections to
 * one Valkey: one for commands, one that only subscribes (hiredis hands a
 * subscribed context's replies to pending command callbacks first, so no
 * command ever goes on it). hiredis has no timer hook: connect timeouts,
 * command timeouts, health pings and reconnects with backoff run on our
 * loop's timers. Everything here runs on the one loop given to vk_new. */
#ifndef PD_VK_H
#define PD_VK_H

#include <stddef.h>
#include <stdint.h>

struct loop;
struct vk;
struct redisReply;

#define VK_HOST_MAX 256
#define VK_DEFAULT_TIMEOUT_MS 5000
#define VK_BACKOFF_MIN_MS 100
#define VK_BACKOFF_MAX_MS 5000
#define VK_PING_MS 2000

/* Called once per command: r is the reply (borrowed until return; an
 * error reply is r->type == REDIS_REPLY_ERROR), or NULL when the command
 * failed without a reply (timeout, connection lost, vk_free). */
typedef void (*vk_reply_fn)(struct vk *v, const struct redisReply *r, void *ud);
/* A message on a subscription: pattern is NULL for a plain subscribe.
 * Slices are borrowed until return. */
typedef void (*vk_msg_fn)(struct vk *v, const char *pattern, const char *channel, size_t chlen,
			  const char *data, size_t len, void *ud);
/* up 1: both connections are ready and every subscription was re-sent;
 * up 0: Valkey was lost (pending commands have had their NULL reply). */
typedef void (*vk_state_fn)(struct vk *v, int up, void *ud);

struct vk_stats {
	uint64_t ups, downs;        /* transitions */
	uint64_t commands, replies, errors, timeouts;
	uint64_t published, dropped; /* dropped: refused while down */
	uint64_t messages;           /* pub/sub messages received */
	uint64_t connect_attempts;
	uint64_t redirects;   /* Valkey Cluster MOVED/ASK followed */
	uint64_t node_losses; /* a cluster node's connection lost (not a down) */
};

/* Parse a valkey_url with pd_redis_url_parse (shared/pd_url.h: redis:// or
 * valkey://, or bare host:port; unix sockets are refused here, the broker
 * connects over TCP). A user name is accepted but not sent (AUTH takes the
 * password only). host gets at most hostlen-1 bytes; password may be NULL when not wanted. 0, or -1
 * with err filled. */
int vk_parse_url(const char *url, char *host, size_t hostlen, int *port, int *db, char *password,
		 size_t passlen, char *err, size_t errlen);

/* A client for url. Resolves the host name here (getaddrinfo: call it
 * before the loops run, never on a loop) and connects only at vk_start.
 * timeout_ms bounds connects and every command (0: VK_DEFAULT_TIMEOUT_MS).
 * NULL with err filled on a bad url, an unknown host or ENOMEM. */
struct vk *vk_new(struct loop *l, const char *url, long timeout_ms, char *err, size_t errlen);
/* Close both connections (pending commands get NULL) and free; NULL ok.
 * Not from inside one of v's callbacks: defer it. */
void vk_free(struct vk *v);

void vk_set_state_cb(struct vk *v, vk_state_fn fn, void *ud);
/* Start connecting (non-blocking). 0 or -errno. */
int vk_start(struct vk *v);
int vk_is_up(const struct vk *v);
struct loop *vk_loop(const struct vk *v);
void vk_get_stats(const struct vk *v, struct vk_stats *out);
/* "host:port" for logs (borrowed). */
const char *vk_addr(const struct vk *v);
/* For vkss (shard subscriptions on the same nodes): the address of the
 * seed the command connection is on, and valkey_url's password ("" for
 * none). */
void vk_peer(const struct vk *v, char *ip, size_t iplen, int *port);
const char *vk_password(const struct vk *v);

/* Send a command (argv/lens as redisAsyncCommandArgv; lens NULL: strlen).
 * 0: fn (may be NULL) will be called exactly once. -ENOTCONN while down,
 * -ENOMEM: fn is not called. */
int vk_command(struct vk *v, vk_reply_fn fn, void *ud, int argc, const char **argv,
	       const size_t *lens);
/* PUBLISH, no reply wanted. 0, -ENOTCONN (counted as dropped) or -ENOMEM. */
int vk_publish(struct vk *v, const char *channel, size_t chlen, const void *p, size_t len);

/* Subscribe (pattern 0) or pattern-subscribe (1) to channel for the life
 * of v: sent now if up and again after every reconnect. 0, -EEXIST or
 * -ENOMEM. */
int vk_subscribe(struct vk *v, const char *channel, int pattern, vk_msg_fn fn, void *ud);

#endif
