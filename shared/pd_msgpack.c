/* pd_msgpack: msgpack as notepack.io writes and reads it (the encoder of
 * @socket.io/redis-adapter and @socket.io/redis-emitter), for the broker's
 * adapter codec and for pd_emitter: one writer, byte for byte the Node
 * packages' output, and one bounded reader (no allocation sized from the
 * wire) into jansson values. */
#include "pd_msgpack.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pd_errmsg.h"

/* ------------------------------------------------------------------ */
/* reading: msgpack (notepack.io's reading of it) to jansson */

void pd_msgpack_bins_free(struct pd_msgpack_bins *a)
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
	struct pd_msgpack_bins *att; /* NULL: binary values refused */
	char *err;
	size_t errlen;
};

static int need(struct rd *r, size_t n)
{
	if ((size_t)(r->end - r->p) < n)
		return pd_errmsg(r->err, r->errlen, "truncated msgpack");
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
	struct pd_msgpack_bin *v;
	if (need(r, len) != 0)
		return -1;
	if (r->att == NULL)
		return pd_errmsg(r->err, r->errlen, "binary value outside packet data");
	if (r->att->n >= PD_MSGPACK_MAX_BINS)
		return pd_errmsg(r->err, r->errlen, "more than %d binary attachments",
			    PD_MSGPACK_MAX_BINS);
	v = realloc(r->att->v, (r->att->n + 1) * sizeof(*v));
	if (v == NULL)
		return pd_errmsg(r->err, r->errlen, "out of memory");
	r->att->v = v;
	v[r->att->n].p = malloc(len > 0 ? len : 1);
	if (v[r->att->n].p == NULL)
		return pd_errmsg(r->err, r->errlen, "out of memory");
	memcpy(v[r->att->n].p, r->p, len);
	v[r->att->n].len = len;
	r->p += len;
	if ((*out = placeholder(r->att->n)) == NULL)
		return pd_errmsg(r->err, r->errlen, "out of memory");
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
	return pd_errmsg(r->err, r->errlen, "out of memory");
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
		return pd_errmsg(r->err, r->errlen, "array longer than the message");
	if ((a = json_array()) == NULL)
		return pd_errmsg(r->err, r->errlen, "out of memory");
	for (uint64_t i = 0; i < n; i++) {
		json_t *v = NULL;
		int rc = rd_value(r, depth + 1, &v);
		if (rc < 0)
			goto bad;
		/* undefined in an array is null in JSON */
		if (json_array_append_new(a, rc == 1 ? json_null() : v) != 0) {
			pd_errmsg(r->err, r->errlen, "out of memory");
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
		return pd_errmsg(r->err, r->errlen, "map longer than the message");
	if ((o = json_object()) == NULL)
		return pd_errmsg(r->err, r->errlen, "out of memory");
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
			pd_errmsg(r->err, r->errlen, "map key is not a string");
			goto bad;
		}
		if (need(r, klen) != 0)
			goto bad;
		key = (const char *)r->p;
		if (memchr(key, '\0', klen) != NULL || !pd_utf8_valid(r->p, klen)) {
			pd_errmsg(r->err, r->errlen, "map key with NUL or invalid UTF-8");
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
			pd_errmsg(r->err, r->errlen, "out of memory");
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
		return pd_errmsg(r->err, r->errlen, "string is not valid UTF-8");
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
	if (depth > PD_MSGPACK_MAX_DEPTH)
		return pd_errmsg(r->err, r->errlen, "nested deeper than %d", PD_MSGPACK_MAX_DEPTH);
	if (++r->nodes > PD_MSGPACK_MAX_NODES)
		return pd_errmsg(r->err, r->errlen, "more than %d values", PD_MSGPACK_MAX_NODES);
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
				return pd_errmsg(r->err, r->errlen, "timestamp 96 of %zu bytes",
						 len);
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
		return pd_errmsg(r->err, r->errlen, "invalid msgpack byte 0x%02x", c);
	}
done:
	if (*out == NULL)
		return pd_errmsg(r->err, r->errlen, "out of memory");
	return 0;
}

json_t *pd_msgpack_load(const uint8_t *p, size_t n, struct pd_msgpack_bins *att, char *err,
			size_t errlen)
{
	struct rd r = {p, p + n, 0, att, err, errlen};
	json_t *v = NULL;
	int rc = rd_value(&r, 0, &v);
	if (rc == 1)
		pd_errmsg(err, errlen, "message is undefined");
	if (rc != 0)
		return NULL;
	if (r.p != r.end) {
		json_decref(v);
		pd_errmsg(err, errlen, "%zu trailing bytes", (size_t)(r.end - r.p));
		return NULL;
	}
	return v;
}

/* ------------------------------------------------------------------ */
/* writing: notepack's forms (smallest integers, float64 for non-integers,
 * str8/16/32, bin for binary values) */

static int buf_write(void *data, const char *p, size_t n)
{
	return pd_buf_append(data, p, n) == 0 ? 0 : -1;
}

void pd_msgpack_wr_init(struct pd_msgpack_wr *w, struct pd_buf *out,
			const struct pd_msgpack_bin *att, size_t natt)
{
	msgpack_packer_init(&w->pk, out, buf_write);
	w->att = att;
	w->natt = natt;
	w->out = out;
	w->start = out->len;
}

int pd_msgpack_wr_end(struct pd_msgpack_wr *w, int bad)
{
	if (!bad)
		return 0;
	w->out->len = w->start;
	if (w->out->data != NULL)
		w->out->data[w->start] = '\0';
	return -ENOMEM;
}

int pd_msgpack_str(struct pd_msgpack_wr *w, const char *s, size_t n)
{
	return msgpack_pack_str(&w->pk, n) || msgpack_pack_str_body(&w->pk, s, n);
}

int pd_msgpack_cstr(struct pd_msgpack_wr *w, const char *s)
{
	return pd_msgpack_str(w, s, strlen(s));
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

int pd_msgpack_json(struct pd_msgpack_wr *w, const json_t *v, int depth)
{
	long long ph;
	if (depth > PD_MSGPACK_MAX_DEPTH)
		return -1;
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char *k;
		json_t *x;
		if ((ph = placeholder_num(v, w->natt)) >= 0) {
			const struct pd_msgpack_bin *b = &w->att[ph];
			return msgpack_pack_bin(&w->pk, b->len) ||
			       msgpack_pack_bin_body(&w->pk, b->p, b->len);
		}
		if (msgpack_pack_map(&w->pk, json_object_size(v)))
			return -1;
		json_object_foreach((json_t *)v, k, x)
		{
			/* keys are NUL-free here (jansson keys from _set and our reader) */
			if (pd_msgpack_cstr(w, k) || pd_msgpack_json(w, x, depth + 1))
				return -1;
		}
		return 0;
	}
	case JSON_ARRAY: {
		size_t i;
		json_t *x;
		if (msgpack_pack_array(&w->pk, json_array_size(v)))
			return -1;
		json_array_foreach(v, i, x) if (pd_msgpack_json(w, x, depth + 1)) return -1;
		return 0;
	}
	case JSON_STRING:
		return pd_msgpack_str(w, json_string_value(v), json_string_length(v));
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

int pd_msgpack_strs(struct pd_msgpack_wr *w, const char *const *v, size_t n)
{
	if (msgpack_pack_array(&w->pk, n))
		return -1;
	for (size_t i = 0; i < n; i++)
		if (pd_msgpack_cstr(w, v[i]))
			return -1;
	return 0;
}
