/* pd_url: the one parser of valkey_url, shared by the API, the broker
 * (broker/vk.c) and pushdeskctl.
 *
 * Accepted forms (the union of what the three parsers it replaced took):
 *
 *   redis://[[user]:password@]host[:port][/db]
 *   valkey://[[user]:password@]host[:port][/db]    same as redis://
 *   [[user]:password@]host[:port][/db]             no scheme (pushdeskctl and
 *                                                  the broker took this)
 *   unix:///absolute/path                          a unix socket (API, CLI)
 *
 *   - host may be an IPv6 literal in brackets, "[::1]:6380"; host gets it
 *     without the brackets. An empty host ("redis://", "redis://:6380")
 *     means 127.0.0.1.
 *   - userinfo ends at the first '@' in the url: "pw@h" is a password
 *     only, ":pw@h" too, "user:pw@h" a user and password; the password
 *     runs from the first ':' to that '@' and may hold ':' and '/'.
 *   - several nodes of a Valkey Cluster: host[:port] seeds separated by
 *     ',' ("redis://:pw@10.0.0.1:7000,10.0.0.2:7000,[::1]:7002"); each seed
 *     takes the default port alone, the userinfo is shared, and db must be
 *     0 (a cluster has no other). host/port are the first seed's; at most
 *     PD_URL_SEEDS_MAX, and an empty seed ("h1,,h2") is 127.0.0.1.
 *   - port: 1..65535, default 6379. db: 0..100000, default 0; "h/" is db 0.
 *   - Any other "scheme://" is refused, and so is the empty string.
 *
 * Not percent-decoded, and schemes are case-sensitive (as before). */
#ifndef PD_URL_H
#define PD_URL_H

#define PD_URL_DEFAULT_PORT 6379
#define PD_URL_DB_MAX 100000
#define PD_URL_SEEDS_MAX 16

struct pd_url_seed {
	char host[256];
	int port;
};

struct pd_redis_url {
	char host[256];      /* "" only for a unix socket */
	int port;            /* PD_URL_DEFAULT_PORT when not given */
	int db;              /* 0 when not given */
	char user[128];      /* "" when not given */
	char password[256];  /* "" when not given */
	char unix_path[108]; /* sizeof(sockaddr_un.sun_path); "" unless unix:// */
	int nseeds;          /* hosts named: 1, or more for a cluster; 0 for unix:// */
	struct pd_url_seed seeds[PD_URL_SEEDS_MAX]; /* seeds[0] is host:port */
	const char *err;     /* after -1: why, a static string ("bad port") */
};

/* Parse url into *out (cleared first). 0, or -1 with out->err set. */
int pd_redis_url_parse(const char *url, struct pd_redis_url *out);

#endif
