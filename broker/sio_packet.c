/* sio_packet: Socket.IO v5 packet codec, no I/O. Decoding follows the
 * reference socket.io-parser (header grammar, per-type payload checks);
 * encoding writes JSON the way JavaScript's JSON.stringify does, so that the
 * bytes we send match what a Node.js server would send. */
#include "sio_packet.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Event names the reference parser refuses (they mean something locally). */
static const char *const reserved_events[] = {
	"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener",
};

static int decode_error(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int decode_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap); /* truncation of a message is fine */
		va_end(ap);
	}
	return -1;
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int payload_valid(int type, const json_t *data, const char **why)
{
	switch (type) {
	case SIO_CONNECT:
		*why = "CONNECT payload must be an object";
		return data == NULL || json_is_object(data);
	case SIO_DISCONNECT:
		*why = "DISCONNECT takes no payload";
		return data == NULL;
	case SIO_CONNECT_ERROR:
		*why = "CONNECT_ERROR payload must be an object or a string";
		return data == NULL || json_is_object(data) || json_is_string(data);
	case SIO_EVENT:
	case SIO_BINARY_EVENT: {
		const json_t *name = json_array_get(data, 0);
		*why = "EVENT payload must be an array starting with an event name";
		if (!json_is_array(data) || !json_is_string(name))
			return 0;
		/* A NUL inside would make the name differ as a C string. */
		if (strlen(json_string_value(name)) != json_string_length(name))
			return 0;
		*why = "reserved event name";
		for (size_t i = 0; i < sizeof(reserved_events) / sizeof(reserved_events[0]); i++)
			if (strcmp(json_string_value(name), reserved_events[i]) == 0)
				return 0;
		return 1;
	}
	case SIO_ACK:
	case SIO_BINARY_ACK:
		*why = "ACK payload must be an array";
		return json_is_array(data);
	}
	*why = "unknown packet type";
	return 0;
}

int sio_decode(const char *p, size_t n, struct sio_packet *out, char *err, size_t errlen)
{
	size_t i = 1;
	int type;
	const char *why;

	out->type = -1;
	strcpy(out->nsp, "/");
	out->id = -1;
	out->attachments = 0;
	out->data = NULL;

	if (n == 0)
		return decode_error(err, errlen, "empty packet");
	if (p[0] < '0' || p[0] > '6')
		return decode_error(err, errlen, "unknown packet type");
	type = p[0] - '0';

	if (type == SIO_BINARY_EVENT || type == SIO_BINARY_ACK) {
		int a = 0;
		size_t start = i;
		for (; i < n && is_digit(p[i]); i++) {
			a = a * 10 + (p[i] - '0');
			if (a > SIO_MAX_ATTACHMENTS)
				return decode_error(err, errlen, "too many attachments");
		}
		/* socket.io-parser 4.2.x: at least one (a binary packet without
		 * binary is sent as a plain one), at most its maxAttachments. */
		if (i == start || i == n || p[i] != '-' || a < 1)
			return decode_error(err, errlen, "illegal attachments");
		i++;
		out->attachments = a;
	}

	/* A namespace only when the next character is '/': up to ',' or the end. */
	if (i < n && p[i] == '/') {
		const char *comma = memchr(p + i, ',', n - i);
		size_t len = comma != NULL ? (size_t)(comma - (p + i)) : n - i;
		if (len >= SIO_NSP_MAX)
			return decode_error(err, errlen, "namespace too long");
		if (memchr(p + i, '\0', len) != NULL)
			return decode_error(err, errlen, "NUL in namespace");
		memcpy(out->nsp, p + i, len);
		out->nsp[len] = '\0';
		i += len + (comma != NULL);
	}

	if (i < n && is_digit(p[i])) {
		long long id = 0;
		if (type != SIO_EVENT && type != SIO_ACK && type != SIO_BINARY_EVENT &&
		    type != SIO_BINARY_ACK)
			return decode_error(err, errlen, "ack id on a packet that takes none");
		for (; i < n && is_digit(p[i]); i++) {
			/* JavaScript numbers are exact up to 2^53: refuse larger ids. */
			if (id > (9007199254740991LL - (p[i] - '0')) / 10)
				return decode_error(err, errlen, "ack id too large");
			id = id * 10 + (p[i] - '0');
		}
		out->id = id;
	}

	if (i < n) {
		json_error_t je;
		size_t flags = JSON_DECODE_ANY | JSON_ALLOW_NUL;
		out->data = json_loadb(p + i, n - i, flags, &je);
		/* JavaScript reads 1e20 written as digits; jansson's integers stop
		 * at 2^63: read such a payload with every number as a double. */
		if (out->data == NULL && json_error_code(&je) == json_error_numeric_overflow)
			out->data = json_loadb(p + i, n - i, flags | JSON_DECODE_INT_AS_REAL, &je);
		if (out->data == NULL)
			return decode_error(err, errlen, "invalid JSON payload: %s", je.text);
	}

	if (!payload_valid(type, out->data, &why)) {
		json_decref(out->data);
		out->data = NULL;
		return decode_error(err, errlen, "%s", why);
	}
	out->type = type;
	return 0;
}

void sio_packet_clear(struct sio_packet *pk)
{
	if (pk == NULL)
		return;
	json_decref(pk->data);
	pk->data = NULL;
}

const char *sio_event_name(const struct sio_packet *pk)
{
	if (pk->type != SIO_EVENT && pk->type != SIO_BINARY_EVENT)
		return NULL;
	return json_string_value(json_array_get(pk->data, 0));
}

/* JSON.stringify's string escaping: only '"', '\\' and controls; the rest,
 * '/' and non-ASCII included, is written as is (UTF-8). */
static int append_string(struct pd_buf *out, const char *s, size_t n)
{
	size_t run = 0;
	int rc;

	if ((rc = pd_buf_append(out, "\"", 1)) != 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[8];
		size_t elen = 2;
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		if ((rc = pd_buf_append(out, s + run, i - run)) != 0)
			return rc;
		run = i + 1;
		esc[0] = '\\';
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			snprintf(esc, sizeof(esc), "\\u%04x", c); /* lower-case, as V8 */
			elen = 6;
		}
		if ((rc = pd_buf_append(out, esc, elen)) != 0)
			return rc;
	}
	if ((rc = pd_buf_append(out, s + run, n - run)) != 0)
		return rc;
	return pd_buf_append(out, "\"", 1);
}

/* Number.prototype.toString: the shortest digits that read back as the same
 * double, placed as ECMA-262 says (plain up to 1e21, exponent past it). */
static int append_double(struct pd_buf *out, double v)
{
	char e[40], digits[24], res[48];
	int k = 0, exp10, prec;
	char *ep;
	size_t r = 0;

	if (!isfinite(v))
		return pd_buf_append(out, "null", 4);
	if (v == 0)
		return pd_buf_append(out, "0", 1); /* -0 too */
	for (prec = 1; prec <= 17; prec++) {
		snprintf(e, sizeof(e), "%.*e", prec - 1, v);
		if (strtod(e, NULL) == v)
			break;
	}
	/* e is "[-]d[.ddd]e[+-]xx" */
	if (v < 0)
		res[r++] = '-';
	for (const char *c = e; *c != 'e'; c++)
		if (is_digit(*c))
			digits[k++] = *c;
	ep = strchr(e, 'e');
	exp10 = (int)strtol(ep + 1, NULL, 10);
	while (k > 1 && digits[k - 1] == '0')
		k--;
	digits[k] = '\0';
	int nn = exp10 + 1; /* value = 0.digits * 10^nn */
	if (k <= nn && nn <= 21) {
		memcpy(res + r, digits, (size_t)k);
		r += (size_t)k;
		for (int z = 0; z < nn - k; z++)
			res[r++] = '0';
	} else if (0 < nn && nn <= 21) {
		memcpy(res + r, digits, (size_t)nn);
		r += (size_t)nn;
		res[r++] = '.';
		memcpy(res + r, digits + nn, (size_t)(k - nn));
		r += (size_t)(k - nn);
	} else if (-6 < nn && nn <= 0) {
		res[r++] = '0';
		res[r++] = '.';
		for (int z = 0; z < -nn; z++)
			res[r++] = '0';
		memcpy(res + r, digits, (size_t)k);
		r += (size_t)k;
	} else {
		res[r++] = digits[0];
		if (k > 1) {
			res[r++] = '.';
			memcpy(res + r, digits + 1, (size_t)(k - 1));
			r += (size_t)(k - 1);
		}
		r += (size_t)snprintf(res + r, sizeof(res) - r, "e%c%d", nn - 1 < 0 ? '-' : '+',
				      abs(nn - 1));
	}
	return pd_buf_append(out, res, r);
}

/* JavaScript orders array-index keys ("0".."4294967294", canonical) first,
 * ascending, then the other keys in insertion order. */
static int array_index(const char *k, size_t len, uint32_t *idx)
{
	uint64_t v = 0;

	if (len == 0 || len > 10 || (k[0] == '0' && len > 1))
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (!is_digit(k[i]))
			return 0;
		v = v * 10 + (uint64_t)(k[i] - '0');
	}
	if (v >= 0xffffffffu)
		return 0;
	*idx = (uint32_t)v;
	return 1;
}

struct index_key {
	uint32_t idx;
	const char *key;
	size_t len;
	json_t *value;
};

static int cmp_index_key(const void *a, const void *b)
{
	uint32_t x = ((const struct index_key *)a)->idx, y = ((const struct index_key *)b)->idx;
	return x < y ? -1 : x > y;
}

static int append_json(struct pd_buf *out, const json_t *v);

static int append_member(struct pd_buf *out, int *first, const char *key, size_t len,
			 const json_t *value)
{
	int rc;

	if ((!*first && (rc = pd_buf_append(out, ",", 1)) != 0) ||
	    (rc = append_string(out, key, len)) != 0 || (rc = pd_buf_append(out, ":", 1)) != 0)
		return rc;
	*first = 0;
	return append_json(out, value);
}

static int append_object(struct pd_buf *out, const json_t *obj)
{
	const char *key;
	size_t len, nidx = 0, k = 0;
	json_t *value;
	struct index_key *ix = NULL;
	uint32_t idx;
	int rc, first = 1;

	json_object_keylen_foreach((json_t *)obj, key, len, value)
	{
		nidx += (size_t)array_index(key, len, &idx);
	}
	if (nidx > 0) {
		if ((ix = malloc(nidx * sizeof(*ix))) == NULL)
			return -ENOMEM;
		json_object_keylen_foreach((json_t *)obj, key, len, value)
		{
			if (array_index(key, len, &idx))
				ix[k++] = (struct index_key){idx, key, len, value};
		}
		qsort(ix, nidx, sizeof(*ix), cmp_index_key);
	}
	if ((rc = pd_buf_append(out, "{", 1)) != 0)
		goto out;
	for (k = 0; k < nidx; k++)
		if ((rc = append_member(out, &first, ix[k].key, ix[k].len, ix[k].value)) != 0)
			goto out;
	json_object_keylen_foreach((json_t *)obj, key, len, value)
	{
		if (nidx > 0 && array_index(key, len, &idx))
			continue;
		if ((rc = append_member(out, &first, key, len, value)) != 0)
			goto out;
	}
	rc = pd_buf_append(out, "}", 1);
out:
	free(ix);
	return rc;
}

static int append_json(struct pd_buf *out, const json_t *v)
{
	int rc;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return append_object(out, v);
	case JSON_ARRAY:
		if ((rc = pd_buf_append(out, "[", 1)) != 0)
			return rc;
		for (size_t i = 0; i < json_array_size(v); i++)
			if ((i > 0 && (rc = pd_buf_append(out, ",", 1)) != 0) ||
			    (rc = append_json(out, json_array_get(v, i))) != 0)
				return rc;
		return pd_buf_append(out, "]", 1);
	case JSON_STRING:
		return append_string(out, json_string_value(v), json_string_length(v));
	case JSON_INTEGER: {
		json_int_t i = json_integer_value(v);
		/* Past 2^53 JavaScript holds (and prints) the nearest double. */
		if (i > 9007199254740992LL || i < -9007199254740992LL)
			return append_double(out, (double)i);
		return pd_buf_printf(out, "%" JSON_INTEGER_FORMAT, i);
	}
	case JSON_REAL:
		return append_double(out, json_real_value(v));
	case JSON_TRUE:
		return pd_buf_append(out, "true", 4);
	case JSON_FALSE:
		return pd_buf_append(out, "false", 5);
	case JSON_NULL:
		return pd_buf_append(out, "null", 4);
	}
	return -EINVAL;
}

int sio_json_append(struct pd_buf *out, const json_t *v)
{
	size_t start = out->len;
	int rc = append_json(out, v);

	if (rc != 0) {
		out->len = start;
		if (out->data != NULL)
			out->data[start] = '\0';
	}
	return rc;
}

int sio_encode(struct pd_buf *out, int type, const char *nsp, long long id, int attachments,
	       const json_t *data)
{
	size_t start = out->len;
	int binary = type == SIO_BINARY_EVENT || type == SIO_BINARY_ACK;
	int rc;

	/* Only BINARY_* carry attachments, and at least one (as on decode). */
	if (type < SIO_CONNECT || type > SIO_BINARY_ACK || (binary ? attachments < 1 : attachments != 0))
		return -EINVAL;
	if (nsp != NULL && strcmp(nsp, "/") == 0)
		nsp = NULL;
	/* A namespace we could not decode back is a caller bug. */
	if (nsp != NULL && (nsp[0] != '/' || strlen(nsp) >= SIO_NSP_MAX || strchr(nsp, ',') != NULL))
		return -EINVAL;

	if ((rc = pd_buf_printf(out, "%d", type)) != 0 ||
	    (binary && (rc = pd_buf_printf(out, "%d-", attachments)) != 0) ||
	    (nsp != NULL && (rc = pd_buf_printf(out, "%s,", nsp)) != 0) ||
	    (id >= 0 && (rc = pd_buf_printf(out, "%lld", id)) != 0) ||
	    (data != NULL && (rc = append_json(out, data)) != 0)) {
		out->len = start;
		if (out->data != NULL)
			out->data[start] = '\0';
		return rc;
	}
	return 0;
}

struct ph_walk {
	int count;
	uint64_t seen; /* bit n: num n was found */
};

static int walk_placeholders(const json_t *v, struct ph_walk *w)
{
	if (json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v); i++)
			if (walk_placeholders(json_array_get(v, i), w) != 0)
				return -1;
		return 0;
	}
	if (!json_is_object(v))
		return 0;
	/* The reference takes any object whose _placeholder is true. */
	if (json_is_true(json_object_get(v, "_placeholder"))) {
		const json_t *num = json_object_get(v, "num");
		double d;
		if (json_is_integer(num))
			d = (double)json_integer_value(num);
		else if (json_is_real(num))
			d = json_real_value(num);
		else
			return -1;
		if (!(d >= 0 && d < SIO_MAX_ATTACHMENTS) || d != floor(d))
			return -1;
		if (w->seen & (1ull << (int)d))
			return -1; /* the same buffer twice */
		w->seen |= 1ull << (int)d;
		w->count++;
		return 0;
	}
	const char *key;
	json_t *value;
	json_object_foreach((json_t *)v, key, value)
	{
		if (walk_placeholders(value, w) != 0)
			return -1;
	}
	return 0;
}

int sio_placeholders_check(const json_t *data)
{
	struct ph_walk w = {0, 0};

	if (walk_placeholders(data, &w) != 0)
		return -1;
	/* nums distinct and all below count: exactly 0..count-1. */
	if (w.count < 64 && w.seen != (1ull << w.count) - 1)
		return -1;
	return w.count;
}
