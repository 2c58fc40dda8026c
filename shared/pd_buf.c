/* pd_buf: growable byte buffers with a hard cap, string slices, and the
 * byte-level codecs the protocols need (standard base64, strict UTF-8). */
#include "pd_buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t buf_max(const struct pd_buf *b)
{
	return b->max != 0 ? b->max : SIZE_MAX / 2;
}

void pd_buf_init(struct pd_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void pd_buf_free(struct pd_buf *b)
{
	if (b == NULL)
		return;
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void pd_buf_reset(struct pd_buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

int pd_buf_reserve(struct pd_buf *b, size_t extra)
{
	size_t max = buf_max(b);
	if (extra > max || b->len > max - extra)
		return -ENOBUFS;
	size_t need = b->len + extra + 1; /* +1: the terminating NUL */
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap != 0 ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 4 ? need : cap * 2;
	if (cap > max + 1)
		cap = max + 1;
	char *d = realloc(b->data, cap);
	if (d == NULL)
		return -ENOMEM;
	b->data = d;
	b->cap = cap;
	return 0;
}

int pd_buf_append(struct pd_buf *b, const void *p, size_t n)
{
	int rc = pd_buf_reserve(b, n);
	if (rc < 0)
		return rc;
	if (n != 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int pd_buf_append_str(struct pd_buf *b, const char *s)
{
	return pd_buf_append(b, s, strlen(s));
}

int pd_buf_printf(struct pd_buf *b, const char *fmt, ...)
{
	va_list ap;
	char small[256];
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n < sizeof(small))
		return pd_buf_append(b, small, (size_t)n);

	int rc = pd_buf_reserve(b, (size_t)n);
	if (rc < 0)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void pd_buf_consume(struct pd_buf *b, size_t n)
{
	if (n >= b->len) {
		pd_buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

char *pd_buf_steal(struct pd_buf *b, size_t *len)
{
	char *d = b->data; /* NULL only if never allocated */
	if (len != NULL)
		*len = b->len;
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return d;
}

int pd_str_eq(struct pd_str a, const char *lit)
{
	size_t n = strlen(lit);
	return a.len == n && (n == 0 || memcmp(a.p, lit, n) == 0);
}

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int pd_base64_encode(const uint8_t *p, size_t n, struct pd_buf *out)
{
	if (n > (SIZE_MAX / 2) / 4 * 3)
		return -ENOBUFS;
	size_t olen = (n + 2) / 3 * 4;
	int rc = pd_buf_reserve(out, olen);
	if (rc < 0)
		return rc;
	char *o = out->data + out->len;
	size_t i = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*o++ = b64_alphabet[v >> 18 & 63];
		*o++ = b64_alphabet[v >> 12 & 63];
		*o++ = b64_alphabet[v >> 6 & 63];
		*o++ = b64_alphabet[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;
		*o++ = b64_alphabet[v >> 18 & 63];
		*o++ = b64_alphabet[v >> 12 & 63];
		*o++ = '=';
		*o++ = '=';
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		*o++ = b64_alphabet[v >> 18 & 63];
		*o++ = b64_alphabet[v >> 12 & 63];
		*o++ = b64_alphabet[v >> 6 & 63];
		*o++ = '=';
	}
	out->len += olen;
	out->data[out->len] = '\0';
	return 0;
}

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Strict: length a multiple of 4, '=' only as final padding, no whitespace,
 * and the unused bits before the padding must be zero (one canonical
 * encoding per byte string). On error out is left as it was. */
int pd_base64_decode(const char *p, size_t n, struct pd_buf *out)
{
	if (n % 4 != 0)
		return -EINVAL;
	size_t pad = 0;
	if (n >= 4 && p[n - 1] == '=')
		pad = p[n - 2] == '=' ? 2 : 1;
	size_t olen = n / 4 * 3 - pad;
	size_t start = out->len;
	int rc = pd_buf_reserve(out, olen);
	if (rc < 0)
		return rc;
	uint8_t *o = (uint8_t *)out->data + start;
	for (size_t i = 0; i < n; i += 4) {
		int last = i + 4 == n;
		int v[4];
		for (size_t k = 0; k < 4; k++) {
			unsigned char c = (unsigned char)p[i + k];
			if (c == '=' && last && k >= 4 - pad) {
				v[k] = 0;
				continue;
			}
			if ((v[k] = b64_value(c)) < 0)
				return -EINVAL;
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
			     (uint32_t)v[3];
		if (last && pad == 2) {
			if ((w & 0xffff) != 0)
				return -EINVAL;
			*o++ = (uint8_t)(w >> 16);
		} else if (last && pad == 1) {
			if ((w & 0xff) != 0)
				return -EINVAL;
			*o++ = (uint8_t)(w >> 16);
			*o++ = (uint8_t)(w >> 8);
		} else {
			*o++ = (uint8_t)(w >> 16);
			*o++ = (uint8_t)(w >> 8);
			*o++ = (uint8_t)w;
		}
	}
	out->len = start + olen;
	out->data[out->len] = '\0';
	return 0;
}

int pd_utf8_valid(const uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t c = p[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t len;
		uint32_t cp, min;
		if (c >= 0xc2 && c <= 0xdf) {
			len = 2;
			cp = c & 0x1f;
			min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			len = 3;
			cp = c & 0x0f;
			min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			cp = c & 0x07;
			min = 0x10000;
		} else {
			return 0; /* continuation byte, 0xc0/0xc1 or 0xf5.. */
		}
		if (n - i < len)
			return 0;
		for (size_t k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += len;
	}
	return 1;
}
