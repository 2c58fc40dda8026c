/* hdr: header-value parsing for the broker's HTTP surface (see hdr.h).
 * Each function walks its string once and never reads past its NUL. */
#include "hdr.h"

#include <string.h>
#include <strings.h>

#define HDR_MAX_CL ((uint64_t)1 << 53)

static const char *skip_ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* The element starting at p (after separators): its bounds [*b, *e) without
 * surrounding whitespace; returns where the next one starts. */
static const char *next_elem(const char *p, const char **b, const char **e)
{
	while (*p == ',' || *p == ' ' || *p == '\t')
		p++;
	*b = p;
	while (*p && *p != ',')
		p++;
	const char *t = p;
	while (t > *b && (t[-1] == ' ' || t[-1] == '\t'))
		t--;
	*e = t;
	return p;
}

/* q=0, q=0., q=0.0 ... q=0.000 (RFC 9110 section 12.4.2): the element is refused */
static int q_zero(const char *b, const char *e)
{
	const char *p = b;
	while (p < e) {
		while (p < e && *p != ';')
			p++;
		if (p == e)
			return 0;
		p = skip_ows(p + 1);
		if (e - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
			p += 2;
			if (p == e || *p != '0')
				return 0;
			p++;
			if (p < e && *p == '.')
				p++;
			while (p < e && *p == '0')
				p++;
			p = skip_ows(p);
			return p == e || *p == ';';
		}
	}
	return 0;
}

int hdr_accepts_gzip(const char *v)
{
	const char *b, *e;
	if (v == NULL)
		return 0;
	while (*(v = next_elem(v, &b, &e)) || b < e) {
		const char *t = b;
		while (t < e && *t != ';' && *t != ' ' && *t != '\t')
			t++;
		size_t n = (size_t)(t - b);
		int name = (n == 4 && strncasecmp(b, "gzip", 4) == 0) ||
			   (n == 6 && strncasecmp(b, "x-gzip", 6) == 0) || (n == 1 && *b == '*');
		if (name && !q_zero(t, e))
			return 1;
		if (*v == '\0')
			break;
	}
	return 0;
}

int hdr_etag_match(const char *v, const char *etag)
{
	const char *b, *e;
	size_t tl = strlen(etag);
	if (v == NULL)
		return 0;
	if (tl > 2 && etag[0] == 'W' && etag[1] == '/') {
		etag += 2;
		tl -= 2;
	}
	while (*(v = next_elem(v, &b, &e)) || b < e) {
		if (e - b == 1 && *b == '*')
			return 1;
		if (e - b > 2 && b[0] == 'W' && b[1] == '/')
			b += 2;
		if ((size_t)(e - b) == tl && memcmp(b, etag, tl) == 0)
			return 1;
		if (*v == '\0')
			break;
	}
	return 0;
}

int hdr_content_length(const char *v, uint64_t *out)
{
	const char *b, *e;
	int have = 0;
	uint64_t first = 0;
	if (v == NULL)
		return -1;
	while (*(v = next_elem(v, &b, &e)) || b < e) {
		uint64_t n = 0;
		if (b == e)
			return -1;
		for (const char *p = b; p < e; p++) {
			if (*p < '0' || *p > '9')
				return -1;
			n = n * 10 + (uint64_t)(*p - '0');
			if (n > HDR_MAX_CL)
				return -1;
		}
		if (have && n != first)
			return -1;
		first = n;
		have = 1;
		if (*v == '\0')
			break;
	}
	if (!have)
		return -1;
	*out = first;
	return 0;
}
