/* pushdeskctl: the operator's command-line tool (pushdeskctl(1)). Applies
 * the sql/ migrations, creates organizations, teams and users, and mints
 * access tokens for existing users. Every error is one line
 * "pushdeskctl: reason" on stderr; exit 2 for usage errors, 1 otherwise. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <sodium.h>

#include "pd_cfg.h"
#include "pd_json.h"
#include "pd_jwt.h"
#include "pd_log.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

/* Longest password read by --password-stdin, and longest migration file. */
#define PD_MAX_PASSWORD 1024
#define PD_MAX_MIGRATION (16 * 1024 * 1024)
/* Tokens live at most ten years. */
#define PD_MAX_TTL (10L * 365 * 24 * 3600)
#define PD_DEFAULT_TTL 3600L
/* pg_advisory_lock key held while migrating: "pdmigrat" read as ASCII. */
#define PD_MIGRATE_LOCK "7053672289349608564"

struct ctl {
	const char *config; /* --config FILE, or NULL */
	int json;           /* --json: machine-readable output */
	struct pd_cfg *cfg;
	PGconn *db;
};

static const char usage_text[] =
	"usage: pushdeskctl [--config FILE] [--json] COMMAND [ARGS]\n"
	"\n"
	"commands:\n"
	"  migrate [--sql-dir DIR]                apply sql/ migrations; idempotent\n"
	"  org add NAME                           prints the new org id\n"
	"  team add --org ID NAME                 prints the new team id\n"
	"  user add --org ID --role ROLE --name NAME --email EMAIL\n"
	"           [--team ID] [--password-stdin]  prints the new user id\n"
	"  token --user ID [--ttl SECONDS]        prints a signed access token\n"
	"\n"
	"options:\n"
	"  --config FILE   pushdesk.conf to read (default: $PUSHDESK_CONFIG, else none);\n"
	"                  every key can be set as PUSHDESK_<KEY> in the environment\n"
	"  --json          machine-readable output\n"
	"  --help          this text\n"
	"\n"
	"roles: customer, agent, admin, service. Exit status: 0 done, 1 failed, 2 usage.\n";

static int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(int code, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One line, whatever a library put in the text. */
	for (char *p = line; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = (p[1] == '\0') ? '\0' : ' ';
	fprintf(stderr, "pushdeskctl: %s\n", line);
	return code;
}

/* First line of a libpq message, without the trailing newline. */
static const char *first_line(const char *msg, char *buf, size_t n)
{
	size_t len = strcspn(msg != NULL ? msg : "", "\n");

	if (msg == NULL || len == 0)
		return "unknown error";
	if (len >= n)
		len = n - 1;
	memcpy(buf, msg, len);
	buf[len] = '\0';
	return buf;
}

/* The server's primary message for a failed result: never the SQL text. */
static const char *res_error(const PGresult *r, char *buf, size_t n)
{
	const char *m = r != NULL ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;

	return first_line(m != NULL ? m : (r != NULL ? PQresultErrorMessage(r) : NULL), buf, n);
}

static int res_sqlstate_is(const PGresult *r, const char *state)
{
	const char *s = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	return s != NULL && strcmp(s, state) == 0;
}

static void quiet_notices(void *arg, const PGresult *r)
{
	(void)arg;
	(void)r;
}

static int load_config(struct ctl *c)
{
	char err[512];

	if ((c->cfg = pd_cfg_new()) == NULL)
		return fail(EXIT_RUNTIME, "out of memory");
	if (pd_cfg_load(c->cfg, c->config, err, sizeof(err)) != 0)
		return fail(EXIT_RUNTIME, "%s", err);
	return 0;
}

static int db_connect(struct ctl *c)
{
	/* Later keywords override earlier ones, and the URL is expanded in
	 * place: its own connect_timeout wins over our default of 10 s. */
	const char *keys[] = {"connect_timeout", "fallback_application_name", "dbname", NULL};
	const char *vals[] = {"10", "pushdeskctl", NULL, NULL};
	const char *url = pd_cfg_get(c->cfg, "database_url");
	char line[512];

	if (url == NULL || *url == '\0')
		return fail(EXIT_RUNTIME, "database_url is not set (--config FILE or PUSHDESK_DATABASE_URL)");
	vals[2] = url;
	c->db = PQconnectdbParams(keys, vals, 1);
	if (c->db == NULL)
		return fail(EXIT_RUNTIME, "out of memory");
	if (PQstatus(c->db) != CONNECTION_OK)
		return fail(EXIT_RUNTIME, "database: %s",
			    first_line(PQerrorMessage(c->db), line, sizeof(line)));
	PQsetNoticeReceiver(c->db, quiet_notices, NULL);
	return 0;
}

/* Runs a statement that returns nothing of interest; 0 or -1 with the
 * reason printed (prefixed by what). */
static int exec_simple(struct ctl *c, const char *sql, const char *what)
{
	PGresult *r = PQexec(c->db, sql);
	char line[512];
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;

	if (!ok)
		fail(EXIT_RUNTIME, "%s: %s", what, res_error(r, line, sizeof(line)));
	PQclear(r);
	return ok ? 0 : -1;
}

static PGresult *exec_params(struct ctl *c, const char *sql, int n, const char *const *params)
{
	return PQexecParams(c->db, sql, n, NULL, params, NULL, NULL, 0);
}

static void print_json(json_t *v)
{
	char *s = v != NULL ? json_dumps(v, JSON_COMPACT) : NULL;

	if (s != NULL)
		printf("%s\n", s);
	free(s);
	json_decref(v);
}

/* ---- migrate ---------------------------------------------------------- */

/* 1 if this binary runs from the build tree it was compiled in. */
static int from_build_tree(void)
{
#ifdef PD_BUILDDIR
	char exe[PATH_MAX], dir[PATH_MAX];
	size_t n;

	if (realpath("/proc/self/exe", exe) == NULL || realpath(PD_BUILDDIR, dir) == NULL)
		return 0;
	n = strlen(dir);
	return strncmp(exe, dir, n) == 0 && exe[n] == '/';
#else
	return 0;
#endif
}

static const char *find_sql_dir(const char *opt)
{
	const char *env = getenv("PUSHDESK_SQL_DIR");

	if (opt != NULL)
		return opt;
	if (env != NULL && *env != '\0')
		return env;
#ifdef PD_SRC_SQLDIR
	if (from_build_tree())
		return PD_SRC_SQLDIR;
#endif
	return PD_DATADIR "/sql";
}

static int is_migration(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] != '.' && n > 4 && strcmp(d->d_name + n - 4, ".sql") == 0;
}

/* Name order, byte by byte, whatever the locale. */
static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static char *read_file(const char *path, char *why, size_t whylen)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	char *buf = NULL;

	if (f == NULL || fstat(fileno(f), &st) != 0) {
		snprintf(why, whylen, "%s", strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > PD_MAX_MIGRATION) {
		snprintf(why, whylen, "not a regular file of at most %d bytes", PD_MAX_MIGRATION);
		goto out;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	if (fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		snprintf(why, whylen, "short read");
		free(buf);
		buf = NULL;
		goto out;
	}
	buf[st.st_size] = '\0';
	if (strlen(buf) != (size_t)st.st_size) {
		snprintf(why, whylen, "contains a NUL byte");
		free(buf);
		buf = NULL;
	}
out:
	if (f != NULL)
		fclose(f);
	return buf;
}

/* Applies one file in its own transaction, with its schema_migrations row.
 * 1 applied, 0 already there, -1 failed (reason printed). */
static int apply_one(struct ctl *c, const char *dir, const char *file)
{
	char version[NAME_MAX + 1], path[PATH_MAX], why[256], line[512];
	const char *params[1] = {version};
	PGresult *r;
	char *sql;
	int present, rc = -1;

	snprintf(version, sizeof(version), "%.*s", (int)(strlen(file) - 4), file);
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >= sizeof(path))
		return fail(EXIT_RUNTIME, "migrate: %s/%s: path too long", dir, file), -1;

	r = exec_params(c, "SELECT 1 FROM schema_migrations WHERE version = $1", 1, params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		fail(EXIT_RUNTIME, "migrate: %s", res_error(r, line, sizeof(line)));
		PQclear(r);
		return -1;
	}
	present = PQntuples(r) > 0;
	PQclear(r);
	if (present)
		return 0;

	if ((sql = read_file(path, why, sizeof(why))) == NULL)
		return fail(EXIT_RUNTIME, "migrate: %s: %s", path, why), -1;
	if (exec_simple(c, "BEGIN", "migrate") != 0)
		goto out;
	/* A migration file is several statements: the simple query protocol
	 * runs them all, inside our transaction. */
	r = PQexec(c->db, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK &&
	    PQresultStatus(r) != PGRES_EMPTY_QUERY) {
		fail(EXIT_RUNTIME, "migrate: %s: %s", file, res_error(r, line, sizeof(line)));
		PQclear(r);
		goto rollback;
	}
	PQclear(r);
	r = exec_params(c, "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, now())",
			1, params);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		fail(EXIT_RUNTIME, "migrate: %s: %s", file, res_error(r, line, sizeof(line)));
		PQclear(r);
		goto rollback;
	}
	PQclear(r);
	if (exec_simple(c, "COMMIT", "migrate") == 0)
		rc = 1;
	goto out;
rollback:
	PQclear(PQexec(c->db, "ROLLBACK"));
out:
	free(sql);
	return rc;
}

static int cmd_migrate(struct ctl *c, const char *sql_dir)
{
	const char *dir = find_sql_dir(sql_dir);
	struct dirent **list = NULL;
	json_t *applied = json_array(), *present = json_array();
	int n, rc = 0, locked = 0, napplied = 0;

	n = scandir(dir, &list, is_migration, by_name);
	if (n < 0) {
		rc = fail(EXIT_RUNTIME, "migrate: %s: %s", dir, strerror(errno));
		goto out;
	}
	if (n == 0) {
		rc = fail(EXIT_RUNTIME, "migrate: %s: no *.sql files", dir);
		goto out;
	}
	if ((rc = db_connect(c)) != 0)
		goto out;
	rc = EXIT_RUNTIME;
	if (exec_simple(c, "SET client_min_messages = warning", "migrate") != 0)
		goto out;
	/* Session lock: a second migrate waits here until the first is done. */
	if (exec_simple(c, "SELECT pg_advisory_lock(" PD_MIGRATE_LOCK ")", "migrate: lock") != 0)
		goto out;
	locked = 1;
	if (exec_simple(c,
			"CREATE TABLE IF NOT EXISTS schema_migrations ("
			" version text PRIMARY KEY,"
			" applied_at timestamptz NOT NULL DEFAULT now())",
			"migrate") != 0)
		goto out;
	for (int i = 0; i < n; i++) {
		const char *file = list[i]->d_name;
		char version[NAME_MAX + 1];
		int a = apply_one(c, dir, file);

		if (a < 0)
			goto out;
		snprintf(version, sizeof(version), "%.*s", (int)(strlen(file) - 4), file);
		json_array_append_new(a ? applied : present, json_string(version));
		if (a) {
			napplied++;
			if (!c->json)
				printf("applied %s\n", version);
		}
	}
	if (c->json)
		print_json(json_pack("{s:O,s:O}", "applied", applied, "present", present));
	else if (napplied == 0)
		printf("up to date (%d migrations)\n", n);
	rc = 0;
out:
	if (locked)
		PQclear(PQexec(c->db, "SELECT pg_advisory_unlock(" PD_MIGRATE_LOCK ")"));
	for (int i = 0; i < n; i++)
		free(list[i]);
	free(list);
	json_decref(applied);
	json_decref(present);
	return rc;
}

/* ---- org, team, user -------------------------------------------------- */

/* Prints the id from "... RETURNING id", or the reason for the failure. */
static int insert_returning_id(struct ctl *c, const char *sql, int n, const char *const *params,
			       const char *what, json_t *extra)
{
	PGresult *r = exec_params(c, sql, n, params);
	char line[512];
	int rc = 0;

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		if (res_sqlstate_is(r, "23505"))
			rc = fail(EXIT_RUNTIME, "%s: already exists", what);
		else if (res_sqlstate_is(r, "23503"))
			rc = fail(EXIT_RUNTIME, "%s: no such organization or team", what);
		else if (res_sqlstate_is(r, "23514"))
			rc = fail(EXIT_RUNTIME, "%s: a value is out of bounds (%s)", what,
				  res_error(r, line, sizeof(line)));
		else
			rc = fail(EXIT_RUNTIME, "%s: %s", what, res_error(r, line, sizeof(line)));
	} else if (c->json) {
		json_t *o = extra != NULL ? json_incref(extra) : json_object();

		json_object_set_new(o, "id", json_string(PQgetvalue(r, 0, 0)));
		print_json(o);
	} else {
		printf("%s\n", PQgetvalue(r, 0, 0));
	}
	PQclear(r);
	return rc;
}

static int check_uuid(const char *what, const char *v)
{
	if (v == NULL)
		return fail(EXIT_USAGE, "%s is required", what);
	if (!pd_uuid_valid(v))
		return fail(EXIT_USAGE, "%s: not a uuid: %s", what, v);
	return 0;
}

static int check_text(const char *what, const char *v, size_t min, size_t max)
{
	size_t n = v != NULL ? strlen(v) : 0;

	if (v == NULL)
		return fail(EXIT_USAGE, "%s is required", what);
	if (n < min || n > max)
		return fail(EXIT_USAGE, "%s must be %zu to %zu bytes long", what, min, max);
	return 0;
}

static int cmd_org_add(struct ctl *c, const char *name)
{
	const char *params[1] = {name};
	json_t *extra;
	int rc;

	if ((rc = check_text("NAME", name, 1, 200)) != 0 || (rc = db_connect(c)) != 0)
		return rc;
	extra = json_pack("{s:s}", "name", name);
	rc = insert_returning_id(c, "INSERT INTO organizations (name) VALUES ($1) RETURNING id", 1,
				 params, "org add", extra);
	json_decref(extra);
	return rc;
}

static int cmd_team_add(struct ctl *c, const char *org, const char *name)
{
	const char *params[2] = {org, name};
	json_t *extra;
	int rc;

	if ((rc = check_uuid("--org", org)) != 0 || (rc = check_text("NAME", name, 1, 200)) != 0 ||
	    (rc = db_connect(c)) != 0)
		return rc;
	extra = json_pack("{s:s,s:s}", "org", org, "name", name);
	rc = insert_returning_id(c,
				 "INSERT INTO teams (org_id, name) VALUES ($1::uuid, $2) RETURNING id",
				 2, params, "team add", extra);
	json_decref(extra);
	return rc;
}

/* Reads the password: stdin up to EOF or the first newline. */
static int read_password(char *pw, size_t n)
{
	size_t len = 0;
	int ch;

	while ((ch = getchar()) != EOF && ch != '\n') {
		if (len + 1 >= n)
			return fail(EXIT_USAGE, "password longer than %zu bytes", n - 2);
		pw[len++] = (char)ch;
	}
	if (ferror(stdin))
		return fail(EXIT_RUNTIME, "reading the password: %s", strerror(errno));
	if (len > 0 && pw[len - 1] == '\r')
		len--;
	pw[len] = '\0';
	if (len == 0)
		return fail(EXIT_USAGE, "--password-stdin: empty password");
	return 0;
}

struct user_opts {
	const char *org, *role, *name, *email, *team;
	int password_stdin;
};

static int cmd_user_add(struct ctl *c, const struct user_opts *u)
{
	char hash[crypto_pwhash_STRBYTES];
	char pw[PD_MAX_PASSWORD + 2];
	const char *params[6] = {u->org, u->team, u->role, u->name, u->email, NULL};
	PGresult *r;
	json_t *extra;
	char line[512];
	int rc;

	if ((rc = check_uuid("--org", u->org)) != 0 ||
	    (u->team != NULL && (rc = check_uuid("--team", u->team)) != 0) ||
	    (rc = check_text("--name", u->name, 1, 200)) != 0 ||
	    (rc = check_text("--email", u->email, 3, 254)) != 0)
		return rc;
	if (u->role == NULL)
		return fail(EXIT_USAGE, "--role is required");
	if (!pd_role_valid(u->role))
		return fail(EXIT_USAGE, "--role: unknown role '%s' (customer, agent, admin, service)",
			    u->role);
	if (strchr(u->email, '@') == NULL)
		return fail(EXIT_USAGE, "--email: not an e-mail address: %s", u->email);
	if (u->password_stdin) {
		if ((rc = read_password(pw, sizeof(pw))) != 0)
			return rc;
		if (sodium_init() < 0)
			return fail(EXIT_RUNTIME, "libsodium failed to initialise");
		rc = crypto_pwhash_str_alg(hash, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
					   crypto_pwhash_MEMLIMIT_INTERACTIVE,
					   crypto_pwhash_ALG_ARGON2ID13);
		sodium_memzero(pw, sizeof(pw));
		if (rc != 0)
			return fail(EXIT_RUNTIME, "hashing the password: out of memory");
		params[5] = hash;
	}
	if ((rc = db_connect(c)) != 0)
		return rc;
	if (u->team != NULL) {
		const char *tp[2] = {u->team, u->org};

		r = exec_params(c, "SELECT 1 FROM teams WHERE id = $1::uuid AND org_id = $2::uuid", 2,
				tp);
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
			rc = fail(EXIT_RUNTIME, "user add: %s", res_error(r, line, sizeof(line)));
		else if (PQntuples(r) == 0)
			rc = fail(EXIT_RUNTIME, "user add: no team %s in organization %s", u->team,
				  u->org);
		PQclear(r);
		if (rc != 0)
			return rc;
	}
	r = exec_params(c, "SELECT 1 FROM organizations WHERE id = $1::uuid", 1, params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		rc = fail(EXIT_RUNTIME, "user add: %s", res_error(r, line, sizeof(line)));
	else if (PQntuples(r) == 0)
		rc = fail(EXIT_RUNTIME, "user add: no organization %s", u->org);
	PQclear(r);
	if (rc != 0)
		return rc;
	r = exec_params(c, "SELECT 1 FROM users WHERE lower(email) = lower($1)", 1, &params[4]);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		rc = fail(EXIT_RUNTIME, "user add: %s", res_error(r, line, sizeof(line)));
	else if (PQntuples(r) > 0)
		rc = fail(EXIT_RUNTIME, "user add: e-mail already in use: %s", u->email);
	PQclear(r);
	if (rc != 0)
		return rc;

	extra = json_pack("{s:s,s:s,s:s,s:s,s:o}", "org", u->org, "role", u->role, "name", u->name,
			  "email", u->email, "team", u->team != NULL ? json_string(u->team) : json_null());
	rc = insert_returning_id(c,
				 "INSERT INTO users (org_id, team_id, role, name, email, password_hash)"
				 " VALUES ($1::uuid, $2::uuid, $3, $4, $5, $6) RETURNING id",
				 6, params, "user add", extra);
	json_decref(extra);
	sodium_memzero(hash, sizeof(hash));
	return rc;
}

/* ---- token ------------------------------------------------------------ */

static int copy_claim(char *dst, size_t n, const char *v, const char *what)
{
	if ((size_t)snprintf(dst, n, "%s", v) >= n)
		return fail(EXIT_RUNTIME, "token: the user's %s is too long for a token", what);
	return 0;
}

static int cmd_token(struct ctl *c, const char *user, const char *ttl_s)
{
	const char *params[1] = {user};
	struct pd_claims cl;
	struct pd_jwt *j = NULL;
	PGresult *r = NULL;
	char err[512], line[512], *tok = NULL, *end;
	long ttl = PD_DEFAULT_TTL;
	time_t now;
	int rc;

	if ((rc = check_uuid("--user", user)) != 0)
		return rc;
	/* The default lifetime is the one login gives (token_ttl). */
	if (ttl_s == NULL &&
	    pd_cfg_get_long(c->cfg, "token_ttl", 1, PD_MAX_TTL, &ttl, err, sizeof(err)) != 0)
		return fail(EXIT_RUNTIME, "token: %s", err);
	if (ttl_s != NULL) {
		errno = 0;
		ttl = strtol(ttl_s, &end, 10);
		if (errno != 0 || end == ttl_s || *end != '\0' || ttl < 1 || ttl > PD_MAX_TTL)
			return fail(EXIT_USAGE, "--ttl: not a number of seconds in 1..%ld: %s",
				    PD_MAX_TTL, ttl_s);
	}
	if ((j = pd_jwt_new(c->cfg, err, sizeof(err))) == NULL)
		return fail(EXIT_RUNTIME, "token: %s", err);
	if ((rc = db_connect(c)) != 0)
		goto out;
	rc = EXIT_RUNTIME;
	r = exec_params(c,
			"SELECT id::text, org_id::text, role, name, email, coalesce(team_id::text, '')"
			" FROM users WHERE id = $1::uuid",
			1, params);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		fail(EXIT_RUNTIME, "token: %s", res_error(r, line, sizeof(line)));
		goto out;
	}
	if (PQntuples(r) == 0) {
		fail(EXIT_RUNTIME, "token: no user %s", user);
		goto out;
	}
	memset(&cl, 0, sizeof(cl));
	if (copy_claim(cl.sub, sizeof(cl.sub), PQgetvalue(r, 0, 0), "id") != 0 ||
	    copy_claim(cl.org, sizeof(cl.org), PQgetvalue(r, 0, 1), "org") != 0 ||
	    copy_claim(cl.role, sizeof(cl.role), PQgetvalue(r, 0, 2), "role") != 0 ||
	    copy_claim(cl.name, sizeof(cl.name), PQgetvalue(r, 0, 3), "name") != 0 ||
	    copy_claim(cl.email, sizeof(cl.email), PQgetvalue(r, 0, 4), "e-mail") != 0 ||
	    copy_claim(cl.team, sizeof(cl.team), PQgetvalue(r, 0, 5), "team") != 0)
		goto out;
	now = time(NULL);
	if ((tok = pd_jwt_sign(j, &cl, now, ttl, err, sizeof(err))) == NULL) {
		fail(EXIT_RUNTIME, "token: %s", err);
		goto out;
	}
	if (c->json)
		print_json(json_pack("{s:s,s:s,s:I}", "access_token", tok, "token_type", "Bearer",
				     "expires_in", (json_int_t)ttl));
	else
		printf("%s\n", tok);
	rc = 0;
out:
	free(tok);
	PQclear(r);
	pd_jwt_free(j);
	return rc;
}

/* ---- command line ----------------------------------------------------- */

enum { OPT_CONFIG = 256, OPT_JSON, OPT_HELP, OPT_SQL_DIR, OPT_ORG, OPT_ROLE, OPT_NAME,
       OPT_EMAIL, OPT_TEAM, OPT_PASSWORD_STDIN, OPT_USER, OPT_TTL };

#define COMMON_OPTS                                                                           \
	{"config", required_argument, NULL, OPT_CONFIG}, {"json", no_argument, NULL, OPT_JSON}, \
		{"help", no_argument, NULL, OPT_HELP}

/* The value of each option seen, by OPT_ code. */
struct opts {
	const char *v[OPT_TTL + 1];
	int seen[OPT_TTL + 1];
};

/* Parses the options of one command (the common ones included) and leaves
 * optind at the first operand. 0, 1 for --help, or EXIT_USAGE. */
static int parse(struct ctl *c, int argc, char **argv, const struct option *lo, int stop,
		 struct opts *o)
{
	int ch;

	opterr = 0;
	optind = 0; /* GNU: reinitialise for this argument vector */
	/* stop: the global options end at the command word; a command's own
	 * options may follow its operands. */
	while ((ch = getopt_long(argc, argv, stop ? "+:" : ":", lo, NULL)) != -1) {
		switch (ch) {
		case OPT_CONFIG:
			c->config = optarg;
			break;
		case OPT_JSON:
			c->json = 1;
			break;
		case OPT_HELP:
			return 1;
		case '?':
			return fail(EXIT_USAGE, "%s: unknown option", argv[optind - 1]);
		case ':':
			return fail(EXIT_USAGE, "%s: option needs a value", argv[optind - 1]);
		default:
			if (ch > OPT_TTL)
				return fail(EXIT_USAGE, "bad option");
			o->v[ch] = optarg;
			o->seen[ch] = 1;
			break;
		}
	}
	return 0;
}

static int operands(int argc, int want, const char *what)
{
	int have = argc - optind;

	if (have < want)
		return fail(EXIT_USAGE, "%s: missing operand", what);
	if (have > want)
		return fail(EXIT_USAGE, "%s: unexpected operand", what);
	return 0;
}

static int run(struct ctl *c, int argc, char **argv)
{
	static const struct option lo_none[] = {COMMON_OPTS, {NULL, 0, NULL, 0}};
	static const struct option lo_migrate[] = {
		COMMON_OPTS, {"sql-dir", required_argument, NULL, OPT_SQL_DIR}, {NULL, 0, NULL, 0}};
	static const struct option lo_team[] = {
		COMMON_OPTS, {"org", required_argument, NULL, OPT_ORG}, {NULL, 0, NULL, 0}};
	static const struct option lo_user[] = {COMMON_OPTS,
						{"org", required_argument, NULL, OPT_ORG},
						{"role", required_argument, NULL, OPT_ROLE},
						{"name", required_argument, NULL, OPT_NAME},
						{"email", required_argument, NULL, OPT_EMAIL},
						{"team", required_argument, NULL, OPT_TEAM},
						{"password-stdin", no_argument, NULL, OPT_PASSWORD_STDIN},
						{NULL, 0, NULL, 0}};
	static const struct option lo_token[] = {COMMON_OPTS,
						 {"user", required_argument, NULL, OPT_USER},
						 {"ttl", required_argument, NULL, OPT_TTL},
						 {NULL, 0, NULL, 0}};
	struct opts o;
	const char *cmd;
	int rc;

	memset(&o, 0, sizeof(o));
	/* Global options before the command. */
	if ((rc = parse(c, argc, argv, lo_none, 1, &o)) != 0)
		return rc == 1 ? (fputs(usage_text, stdout), 0) : rc;
	if (optind >= argc)
		return fail(EXIT_USAGE, "no command (try --help)");
	cmd = argv[optind];
	argc -= optind;
	argv += optind;

	if (strcmp(cmd, "help") == 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (strcmp(cmd, "migrate") == 0) {
		if ((rc = parse(c, argc, argv, lo_migrate, 0, &o)) != 0 || (rc = operands(argc, 0, cmd)))
			return rc == 1 ? (fputs(usage_text, stdout), 0) : rc;
		return (rc = load_config(c)) != 0 ? rc : cmd_migrate(c, o.v[OPT_SQL_DIR]);
	}
	if (strcmp(cmd, "token") == 0) {
		if ((rc = parse(c, argc, argv, lo_token, 0, &o)) != 0 || (rc = operands(argc, 0, cmd)))
			return rc == 1 ? (fputs(usage_text, stdout), 0) : rc;
		return (rc = load_config(c)) != 0 ? rc : cmd_token(c, o.v[OPT_USER], o.v[OPT_TTL]);
	}
	if (strcmp(cmd, "org") == 0 || strcmp(cmd, "team") == 0 || strcmp(cmd, "user") == 0) {
		const struct option *lo = cmd[0] == 'o' ? lo_none : cmd[0] == 't' ? lo_team : lo_user;
		char what[32];

		if (argc < 2 || strcmp(argv[1], "add") != 0)
			return fail(EXIT_USAGE, "%s: expected '%s add' (try --help)", cmd, cmd);
		snprintf(what, sizeof(what), "%s add", cmd);
		argc--;
		argv++;
		if ((rc = parse(c, argc, argv, lo, 0, &o)) != 0 ||
		    (rc = operands(argc, cmd[0] == 'u' ? 0 : 1, what)) != 0)
			return rc == 1 ? (fputs(usage_text, stdout), 0) : rc;
		if ((rc = load_config(c)) != 0)
			return rc;
		if (cmd[0] == 'o')
			return cmd_org_add(c, argv[optind]);
		if (cmd[0] == 't')
			return cmd_team_add(c, o.v[OPT_ORG], argv[optind]);
		struct user_opts u = {o.v[OPT_ORG], o.v[OPT_ROLE],  o.v[OPT_NAME],
				      o.v[OPT_EMAIL], o.v[OPT_TEAM], o.seen[OPT_PASSWORD_STDIN]};
		return cmd_user_add(c, &u);
	}
	return fail(EXIT_USAGE, "unknown command '%s' (try --help)", cmd);
}

int main(int argc, char **argv)
{
	struct ctl c;
	int rc;

	memset(&c, 0, sizeof(c));
	/* Library warnings (a weak jwt_secret) go to stderr, prefixed. */
	pd_log_init("pushdeskctl", LOG_WARNING, PD_LOG_STDERR);
	rc = run(&c, argc, argv);
	if (c.db != NULL)
		PQfinish(c.db);
	pd_cfg_free(c.cfg);
	if (fflush(stdout) != 0 && rc == 0)
		rc = fail(EXIT_RUNTIME, "writing output: %s", strerror(errno));
	return rc;
}
