/* adapter_codec: encodes and decodes what Socket.IO servers sharing one
 * Valkey say to each other through @socket.io/redis-adapter (and what
 * @socket.io/redis-emitter publishes), byte for byte as the Node packages
 * write it. msgpack is read here by hand (bounded, no allocation sized from
 * the wire) into jansson values, and written with msgpack-c's packer. */
#include "adapter_codec.h"

#include <errno.h>
#include <math.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sio_packet.h"

_Static_assert(ADAPTER_MAX_ATTACHMENTS <= SIO_MAX_ATTACHMENTS,
	       "a decoded packet must fit a Socket.IO packet");

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* ------------------------------------------------------------------ */
/* channels */

static const char *dflt(const char *s, const char *d)
{
	return s != NULL && s[0] != '\0' ? s : d;
}

static int names_ok(const char *key, const char *nsp)
{
	return strlen(key) <= ADAPTER_MAX_KEY && strlen(nsp) <= ADAPTER_MAX_NSP;
}

int adapter_channel_broadcast(struct pd_buf *out, const char *key, const char *nsp, const char *room)
{
	key = dflt(key, ADAPTER_DEFAULT_KEY);
	nsp = dflt(nsp, "/");
	if (!names_ok(key, nsp) || (room != NULL && strlen(room) > ADAPTER_MAX_ROOM))
		return -EINVAL;
	if (room != NULL)
		return pd_buf_printf(out, "%s#%s#%s#", key, nsp, room);
	return pd_buf_printf(out, "%s#%s#", key, nsp);
}

int adapter_channel_request(struct pd_buf *out, const char *key, const char *nsp)
{
	key = dflt(key, ADAPTER_DEFAULT_KEY);
	nsp = dflt(nsp, "/");
	if (!names_ok(key, nsp))
		return -EINVAL;
	return pd_buf_printf(out, "%s-request#%s#", key, nsp);
}

int adapter_channel_response(struct pd_buf *out, const char *key, const char *nsp, const char *uid)
{
	key = dflt(key, ADAPTER_DEFAULT_KEY);
	nsp = dflt(nsp, "/");
	if (!names_ok(key, nsp) || (uid != NULL && strlen(uid) > ADAPTER_MAX_UID))
		return -EINVAL;
	if (uid != NULL)
		return pd_buf_printf(out, "%s-response#%s#%s#", key, nsp, uid);
	return pd_buf_printf(out, "%s-response#%s#", key, nsp);
}

/* Redis glob: * ? [ ] and \ are special; a backslash quotes the next byte. */
static int append_glob_quoted(struct pd_buf *out, const char *s)
{
	int rc = 0;
	for (; rc == 0 && *s != '\0'; s++) {
		if (strchr("*?[]\\", *s) != NULL)
			rc = pd_buf_append(out, "\\", 1);
		if (rc == 0)
			rc = pd_buf_append(out, s, 1);
	}
	return rc;
}

int adapter_channel_pattern(struct pd_buf *out, const char *key, const char *nsp)
{
	size_t start = out->len;
	int rc;
	key = dflt(key, ADAPTER_DEFAULT_KEY);
	nsp = dflt(nsp, "/");
	if (!names_ok(key, nsp))
		return -EINVAL;
	if ((rc = append_glob_quoted(out, key)) != 0 || (rc = pd_buf_append(out, "#", 1)) != 0 ||
	    (rc = append_glob_quoted(out, nsp)) != 0 || (rc = pd_buf_append(out, "#*", 2)) != 0) {
		out->len = start;
		if (out->data != NULL)
			out->data[start] = '\0';
	}
	return rc;
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
		return fail(err, errlen, "channel does not start with the key");
	p = ch + klen;
	rest = (size_t)(end - p);
	if (has_prefix(p, rest, "#", 1)) {
		out->kind = ADAPTER_CH_BROADCAST;
		p += 1;
	} else if (has_prefix(p, rest, "-request#", 9)) {
		out->kind = ADAPTER_CH_REQUEST;
		p += 9;
	} else if (has_prefix(p, rest, "-response#", 10)) {
		out->kind = ADAPTER_CH_RESPONSE;
		p += 10;
	} else {
		return fail(err, errlen, "not an adapter channel");
	}
	hash = memchr(p, '#', (size_t)(end - p));
	if (hash == NULL)
		return fail(err, errlen, "no '#' after the namespace");
	if (hash == p || (size_t)(hash - p) > ADAPTER_MAX_NSP)
		return fail(err, errlen, "namespace empty or too long");
	out->nsp = (struct pd_str){p, (size_t)(hash - p)};
	p = hash + 1;
	if (p == end)
		return 0;
	/* A suffix: K#N#ROOM# or K-response#N#UID#; requests have none. */
	if (out->kind == ADAPTER_CH_REQUEST)
		return fail(err, errlen, "trailing bytes after a request channel");
	if (end[-1] != '#' || end - 1 == p)
		return fail(err, errlen, "suffix not terminated by '#'");
	if (out->kind == ADAPTER_CH_BROADCAST) {
		if ((size_t)(end - 1 - p) > ADAPTER_MAX_ROOM)
			return fail(err, errlen, "room name too long");
		out->room = (struct pd_str){p, (size_t)(end - 1 - p)};
	} else {
		if ((size_t)(end - 1 - p) > ADAPTER_MAX_UID || memchr(p, '#', (size_t)(end - 1 - p)))
			return fail(err, errlen, "bad server uid in response channel");
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

/* ------------------------------------------------------------------ */
/* msgpack (notepack.io's reading of it) to jansson */

struct atts {
	struct adapter_bin *v;
	size_t n;
};

static void atts_free(struct atts *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i].p);
	free(a->v);
	a->v = NULL;
	a->n = 0;
}

struct rd {
	const uint8_t *p, *end;
	size_t nodes;
	struct atts *att; /* NULL: binary values refused */
	char *err;
	size_t errlen;
};

static int need(struct rd *r, size_t n)
{
	if ((size_t)(r->end - r->p) < n)
		return fail(r->err, r->errlen, "truncated msgpack");
	return 0;
}

static uint64_t be(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

static json_t *placeholder(size_t num)
{
	return json_pack("{s:b,s:I}", "_placeholder", 1, "num", (json_int_t)num);
}

/* A binary value: copied out, a placeholder in its place. */
static int rd_bin(struct rd *r, size_t len, json_t **out)
{
	struct adapter_bin *v;
	if (need(r, len) != 0)
		return -1;
	if (r->att == NULL)
		return fail(r->err, r->errlen, "binary value outside packet data");
	if (r->att->n >= ADAPTER_MAX_ATTACHMENTS)
		return fail(r->err, r->errlen, "more than %d binary attachments",
			    ADAPTER_MAX_ATTACHMENTS);
	v = realloc(r->att->v, (r->att->n + 1) * sizeof(*v));
	if (v == NULL)
		return fail(r->err, r->errlen, "out of memory");
	r->att->v = v;
	v[r->att->n].p = malloc(len > 0 ? len : 1);
	if (v[r->att->n].p == NULL)
		return fail(r->err, r->errlen, "out of memory");
	memcpy(v[r->att->n].p, r->p, len);
	v[r->att->n].len = len;
	r->p += len;
	if ((*out = placeholder(r->att->n)) == NULL)
		return fail(r->err, r->errlen, "out of memory");
	r->att->n++;
	return 0;
}

/* days since 1970-01-01 to a civil date (H. Hinnant's algorithm) */
static void civil(long long z, long long *y, int *m, int *d)
{
	long long era, doe, yoe, doy, mp;
	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* A Date as JSON.stringify writes it: toISOString(), or null when invalid. */
static json_t *date_json(double ms)
{
	char s[40];
	long long t, days, rem, y;
	int mo, d;

	if (!isfinite(ms) || fabs(ms) > 8.64e15)
		return json_null();
	t = (long long)trunc(ms);
	days = t / 86400000;
	rem = t % 86400000;
	if (rem < 0) {
		rem += 86400000;
		days--;
	}
	civil(days, &y, &mo, &d);
	if (y >= 0 && y <= 9999)
		snprintf(s, sizeof(s), "%04lld-%02d-%02dT%02lld:%02lld:%02lld.%03lldZ", y, mo, d,
			 rem / 3600000, rem / 60000 % 60, rem / 1000 % 60, rem % 1000);
	else
		snprintf(s, sizeof(s), "%c%06lld-%02d-%02dT%02lld:%02lld:%02lld.%03lldZ",
			 y < 0 ? '-' : '+', y < 0 ? -y : y, mo, d, rem / 3600000, rem / 60000 % 60,
			 rem / 1000 % 60, rem % 1000);
	return json_string(s);
}

/* Other extension types decode to [type, Buffer] in notepack. */
static int rd_ext_pair(struct rd *r, int8_t type, size_t len, json_t **out)
{
	json_t *a = json_array(), *b = NULL;
	if (a == NULL || json_array_append_new(a, json_integer(type)) != 0)
		goto oom;
	if (rd_bin(r, len, &b) != 0) {
		json_decref(a);
		return -1;
	}
	if (json_array_append_new(a, b) != 0)
		goto oom;
	*out = a;
	return 0;
oom:
	json_decref(a);
	return fail(r->err, r->errlen, "out of memory");
}

static json_t *number(double d)
{
	/* JSON.stringify writes NaN and Infinity as null. */
	if (!isfinite(d))
		return json_null();
	return json_real(d);
}

static int rd_value(struct rd *r, int depth, json_t **out);

static int rd_array(struct rd *r, uint64_t n, int depth, json_t **out)
{
	json_t *a;
	/* Every item takes at least one byte: no preallocation from n. */
	if (n > (uint64_t)(r->end - r->p))
		return fail(r->err, r->errlen, "array longer than the message");
	if ((a = json_array()) == NULL)
		return fail(r->err, r->errlen, "out of memory");
	for (uint64_t i = 0; i < n; i++) {
		json_t *v = NULL;
		int rc = rd_value(r, depth + 1, &v);
		if (rc < 0)
			goto bad;
		/* undefined in an array is null in JSON */
		if (json_array_append_new(a, rc == 1 ? json_null() : v) != 0) {
			fail(r->err, r->errlen, "out of memory");
			goto bad;
		}
	}
	*out = a;
	return 0;
bad:
	json_decref(a);
	return -1;
}

static int rd_map(struct rd *r, uint64_t n, int depth, json_t **out)
{
	json_t *o;
	if (n > (uint64_t)(r->end - r->p) / 2)
		return fail(r->err, r->errlen, "map longer than the message");
	if ((o = json_object()) == NULL)
		return fail(r->err, r->errlen, "out of memory");
	for (uint64_t i = 0; i < n; i++) {
		uint8_t c;
		size_t klen;
		const char *key;
		json_t *v = NULL;
		int rc;

		if (need(r, 1) != 0)
			goto bad;
		c = *r->p++;
		if (c >= 0xa0 && c <= 0xbf) {
			klen = c & 0x1f;
		} else if (c >= 0xd9 && c <= 0xdb) {
			int w = 1 << (c - 0xd9);
			if (need(r, (size_t)w) != 0)
				goto bad;
			klen = (size_t)be(r->p, w);
			r->p += w;
		} else {
			fail(r->err, r->errlen, "map key is not a string");
			goto bad;
		}
		if (need(r, klen) != 0)
			goto bad;
		key = (const char *)r->p;
		if (memchr(key, '\0', klen) != NULL || !pd_utf8_valid(r->p, klen)) {
			fail(r->err, r->errlen, "map key with NUL or invalid UTF-8");
			goto bad;
		}
		r->p += klen;
		if ((rc = rd_value(r, depth + 1, &v)) < 0)
			goto bad;
		/* JSON.stringify leaves out keys whose value is undefined; a
		 * repeated key keeps its first place and takes the last value. */
		if (rc == 1) {
			json_object_deln(o, key, klen);
			continue;
		}
		if (json_object_setn_new_nocheck(o, key, klen, v) != 0) {
			fail(r->err, r->errlen, "out of memory");
			goto bad;
		}
	}
	*out = o;
	return 0;
bad:
	json_decref(o);
	return -1;
}

static int rd_str(struct rd *r, size_t len, json_t **out)
{
	if (need(r, len) != 0)
		return -1;
	/* notepack would put U+FFFD in place of bad UTF-8: refused here. */
	if ((*out = json_stringn((const char *)r->p, len)) == NULL)
		return fail(r->err, r->errlen, "string is not valid UTF-8");
	r->p += len;
	return 0;
}

/* 0 with *out set, 1 for undefined (*out NULL), -1 on error. */
static int rd_value(struct rd *r, int depth, json_t **out)
{
	uint8_t c;
	int8_t type;
	size_t len;
	uint64_t u;

	*out = NULL;
	if (depth > ADAPTER_MAX_DEPTH)
		return fail(r->err, r->errlen, "nested deeper than %d", ADAPTER_MAX_DEPTH);
	if (++r->nodes > ADAPTER_MAX_NODES)
		return fail(r->err, r->errlen, "more than %d values", ADAPTER_MAX_NODES);
	if (need(r, 1) != 0)
		return -1;
	c = *r->p++;
	if (c < 0x80 || c >= 0xe0) {
		*out = json_integer(c < 0x80 ? (json_int_t)c : (json_int_t)(int8_t)c);
		goto done;
	}
	if (c < 0x90)
		return rd_map(r, c & 0x0f, depth, out);
	if (c < 0xa0)
		return rd_array(r, c & 0x0f, depth, out);
	if (c < 0xc0)
		return rd_str(r, c & 0x1f, out);

	switch (c) {
	case 0xc0:
		*out = json_null();
		goto done;
	case 0xc2:
		*out = json_false();
		goto done;
	case 0xc3:
		*out = json_true();
		goto done;
	case 0xc4:
	case 0xc5:
	case 0xc6: {
		int w = 1 << (c - 0xc4);
		if (need(r, (size_t)w) != 0)
			return -1;
		len = (size_t)be(r->p, w);
		r->p += w;
		return rd_bin(r, len, out);
	}
	case 0xc7:
	case 0xc8:
	case 0xc9: {
		int w = 1 << (c - 0xc7);
		if (need(r, (size_t)w + 1) != 0)
			return -1;
		len = (size_t)be(r->p, w);
		type = (int8_t)r->p[w];
		r->p += w + 1;
		if (type == 0) /* notepack's old ArrayBuffer encoding */
			return rd_bin(r, len, out);
		if (type == -1 && c == 0xc7) { /* timestamp 96 */
			int64_t sec;
			uint32_t ns;
			if (len != 12)
				return fail(r->err, r->errlen, "timestamp 96 of %zu bytes", len);
			if (need(r, 12) != 0)
				return -1;
			ns = (uint32_t)be(r->p, 4);
			sec = (int64_t)be(r->p + 4, 8);
			r->p += 12;
			*out = date_json((double)sec * 1e3 + ns / 1e6);
			goto done;
		}
		return rd_ext_pair(r, type, len, out);
	}
	case 0xca: {
		uint32_t b;
		float f;
		if (need(r, 4) != 0)
			return -1;
		b = (uint32_t)be(r->p, 4);
		memcpy(&f, &b, 4);
		r->p += 4;
		*out = number(f);
		goto done;
	}
	case 0xcb: {
		double d;
		if (need(r, 8) != 0)
			return -1;
		u = be(r->p, 8);
		memcpy(&d, &u, 8);
		r->p += 8;
		*out = number(d);
		goto done;
	}
	case 0xcc:
	case 0xcd:
	case 0xce:
	case 0xcf: {
		int w = 1 << (c - 0xcc);
		if (need(r, (size_t)w) != 0)
			return -1;
		u = be(r->p, w);
		r->p += w;
		*out = u <= INT64_MAX ? json_integer((json_int_t)u) : json_real((double)u);
		goto done;
	}
	case 0xd0:
	case 0xd1:
	case 0xd2:
	case 0xd3: {
		int w = 1 << (c - 0xd0);
		int64_t v;
		if (need(r, (size_t)w) != 0)
			return -1;
		u = be(r->p, w);
		r->p += w;
		/* sign-extend from w bytes */
		if (w < 8 && (u >> (8 * w - 1)) != 0)
			u |= ~(uint64_t)0 << (8 * w);
		memcpy(&v, &u, 8);
		*out = json_integer((json_int_t)v);
		goto done;
	}
	case 0xd4:
	case 0xd5:
	case 0xd6:
	case 0xd7:
	case 0xd8:
		len = (size_t)1 << (c - 0xd4);
		if (need(r, 1 + len) != 0)
			return -1;
		type = (int8_t)*r->p++;
		if (c == 0xd4 && type == 0) { /* notepack's old undefined */
			r->p += 1;
			return 1;
		}
		if (c == 0xd6 && type == -1) { /* timestamp 32 */
			u = be(r->p, 4);
			r->p += 4;
			*out = date_json((double)u * 1e3);
			goto done;
		}
		if (c == 0xd7 && (type == 0 || type == -1)) {
			uint64_t hi = be(r->p, 4), lo = be(r->p + 4, 4);
			double ms;
			r->p += 8;
			if (type == 0) /* notepack's old Date: int32 hi, uint32 lo ms */
				ms = (double)(int32_t)(uint32_t)hi * 4294967296.0 + (double)lo;
			else /* timestamp 64: 30-bit ns, 34-bit s */
				ms = ((double)(hi & 3) * 4294967296.0 + (double)lo) * 1e3 +
				     (double)(hi >> 2) / 1e6;
			*out = date_json(ms);
			goto done;
		}
		return rd_ext_pair(r, type, len, out);
	case 0xd9:
	case 0xda:
	case 0xdb: {
		int w = 1 << (c - 0xd9);
		if (need(r, (size_t)w) != 0)
			return -1;
		len = (size_t)be(r->p, w);
		r->p += w;
		return rd_str(r, len, out);
	}
	case 0xdc:
	case 0xdd: {
		int w = c == 0xdc ? 2 : 4;
		if (need(r, (size_t)w) != 0)
			return -1;
		u = be(r->p, w);
		r->p += w;
		return rd_array(r, u, depth, out);
	}
	case 0xde:
	case 0xdf: {
		int w = c == 0xde ? 2 : 4;
		if (need(r, (size_t)w) != 0)
			return -1;
		u = be(r->p, w);
		r->p += w;
		return rd_map(r, u, depth, out);
	}
	default:
		return fail(r->err, r->errlen, "invalid msgpack byte 0x%02x", c);
	}
done:
	if (*out == NULL)
		return fail(r->err, r->errlen, "out of memory");
	return 0;
}

/* The whole message as one value; no trailing bytes (notepack throws). */
static json_t *mp_load(const uint8_t *p, size_t n, struct atts *att, char *err, size_t errlen)
{
	struct rd r = {p, p + n, 0, att, err, errlen};
	json_t *v = NULL;
	int rc = rd_value(&r, 0, &v);
	if (rc == 1)
		fail(err, errlen, "message is undefined");
	if (rc != 0)
		return NULL;
	if (r.p != r.end) {
		json_decref(v);
		fail(err, errlen, "%zu trailing bytes", (size_t)(r.end - r.p));
		return NULL;
	}
	return v;
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
static json_t *load_any(const uint8_t *p, size_t n, struct atts *att, char *err, size_t errlen)
{
	json_t *v;
	if (n == 0)
		return fail(err, errlen, "empty message"), NULL;
	if (n > ADAPTER_MAX_MSG)
		return fail(err, errlen, "message of %zu bytes over %u", n, ADAPTER_MAX_MSG), NULL;
	if (p[0] == '{') {
		json_error_t je;
		size_t nodes = 0;
		if ((v = json_loadb((const char *)p, n, 0, &je)) == NULL)
			return fail(err, errlen, "bad JSON: %s", je.text), NULL;
		if (!json_bounded(v, 0, &nodes)) {
			json_decref(v);
			return fail(err, errlen, "JSON nested or sized over the limits"), NULL;
		}
	} else if ((v = mp_load(p, n, att, err, errlen)) == NULL) {
		return NULL;
	}
	if (!json_is_object(v)) {
		json_decref(v);
		return fail(err, errlen, "not an object"), NULL;
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
		return fail(err, errlen, "%s is not an array", what);
	if ((n = json_array_size(v)) > ADAPTER_MAX_ROOMS)
		return fail(err, errlen, "%s: %zu rooms, over %d", what, n, ADAPTER_MAX_ROOMS);
	if (n == 0)
		return 0;
	if ((out->v = calloc(n, sizeof(*out->v))) == NULL)
		return fail(err, errlen, "out of memory");
	json_array_foreach(v, i, x)
	{
		if (room_name(x, name, sizeof(name)) != 0) {
			rooms_free(out);
			return fail(err, errlen, "%s[%zu] is not a room name", what, i);
		}
		if ((out->v[i] = strdup(name)) == NULL) {
			rooms_free(out);
			return fail(err, errlen, "out of memory");
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
		return required ? fail(err, errlen, "%s missing", key) : 0;
	if (!json_is_string(v))
		return fail(err, errlen, "%s is not a string", key);
	n = json_string_length(v);
	if (n > max || memchr(json_string_value(v), '\0', n) != NULL)
		return fail(err, errlen, "%s too long or with NUL", key);
	memcpy(buf, json_string_value(v), n + 1);
	if (required && n == 0)
		return fail(err, errlen, "%s empty", key);
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
		return fail(err, errlen, "flag %s is not a boolean", key);
	return 0;
}

static int flags_get(const json_t *f, struct adapter_flags *out, char *err, size_t errlen)
{
	const json_t *t;
	*out = (struct adapter_flags)ADAPTER_FLAGS_NONE;
	if (f == NULL || json_is_null(f))
		return 0;
	if (!json_is_object(f))
		return fail(err, errlen, "flags is not an object");
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
			return fail(err, errlen, "flags.timeout is not a number of ms");
		out->timeout = (long long)d;
	}
	return 0;
}

static int event_data_ok(const json_t *d)
{
	return json_is_array(d) && json_array_size(d) > 0 && json_is_string(json_array_get(d, 0));
}

/* The packet object; takes the attachments in att (att emptied). */
static int packet_get(const json_t *o, struct atts *att, struct adapter_packet *pk, char *err,
		      size_t errlen)
{
	const json_t *t, *id, *d, *nsp;

	memset(pk, 0, sizeof(*pk));
	pk->id = -1;
	strcpy(pk->nsp, "/");
	if (!json_is_object(o))
		return fail(err, errlen, "packet is not an object");
	t = json_object_get(o, "type");
	if (!json_is_integer(t) || json_integer_value(t) < 0 || json_integer_value(t) > 6)
		return fail(err, errlen, "packet type missing or unknown");
	pk->type = (int)json_integer_value(t);
	nsp = json_object_get(o, "nsp");
	if (nsp != NULL && !json_is_null(nsp)) {
		if (str_get(o, "nsp", pk->nsp, ADAPTER_MAX_NSP, 1, err, errlen) != 0)
			return -1;
		if (pk->nsp[0] != '/')
			return fail(err, errlen, "packet nsp does not start with '/'");
	}
	id = json_object_get(o, "id");
	if (id != NULL && !json_is_null(id)) {
		if (!json_is_integer(id) || json_integer_value(id) < 0)
			return fail(err, errlen, "packet id is not a non-negative integer");
		pk->id = json_integer_value(id);
	}
	d = json_object_get(o, "data");
	if ((pk->type == SIO_EVENT || pk->type == SIO_BINARY_EVENT) && !event_data_ok(d))
		return fail(err, errlen, "event data is not [name, ...]");
	if (att->n > 0 && (d == NULL || sio_placeholders_check(d) != (int)att->n))
		return fail(err, errlen, "binary values outside packet data");
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
	struct atts a = {pk->att, pk->natt};
	json_decref(pk->data);
	atts_free(&a);
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

int adapter_broadcast_decode(const uint8_t *p, size_t n, struct adapter_broadcast *out, char *err,
			     size_t errlen)
{
	struct atts att = {NULL, 0};
	json_t *v;
	const json_t *uid, *opts;

	memset(out, 0, sizeof(*out));
	out->packet.id = -1;
	out->flags = (struct adapter_flags)ADAPTER_FLAGS_NONE;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (n > ADAPTER_MAX_MSG)
		return fail(err, errlen, "message of %zu bytes over %u", n, ADAPTER_MAX_MSG);
	if ((v = mp_load(p, n, &att, err, errlen)) == NULL) {
		atts_free(&att);
		return -1;
	}
	/* [uid, packet, opts]; like the adapter's destructuring, more items are ignored */
	if (!json_is_array(v) || json_array_size(v) < 3) {
		fail(err, errlen, "not an array [uid, packet, opts]");
		goto bad;
	}
	uid = json_array_get(v, 0);
	if (json_is_string(uid)) {
		size_t ul = json_string_length(uid);
		if (ul > ADAPTER_MAX_UID || memchr(json_string_value(uid), '\0', ul) != NULL) {
			fail(err, errlen, "uid too long");
			goto bad;
		}
		memcpy(out->uid, json_string_value(uid), ul + 1);
	} else if (!json_is_null(uid)) {
		fail(err, errlen, "uid is not a string");
		goto bad;
	}
	if (packet_get(json_array_get(v, 1), &att, &out->packet, err, errlen) != 0)
		goto bad;
	opts = json_array_get(v, 2);
	if (!json_is_object(opts)) {
		fail(err, errlen, "opts is not an object");
		goto bad;
	}
	if (rooms_get(json_object_get(opts, "rooms"), &out->rooms, "rooms", err, errlen) != 0 ||
	    rooms_get(json_object_get(opts, "except"), &out->except, "except", err, errlen) != 0 ||
	    flags_get(json_object_get(opts, "flags"), &out->flags, err, errlen) != 0)
		goto bad;
	json_decref(v);
	return 0;
bad:
	json_decref(v);
	atts_free(&att);
	adapter_broadcast_clear(out);
	return -1;
}

/* ------------------------------------------------------------------ */
/* msgpack writing */

struct wr {
	msgpack_packer pk;
	const struct adapter_bin *att;
	size_t natt;
};

static int buf_write(void *data, const char *p, size_t n)
{
	return pd_buf_append(data, p, n) == 0 ? 0 : -1;
}

static int w_str(struct wr *w, const char *s, size_t n)
{
	return msgpack_pack_str(&w->pk, n) || msgpack_pack_str_body(&w->pk, s, n);
}

static int w_cstr(struct wr *w, const char *s)
{
	return w_str(w, s, strlen(s));
}

/* A placeholder that refers to one of att; -1 if v is not one. */
static long long placeholder_num(const json_t *v, size_t natt)
{
	const json_t *num;
	double d;
	/* as socket.io-parser reconstructs: any object whose _placeholder is true */
	if (natt == 0 || !json_is_object(v) || !json_is_true(json_object_get(v, "_placeholder")))
		return -1;
	num = json_object_get(v, "num");
	d = json_is_number(num) ? json_number_value(num) : -1;
	if (!(d >= 0 && d < (double)natt) || floor(d) != d)
		return -1;
	return (long long)d;
}

static int w_json(struct wr *w, const json_t *v, int depth)
{
	long long ph;
	if (depth > ADAPTER_MAX_DEPTH)
		return -1;
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char *k;
		json_t *x;
		if ((ph = placeholder_num(v, w->natt)) >= 0) {
			const struct adapter_bin *b = &w->att[ph];
			return msgpack_pack_bin(&w->pk, b->len) ||
			       msgpack_pack_bin_body(&w->pk, b->p, b->len);
		}
		if (msgpack_pack_map(&w->pk, json_object_size(v)))
			return -1;
		json_object_foreach((json_t *)v, k, x)
		{
			/* keys are NUL-free here (jansson keys from _set and our reader) */
			if (w_cstr(w, k) || w_json(w, x, depth + 1))
				return -1;
		}
		return 0;
	}
	case JSON_ARRAY: {
		size_t i;
		json_t *x;
		if (msgpack_pack_array(&w->pk, json_array_size(v)))
			return -1;
		json_array_foreach(v, i, x) if (w_json(w, x, depth + 1)) return -1;
		return 0;
	}
	case JSON_STRING:
		return w_str(w, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		return msgpack_pack_int64(&w->pk, (int64_t)json_integer_value(v));
	case JSON_REAL: {
		double d = json_real_value(v);
		/* one number type in JavaScript: integral values go as integers */
		if (floor(d) == d && fabs(d) <= 9007199254740992.0)
			return msgpack_pack_int64(&w->pk, (int64_t)d);
		return msgpack_pack_double(&w->pk, d);
	}
	case JSON_TRUE:
		return msgpack_pack_true(&w->pk);
	case JSON_FALSE:
		return msgpack_pack_false(&w->pk);
	case JSON_NULL:
		return msgpack_pack_nil(&w->pk);
	}
	return -1;
}

static int w_rooms(struct wr *w, const char *const *v, size_t n)
{
	if (msgpack_pack_array(&w->pk, n))
		return -1;
	for (size_t i = 0; i < n; i++)
		if (w_cstr(w, v[i]))
			return -1;
	return 0;
}

static size_t flags_count(const struct adapter_flags *f)
{
	if (f == NULL)
		return 0;
	return (f->vol >= 0) + (f->compress >= 0) + (f->local >= 0) + (f->broadcast >= 0) +
	       (f->timeout >= 0) + (f->expect_single >= 0);
}

static int w_flag(struct wr *w, const char *k, int v)
{
	if (v < 0)
		return 0;
	return w_cstr(w, k) || (v ? msgpack_pack_true(&w->pk) : msgpack_pack_false(&w->pk));
}

static int w_flags(struct wr *w, const struct adapter_flags *f)
{
	if (msgpack_pack_map(&w->pk, flags_count(f)))
		return -1;
	if (f == NULL)
		return 0;
	return w_flag(w, "volatile", f->vol) || w_flag(w, "compress", f->compress) ||
	       w_flag(w, "local", f->local) || w_flag(w, "broadcast", f->broadcast) ||
	       (f->timeout >= 0 && (w_cstr(w, "timeout") || msgpack_pack_int64(&w->pk, f->timeout))) ||
	       w_flag(w, "expectSingleResponse", f->expect_single);
}

/* {type, data, nsp[, id]}: the order of BroadcastOperator.emit then
 * Adapter.broadcast (packet.nsp set last). */
static int w_packet(struct wr *w, int type, const json_t *data, const char *nsp, long long id)
{
	return msgpack_pack_map(&w->pk, 1 + (data != NULL) + 1 + (id >= 0)) || w_cstr(w, "type") ||
	       msgpack_pack_int(&w->pk, type) ||
	       (data != NULL && (w_cstr(w, "data") || w_json(w, data, 1))) || w_cstr(w, "nsp") ||
	       w_cstr(w, dflt(nsp, "/")) ||
	       (id >= 0 && (w_cstr(w, "id") || msgpack_pack_int64(&w->pk, id)));
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
	struct wr w = {.att = e->att, .natt = e->natt};
	size_t start = out->len;
	int bad;

	if (e->uid == NULL || !att_ok(e->data, e->natt) || e->type < 0 || e->type > 6)
		return -EINVAL;
	msgpack_packer_init(&w.pk, out, buf_write);
	bad = msgpack_pack_array(&w.pk, 3) || w_cstr(&w, e->uid) ||
	      w_packet(&w, e->type, e->data, e->nsp, e->id) || msgpack_pack_map(&w.pk, 3) ||
	      w_cstr(&w, "rooms") || w_rooms(&w, e->rooms, e->nrooms) || w_cstr(&w, "except") ||
	      w_rooms(&w, e->except, e->nexcept) || w_cstr(&w, "flags") || w_flags(&w, e->flags);
	if (bad) {
		out->len = start;
		if (out->data != NULL)
			out->data[start] = '\0';
		return -ENOMEM;
	}
	return 0;
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
		return required ? fail(err, errlen, "opts missing") : 0;
	if (!json_is_object(opts))
		return fail(err, errlen, "opts is not an object");
	r->has_opts = 1;
	if (rooms_get(json_object_get(opts, "rooms"), &r->opt_rooms, "opts.rooms", err, errlen) != 0 ||
	    rooms_get(json_object_get(opts, "except"), &r->opt_except, "opts.except", err, errlen) != 0)
		return -1;
	if (r->type == ADAPTER_BROADCAST)
		return flags_get(json_object_get(opts, "flags"), &r->flags, err, errlen);
	return 0;
}

static int request_fields(const json_t *o, struct atts *att, struct adapter_request *r, char *err,
			  size_t errlen)
{
	const json_t *t = json_object_get(o, "type"), *v;

	if (!json_is_integer(t))
		return fail(err, errlen, "type missing");
	if (json_integer_value(t) < 0 || json_integer_value(t) > ADAPTER_BROADCAST)
		return fail(err, errlen, "unknown request type %lld", (long long)json_integer_value(t));
	r->type = (int)json_integer_value(t);
	if (str_get(o, "uid", r->uid, ADAPTER_MAX_UID, 0, err, errlen) != 0 ||
	    str_get(o, "requestId", r->request_id, ADAPTER_MAX_UID, 0, err, errlen) != 0)
		return -1;
	if (r->type != ADAPTER_BROADCAST && att->n > 0)
		return fail(err, errlen, "binary value in a request of type %d", r->type);

	switch (r->type) {
	case ADAPTER_SOCKETS:
		if (r->request_id[0] == '\0')
			return fail(err, errlen, "requestId missing");
		return rooms_get(json_object_get(o, "rooms"), &r->rooms, "rooms", err, errlen);
	case ADAPTER_ALL_ROOMS:
		return r->request_id[0] == '\0' ? fail(err, errlen, "requestId missing") : 0;
	case ADAPTER_REMOTE_JOIN:
	case ADAPTER_REMOTE_LEAVE:
	case ADAPTER_REMOTE_DISCONNECT:
		if (opts_get(o, r, 0, err, errlen) != 0)
			return -1;
		if (r->type == ADAPTER_REMOTE_DISCONNECT) {
			v = json_object_get(o, "close");
			if (v != NULL && !json_is_null(v) && !json_is_boolean(v))
				return fail(err, errlen, "close is not a boolean");
			r->close = json_is_true(v);
		}
		if (r->has_opts) {
			if (r->type == ADAPTER_REMOTE_DISCONNECT)
				return 0;
			v = json_object_get(o, "rooms");
			if (!json_is_array(v))
				return fail(err, errlen, "rooms missing");
			return rooms_get(v, &r->rooms, "rooms", err, errlen);
		}
		/* the older single-socket form */
		if (str_get(o, "sid", r->sid, ADAPTER_MAX_ROOM, 1, err, errlen) != 0)
			return -1;
		if (r->type == ADAPTER_REMOTE_DISCONNECT)
			return 0;
		v = json_object_get(o, "room");
		if (v == NULL || room_name(v, r->room, sizeof(r->room)) != 0)
			return fail(err, errlen, "room missing or not a room name");
		return 0;
	case ADAPTER_REMOTE_FETCH:
		if (r->request_id[0] == '\0')
			return fail(err, errlen, "requestId missing");
		return opts_get(o, r, 1, err, errlen);
	case ADAPTER_SERVER_SIDE_EMIT:
		v = json_object_get(o, "data");
		if (!event_data_ok(v))
			return fail(err, errlen, "data is not [event, ...]");
		r->data = json_incref((json_t *)v);
		return 0;
	case ADAPTER_BROADCAST:
		if (r->request_id[0] == '\0')
			return fail(err, errlen, "requestId missing");
		if (opts_get(o, r, 1, err, errlen) != 0)
			return -1;
		return packet_get(json_object_get(o, "packet"), att, &r->packet, err, errlen);
	}
	return fail(err, errlen, "unknown request type");
}

int adapter_request_decode(const uint8_t *p, size_t n, struct adapter_request *out, char *err,
			   size_t errlen)
{
	struct atts att = {NULL, 0};
	json_t *o;
	int rc;

	adapter_request_init(out);
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if ((o = load_any(p, n, &att, err, errlen)) == NULL) {
		atts_free(&att);
		return -1;
	}
	rc = request_fields(o, &att, out, err, errlen);
	json_decref(o);
	atts_free(&att);
	if (rc != 0)
		adapter_request_clear(out);
	return rc;
}

/* JSON building, then JSON.stringify's text through sio_json_append. */
static json_t *rooms_json(const struct adapter_rooms *r)
{
	json_t *a = json_array();
	for (size_t i = 0; a != NULL && i < r->n; i++) {
		if (json_array_append_new(a, json_string(r->v[i])) != 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
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
		struct wr w = {.att = pk->att, .natt = pk->natt};
		size_t start = out->len;
		const char **rooms = (const char **)r->opt_rooms.v, **except = (const char **)r->opt_except.v;
		int bad;

		if (r->request_id[0] == '\0' || !att_ok(pk->data, pk->natt))
			return -EINVAL;
		msgpack_packer_init(&w.pk, out, buf_write);
		/* {uid, requestId, type, packet, opts: {rooms, except, flags}} */
		bad = msgpack_pack_map(&w.pk, 4 + (r->uid[0] != '\0')) ||
		      (r->uid[0] != '\0' && (w_cstr(&w, "uid") || w_cstr(&w, r->uid))) ||
		      w_cstr(&w, "requestId") || w_cstr(&w, r->request_id) || w_cstr(&w, "type") ||
		      msgpack_pack_int(&w.pk, ADAPTER_BROADCAST) || w_cstr(&w, "packet") ||
		      w_packet(&w, pk->type, pk->data, pk->nsp, pk->id) || w_cstr(&w, "opts") ||
		      msgpack_pack_map(&w.pk, 3) || w_cstr(&w, "rooms") ||
		      w_rooms(&w, rooms, r->opt_rooms.n) || w_cstr(&w, "except") ||
		      w_rooms(&w, except, r->opt_except.n) || w_cstr(&w, "flags") ||
		      w_flags(&w, &r->flags);
		if (bad) {
			out->len = start;
			if (out->data != NULL)
				out->data[start] = '\0';
			return -ENOMEM;
		}
		return 0;
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
	struct atts a = {r->att, r->natt};
	rooms_free(&r->rooms);
	json_decref(r->sockets);
	json_decref(r->data);
	json_decref(r->packet);
	atts_free(&a);
	adapter_response_init(r);
}

/* SOCKETS replies list ids; REMOTE_FETCH replies list socket objects. */
static int sockets_ok(const json_t *s, char *err, size_t errlen)
{
	size_t i;
	json_t *x;
	char name[ADAPTER_MAX_ROOM + 1];

	if (!json_is_array(s))
		return fail(err, errlen, "sockets is not an array");
	json_array_foreach(s, i, x)
	{
		if (json_is_string(x)) {
			if (room_name(x, name, sizeof(name)) != 0)
				return fail(err, errlen, "sockets[%zu] is not a socket id", i);
			continue;
		}
		struct adapter_rooms tmp;
		const json_t *hs = json_object_get(x, "handshake");
		if (!json_is_object(x) || room_name(json_object_get(x, "id"), name, sizeof(name)) != 0)
			return fail(err, errlen, "sockets[%zu] has no id", i);
		if (hs != NULL && !json_is_object(hs))
			return fail(err, errlen, "sockets[%zu].handshake is not an object", i);
		if (rooms_get(json_object_get(x, "rooms"), &tmp, "sockets[].rooms", err, errlen) != 0)
			return -1;
		rooms_free(&tmp);
	}
	return 0;
}

static int response_fields(const json_t *o, struct atts *att, struct adapter_response *r, char *err,
			   size_t errlen)
{
	const json_t *t = json_object_get(o, "type"), *v;

	if (t != NULL && !json_is_null(t)) {
		if (!json_is_integer(t) || json_integer_value(t) < 0 ||
		    json_integer_value(t) > ADAPTER_BROADCAST_ACK)
			return fail(err, errlen, "unknown response type");
		r->type = (int)json_integer_value(t);
	}
	if (str_get(o, "requestId", r->request_id, ADAPTER_MAX_UID, 1, err, errlen) != 0)
		return -1;
	if ((v = json_object_get(o, "rooms")) != NULL) {
		if (!json_is_array(v))
			return fail(err, errlen, "rooms is not an array");
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
			return fail(err, errlen, "clientCount missing");
		r->client_count = json_integer_value(v);
	}
	v = json_object_get(o, "packet");
	if (att->n > 0 && (r->type != ADAPTER_BROADCAST_ACK || v == NULL ||
			   sio_placeholders_check(v) != (int)att->n))
		return fail(err, errlen, "binary values outside an ack packet");
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
	struct atts att = {NULL, 0};
	json_t *o;
	int rc;

	adapter_response_init(out);
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if ((o = load_any(p, n, &att, err, errlen)) == NULL) {
		atts_free(&att);
		return -1;
	}
	rc = response_fields(o, &att, out, err, errlen);
	json_decref(o);
	atts_free(&att);
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
		struct wr w = {.att = r->att, .natt = r->natt};
		size_t start = out->len;
		if (!att_ok(r->packet, r->natt))
			return -EINVAL;
		msgpack_packer_init(&w.pk, out, buf_write);
		bad = msgpack_pack_map(&w.pk, 2 + (r->packet != NULL)) || w_cstr(&w, "type") ||
		      msgpack_pack_int(&w.pk, ADAPTER_BROADCAST_ACK) || w_cstr(&w, "requestId") ||
		      w_cstr(&w, r->request_id) ||
		      (r->packet != NULL && (w_cstr(&w, "packet") || w_json(&w, r->packet, 1)));
		if (bad) {
			out->len = start;
			if (out->data != NULL)
				out->data[start] = '\0';
			return -ENOMEM;
		}
		return 0;
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
