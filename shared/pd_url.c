/* pd_url: valkey_url parsing; the accepted forms are in pd_url.h. */
#include "pd_url.h"

#include <stdlib.h>
#include <string.h>

static int copy(char *dst, size_t cap, const char *p, size_t n)
{
	if (n >= cap)
		return -1;
	memcpy(dst, p, n);
	dst[n] = '\0';
	return 0;
}

static int fail(struct pd_redis_url *out, const char *why)
{
	out->err = why;
	return -1;
}

/* One host[:port] in [p, end) as out's next seed; host "" = 127.0.0.1. */
static int parse_seed(struct pd_redis_url *out, const char *p, const char *end)
{
	struct pd_url_seed *sd = &out->seeds[out->nseeds];
	const char *hs, *he;
	char *e;

	if (p < end && *p == '[') { /* [v6]:port */
		hs = p + 1;
		he = memchr(hs, ']', (size_t)(end - hs));
		if (he == NULL || he == hs)
			return fail(out, "bad IPv6 address");
		p = he + 1;
		if (p != end && *p != ':')
			return fail(out, "bad host");
	} else {
		hs = p;
		he = memchr(p, ':', (size_t)(end - p));
		if (he == NULL)
			he = end;
		p = he;
	}
	if (copy(sd->host, sizeof(sd->host), hs, (size_t)(he - hs)) != 0)
		return fail(out, "host too long");
	if (sd->host[0] == '\0')
		strcpy(sd->host, "127.0.0.1");
	sd->port = PD_URL_DEFAULT_PORT;
	if (p != end) { /* *p == ':' */
		long port = strtol(p + 1, &e, 10);
		if (e != end || p + 1 == end || port < 1 || port > 65535)
			return fail(out, "bad port");
		sd->port = (int)port;
	}
	out->nseeds++;
	return 0;
}

int pd_redis_url_parse(const char *url, struct pd_redis_url *out)
{
	const char *p, *at, *hostend;
	char *e;

	memset(out, 0, sizeof(*out));
	out->port = PD_URL_DEFAULT_PORT;
	if (url == NULL || url[0] == '\0')
		return fail(out, "empty url");
	if (strncmp(url, "unix://", 7) == 0) {
		if (url[7] != '/')
			return fail(out, "unix socket path must be absolute");
		if (copy(out->unix_path, sizeof(out->unix_path), url + 7, strlen(url + 7)) != 0)
			return fail(out, "unix socket path too long");
		return 0;
	}
	if (strncmp(url, "redis://", 8) == 0)
		p = url + 8;
	else if (strncmp(url, "valkey://", 9) == 0)
		p = url + 9;
	else if (strstr(url, "://") != NULL)
		return fail(out, "only redis://, valkey:// and unix:// are supported");
	else
		p = url; /* [[user]:password@]host[:port][/db] */

	at = strchr(p, '@');
	if (at != NULL) {
		const char *colon = memchr(p, ':', (size_t)(at - p));
		if (colon != NULL) {
			if (copy(out->user, sizeof(out->user), p, (size_t)(colon - p)) != 0)
				return fail(out, "user too long");
			if (copy(out->password, sizeof(out->password), colon + 1,
				 (size_t)(at - colon - 1)) != 0)
				return fail(out, "password too long");
		} else if (copy(out->password, sizeof(out->password), p, (size_t)(at - p)) != 0) {
			return fail(out, "password too long");
		}
		p = at + 1;
	}

	hostend = p + strcspn(p, "/");
	/* host[:port] seeds, separated by ',' (a cluster's nodes) */
	for (;;) {
		const char *segend = memchr(p, ',', (size_t)(hostend - p));
		if (segend == NULL)
			segend = hostend;
		if (out->nseeds == PD_URL_SEEDS_MAX)
			return fail(out, "too many hosts");
		if (parse_seed(out, p, segend) != 0)
			return -1;
		if (segend == hostend)
			break;
		p = segend + 1;
	}
	strcpy(out->host, out->seeds[0].host);
	out->port = out->seeds[0].port;
	if (*hostend == '/' && hostend[1] != '\0') {
		long db = strtol(hostend + 1, &e, 10);
		if (*e != '\0' || db < 0 || db > PD_URL_DB_MAX)
			return fail(out, "bad database number");
		out->db = (int)db;
		if (out->nseeds > 1 && db != 0)
			return fail(out, "a cluster has only database 0");
	}
	return 0;
}
