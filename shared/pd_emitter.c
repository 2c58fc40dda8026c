/* pd_emitter: encodes events as @socket.io/redis-emitter does (notepack.io
 * msgpack: smallest integer forms, float64 for non-integers, str8/16/32) and
 * publishes them. Byte for byte the same as the Node emitter, so that the
 * adapter tests can compare. */
#include "pd_emitter.h"

#include <errno.h>
#include <hiredis.h>
#include <math.h>
#include <msgpack.h>
#include <string.h>

#include "pd_keys.h"
#include "pd_log.h"

#define PD_EMIT_MAX_DEPTH 64

static int pack_str(msgpack_packer *pk, const char *s, size_t n)
{
	return msgpack_pack_str(pk, n) || msgpack_pack_str_body(pk, s, n);
}

static int pack_cstr(msgpack_packer *pk, const char *s)
{
	return pack_str(pk, s, strlen(s));
}

static int pack_json(msgpack_packer *pk, const json_t *v, int depth)
{
	if (depth > PD_EMIT_MAX_DEPTH)
		return -1;
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char *k;
		json_t *x;
		if (msgpack_pack_map(pk, json_object_size(v)))
			return -1;
		json_object_foreach((json_t *)v, k, x)
		{
			if (pack_cstr(pk, k) || pack_json(pk, x, depth + 1))
				return -1;
		}
		return 0;
	}
	case JSON_ARRAY: {
		size_t i;
		json_t *x;
		if (msgpack_pack_array(pk, json_array_size(v)))
			return -1;
		json_array_foreach(v, i, x)
		{
			if (pack_json(pk, x, depth + 1))
				return -1;
		}
		return 0;
	}
	case JSON_STRING:
		return pack_str(pk, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		return msgpack_pack_int64(pk, (int64_t)json_integer_value(v));
	case JSON_REAL: {
		double d = json_real_value(v);
		/* JavaScript has one number type: an integral value is an integer
		 * on the wire, as notepack writes it. */
		if (isfinite(d) && floor(d) == d && fabs(d) <= 9007199254740992.0)
			return msgpack_pack_int64(pk, (int64_t)d);
		return msgpack_pack_double(pk, d);
	}
	case JSON_TRUE:
		return msgpack_pack_true(pk);
	case JSON_FALSE:
		return msgpack_pack_false(pk);
	case JSON_NULL:
		return msgpack_pack_nil(pk);
	}
	return -1;
}

static int buf_write(void *data, const char *p, size_t n)
{
	return pd_buf_append(data, p, n) == 0 ? 0 : -1;
}

int pd_emitter_encode(const struct pd_emit *e, struct pd_buf *out)
{
	msgpack_packer pk;
	const char *nsp = e->nsp != NULL && e->nsp[0] != '\0' ? e->nsp : "/";
	size_t start = out->len;
	int bad;

	if (e->event == NULL)
		return -EINVAL;
	msgpack_packer_init(&pk, out, buf_write);
	bad = msgpack_pack_array(&pk, 3) || pack_cstr(&pk, "emitter");
	/* packet: {type: 2 (EVENT), data: [event, payload], nsp} */
	bad = bad || msgpack_pack_map(&pk, 3) || pack_cstr(&pk, "type") ||
	      msgpack_pack_int(&pk, 2) || pack_cstr(&pk, "data") ||
	      msgpack_pack_array(&pk, e->payload != NULL ? 2 : 1) || pack_cstr(&pk, e->event);
	if (!bad && e->payload != NULL && pack_json(&pk, e->payload, 0) != 0) {
		out->len = start;
		return -EINVAL;
	}
	bad = bad || pack_cstr(&pk, "nsp") || pack_cstr(&pk, nsp);
	/* opts: {rooms, flags, except}, in the emitter's key order */
	bad = bad || msgpack_pack_map(&pk, 3) || pack_cstr(&pk, "rooms") ||
	      msgpack_pack_array(&pk, e->nrooms);
	for (size_t i = 0; !bad && i < e->nrooms; i++)
		bad = pack_cstr(&pk, e->rooms[i]);
	bad = bad || pack_cstr(&pk, "flags") || msgpack_pack_map(&pk, 0) ||
	      pack_cstr(&pk, "except") || msgpack_pack_array(&pk, e->nexcept);
	for (size_t i = 0; !bad && i < e->nexcept; i++)
		bad = pack_cstr(&pk, e->except[i]);
	if (bad) {
		out->len = start;
		return -ENOMEM;
	}
	return 0;
}

int pd_emitter_channel(const char *key, const struct pd_emit *e, struct pd_buf *out)
{
	const char *nsp = e->nsp != NULL && e->nsp[0] != '\0' ? e->nsp : "/";
	key = pd_keys_prefix(key);
	if (e->nrooms == 1)
		return pd_buf_printf(out, "%s#%s#%s#", key, nsp, e->rooms[0]);
	return pd_buf_printf(out, "%s#%s#", key, nsp);
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
	r = redisCommand(c, "PUBLISH %b %b", ch.data, ch.len, msg.data, msg.len);
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
