/* pd_emitter: events in the wire format of @socket.io/redis-emitter, so that
 * every Socket.IO Redis adapter (pushdesk brokers, Node servers) on the same
 * Valkey delivers them. A message is the msgpack array
 *   ["emitter", {type: 2, data: [event, payload], nsp}, {rooms, flags: {}, except}]
 * published to "<key>#<nsp>#", or "<key>#<nsp>#<room>#" when exactly one room
 * is named (the adapter then only decodes it if it has that room). */
#ifndef PD_EMITTER_H
#define PD_EMITTER_H

#include <jansson.h>
#include <stddef.h>

#include "pd_buf.h"

struct redisContext;

/* adapter_mode: how events are published (pushdesk.conf(5)). */
enum pd_emit_mode { PD_EMIT_CLASSIC = 0, PD_EMIT_SHARDED = 1 };

/* "classic" -> PD_EMIT_CLASSIC, "sharded" -> PD_EMIT_SHARDED, else -1. */
int pd_emitter_mode(const char *s);

/* Where and how to publish: a client that follows a cluster's
 * redirects (shared/pd_kvc.h), adapter_key, mode. */
struct pd_kvc;
struct pd_emit_target {
	struct pd_kvc *kv;
	const char *key;
	enum pd_emit_mode mode;
	/* > 0: connection state recovery is on (recovery_max_events): the
	 * message also goes to the namespace's stream, capped near this
	 * length, and carries its id (classic: pd_keys_lua_xpub, one script;
	 * sharded: XADD, then SPUBLISH with pd_wire_sh_offset) */
	long stream_max;
	/* > 0 (recovery_window): events with an id (pd_emit.id) go to the
	 * stream once, however often they are sent (pd_keys_lua_xpub_once,
	 * pd_keys_lua_xadd_once): a publisher that lost a reply sends again */
	long seen_ms;
};

struct pd_emit {
	const char *nsp;               /* "/" when NULL */
	const char *event;
	const json_t *payload;         /* any JSON value; NULL sends no argument */
	const char *const *rooms;      /* none = every socket of the namespace */
	size_t nrooms;
	const char *const *except;
	size_t nexcept;
	const char *id; /* the publisher's own id of the event, or NULL */
};

struct pd_cfg;
/* Connection state recovery's settings (recovery_window in ms, 0 = off;
 * recovery_max_events), read once for the broker, the API and
 * pushdeskctl. *stream_max (may be NULL): what pd_emit_target.stream_max gets,
 * 0 when recovery is off. 0, or -1 with err filled. */
int pd_emitter_recovery_cfg(const struct pd_cfg *cfg, long *window_ms, long *max_events,
			    long *stream_max, char *err, size_t errlen);

/* Encode e into out (appended). 0, -EINVAL (no event, or a JSON value that
 * cannot be encoded), -ENOMEM or -ENOBUFS. No I/O. */
int pd_emitter_encode(const struct pd_emit *e, struct pd_buf *out);

/* The channel for e under key (adapter_key, "socket.io" when NULL or empty),
 * appended to out, NUL-terminated (pd_wire_channel_broadcast). 0, -EINVAL
 * (a name over its limit) or -ENOMEM/-ENOBUFS. */
int pd_emitter_channel(const char *key, const struct pd_emit *e, struct pd_buf *out);

/* pd_emitter_send on one Valkey (no redirects followed) in classic mode,
 * without a recovery stream: for tests and tools that hold a plain
 * context. */
long pd_emitter_publish(struct redisContext *c, const char *key, const struct pd_emit *e);

/* The sharded adapter's format (@socket.io/redis-adapter createShardedAdapter,
 * the ClusterAdapter's BROADCAST message, JSON as JSON.stringify writes it):
 *   {"type":3,"data":{"packet":{"type":2,"data":[event,payload]},
 *    "opts":{"rooms":[...],"except":[...],"flags":{}}},"uid":"emitter","nsp":nsp}
 * appended to out. Byte for byte the Node adapter's for strings, integers,
 * booleans, null, arrays and objects; a real may be spelled differently
 * (jansson's %.17g) and control characters escape as \u00XX upper case:
 * the same value to a JSON parser. 0, -EINVAL, -ENOMEM or -ENOBUFS. */
int pd_emitter_encode_sharded(const struct pd_emit *e, struct pd_buf *out);

/* The sharded channel for e, NUL-terminated, in "dynamic" subscription
 * mode: "<key>#<nsp>#<room>#" when e names exactly one room that does not
 * look like a socket id (20 bytes, as the adapter decides), else
 * "<key>#<nsp>#". 0, -EINVAL, -ENOMEM or -ENOBUFS. */
int pd_emitter_channel_sharded(const char *key, const struct pd_emit *e, struct pd_buf *out);

/* Encode e in t->mode's format and PUBLISH (classic) or SPUBLISH
 * (sharded) it on t->kv, following a cluster's redirects (SPUBLISH goes to
 * the node owning the channel's slot). Returns the receivers counted by
 * the node (>= 0), or -EIO (pd_kvc_ctx(t->kv) may then be dead: the
 * caller drops t->kv),
 * -EINVAL/-ENOMEM as encode. */
long pd_emitter_send(const struct pd_emit_target *t, const struct pd_emit *e);

#endif
