/* pd_emitter: encodes events as @socket.io/redis-emitter does (notepack.io
 * msgpack, written by pd_msgpack as the broker's adapter codec writes it)
 * and publishes them. Byte for byte the same as the Node emitter, so that the
 * adapter tests can compare. */
#include "pd_emitter.h"

#include <errno.h>
#include <hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pd_cfg.h"
#include "pd_json.h"
#include "pd_keys.h"
#include "pd_kvc.h"
#include "pd_log.h"
#include "pd_msgpack.h"
#include "pd_wire.h"

/* The sharded adapter's uid for messages from no server (it only drops
 * messages with its own uid; pushdesk's emitters share this one). */
#define PD_EMITTER_UID "emitter"
/* a room this long is a socket id to the sharded adapter: no room channel */
#define PD_EMITTER_SID_LEN 20

int pd_emitter_mode(const char *s)
{
	if (s != NULL && strcmp(s, "classic") == 0)
		return PD_EMIT_CLASSIC;
	if (s != NULL && strcmp(s, "sharded") == 0)
		return PD_EMIT_SHARDED;
	return -1;
}

int pd_emitter_encode_sharded(const struct pd_emit *e, struct pd_buf *out)
{
	const char *nsp = e->nsp != NULL && e->nsp[0] != '\0' ? e->nsp : "/";
	json_t *data, *m;
	char *txt;
	int rc;

	if (e->event == NULL)
		return -EINVAL;
	data = json_array();
	if (data == NULL || json_array_append_new(data, json_string(e->event)) != 0 ||
	    (e->payload != NULL && json_array_append(data, (json_t *)e->payload) != 0)) {
		json_decref(data);
		return -EINVAL;
	}
	/* the keys in the adapter's order: json_pack keeps it */
	m = json_pack("{s:i, s:{s:{s:i, s:o}, s:{s:o, s:o, s:{}}}, s:s, s:s}", "type", 3, "data",
		      "packet", "type", 2, "data", data, "opts", "rooms",
		      pd_json_strs(e->rooms, e->nrooms), "except", pd_json_strs(e->except, e->nexcept),
		      "flags", "uid", PD_EMITTER_UID, "nsp", nsp);
	if (m == NULL)
		return -EINVAL;
	txt = json_dumps(m, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(m);
	if (txt == NULL)
		return -EINVAL;
	rc = pd_buf_append(out, txt, strlen(txt));
	free(txt);
	return rc;
}

int pd_emitter_channel_sharded(const char *key, const struct pd_emit *e, struct pd_buf *out)
{
	const char *room = e->nrooms == 1 && strlen(e->rooms[0]) != PD_EMITTER_SID_LEN ? e->rooms[0]
											: NULL;
	return pd_wire_channel_broadcast(out, key, e->nsp, room);
}

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

/* The recovery stream of e's namespace (pd_keys). 0, or -1: too long. */
static int stream_key(const char *key, const struct pd_emit *e, char *sk, size_t n)
{
	return pd_keys_recovery_stream(sk, n, key,
				       e->nsp != NULL && e->nsp[0] != '\0' ? e->nsp : "/") < 0
		   ? -1
		   : 0;
}

/* A publish's reply r (freed): its count, or -EIO (logged). */
static long publish_result(const redisContext *c, const char *cmd, redisReply *r)
{
	long rc;
	if (r == NULL) {
		pd_log(LOG_WARNING, "valkey %s failed: %s", cmd, c->errstr);
		return -EIO;
	}
	if (r->type != REDIS_REPLY_INTEGER) {
		pd_log(LOG_WARNING, "valkey %s failed: %s", cmd,
		       r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
		rc = -EIO;
	} else {
		rc = (long)r->integer;
	}
	freeReplyObject(r);
	return rc;
}

int pd_emitter_channel(const char *key, const struct pd_emit *e, struct pd_buf *out)
{
	return pd_wire_channel_broadcast(out, key, e->nsp, e->nrooms == 1 ? e->rooms[0] : NULL);
}

/* The seen key of e (pd_keys_recovery_seen) when it goes to the stream
 * once: 1, 0 (no id or no window), -1 (too long). */
static int seen_key(const struct pd_emit_target *t, const struct pd_emit *e, char *kk, size_t n)
{
	if (e->id == NULL || t->seen_ms <= 0)
		return 0;
	return pd_keys_recovery_seen(kk, n, t->key, e->id) < 0 ? -1 : 1;
}

/* XADD e's classic message to its namespace's stream (once per e->id):
 * the id into id (idsize bytes). 0 or -EIO/-EINVAL (logged). */
static long stream_add(const struct pd_emit_target *t, const struct pd_emit *e, char *id,
		       size_t idsize)
{
	struct pd_buf msg;
	char sk[PD_KEYS_MAX], kk[PD_KEYS_MAX], max[24], ttl[24];
	redisReply *r;
	long rc;
	int once;

	pd_buf_init(&msg, 0);
	if ((rc = pd_emitter_encode(e, &msg)) != 0 || stream_key(t->key, e, sk, sizeof(sk)) != 0 ||
	    (once = seen_key(t, e, kk, sizeof(kk))) < 0) {
		pd_buf_free(&msg);
		return rc != 0 ? rc : -EINVAL;
	}
	snprintf(max, sizeof(max), "%ld", t->stream_max);
	snprintf(ttl, sizeof(ttl), "%ld", t->seen_ms);
	if (once) {
		const char *argv[] = {"EVAL", pd_keys_lua_xadd_once, "2", sk, kk, msg.data, max, ttl};
		size_t lens[] = {4,	      strlen(pd_keys_lua_xadd_once), 1, strlen(sk), strlen(kk),
				 msg.len, strlen(max),			  strlen(ttl)};
		r = pd_kvc_argv(t->kv, 8, argv, lens);
	} else {
		const char *argv[] = {"XADD", sk, "MAXLEN", "~", max, "*", "m", msg.data};
		size_t lens[] = {4, strlen(sk), 6, 1, strlen(max), 1, 1, msg.len};
		r = pd_kvc_argv(t->kv, 8, argv, lens);
	}
	rc = -EIO;
	if (r != NULL && r->type == REDIS_REPLY_STRING && r->len < idsize) {
		memcpy(id, r->str, r->len + 1);
		rc = 0;
	} else {
		pd_log(LOG_WARNING, "valkey XADD (recovery stream) failed: %s",
		       r == NULL ? pd_kvc_ctx(t->kv)->errstr
				 : r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
	}
	if (r != NULL)
		freeReplyObject(r);
	pd_buf_free(&msg);
	return rc;
}

long pd_emitter_send(const struct pd_emit_target *t, const struct pd_emit *e)
{
	struct pd_buf msg, ch;
	int sharded = t->mode == PD_EMIT_SHARDED;
	char sk[PD_KEYS_MAX], kk[PD_KEYS_MAX], max[24], ttl[24], id[48];
	const char *argv[9];
	size_t lens[9];
	int argc, once = 0;
	redisReply *r;
	long rc;

	pd_buf_init(&msg, 0);
	pd_buf_init(&ch, 0);
	rc = sharded ? pd_emitter_encode_sharded(e, &msg) : pd_emitter_encode(e, &msg);
	if (rc != 0 || (rc = sharded ? pd_emitter_channel_sharded(t->key, e, &ch)
				     : pd_emitter_channel(t->key, e, &ch)) != 0)
		goto out;
	if (sharded && t->stream_max > 0) {
		/* The namespace's stream and a room's shard channel live in
		 * different slots: XADD first (the record; its failure fails the
		 * send), then SPUBLISH with the id. A failed SPUBLISH loses
		 * nothing: the brokers read the stream for the channels of a
		 * node they lost (pushdesk-broker(8), RECOVERY). */
		if ((rc = stream_add(t, e, id, sizeof(id))) != 0 ||
		    (rc = pd_wire_sh_offset(&msg, id, strlen(id))) != 0)
			goto out;
		argv[0] = "SPUBLISH";
		argv[1] = ch.data;
		argv[2] = msg.data;
		lens[0] = 8;
		lens[1] = ch.len;
		lens[2] = msg.len;
		r = pd_kvc_argv(t->kv, 3, argv, lens);
		rc = publish_result(pd_kvc_ctx(t->kv), "SPUBLISH (after XADD)", r);
		if (rc < 0)
			rc = 0; /* in the stream: delivered by the brokers' catch-up */
		goto out;
	}
	if (!sharded && t->stream_max > 0) {
		/* XADD + PUBLISH in one script: stream order = channel order,
		 * the stream id spliced in as the offset (pd_keys_lua_xpub; once
		 * per event id: pd_keys_lua_xpub_once). */
		if (stream_key(t->key, e, sk, sizeof(sk)) != 0 ||
		    (once = seen_key(t, e, kk, sizeof(kk))) < 0) {
			rc = -EINVAL;
			goto out;
		}
		snprintf(max, sizeof(max), "%ld", t->stream_max);
		snprintf(ttl, sizeof(ttl), "%ld", t->seen_ms);
		argc = 0;
		argv[argc++] = "EVAL";
		argv[argc++] = once ? pd_keys_lua_xpub_once : pd_keys_lua_xpub;
		argv[argc++] = once ? "2" : "1";
		argv[argc++] = sk;
		if (once)
			argv[argc++] = kk;
		argv[argc++] = msg.data;
		argv[argc++] = ch.data;
		argv[argc++] = max;
		if (once)
			argv[argc++] = ttl;
		for (int i = 0; i < argc; i++)
			lens[i] = argv[i] == msg.data ? msg.len
				  : argv[i] == ch.data ? ch.len
						       : strlen(argv[i]);
	} else {
		argv[0] = sharded ? "SPUBLISH" : "PUBLISH";
		lens[0] = strlen(argv[0]);
		argv[1] = ch.data;
		lens[1] = ch.len;
		argv[2] = msg.data;
		lens[2] = msg.len;
		argc = 3;
	}
	r = pd_kvc_argv(t->kv, argc, argv, lens);
	rc = publish_result(pd_kvc_ctx(t->kv),
			    t->stream_max > 0 ? "PUBLISH (recovery stream)" : argv[0], r);
out:
	pd_buf_free(&msg);
	pd_buf_free(&ch);
	return rc;
}

long pd_emitter_publish(struct redisContext *c, const char *key, const struct pd_emit *e)
{
	struct pd_emit_target t = {pd_kvc_new(c, ""), key, PD_EMIT_CLASSIC, 0, 0};
	long rc = t.kv != NULL ? pd_emitter_send(&t, e) : -ENOMEM;
	pd_kvc_release(t.kv); /* c stays the caller's */
	return rc;
}
