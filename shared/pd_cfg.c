/* pd_cfg: pushdesk.conf and PUSHDESK_<KEY> overrides. The key table below
 * is the single list of keys, defaults and help lines: pushdesk.conf(5) and
 * pushdesk.conf.example are written from it. Values are kept as strings;
 * integer and rate keys are checked when set so that a typo is reported
 * with its file and line, not later by whoever reads the key. */
#include "pd_cfg.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

extern char **environ;

#define PD_CFG_VALUE_MAX 4096
#define PD_CFG_LINE_MAX 8192

enum kind { K_STR, K_INT, K_RATE };

struct key {
	const char *name;
	const char *dflt;
	enum kind kind;
	const char *help;
};

static const struct key keys[] = {
	/* storage and fan-out */
	{"database_url", "", K_STR, "libpq connection string of the PostgreSQL database"},
	{"valkey_url", "", K_STR, "Valkey/Redis server, redis://host:port[/db]; empty = no Valkey"},
	{"adapter_key", "socket.io", K_STR, "key prefix of the Socket.IO Redis adapter channels"},
	{"adapter_mode", "classic", K_STR,
	 "classic (PUBLISH, as createAdapter) or sharded (SPUBLISH, as createShardedAdapter)"},
	/* tokens */
	{"jwt_alg", "HS256", K_STR,
	 "token algorithm: HS256, HS384, HS512, RS256, RS384, RS512, ES256, ES384, ES512"},
	{"jwt_secret", "", K_STR, "shared secret for HS* algorithms (required for them)"},
	{"jwt_public_key_file", "", K_STR, "PEM public key verifying RS*/ES* tokens"},
	{"jwt_private_key_file", "", K_STR, "PEM private key signing RS*/ES* tokens"},
	{"jwt_issuer", "", K_STR, "iss claim written and required; empty = not checked"},
	{"jwt_audience", "", K_STR, "aud claim written and required; empty = not checked"},
	{"jwt_leeway", "0", K_INT, "clock leeway in seconds when checking exp and nbf"},
	{"token_ttl", "3600", K_INT, "lifetime in seconds of tokens issued by login"},
	{"token_cookie", "pushdesk_token", K_STR,
	 "cookie login sets and the broker reads a token from"},
	{"jwt_sub_claims", "sub,userId,id", K_STR,
	 "claims naming the user, first present wins (foreign tokens)"},
	{"jwt_org_claims", "org,workspaceId,organizationId", K_STR,
	 "claims naming the organization, first present wins (foreign tokens)"},
	{"jwt_role_map", "client:customer,freelancer:agent,user:customer", K_STR,
	 "FOREIGN:ROLE pairs renaming foreign roles (matched without regard to case)"},
	{"jwt_default_role", "", K_STR,
	 "role of a token whose role is missing or unknown; empty = refuse the token"},
	/* broker: listeners and Engine.IO */
	{"broker_listen", "127.0.0.1:3000", K_STR, "ADDR:PORT the broker serves /socket.io/ on"},
	{"dialect", "helpdesk", K_STR,
	 "client vocabulary of namespace /: helpdesk, rooms, presence or workspace"},
	{"broker_admin_listen", "127.0.0.1:3001", K_STR,
	 "ADDR:PORT of the broker's /metrics and /healthz"},
	{"broker_threads", "0", K_INT, "event loops in the broker; 0 = one per core"},
	{"broker_max_connections", "100000", K_INT, "connections the broker accepts at most"},
	{"ping_interval", "25000", K_INT, "Engine.IO pingInterval in milliseconds"},
	{"ping_timeout", "20000", K_INT, "Engine.IO pingTimeout in milliseconds"},
	{"max_payload", "1000000", K_INT, "Engine.IO maxPayload in bytes"},
	{"connect_timeout", "45000", K_INT,
	 "milliseconds a client has to connect to a namespace"},
	{"cors_origins", "", K_STR, "comma-separated allowed origins, \"*\" for any; empty = none"},
	{"output_soft_limit", "262144", K_INT,
	 "bytes queued to a socket tolerated for output_soft_seconds"},
	{"output_hard_limit", "1048576", K_INT, "bytes queued to a socket that close it at once"},
	{"output_soft_seconds", "10", K_INT, "seconds a socket may stay over output_soft_limit"},
	{"broker_path", "/socket.io/", K_STR, "URL path of Engine.IO / Socket.IO and the client bundle"},
	{"header_timeout", "10000", K_INT, "milliseconds a broker connection has to send a request head"},
	{"max_pending_per_ip", "256", K_INT,
	 "broker connections per client address that have not sent a request yet"},
	/* broker: cluster state and features */
	{"broker_request_timeout", "5000", K_INT,
	 "milliseconds to wait for other brokers' answers"},
	{"lease_ttl", "10", K_INT, "seconds a broker's liveness lease lasts in Valkey"},
	{"presence_ttl", "30", K_INT, "seconds presence lasts in Valkey without a refresh"},
	{"typing_timeout", "5000", K_INT, "milliseconds after which typing:stop is sent by itself"},
	{"dashboard_interval", "5000", K_INT, "milliseconds between /dashboard metrics"},
	{"recovery_window", "120000", K_INT,
	 "milliseconds a dropped socket's session can be recovered; 0 = no recovery"},
	{"recovery_max_events", "10000", K_INT,
	 "events kept per namespace for connection state recovery (Valkey stream)"},
	{"recovery_presence_grace", "10000", K_INT,
	 "milliseconds a dropped socket still counts in presence (no user:offline)"},
	{"grant_cache_seconds", "10", K_INT, "seconds the broker caches a ticket access check"},
	{"db_threads", "2", K_INT, "broker threads doing database work"},
	{"rate_typing_start", "10/10", K_RATE, "typing:start events per seconds, per socket"},
	{"rate_message_send", "5/1", K_RATE, "message:send events per seconds, per socket"},
	{"rate_presence_status", "5/60", K_RATE, "presence:status events per seconds, per socket"},
	{"rate_default", "100/60", K_RATE, "any other event per seconds, per socket"},
	/* API */
	{"api_socket", "", K_STR,
	 "FastCGI listen socket: unix path or host:port; empty = the socket on stdin"},
	{"api_workers", "4", K_INT, "FastCGI worker processes of pushdesk-api"},
	{"api_max_body", "1048576", K_INT, "largest request body in bytes"},
	{"login_rate", "10/300", K_RATE, "login attempts per seconds, per address and email"},
	{"statement_timeout", "5000", K_INT, "PostgreSQL statement_timeout in milliseconds"},
	{"relay_interval", "1000", K_INT, "milliseconds between outbox relay passes"},
	/* logging */
	{"log_level", "info", K_STR, "error, warning, notice, info or debug"},
	{"log_target", "stderr", K_STR, "stderr or syslog"},
	/* broker: sticky routing behind a front end */
	{"broker_route", "", K_STR,
	 "this broker's route (1-8 of A-Z a-z 0-9 _ -), appended to its sids; empty = none"},
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

struct pd_cfg {
	char *value[NKEYS];  /* NULL = the default */
	char *origin[NKEYS]; /* "FILE:LINE" or "PUSHDESK_KEY"; NULL = default */
};

static int key_index(const char *name, size_t n)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strlen(keys[i].name) == n && memcmp(keys[i].name, name, n) == 0)
			return (int)i;
	return -1;
}

struct pd_cfg *pd_cfg_new(void)
{
	return calloc(1, sizeof(struct pd_cfg));
}

void pd_cfg_free(struct pd_cfg *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < NKEYS; i++) {
		free(c->value[i]);
		free(c->origin[i]);
	}
	free(c);
}

/* Parse a whole decimal long (optional sign, no blanks, no trailing bytes). */
static int parse_long(const char *s, long *out)
{
	char *end;
	if (*s == '\0' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

static int parse_rate(const char *s, long *count, long *seconds)
{
	const char *slash = strchr(s, '/');
	char num[32];
	long n, sec;
	if (slash == NULL || (size_t)(slash - s) >= sizeof(num))
		return -1;
	memcpy(num, s, (size_t)(slash - s));
	num[slash - s] = '\0';
	if (parse_long(num, &n) != 0 || parse_long(slash + 1, &sec) != 0 || n < 1 || sec < 1)
		return -1;
	*count = n;
	*seconds = sec;
	return 0;
}

/* Check value against the key's kind. NULL if fine, else the reason. */
static const char *check_value(size_t i, const char *value)
{
	long a, b;
	if (strlen(value) > PD_CFG_VALUE_MAX)
		return "value too long";
	switch (keys[i].kind) {
	case K_INT:
		if (parse_long(value, &a) != 0 || a < 0)
			return "expected a non-negative integer";
		break;
	case K_RATE:
		if (parse_rate(value, &a, &b) != 0)
			return "expected COUNT/SECONDS, both positive integers";
		break;
	case K_STR:
		break;
	}
	return NULL;
}

static int set_index(struct pd_cfg *c, size_t i, const char *value, const char *origin)
{
	char *v = strdup(value);
	char *o = origin != NULL ? strdup(origin) : NULL;
	if (v == NULL || (origin != NULL && o == NULL)) {
		free(v);
		free(o);
		return -1;
	}
	free(c->value[i]);
	free(c->origin[i]);
	c->value[i] = v;
	c->origin[i] = o;
	return 0;
}

int pd_cfg_set(struct pd_cfg *c, const char *key, const char *value)
{
	int i = key_index(key, strlen(key));
	if (i < 0 || check_value((size_t)i, value) != NULL)
		return -1;
	return set_index(c, (size_t)i, value, NULL);
}

static char *trim(char *s, char **end)
{
	while (*s == ' ' || *s == '\t')
		s++;
	char *e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		e--;
	*e = '\0';
	if (end != NULL)
		*end = e;
	return s;
}

/* Unquote "..." in place: \" and \\ are the only escapes. NULL if fine. */
static const char *unquote(char *v)
{
	char *r = v + 1, *w = v;
	for (;;) {
		if (*r == '\0')
			return "unterminated quoted value";
		if (*r == '"')
			break;
		if (*r == '\\') {
			r++;
			if (*r != '"' && *r != '\\')
				return "bad escape in quoted value (only \\\" and \\\\)";
		}
		*w++ = *r++;
	}
	r++;
	while (*r == ' ' || *r == '\t')
		r++;
	if (*r != '\0')
		return "unexpected text after quoted value";
	*w = '\0';
	return NULL;
}

/* One line of a file. 0, or -1 with *why set; *bad_key set for an unknown key. */
static int parse_line(struct pd_cfg *c, char *line, const char *origin, const char **why,
		      char *badkey, size_t badkeylen)
{
	char *s = trim(line, NULL);
	if (*s == '\0' || *s == '#')
		return 0;
	char *eq = strchr(s, '=');
	if (eq == NULL) {
		*why = "expected key = value";
		return -1;
	}
	*eq = '\0';
	char *key = trim(s, NULL);
	char *value = trim(eq + 1, NULL);
	if (*key == '\0') {
		*why = "expected key = value";
		return -1;
	}
	for (char *k = key; *k != '\0'; k++) {
		if (!(islower((unsigned char)*k) || isdigit((unsigned char)*k) || *k == '_')) {
			*why = "expected key = value (keys are lower case letters, digits and _)";
			return -1;
		}
	}
	int i = key_index(key, strlen(key));
	if (i < 0) {
		snprintf(badkey, badkeylen, "unknown key '%s'", key);
		*why = badkey;
		return -1;
	}
	if (*value == '"' && (*why = unquote(value)) != NULL)
		return -1;
	if ((*why = check_value((size_t)i, value)) != NULL) {
		snprintf(badkey, badkeylen, "%s: %s", keys[i].name, *why);
		*why = badkey;
		return -1;
	}
	if (set_index(c, (size_t)i, value, origin) != 0) {
		*why = "out of memory";
		return -1;
	}
	return 0;
}

int pd_cfg_load_file(struct pd_cfg *c, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	long lineno = 0;
	int rc = 0;
	while ((n = getline(&line, &cap, f)) >= 0) {
		char origin[PATH_MAX + 32];
		char reason[160];
		const char *why = NULL;
		lineno++;
		snprintf(origin, sizeof(origin), "%s:%ld", path, lineno);
		if ((size_t)n > PD_CFG_LINE_MAX) {
			why = "line too long";
		} else if (memchr(line, '\0', (size_t)n) != NULL) {
			why = "NUL byte in line";
		} else if (parse_line(c, line, origin, &why, reason, sizeof(reason)) == 0) {
			continue;
		}
		snprintf(err, errlen, "%s: %s", origin, why);
		rc = -1;
		break;
	}
	if (rc == 0 && ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		rc = -1;
	}
	free(line);
	fclose(f);
	return rc;
}

int pd_cfg_load_env(struct pd_cfg *c, char **envp, char *err, size_t errlen)
{
	static const char prefix[] = "PUSHDESK_";
	if (envp == NULL)
		envp = environ;
	for (char **e = envp; e != NULL && *e != NULL; e++) {
		const char *var = *e;
		if (strncmp(var, prefix, sizeof(prefix) - 1) != 0)
			continue;
		const char *name = var + sizeof(prefix) - 1;
		const char *eq = strchr(name, '=');
		char key[64];
		size_t n;
		if (eq == NULL || (n = (size_t)(eq - name)) == 0 || n >= sizeof(key))
			continue;
		/* Only upper case names: PUSHDESK_jwt_secret is not ours. */
		int ok = 1;
		for (size_t k = 0; k < n; k++) {
			if (islower((unsigned char)name[k]))
				ok = 0;
			key[k] = (char)tolower((unsigned char)name[k]);
		}
		key[n] = '\0';
		int i = key_index(key, n);
		if (!ok || i < 0)
			continue; /* PUSHDESK_CONFIG, PUSHDESK_STATE...: belong to others */
		char origin[80];
		snprintf(origin, sizeof(origin), "%.*s", (int)(eq - var), var);
		const char *why = check_value((size_t)i, eq + 1);
		if (why != NULL) {
			snprintf(err, errlen, "%s: %s", origin, why);
			return -1;
		}
		if (set_index(c, (size_t)i, eq + 1, origin) != 0) {
			snprintf(err, errlen, "%s: out of memory", origin);
			return -1;
		}
	}
	return 0;
}

int pd_cfg_load(struct pd_cfg *c, const char *path, char *err, size_t errlen)
{
	if (path == NULL) {
		const char *p = getenv("PUSHDESK_CONFIG");
		if (p != NULL && *p != '\0')
			path = p;
	}
	if (path != NULL && pd_cfg_load_file(c, path, err, errlen) != 0)
		return -1;
	return pd_cfg_load_env(c, NULL, err, errlen);
}

const char *pd_cfg_get(const struct pd_cfg *c, const char *key)
{
	int i = key_index(key, strlen(key));
	if (i < 0)
		return NULL;
	return c->value[i] != NULL ? c->value[i] : keys[i].dflt;
}

/* "FILE:LINE: " or "PUSHDESK_KEY: " or "" for the default, for messages. */
static void where(const struct pd_cfg *c, int i, char *out, size_t outlen)
{
	if (i >= 0 && c->origin[i] != NULL)
		snprintf(out, outlen, "%s: ", c->origin[i]);
	else
		out[0] = '\0';
}

int pd_cfg_get_long(const struct pd_cfg *c, const char *key, long min, long max, long *out,
		    char *err, size_t errlen)
{
	int i = key_index(key, strlen(key));
	char at[PATH_MAX + 40];
	long v;
	if (i < 0) {
		snprintf(err, errlen, "unknown key '%s'", key);
		return -1;
	}
	const char *s = pd_cfg_get(c, key);
	where(c, i, at, sizeof(at));
	if (parse_long(s, &v) != 0 || v < min || v > max) {
		snprintf(err, errlen, "%s%s: '%.64s' is not an integer in [%ld, %ld]", at, key, s,
			 min, max);
		return -1;
	}
	*out = v;
	return 0;
}

int pd_cfg_get_rate(const struct pd_cfg *c, const char *key, long *count, long *seconds,
		    char *err, size_t errlen)
{
	int i = key_index(key, strlen(key));
	char at[PATH_MAX + 40];
	long n, s;
	if (i < 0) {
		snprintf(err, errlen, "unknown key '%s'", key);
		return -1;
	}
	const char *v = pd_cfg_get(c, key);
	where(c, i, at, sizeof(at));
	if (parse_rate(v, &n, &s) != 0) {
		snprintf(err, errlen, "%s%s: '%.64s' is not COUNT/SECONDS (e.g. 10/60)", at, key, v);
		return -1;
	}
	*count = n;
	*seconds = s;
	return 0;
}

int pd_cfg_get_bool(const struct pd_cfg *c, const char *key)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0", ""};
	const char *v = pd_cfg_get(c, key);
	if (v == NULL)
		return -1;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (strcasecmp(v, yes[i]) == 0)
			return 1;
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (strcasecmp(v, no[i]) == 0)
			return 0;
	return -1;
}

const char *pd_cfg_key_at(size_t i, const char **default_value, const char **help)
{
	if (i >= NKEYS)
		return NULL;
	if (default_value != NULL)
		*default_value = keys[i].dflt;
	if (help != NULL)
		*help = keys[i].help;
	return keys[i].name;
}
