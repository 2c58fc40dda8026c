/* pd_emitter: encodes events as @socket.io/redis-emitter does (notepack.io
 * msgpack, written by pd_msgpack as the broker's adapter codec writes it)
 * and publishes them. Byte for byte the same as the Node emitter, so that the
 * adapter tests can compare. */
#include "pd_emitter.h"

#include <errno.h>
#include <hiredis.h>
#include <stdio.h>
#include <string.h>

#include "pd_cfg.h"
#include "pd_keys.h"
#include "pd_log.h"
#include "pd_msgpack.h"
#include "pd_wire.h"

int pd_emitter_recovery_cfg(const struct pd_cfg *cfg, long *window_ms, long *max_events,
			    long *stream_max, char *err, size_t errlen)
{
	long w, m;
	if (pd_cfg_get_long(cfg, "recovery_window", 0, 86400000, &w, err, errlen) != 0 ||
	    pd_cfg_get_long(cfg, "recovery_max_events", 1, 100000000, &m, err, errlen) != 0)
		return -1;
	if (window_ms != NULL)
		*window_ms = w;
	if (max_events != NULL)
		*max_events = m;
	if (stream_max != NULL)
		*stream_max = w > 0 ? m : 0;
	return 0;
}

int pd_emitter_encode(const struct pd_emit *e, struct pd_buf *out)
{
	struct pd_msgpack_wr w;
	const char *nsp = e->nsp != NULL && e->nsp[0] != '\0' ? e->nsp : "/";
	int bad;

	if (e->event == NULL)
		return -EINVAL;
	pd_msgpack_wr_init(&w, out, NULL, 0);
	bad = msgpack_pack_array(&w.pk, 3) || pd_msgpack_cstr(&w, "emitter");
	/* packet: {type: 2 (EVENT), data: [event, payload], nsp} */
	bad = bad || msgpack_pack_map(&w.pk, 3) || pd_msgpack_cstr(&w, "type") ||
	      msgpack_pack_int(&w.pk, 2) || pd_msgpack_cstr(&w, "data") ||
	      msgpack_pack_array(&w.pk, e->payload != NULL ? 2 : 1) || pd_msgpack_cstr(&w, e->event);
	if (!bad && e->payload != NULL && pd_msgpack_json(&w, e->payload, 0) != 0) {
		pd_msgpack_wr_end(&w, 1);
		return -EINVAL;
	}
	bad = bad || pd_msgpack_cstr(&w, "nsp") || pd_msgpack_cstr(&w, nsp);
	/* opts: {rooms, flags, except}, in the emitter's key order */
	bad = bad || msgpack_pack_map(&w.pk, 3) || pd_msgpack_cstr(&w, "rooms") ||
	      pd_msgpack_strs(&w, e->rooms, e->nrooms) || pd_msgpack_cstr(&w, "flags") ||
	      msgpack_pack_map(&w.pk, 0) || pd_msgpack_cstr(&w, "except") ||
	      pd_msgpack_strs(&w, e->except, e->nexcept);
	return pd_msgpack_wr_end(&w, bad);
}

int pd_emitter_channel(const char *key, const struct pd_emit *e, struct pd_buf *out)
{
	return pd_wire_channel_broadcast(out, key, e->nsp, e->nrooms == 1 ? e->rooms[0] : NULL);
}

long pd_emitter_publish(struct redisContext *c, const char *key, const struct pd_emit *e)
{
	struct pd_buf msg, ch;
	redisReply *r;
	long rc;

	pd_buf_init(&msg, 0);
	pd_buf_init(&ch, 0);
	if ((rc = pd_emitter_encode(e, &msg)) != 0 || (rc = pd_emitter_channel(key, e, &ch)) != 0)
		goto out;
	if (e->stream_max > 0) {
		char sk[PD_KEYS_MAX], max[24];
		if (pd_keys_recovery_stream(sk, sizeof(sk), key,
					    e->nsp != NULL && e->nsp[0] != '\0' ? e->nsp : "/") < 0) {
			rc = -EINVAL;
			goto out;
		}
		snprintf(max, sizeof(max), "%ld", e->stream_max);
		r = redisCommand(c, "EVAL %s 1 %s %b %b %s", pd_keys_lua_xpub, sk, msg.data, msg.len,
				 ch.data, ch.len, max);
	} else {
		r = redisCommand(c, "PUBLISH %b %b", ch.data, ch.len, msg.data, msg.len);
	}
	if (r == NULL) {
		pd_log(LOG_WARNING, "valkey publish failed: %s", c->errstr);
		rc = -EIO;
	} else if (r->type != REDIS_REPLY_INTEGER) {
		pd_log(LOG_WARNING, "valkey publish failed: %s",
		       r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
		rc = -EIO;
	} else {
		rc = (long)r->integer;
	}
	if (r != NULL)
		freeReplyObject(r);
out:
	pd_buf_free(&msg);
	pd_buf_free(&ch);
	return rc;
}
