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

struct pd_emit {
	const char *nsp;               /* "/" when NULL */
	const char *event;
	const json_t *payload;         /* any JSON value; NULL sends no argument */
	const char *const *rooms;      /* none = every socket of the namespace */
	size_t nrooms;
	const char *const *except;
	size_t nexcept;
	/* > 0: connection state recovery is on (recovery_max_events): the
	 * message also goes to the namespace's stream (pd_keys_lua_xpub) */
	long stream_max;
};

struct pd_cfg;
/* Connection state recovery's settings (recovery_window in ms, 0 = off;
 * recovery_max_events), read once for the broker, the API and
 * pushdeskctl. *stream_max (may be NULL): what pd_emit.stream_max gets,
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

/* Encode and PUBLISH with a synchronous hiredis context. Returns the number
 * of subscribers that received it (>= 0), or -EIO on a Valkey error (the
 * context's errstr is logged; a context with c->err set must be replaced by
 * the caller), -EINVAL/-ENOMEM as encode. */
long pd_emitter_publish(struct redisContext *c, const char *key, const struct pd_emit *e);

#endif
