/* adapter_codec: encodes and decodes what Socket.IO servers sharing one
 * Valkey say to each other through @socket.io/redis-adapter (and what
 * @socket.io/redis-emitter publishes), byte for byte as the Node packages
 * write it. The msgpack itself is read and written by shared/pd_msgpack
 * (the emitter's writer too); this file knows the adapter's messages. */
#include "adapter_codec.h"

#include <errno.h>
#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pd_errmsg.h"
#include "pd_json.h"
#include "sio_packet.h"

_Static_assert(ADAPTER_MAX_ATTACHMENTS <= SIO_MAX_ATTACHMENTS,
	       "a decoded packet must fit a Socket.IO packet");

/* ------------------------------------------------------------------ */
/* channels: built by pd_wire, parsed here */

static const char *dflt(const char *s, const char *d)
{
	return s != NULL && s[0] != '\0' ? s : d;
}

static int has_prefix(const char *p, size_t n, const char *pre, size_t m)
{
	return n >= m && memcmp(p, pre, m) == 0;
}

int adapter_channel_parse(const char *key, const char *ch, size_t len, struct adapter_channel *out,
			  char *err, size_t errlen)
{
	size_t klen, rest;
	const char *p, *hash, *end = ch + len;

	memset(out, 0, sizeof(*out));
	key = dflt(key, ADAPTER_DEFAULT_KEY);
	klen = strlen(key);
	if (ch == NULL || !has_prefix(ch, len, key, klen))
		return pd_errmsg(err, errlen, "channel does not start with the key");
	p = ch + klen;
	rest = (size_t)(end - p);
	if (has_prefix(p, rest, PD_WIRE_BROADCAST, strlen(PD_WIRE_BROADCAST))) {
		out->kind = ADAPTER_CH_BROADCAST;
		p += strlen(PD_WIRE_BROADCAST);
	} else if (has_prefix(p, rest, PD_WIRE_REQUEST, strlen(PD_WIRE_REQUEST))) {
		out->kind = ADAPTER_CH_REQUEST;
		p += strlen(PD_WIRE_REQUEST);
	} else if (has_prefix(p, rest, PD_WIRE_RESPONSE, strlen(PD_WIRE_RESPONSE))) {
		out->kind = ADAPTER_CH_RESPONSE;
		p += strlen(PD_WIRE_RESPONSE);
	} else {
		return pd_errmsg(err, errlen, "not an adapter channel");
	}
	hash = memchr(p, '#', (size_t)(end - p));
	if (hash == NULL)
		return pd_errmsg(err, errlen, "no '#' after the namespace");
	if (hash == p || (size_t)(hash - p) > ADAPTER_MAX_NSP)
		return pd_errmsg(err, errlen, "namespace empty or too long");
	out->nsp = (struct pd_str){p, (size_t)(hash - p)};
	p = hash + 1;
	if (p == end)
		return 0;
	/* A suffix: K#N#ROOM# or K-response#N#UID#; requests have none. */
	if (out->kind == ADAPTER_CH_REQUEST)
		return pd_errmsg(err, errlen, "trailing bytes after a request channel");
	if (end[-1] != '#' || end - 1 == p)
		return pd_errmsg(err, errlen, "suffix not terminated by '#'");
	if (out->kind == ADAPTER_CH_BROADCAST) {
		if ((size_t)(end - 1 - p) > ADAPTER_MAX_ROOM)
			return pd_errmsg(err, errlen, "room name too long");
		out->room = (struct pd_str){p, (size_t)(end - 1 - p)};
	} else {
		if ((size_t)(end - 1 - p) > ADAPTER_MAX_UID || memchr(p, '#', (size_t)(end - 1 - p)))
			return pd_errmsg(err, errlen, "bad server uid in response channel");
		out->uid = (struct pd_str){p, (size_t)(end - 1 - p)};
	}
	return 0;
}

int adapter_channel_room(const char *key, const char *nsp, const char *ch, size_t len,
			 struct pd_str *room)
{
	size_t klen, nlen;
	const char *p, *end = ch + len;

	*room = (struct pd_str){NULL, 0};
	key = dflt(key, ADAPTER_DEFAULT_KEY);
	nsp = dflt(nsp, "/");
	klen = strlen(key);
	nlen = strlen(nsp);
	/* startsWith(K + "#" + N + "#") then room = rest minus its last byte. */
	if (!has_prefix(ch, len, key, klen) || !has_prefix(ch + klen, len - klen, "#", 1) ||
	    !has_prefix(ch + klen + 1, len - klen - 1, nsp, nlen) ||
	    !has_prefix(ch + klen + 1 + nlen, len - klen - 1 - nlen, "#", 1))
		return 0;
	p = ch + klen + nlen + 2;
	if (p == end)
		return 1;
	if (end[-1] != '#' || end - 1 == p)
		return 0;
	if ((size_t)(end - 1 - p) > ADAPTER_MAX_ROOM)
		return -1;
	*room = (struct pd_str){p, (size_t)(end - 1 - p)};
	return 1;
}

/* Depth and size limits for values that came as JSON. */
static int json_bounded(const json_t *v, int depth, size_t *nodes)
{
	if (depth > ADAPTER_MAX_DEPTH || ++*nodes > ADAPTER_MAX_NODES)
		return 0;
	if (json_is_array(v)) {
		size_t i;
		json_t *x;
		json_array_foreach(v, i, x) if (!json_bounded(x, depth + 1, nodes)) return 0;
	} else if (json_is_object(v)) {
		const char *k;
		json_t *x;
		json_object_foreach((json_t *)v, k, x) if (!json_bounded(x, depth + 1, nodes)) return 0;
	}
	return 1;
}

/* A request or response: JSON when it starts with '{', else msgpack. */
static json_t *load_any(const uint8_t *p, size_t n, struct pd_msgpack_bins *att, char *err,
			size_t errlen)
{
	json_t *v;
	if (n == 0)
		return pd_errmsg(err, errlen, "empty message"), NULL;
	if (n > ADAPTER_MAX_MSG)
		return pd_errmsg(err, errlen, "message of %zu bytes over %u", n, ADAPTER_MAX_MSG),
		       NULL;
	if (p[0] == '{') {
		json_error_t je;
		size_t nodes = 0;
		if ((v = json_loadb((const char *)p, n, 0, &je)) == NULL)
			return pd_errmsg(err, errlen, "bad JSON: %s", je.text), NULL;
		if (!json_bounded(v, 0, &nodes)) {
			json_decref(v);
			return pd_errmsg(err, errlen, "JSON nested or sized over the limits"), NULL;
		}
	} else if ((v = pd_msgpack_load(p, n, att, err, errlen)) == NULL) {
		return NULL;
	}
	if (!json_is_object(v)) {
		json_decref(v);
		return pd_errmsg(err, errlen, "not an object"), NULL;
	}
	return v;
}

/* ------------------------------------------------------------------ */
/* fields */

static void rooms_free(struct adapter_rooms *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i]);
	free(r->v);
	r->v = NULL;
	r->n = 0;
}

/* A room name: a string, or a number as JavaScript prints an integer
 * (the adapter keys rooms by number when a Node app joins one). */
static int room_name(const json_t *v, char *buf, size_t cap)
{
	if (json_is_string(v)) {
		size_t n = json_string_length(v);
		if (n > ADAPTER_MAX_ROOM || n >= cap || memchr(json_string_value(v), '\0', n) != NULL)
			return -1;
		memcpy(buf, json_string_value(v), n + 1);
		return 0;
	}
	if (json_is_integer(v))
		return snprintf(buf, cap, "%lld", (long long)json_integer_value(v)) < (int)cap ? 0 : -1;
	if (json_is_real(v)) {
		double d = json_real_value(v);
		if (floor(d) == d && fabs(d) <= 9007199254740992.0)
			return snprintf(buf, cap, "%lld", (long long)d) < (int)cap ? 0 : -1;
	}
	return -1;
}

/* v absent or null: an empty list (new Set(undefined) in the adapter). */
static int rooms_get(const json_t *v, struct adapter_rooms *out, const char *what, char *err,
		     size_t errlen)
{
	size_t i, n;
	json_t *x;
	char name[ADAPTER_MAX_ROOM + 1];

	out->v = NULL;
	out->n = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return pd_errmsg(err, errlen, "%s is not an array", what);
	if ((n = json_array_size(v)) > ADAPTER_MAX_ROOMS)
		return pd_errmsg(err, errlen, "%s: %zu rooms, over %d", what, n, ADAPTER_MAX_ROOMS);
	if (n == 0)
		return 0;
	if ((out->v = calloc(n, sizeof(*out->v))) == NULL)
		return pd_errmsg(err, errlen, "out of memory");
	json_array_foreach(v, i, x)
	{
		if (room_name(x, name, sizeof(name)) != 0) {
			rooms_free(out);
			return pd_errmsg(err, errlen, "%s[%zu] is not a room name", what, i);
		}
		if ((out->v[i] = strdup(name)) == NULL) {
			rooms_free(out);
			return pd_errmsg(err, errlen, "out of memory");
		}
		out->n = i + 1;
	}
	return 0;
}

/* An optional string field into buf; absent or null gives "". */
static int str_get(const json_t *o, const char *key, char *buf, size_t max, int required, char *err,
		   size_t errlen)
{
	const json_t *v = json_object_get(o, key);
	size_t n;
	buf[0] = '\0';
	if (v == NULL || json_is_null(v))
		return required ? pd_errmsg(err, errlen, "%s missing", key) : 0;
	if (!json_is_string(v))
		return pd_errmsg(err, errlen, "%s is not a string", key);
	n = json_string_length(v);
	if (n > max || memchr(json_string_value(v), '\0', n) != NULL)
		return pd_errmsg(err, errlen, "%s too long or with NUL", key);
	memcpy(buf, json_string_value(v), n + 1);
	if (required && n == 0)
		return pd_errmsg(err, errlen, "%s empty", key);
	return 0;
}

static int flag_get(const json_t *f, const char *key, int *out, char *err, size_t errlen)
{
	const json_t *v = json_object_get(f, key);
	*out = -1;
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_boolean(v))
		*out = json_is_true(v);
	else if (json_is_number(v)) /* JavaScript truthiness, as the adapter tests it */
		*out = json_number_value(v) != 0;
	else
		return pd_errmsg(err, errlen, "flag %s is not a boolean", key);
	return 0;
}

static int flags_get(const json_t *f, struct adapter_flags *out, char *err, size_t errlen)
{
	const json_t *t;
	*out = (struct adapter_flags)ADAPTER_FLAGS_NONE;
	if (f == NULL || json_is_null(f))
		return 0;
	if (!json_is_object(f))
		return pd_errmsg(err, errlen, "flags is not an object");
	if (flag_get(f, "volatile", &out->vol, err, errlen) != 0 ||
	    flag_get(f, "compress", &out->compress, err, errlen) != 0 ||
	    flag_get(f, "local", &out->local, err, errlen) != 0 ||
	    flag_get(f, "broadcast", &out->broadcast, err, errlen) != 0 ||
	    flag_get(f, "expectSingleResponse", &out->expect_single, err, errlen) != 0)
		return -1;
	t = json_object_get(f, "timeout");
	if (t != NULL && !json_is_null(t)) {
		double d = json_is_number(t) ? json_number_value(t) : -1;
		if (!(d >= 0 && d <= 9007199254740992.0) || floor(d) != d)
			return pd_errmsg(err, errlen, "flags.timeout is not a number of ms");
		out->timeout = (long long)d;
	}
	return 0;
}

static int event_data_ok(const json_t *d)
{
	return json_is_array(d) && json_array_size(d) > 0 && json_is_string(json_array_get(d, 0));
}

/* The packet object; takes the attachments in att (att emptied). */
static int packet_get(const json_t *o, struct pd_msgpack_bins *att, struct adapter_packet *pk,
		      char *err, size_t errlen)
{
	const json_t *t, *id, *d, *nsp;

	memset(pk, 0, sizeof(*pk));
	pk->id = -1;
	strcpy(pk->nsp, "/");
	if (!json_is_object(o))
		return pd_errmsg(err, errlen, "packet is not an object");
	t = json_object_get(o, "type");
	if (!json_is_integer(t) || json_integer_value(t) < 0 || json_integer_value(t) > 6)
		return pd_errmsg(err, errlen, "packet type missing or unknown");
	pk->type = (int)json_integer_value(t);
	nsp = json_object_get(o, "nsp");
	if (nsp != NULL && !json_is_null(nsp)) {
		if (str_get(o, "nsp", pk->nsp, ADAPTER_MAX_NSP, 1, err, errlen) != 0)
			return -1;
		if (pk->nsp[0] != '/')
			return pd_errmsg(err, errlen, "packet nsp does not start with '/'");
	}
	id = json_object_get(o, "id");
	if (id != NULL && !json_is_null(id)) {
		if (!json_is_integer(id) || json_integer_value(id) < 0)
			return pd_errmsg(err, errlen, "packet id is not a non-negative integer");
		pk->id = json_integer_value(id);
	}
	d = json_object_get(o, "data");
	if ((pk->type == SIO_EVENT || pk->type == SIO_BINARY_EVENT) && !event_data_ok(d))
		return pd_errmsg(err, errlen, "event data is not [name, ...]");
	if (att->n > 0 && (d == NULL || sio_placeholders_check(d) != (int)att->n))
		return pd_errmsg(err, errlen, "binary values outside packet data");
	if (d != NULL)
		pk->data = json_incref((json_t *)d);
	pk->att = att->v;
	pk->natt = att->n;
	att->v = NULL;
	att->n = 0;
	return 0;
}

void adapter_packet_clear(struct adapter_packet *pk)
{
	struct pd_msgpack_bins a = {pk->att, pk->natt};
	json_decref(pk->data);
	pd_msgpack_bins_free(&a);
	memset(pk, 0, sizeof(*pk));
	pk->id = -1;
}

/* ------------------------------------------------------------------ */
/* broadcasts */

void adapter_broadcast_clear(struct adapter_broadcast *b)
{
	adapter_packet_clear(&b->packet);
	rooms_free(&b->rooms);
	rooms_free(&b->except);
	memset(b, 0, sizeof(*b));
	b->packet.id = -1;
	b->flags = (struct adapter_flags)ADAPTER_FLAGS_NONE;
}

/* A recovery stream id (v a valid one) into out (ADAPTER_MAX_OFFSET + 1
 * bytes); anything else leaves out "". */
static void offset_get(const json_t *v, char *out)
{
	if (json_is_string(v) && adapter_offset_valid(json_string_value(v), json_string_length(v)))
		memcpy(out, json_string_value(v), json_string_length(v) + 1);
}

int adapter_broadcast_decode(const uint8_t *p, size_t n, struct adapter_broadcast *out, char *err,
			     size_t errlen)
{
	struct pd_msgpack_bins att = {NULL, 0};
	json_t *v;
	const json_t *uid, *opts;

	memset(out, 0, sizeof(*out));
	out->packet.id = -1;
	out->flags = (struct adapter_flags)ADAPTER_FLAGS_NONE;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (n > ADAPTER_MAX_MSG)
		return pd_errmsg(err, errlen, "message of %zu bytes over %u", n, ADAPTER_MAX_MSG);
	if ((v = pd_msgpack_load(p, n, &att, err, errlen)) == NULL) {
		pd_msgpack_bins_free(&att);
		return -1;
	}
	/* [uid, packet, opts]; like the adapter's destructuring, more items are ignored */
	if (!json_is_array(v) || json_array_size(v) < 3) {
		pd_errmsg(err, errlen, "not an array [uid, packet, opts]");
		goto bad;
	}
	uid = json_array_get(v, 0);
	if (json_is_string(uid)) {
		size_t ul = json_string_length(uid);
		if (ul > ADAPTER_MAX_UID || memchr(json_string_value(uid), '\0', ul) != NULL) {
			pd_errmsg(err, errlen, "uid too long");
			goto bad;
		}
		memcpy(out->uid, json_string_value(uid), ul + 1);
	} else if (!json_is_null(uid)) {
		pd_errmsg(err, errlen, "uid is not a string");
		goto bad;
	}
	if (packet_get(json_array_get(v, 1), &att, &out->packet, err, errlen) != 0)
		goto bad;
	opts = json_array_get(v, 2);
	if (!json_is_object(opts)) {
		pd_errmsg(err, errlen, "opts is not an object");
		goto bad;
	}
	if (rooms_get(json_object_get(opts, "rooms"), &out->rooms, "rooms", err, errlen) != 0 ||
	    rooms_get(json_object_get(opts, "except"), &out->except, "except", err, errlen) != 0 ||
	    flags_get(json_object_get(opts, "flags"), &out->flags, err, errlen) != 0)
		goto bad;
	offset_get(json_array_get(v, 3), out->offset);
	json_decref(v);
	return 0;
bad:
	json_decref(v);
	pd_msgpack_bins_free(&att);
	adapter_broadcast_clear(out);
	return -1;
}

int adapter_offset_valid(const char *s, size_t n)
{
	size_t ms = 0, seq = 0, i = 0;
	if (n > ADAPTER_MAX_OFFSET)
		return 0;
	for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
		ms++;
	if (i == n || s[i] != '-')
		return 0;
	for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
		seq++;
	return i == n && ms >= 1 && ms <= 20 && seq >= 1 && seq <= 20;
}

/* Digits of the part of id before '-' (or its end) starting at *p. */
static int cmp_num(const char **a, const char **b)
{
	const char *x = *a, *y = *b;
	size_t lx = strcspn(x, "-"), ly = strcspn(y, "-");
	while (lx > 1 && *x == '0') {
		x++;
		lx--;
	}
	while (ly > 1 && *y == '0') {
		y++;
		ly--;
	}
	int c = lx != ly ? (lx < ly ? -1 : 1) : memcmp(x, y, lx);
	*a = x[lx] == '-' ? x + lx + 1 : x + lx;
	*b = y[ly] == '-' ? y + ly + 1 : y + ly;
	return c;
}

int adapter_offset_cmp(const char *a, const char *b)
{
	if (a[0] == '\0' || b[0] == '\0')
		return (a[0] != '\0') - (b[0] != '\0');
	int c = cmp_num(&a, &b);
	return c != 0 ? c : cmp_num(&a, &b);
}

/* ------------------------------------------------------------------ */
/* writing the adapter's objects (pd_msgpack) */

static size_t flags_count(const struct adapter_flags *f)
{
	if (f == NULL)
		return 0;
	return (f->vol >= 0) + (f->compress >= 0) + (f->local >= 0) + (f->broadcast >= 0) +
	       (f->timeout >= 0) + (f->expect_single >= 0);
}

static int w_flag(struct pd_msgpack_wr *w, const char *k, int v)
{
	if (v < 0)
		return 0;
	return pd_msgpack_cstr(w, k) || (v ? msgpack_pack_true(&w->pk) : msgpack_pack_false(&w->pk));
}

static int w_flags(struct pd_msgpack_wr *w, const struct adapter_flags *f)
{
	if (msgpack_pack_map(&w->pk, flags_count(f)))
		return -1;
	if (f == NULL)
		return 0;
	return w_flag(w, "volatile", f->vol) || w_flag(w, "compress", f->compress) ||
	       w_flag(w, "local", f->local) || w_flag(w, "broadcast", f->broadcast) ||
	       (f->timeout >= 0 &&
		(pd_msgpack_cstr(w, "timeout") || msgpack_pack_int64(&w->pk, f->timeout))) ||
	       w_flag(w, "expectSingleResponse", f->expect_single);
}

/* {type, data, nsp[, id]}: the order of BroadcastOperator.emit then
 * Adapter.broadcast (packet.nsp set last). */
static int w_packet(struct pd_msgpack_wr *w, int type, const json_t *data, const char *nsp,
		    long long id)
{
	return msgpack_pack_map(&w->pk, 1 + (data != NULL) + 1 + (id >= 0)) ||
	       pd_msgpack_cstr(w, "type") || msgpack_pack_int(&w->pk, type) ||
	       (data != NULL && (pd_msgpack_cstr(w, "data") || pd_msgpack_json(w, data, 1))) ||
	       pd_msgpack_cstr(w, "nsp") || pd_msgpack_cstr(w, dflt(nsp, "/")) ||
	       (id >= 0 && (pd_msgpack_cstr(w, "id") || msgpack_pack_int64(&w->pk, id)));
}

static int att_ok(const json_t *data, size_t natt)
{
	if (natt == 0)
		return 1;
	return natt <= ADAPTER_MAX_ATTACHMENTS && data != NULL &&
	       sio_placeholders_check(data) == (int)natt;
}

int adapter_broadcast_encode(struct pd_buf *out, const struct adapter_emit *e)
{
	struct pd_msgpack_wr w;

	if (e->uid == NULL || !att_ok(e->data, e->natt) || e->type < 0 || e->type > 6)
		return -EINVAL;
	pd_msgpack_wr_init(&w, out, e->att, e->natt);
	return pd_msgpack_wr_end(
	    &w, msgpack_pack_array(&w.pk, 3) || pd_msgpack_cstr(&w, e->uid) ||
		    w_packet(&w, e->type, e->data, e->nsp, e->id) || msgpack_pack_map(&w.pk, 3) ||
		    pd_msgpack_cstr(&w, "rooms") || pd_msgpack_strs(&w, e->rooms, e->nrooms) ||
		    pd_msgpack_cstr(&w, "except") || pd_msgpack_strs(&w, e->except, e->nexcept) ||
		    pd_msgpack_cstr(&w, "flags") || w_flags(&w, e->flags));
}

/* ------------------------------------------------------------------ */
/* requests */

void adapter_request_init(struct adapter_request *r)
{
	memset(r, 0, sizeof(*r));
	r->type = -1;
	r->packet.id = -1;
	r->flags = (struct adapter_flags)ADAPTER_FLAGS_NONE;
}

void adapter_request_clear(struct adapter_request *r)
{
	rooms_free(&r->rooms);
	rooms_free(&r->opt_rooms);
	rooms_free(&r->opt_except);
	json_decref(r->data);
	adapter_packet_clear(&r->packet);
	adapter_request_init(r);
}

static int opts_get(const json_t *o, struct adapter_request *r, int required, char *err,
		    size_t errlen)
{
	const json_t *opts = json_object_get(o, "opts");
	if (opts == NULL || json_is_null(opts))
		return required ? pd_errmsg(err, errlen, "opts missing") : 0;
	if (!json_is_object(opts))
		return pd_errmsg(err, errlen, "opts is not an object");
	r->has_opts = 1;
	if (rooms_get(json_object_get(opts, "rooms"), &r->opt_rooms, "opts.rooms", err, errlen) != 0 ||
	    rooms_get(json_object_get(opts, "except"), &r->opt_except, "opts.except", err, errlen) != 0)
		return -1;
	if (r->type == ADAPTER_BROADCAST)
		return flags_get(json_object_get(opts, "flags"), &r->flags, err, errlen);
	return 0;
}

static int request_fields(const json_t *o, struct pd_msgpack_bins *att, struct adapter_request *r,
			  char *err, size_t errlen)
{
	const json_t *t = json_object_get(o, "type"), *v;

	if (!json_is_integer(t))
		return pd_errmsg(err, errlen, "type missing");
	if (json_integer_value(t) < 0 || json_integer_value(t) > ADAPTER_BROADCAST)
		return pd_errmsg(err, errlen, "unknown request type %lld",
				 (long long)json_integer_value(t));
	r->type = (int)json_integer_value(t);
	if (str_get(o, "uid", r->uid, ADAPTER_MAX_UID, 0, err, errlen) != 0 ||
	    str_get(o, "requestId", r->request_id, ADAPTER_MAX_UID, 0, err, errlen) != 0)
		return -1;
	if (r->type != ADAPTER_BROADCAST && att->n > 0)
		return pd_errmsg(err, errlen, "binary value in a request of type %d", r->type);

	switch (r->type) {
	case ADAPTER_SOCKETS:
		if (r->request_id[0] == '\0')
			return pd_errmsg(err, errlen, "requestId missing");
		return rooms_get(json_object_get(o, "rooms"), &r->rooms, "rooms", err, errlen);
	case ADAPTER_ALL_ROOMS:
		return r->request_id[0] == '\0' ? pd_errmsg(err, errlen, "requestId missing") : 0;
	case ADAPTER_REMOTE_JOIN:
	case ADAPTER_REMOTE_LEAVE:
	case ADAPTER_REMOTE_DISCONNECT:
		if (opts_get(o, r, 0, err, errlen) != 0)
			return -1;
		if (r->type == ADAPTER_REMOTE_DISCONNECT) {
			v = json_object_get(o, "close");
			if (v != NULL && !json_is_null(v) && !json_is_boolean(v))
				return pd_errmsg(err, errlen, "close is not a boolean");
			r->close = json_is_true(v);
		}
		if (r->has_opts) {
			if (r->type == ADAPTER_REMOTE_DISCONNECT)
				return 0;
			v = json_object_get(o, "rooms");
			if (!json_is_array(v))
				return pd_errmsg(err, errlen, "rooms missing");
			return rooms_get(v, &r->rooms, "rooms", err, errlen);
		}
		/* the older single-socket form */
		if (str_get(o, "sid", r->sid, ADAPTER_MAX_ROOM, 1, err, errlen) != 0)
			return -1;
		if (r->type == ADAPTER_REMOTE_DISCONNECT)
			return 0;
		v = json_object_get(o, "room");
		if (v == NULL || room_name(v, r->room, sizeof(r->room)) != 0)
			return pd_errmsg(err, errlen, "room missing or not a room name");
		return 0;
	case ADAPTER_REMOTE_FETCH:
		if (r->request_id[0] == '\0')
			return pd_errmsg(err, errlen, "requestId missing");
		return opts_get(o, r, 1, err, errlen);
	case ADAPTER_SERVER_SIDE_EMIT:
		v = json_object_get(o, "data");
		if (!event_data_ok(v))
			return pd_errmsg(err, errlen, "data is not [event, ...]");
		r->data = json_incref((json_t *)v);
		return 0;
	case ADAPTER_BROADCAST:
		if (r->request_id[0] == '\0')
			return pd_errmsg(err, errlen, "requestId missing");
		if (opts_get(o, r, 1, err, errlen) != 0)
			return -1;
		return packet_get(json_object_get(o, "packet"), att, &r->packet, err, errlen);
	}
	return pd_errmsg(err, errlen, "unknown request type");
}

int adapter_request_decode(const uint8_t *p, size_t n, struct adapter_request *out, char *err,
			   size_t errlen)
{
	struct pd_msgpack_bins att = {NULL, 0};
	json_t *o;
	int rc;

	adapter_request_init(out);
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if ((o = load_any(p, n, &att, err, errlen)) == NULL) {
		pd_msgpack_bins_free(&att);
		return -1;
	}
	rc = request_fields(o, &att, out, err, errlen);
	json_decref(o);
	pd_msgpack_bins_free(&att);
	if (rc != 0)
		adapter_request_clear(out);
	return rc;
}

/* JSON building, then JSON.stringify's text through sio_json_append. */
static json_t *rooms_json(const struct adapter_rooms *r)
{
	return pd_json_strs((const char *const *)r->v, r->n);
}

/* set key (in order); v NULL means out of memory or a bad value */
static int put(json_t *o, const char *k, json_t *v)
{
	return v == NULL || json_object_set_new(o, k, v) != 0 ? -1 : 0;
}

static int put_opts(json_t *o, const struct adapter_request *r)
{
	json_t *opts = json_object();
	if (opts == NULL || put(opts, "rooms", rooms_json(&r->opt_rooms)) != 0 ||
	    put(opts, "except", rooms_json(&r->opt_except)) != 0) {
		json_decref(opts);
		return -1;
	}
	return put(o, "opts", opts);
}

static int dump(struct pd_buf *out, json_t *o)
{
	int rc = sio_json_append(out, o);
	json_decref(o);
	return rc;
}

static json_t *request_json(const struct adapter_request *r)
{
	json_t *o = json_object();
	int bad;

	if (o == NULL)
		return NULL;
	bad = r->uid[0] != '\0' && put(o, "uid", json_string(r->uid)) != 0;
	bad = bad || (r->request_id[0] != '\0' && put(o, "requestId", json_string(r->request_id)) != 0);
	bad = bad || put(o, "type", json_integer(r->type)) != 0;
	switch (r->type) {
	case ADAPTER_SOCKETS:
		bad = bad || put(o, "rooms", rooms_json(&r->rooms)) != 0;
		break;
	case ADAPTER_ALL_ROOMS:
		break;
	case ADAPTER_REMOTE_JOIN:
	case ADAPTER_REMOTE_LEAVE:
	case ADAPTER_REMOTE_DISCONNECT:
		if (r->has_opts) {
			bad = bad || put_opts(o, r) != 0;
			if (r->type == ADAPTER_REMOTE_DISCONNECT)
				bad = bad || put(o, "close", json_boolean(r->close)) != 0;
			else
				bad = bad || put(o, "rooms", rooms_json(&r->rooms)) != 0;
		} else {
			bad = bad || r->sid[0] == '\0' || put(o, "sid", json_string(r->sid)) != 0;
			if (r->type == ADAPTER_REMOTE_DISCONNECT)
				bad = bad || put(o, "close", json_boolean(r->close)) != 0;
			else
				bad = bad || put(o, "room", json_string(r->room)) != 0;
		}
		break;
	case ADAPTER_REMOTE_FETCH:
		bad = bad || put_opts(o, r) != 0;
		break;
	case ADAPTER_SERVER_SIDE_EMIT:
		bad = bad || !event_data_ok(r->data) ||
		      put(o, "data", json_incref((json_t *)r->data)) != 0;
		break;
	default:
		bad = 1;
	}
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int adapter_request_encode(struct pd_buf *out, const struct adapter_request *r)
{
	json_t *o;
	if (r->type == ADAPTER_BROADCAST) {
		const struct adapter_packet *pk = &r->packet;
		struct pd_msgpack_wr w;
		const char **rooms = (const char **)r->opt_rooms.v, **except = (const char **)r->opt_except.v;

		if (r->request_id[0] == '\0' || !att_ok(pk->data, pk->natt))
			return -EINVAL;
		pd_msgpack_wr_init(&w, out, pk->att, pk->natt);
		/* {uid, requestId, type, packet, opts: {rooms, except, flags}} */
		return pd_msgpack_wr_end(
		    &w, msgpack_pack_map(&w.pk, 4 + (r->uid[0] != '\0')) ||
			    (r->uid[0] != '\0' &&
			     (pd_msgpack_cstr(&w, "uid") || pd_msgpack_cstr(&w, r->uid))) ||
			    pd_msgpack_cstr(&w, "requestId") || pd_msgpack_cstr(&w, r->request_id) ||
			    pd_msgpack_cstr(&w, "type") || msgpack_pack_int(&w.pk, ADAPTER_BROADCAST) ||
			    pd_msgpack_cstr(&w, "packet") ||
			    w_packet(&w, pk->type, pk->data, pk->nsp, pk->id) ||
			    pd_msgpack_cstr(&w, "opts") || msgpack_pack_map(&w.pk, 3) ||
			    pd_msgpack_cstr(&w, "rooms") || pd_msgpack_strs(&w, rooms, r->opt_rooms.n) ||
			    pd_msgpack_cstr(&w, "except") ||
			    pd_msgpack_strs(&w, except, r->opt_except.n) || pd_msgpack_cstr(&w, "flags") ||
			    w_flags(&w, &r->flags));
	}
	if ((o = request_json(r)) == NULL)
		return -EINVAL;
	return dump(out, o);
}

/* ------------------------------------------------------------------ */
/* responses */

void adapter_response_init(struct adapter_response *r)
{
	memset(r, 0, sizeof(*r));
	r->type = -1;
	r->client_count = -1;
}

void adapter_response_clear(struct adapter_response *r)
{
	struct pd_msgpack_bins a = {r->att, r->natt};
	rooms_free(&r->rooms);
	json_decref(r->sockets);
	json_decref(r->data);
	json_decref(r->packet);
	pd_msgpack_bins_free(&a);
	adapter_response_init(r);
}

/* SOCKETS replies list ids; REMOTE_FETCH replies list socket objects. */
static int sockets_ok(const json_t *s, char *err, size_t errlen)
{
	size_t i;
	json_t *x;
	char name[ADAPTER_MAX_ROOM + 1];

	if (!json_is_array(s))
		return pd_errmsg(err, errlen, "sockets is not an array");
	json_array_foreach(s, i, x)
	{
		if (json_is_string(x)) {
			if (room_name(x, name, sizeof(name)) != 0)
				return pd_errmsg(err, errlen, "sockets[%zu] is not a socket id", i);
			continue;
		}
		struct adapter_rooms tmp;
		const json_t *hs = json_object_get(x, "handshake");
		if (!json_is_object(x) || room_name(json_object_get(x, "id"), name, sizeof(name)) != 0)
			return pd_errmsg(err, errlen, "sockets[%zu] has no id", i);
		if (hs != NULL && !json_is_object(hs))
			return pd_errmsg(err, errlen, "sockets[%zu].handshake is not an object", i);
		if (rooms_get(json_object_get(x, "rooms"), &tmp, "sockets[].rooms", err, errlen) != 0)
			return -1;
		rooms_free(&tmp);
	}
	return 0;
}

static int response_fields(const json_t *o, struct pd_msgpack_bins *att, struct adapter_response *r,
			   char *err, size_t errlen)
{
	const json_t *t = json_object_get(o, "type"), *v;

	if (t != NULL && !json_is_null(t)) {
		if (!json_is_integer(t) || json_integer_value(t) < 0 ||
		    json_integer_value(t) > ADAPTER_BROADCAST_ACK)
			return pd_errmsg(err, errlen, "unknown response type");
		r->type = (int)json_integer_value(t);
	}
	if (str_get(o, "requestId", r->request_id, ADAPTER_MAX_UID, 1, err, errlen) != 0)
		return -1;
	if ((v = json_object_get(o, "rooms")) != NULL) {
		if (!json_is_array(v))
			return pd_errmsg(err, errlen, "rooms is not an array");
		if (rooms_get(v, &r->rooms, "rooms", err, errlen) != 0)
			return -1;
		r->has_rooms = 1;
	}
	if ((v = json_object_get(o, "sockets")) != NULL) {
		if (sockets_ok(v, err, errlen) != 0)
			return -1;
		r->sockets = json_incref((json_t *)v);
	}
	if ((v = json_object_get(o, "data")) != NULL)
		r->data = json_incref((json_t *)v);
	if (r->type == ADAPTER_BROADCAST_CLIENT_COUNT) {
		v = json_object_get(o, "clientCount");
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return pd_errmsg(err, errlen, "clientCount missing");
		r->client_count = json_integer_value(v);
	}
	v = json_object_get(o, "packet");
	if (att->n > 0 && (r->type != ADAPTER_BROADCAST_ACK || v == NULL ||
			   sio_placeholders_check(v) != (int)att->n))
		return pd_errmsg(err, errlen, "binary values outside an ack packet");
	if (r->type == ADAPTER_BROADCAST_ACK && v != NULL) {
		r->packet = json_incref((json_t *)v);
		r->att = att->v;
		r->natt = att->n;
		att->v = NULL;
		att->n = 0;
	}
	return 0;
}

int adapter_response_decode(const uint8_t *p, size_t n, struct adapter_response *out, char *err,
			    size_t errlen)
{
	struct pd_msgpack_bins att = {NULL, 0};
	json_t *o;
	int rc;

	adapter_response_init(out);
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if ((o = load_any(p, n, &att, err, errlen)) == NULL) {
		pd_msgpack_bins_free(&att);
		return -1;
	}
	rc = response_fields(o, &att, out, err, errlen);
	json_decref(o);
	pd_msgpack_bins_free(&att);
	if (rc != 0)
		adapter_response_clear(out);
	return rc;
}

int adapter_response_encode(struct pd_buf *out, const struct adapter_response *r)
{
	json_t *o;
	int bad = 0;

	if (r->request_id[0] == '\0')
		return -EINVAL;
	if (r->type == ADAPTER_BROADCAST_ACK) {
		struct pd_msgpack_wr w;
		if (!att_ok(r->packet, r->natt))
			return -EINVAL;
		pd_msgpack_wr_init(&w, out, r->att, r->natt);
		return pd_msgpack_wr_end(
		    &w, msgpack_pack_map(&w.pk, 2 + (r->packet != NULL)) ||
			    pd_msgpack_cstr(&w, "type") || msgpack_pack_int(&w.pk, ADAPTER_BROADCAST_ACK) ||
			    pd_msgpack_cstr(&w, "requestId") || pd_msgpack_cstr(&w, r->request_id) ||
			    (r->packet != NULL &&
			     (pd_msgpack_cstr(&w, "packet") || pd_msgpack_json(&w, r->packet, 1))));
	}
	if ((o = json_object()) == NULL)
		return -ENOMEM;
	switch (r->type) {
	case -1:
		bad = put(o, "requestId", json_string(r->request_id)) != 0 ||
		      (r->sockets != NULL && put(o, "sockets", json_incref(r->sockets)) != 0) ||
		      (r->has_rooms && put(o, "rooms", rooms_json(&r->rooms)) != 0);
		break;
	case ADAPTER_SERVER_SIDE_EMIT:
		bad = put(o, "type", json_integer(r->type)) != 0 ||
		      put(o, "requestId", json_string(r->request_id)) != 0 ||
		      (r->data != NULL && put(o, "data", json_incref(r->data)) != 0);
		break;
	case ADAPTER_BROADCAST_CLIENT_COUNT:
		bad = r->client_count < 0 || put(o, "type", json_integer(r->type)) != 0 ||
		      put(o, "requestId", json_string(r->request_id)) != 0 ||
		      put(o, "clientCount", json_integer(r->client_count)) != 0;
		break;
	default:
		bad = 1;
	}
	if (bad) {
		json_decref(o);
		return -EINVAL;
	}
	return dump(out, o);
}

/* ------------------------------------------------------------------ */
/* the sharded adapter (adapter_codec.h: "the sharded adapter") */

int adapter_sh_room_channel(const char *const *rooms, size_t nrooms, int with_ack)
{
	return !with_ack && nrooms == 1 && strlen(rooms[0]) != ADAPTER_SH_SID_LEN;
}

void adapter_sh_clear(struct adapter_sh_msg *m)
{
	adapter_packet_clear(&m->packet);
	rooms_free(&m->rooms);
	rooms_free(&m->except);
	rooms_free(&m->targets);
	json_decref(m->sockets);
	memset(m, 0, sizeof(*m));
	m->packet.id = -1;
	m->client_count = -1;
	m->flags = (struct adapter_flags)ADAPTER_FLAGS_NONE;
}

/* data.opts, required */
static int sh_opts(const json_t *d, struct adapter_sh_msg *m, char *err, size_t errlen)
{
	const json_t *o = json_object_get(d, "opts");
	if (!json_is_object(o))
		return pd_errmsg(err, errlen, "data.opts missing or not an object");
	return rooms_get(json_object_get(o, "rooms"), &m->rooms, "opts.rooms", err, errlen) ||
			       rooms_get(json_object_get(o, "except"), &m->except, "opts.except",
					 err, errlen) ||
			       flags_get(json_object_get(o, "flags"), &m->flags, err, errlen)
		   ? -1
		   : 0;
}

/* data.packet as an argument list or value: kept as packet.data with the
 * attachments (an EVENT-like packet of type -1). */
static int sh_value(const json_t *v, struct pd_msgpack_bins *att, struct adapter_sh_msg *m,
		    char *err, size_t errlen)
{
	if (att->n > 0 && (v == NULL || sio_placeholders_check(v) != (int)att->n))
		return pd_errmsg(err, errlen, "binary values outside data.packet");
	m->packet.type = -1;
	m->packet.data = v != NULL ? json_incref((json_t *)v) : NULL;
	m->packet.att = att->v;
	m->packet.natt = att->n;
	att->v = NULL;
	att->n = 0;
	return 0;
}

static int sh_fields(const json_t *v, struct pd_msgpack_bins *att, struct adapter_sh_msg *m,
		     char *err, size_t errlen)
{
	const json_t *t = json_object_get(v, "type"), *d = json_object_get(v, "data"), *x;
	int need_rid = 0;

	if (!json_is_integer(t) || json_integer_value(t) < ADAPTER_SH_INITIAL_HEARTBEAT ||
	    json_integer_value(t) > ADAPTER_SH_ADAPTER_CLOSE)
		return pd_errmsg(err, errlen, "type missing or unknown");
	m->type = (int)json_integer_value(t);
	if (str_get(v, "uid", m->uid, ADAPTER_MAX_UID, 0, err, errlen) != 0 ||
	    str_get(v, "nsp", m->nsp, ADAPTER_MAX_NSP, 1, err, errlen) != 0)
		return -1;
	if (m->nsp[0] != '/')
		return pd_errmsg(err, errlen, "nsp does not start with '/'");
	if (m->type == ADAPTER_SH_INITIAL_HEARTBEAT || m->type == ADAPTER_SH_HEARTBEAT ||
	    m->type == ADAPTER_SH_ADAPTER_CLOSE)
		return att->n > 0 ? pd_errmsg(err, errlen, "binary values in a heartbeat") : 0;
	if (!json_is_object(d))
		return pd_errmsg(err, errlen, "data missing or not an object");
	if (str_get(d, "requestId", m->request_id, ADAPTER_MAX_UID, 0, err, errlen) != 0)
		return -1;
	switch (m->type) {
	case ADAPTER_SH_BROADCAST:
		if (packet_get(json_object_get(d, "packet"), att, &m->packet, err, errlen) != 0)
			return -1;
		strcpy(m->packet.nsp, m->nsp); /* the packet carries none */
		offset_get(json_object_get(v, "offset"), m->offset);
		return sh_opts(d, m, err, errlen);
	case ADAPTER_SH_SOCKETS_JOIN:
	case ADAPTER_SH_SOCKETS_LEAVE:
		if (sh_opts(d, m, err, errlen) != 0)
			return -1;
		x = json_object_get(d, "rooms");
		if (!json_is_array(x))
			return pd_errmsg(err, errlen, "data.rooms missing or not an array");
		return rooms_get(x, &m->targets, "data.rooms", err, errlen);
	case ADAPTER_SH_DISCONNECT_SOCKETS:
		x = json_object_get(d, "close");
		m->close = json_is_true(x);
		return sh_opts(d, m, err, errlen);
	case ADAPTER_SH_FETCH_SOCKETS:
		need_rid = 1;
		if (sh_opts(d, m, err, errlen) != 0)
			return -1;
		break;
	case ADAPTER_SH_SERVER_SIDE_EMIT:
		x = json_object_get(d, "packet");
		if (!event_data_ok(x))
			return pd_errmsg(err, errlen, "data.packet is not [event, ...]");
		if (sh_value(x, att, m, err, errlen) != 0)
			return -1;
		break;
	case ADAPTER_SH_FETCH_SOCKETS_RESPONSE:
		need_rid = 1;
		x = json_object_get(d, "sockets");
		if (sockets_ok(x, err, errlen) != 0)
			return -1;
		m->sockets = json_incref((json_t *)x);
		break;
	case ADAPTER_SH_BROADCAST_CLIENT_COUNT:
		need_rid = 1;
		x = json_object_get(d, "clientCount");
		if (!json_is_integer(x) || json_integer_value(x) < 0)
			return pd_errmsg(err, errlen, "clientCount is not a count");
		m->client_count = json_integer_value(x);
		break;
	case ADAPTER_SH_SERVER_SIDE_EMIT_RESPONSE:
	case ADAPTER_SH_BROADCAST_ACK:
		need_rid = 1;
		if (sh_value(json_object_get(d, "packet"), att, m, err, errlen) != 0)
			return -1;
		break;
	}
	if (need_rid && m->request_id[0] == '\0')
		return pd_errmsg(err, errlen, "requestId missing");
	if (att->n > 0)
		return pd_errmsg(err, errlen, "binary values outside the packet");
	return 0;
}

int adapter_sh_decode(const uint8_t *p, size_t n, struct adapter_sh_msg *out, char *err,
		      size_t errlen)
{
	struct pd_msgpack_bins att = {NULL, 0};
	json_t *v;
	int rc;

	memset(out, 0, sizeof(*out));
	adapter_sh_clear(out);
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if ((v = load_any(p, n, &att, err, errlen)) == NULL) {
		pd_msgpack_bins_free(&att);
		return -1;
	}
	rc = sh_fields(v, &att, out, err, errlen);
	json_decref(v);
	pd_msgpack_bins_free(&att);
	if (rc != 0)
		adapter_sh_clear(out);
	return rc != 0 ? -1 : 0;
}

/* opts.flags in w_flags' order (BroadcastOperator's) */
static json_t *flags_json(const struct adapter_flags *f)
{
	json_t *o = json_object();
	if (o == NULL || f == NULL)
		return o;
	if ((f->vol >= 0 && json_object_set_new(o, "volatile", json_boolean(f->vol))) ||
	    (f->compress >= 0 && json_object_set_new(o, "compress", json_boolean(f->compress))) ||
	    (f->local >= 0 && json_object_set_new(o, "local", json_boolean(f->local))) ||
	    (f->broadcast >= 0 && json_object_set_new(o, "broadcast", json_boolean(f->broadcast))) ||
	    (f->timeout >= 0 && json_object_set_new(o, "timeout", json_integer(f->timeout))) ||
	    (f->expect_single >= 0 &&
	     json_object_set_new(o, "expectSingleResponse", json_boolean(f->expect_single)))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int adapter_sh_broadcast_encode(struct pd_buf *out, const struct adapter_emit *e,
				const char *request_id)
{
	json_t *m, *data, *pk;
	int rc;

	if (e->uid == NULL || !att_ok(e->data, e->natt) || e->type < 0 || e->type > 6 ||
	    e->data == NULL)
		return -EINVAL;
	/* {type, data: {packet: {type, data}[, requestId], opts}, uid, nsp} */
	pk = json_pack("{s:i, s:O}", "type", e->type, "data", e->data);
	data = json_pack("{s:o}", "packet", pk);
	if (data != NULL && request_id != NULL &&
	    json_object_set_new(data, "requestId", json_string(request_id)) != 0) {
		json_decref(data);
		data = NULL;
	}
	if (data != NULL &&
	    json_object_set_new(data, "opts",
				json_pack("{s:o, s:o, s:o}", "rooms", pd_json_strs(e->rooms, e->nrooms),
					  "except", pd_json_strs(e->except, e->nexcept), "flags",
					  flags_json(e->flags))) != 0) {
		json_decref(data);
		data = NULL;
	}
	m = json_pack("{s:i, s:o, s:s, s:s}", "type", ADAPTER_SH_BROADCAST, "data", data, "uid",
		      e->uid, "nsp", dflt(e->nsp, "/"));
	if (m == NULL)
		return -EINVAL;
	if (e->natt == 0)
		return dump(out, m); /* takes m */
	struct pd_msgpack_wr w;
	pd_msgpack_wr_init(&w, out, e->att, e->natt);
	rc = pd_msgpack_wr_end(&w, pd_msgpack_json(&w, m, 0));
	json_decref(m);
	return rc;
}
