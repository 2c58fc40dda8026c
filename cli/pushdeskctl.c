/* pushdeskctl: the operator's command-line tool (pushdeskctl(1)). Applies
 * the sql/ migrations, creates organizations, teams and users, mints
 * access tokens for existing users, and talks to the brokers through
 * Valkey (emit, online, rooms, stats). Every error is one line
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

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <sodium.h>

#include "pd_buf.h"
#include "pd_cfg.h"
#include "pd_emitter.h"
#include "pd_json.h"
#include "pd_jwt.h"
#include "pd_keys.h"
#include "pd_kvc.h"
#include "pd_log.h"
#include "pd_rooms.h"
#include "pd_url.h"
#include "pd_wire.h"

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
	"  emit [--namespace NSP] [--room R]... [--user ID]... EVENT JSON\n"
	"                                         publish an event to every broker\n"
	"  online [--org ID]                      users online now, with status\n"
	"  rooms [--namespace NSP]                rooms and member counts, all brokers\n"
	"  stats                                  brokers, connections, events per second\n"
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

/* ---- emit, online, rooms, stats: the brokers through Valkey ------------
 * emit publishes straight to Valkey in the @socket.io/redis-emitter format
 * (pd_emitter), as an operator's one-off: it is delivered now or the
 * command fails (no outbox row: a command that says "done" has reached
 * every broker subscribed at that moment, and one that fails can be run
 * again). online reads the presence keys, stats the brokers' leases, and
 * rooms asks every live broker (the adapter's request channel, as the
 * brokers ask each other) and sums the answers. */

#define KV_TIMEOUT_MS 2000

/* A command's reply, or NULL after printing why (the context is then dead).
 * A cluster's redirects are followed (*kv may become another node's). */
static redisReply *kv_cmd(struct ctl *c, struct pd_kvc *kv, const char *what, int argc,
			  const char **argv, const size_t *lens)
{
	redisReply *r = pd_kvc_argv(kv, argc, argv, lens);
	if (r == NULL) {
		fail(EXIT_RUNTIME, "valkey %s: %s", what,
		     pd_kvc_ctx(kv)->errstr[0] ? pd_kvc_ctx(kv)->errstr : "no reply");
		return NULL;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		fail(EXIT_RUNTIME, "valkey %s: %s", what, r->str);
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

/* A client of valkey_url (AUTH, SELECT done), or NULL after fail(). */
static struct pd_kvc *kv_connect(struct ctl *c)
{
	const char *url = pd_cfg_get(c->cfg, "valkey_url");
	struct pd_redis_url u;
	struct timeval tv = {KV_TIMEOUT_MS / 1000, (KV_TIMEOUT_MS % 1000) * 1000};
	redisContext *rc;
	struct pd_kvc *kv;

	if (url[0] == '\0') {
		fail(EXIT_RUNTIME, "valkey_url is not set: there is no cluster to ask");
		return NULL;
	}
	if (pd_redis_url_parse(url, &u) != 0) { /* shared/pd_url.h */
		fail(EXIT_RUNTIME, "valkey_url: expected redis://host:port[/db]");
		return NULL;
	}
	rc = pd_kvc_connect(&u, tv);
	if (rc == NULL || rc->err != 0 || (kv = pd_kvc_new(rc, url)) == NULL) {
		fail(EXIT_RUNTIME, "valkey %s:%d: %s", u.unix_path[0] ? u.unix_path : u.host, u.port,
		     rc != NULL && rc->err != 0 ? rc->errstr : "out of memory");
		if (rc != NULL)
			redisFree(rc);
		return NULL;
	}
	redisSetTimeout(rc, tv);
	if (u.password[0] != '\0') {
		const char *a[3] = {"AUTH", u.user[0] ? u.user : u.password, u.password};
		redisReply *r = kv_cmd(c, kv, "AUTH", u.user[0] ? 3 : 2, a, NULL);
		if (r == NULL) {
			pd_kvc_free(kv);
			return NULL;
		}
		freeReplyObject(r);
	}
	if (u.db != 0) {
		char db[16];
		snprintf(db, sizeof(db), "%d", u.db);
		const char *a[2] = {"SELECT", db};
		redisReply *r = kv_cmd(c, kv, "SELECT", 2, a, NULL);
		if (r == NULL) {
			pd_kvc_free(kv);
			return NULL;
		}
		freeReplyObject(r);
	}
	return kv;
}

static const char *kv_prefix(struct ctl *c)
{
	return pd_keys_prefix(pd_cfg_get(c->cfg, "adapter_key"));
}

/* Socket.IO's reserved event names: a client would never see them. */
static int reserved_event(const char *ev)
{
	static const char *const names[] = {"connect", "connect_error", "disconnect",
					    "disconnecting", "newListener", "removeListener"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(ev, names[i]) == 0)
			return 1;
	return 0;
}

static int cmd_emit(struct ctl *c, const char *nsp, const char *const *rooms, size_t nrooms,
		    const char *event, const char *data)
{
	char err[256];
	json_t *payload;
	struct pd_kvc *kv;
	long n;
	int mode;

	if (nsp == NULL)
		nsp = "/";
	if (nsp[0] != '/' || strlen(nsp) > 256)
		return fail(EXIT_USAGE, "emit: --namespace must start with '/'");
	for (size_t i = 0; i < nrooms; i++)
		if (rooms[i][0] == '\0' || strlen(rooms[i]) > 256)
			return fail(EXIT_USAGE, "emit: a room name is 1 to 256 bytes");
	if (event[0] == '\0' || strlen(event) > 256 || reserved_event(event))
		return fail(EXIT_USAGE, "emit: EVENT must be a non-reserved name of 1 to 256 bytes");
	if ((mode = pd_emitter_mode(pd_cfg_get(c->cfg, "adapter_mode"))) < 0)
		return fail(EXIT_USAGE, "adapter_mode must be classic or sharded");
	payload = pd_json_parse(data, strlen(data), err, sizeof(err));
	if (payload == NULL)
		return fail(EXIT_USAGE, "emit: JSON: %s", err);
	if ((kv = kv_connect(c)) == NULL) {
		json_decref(payload);
		return EXIT_RUNTIME;
	}
	struct pd_emit e = {nsp, event, payload, rooms, nrooms, NULL, 0, NULL};
	struct pd_emit_target t = {kv, kv_prefix(c), (enum pd_emit_mode)mode, 0, 0};
	char cerr[256];
	if (pd_emitter_recovery_cfg(c->cfg, NULL, NULL, &t.stream_max, cerr, sizeof(cerr)) != 0) {
		json_decref(payload);
		pd_kvc_free(kv);
		return fail(EXIT_USAGE, "emit: %s", cerr);
	}
	n = pd_emitter_send(&t, &e);
	json_decref(payload);
	pd_kvc_free(kv);
	if (n < 0)
		return fail(EXIT_RUNTIME, "emit: %s", n == -EIO ? "valkey publish failed"
							       : strerror((int)-n));
	if (c->json)
		printf("{\"servers\":%ld}\n", n);
	else
		printf("published to %ld server%s\n", n, n == 1 ? "" : "s");
	return 0;
}

/* Appends {org, userId, status, lastSeen} for each user of set key to list. */
static int online_org(struct ctl *c, struct pd_kvc *kv, const char *org, json_t *list)
{
	char key[PD_KEYS_MAX];
	const char *a[2] = {"SMEMBERS", key};
	redisReply *users;

	if (pd_keys_presence_org(key, sizeof(key), kv_prefix(c), org) != 0) {
		fail(EXIT_RUNTIME, "online: adapter_key or org id too long");
		return -1;
	}
	if ((users = kv_cmd(c, kv, "SMEMBERS", 2, a, NULL)) == NULL)
		return -1;
	for (size_t i = 0; users->type == REDIS_REPLY_ARRAY && i < users->elements; i++) {
		const char *uid = users->element[i]->str;
		char hkey[PD_KEYS_MAX];
		const char *h[5] = {"HMGET", hkey, "status", "lastSeen", "org"};
		redisReply *r;
		if (uid == NULL || pd_keys_presence_user(hkey, sizeof(hkey), kv_prefix(c), uid) != 0)
			continue;
		if ((r = kv_cmd(c, kv, "HMGET", 5, h, NULL)) == NULL) {
			freeReplyObject(users);
			return -1;
		}
		const char *st = r->elements > 0 ? r->element[0]->str : NULL;
		const char *seen = r->elements > 1 ? r->element[1]->str : NULL;
		/* the set is the truth of "online"; a hash just swept may lag */
		if (st == NULL || strcmp(st, "offline") == 0)
			st = "online";
		json_t *x = json_pack("{s:s, s:s, s:s}", "org", org, "userId", uid, "status", st);
		if (x != NULL) {
			/* ISO 8601 as on the wire (contract section 3) */
			json_object_set_new(x, "lastSeen",
					    pd_json_time_ms(seen ? strtoll(seen, NULL, 10) : 0));
			json_array_append_new(list, x);
		}
		freeReplyObject(r);
	}
	freeReplyObject(users);
	return 0;
}

static int cmd_online(struct ctl *c, const char *org)
{
	struct pd_kvc *kv;
	json_t *list;
	int rc = 0;

	if (org != NULL && check_uuid("--org", org) != 0)
		return EXIT_USAGE;
	if ((kv = kv_connect(c)) == NULL)
		return EXIT_RUNTIME;
	list = json_array();
	if (org != NULL) {
		rc = online_org(c, kv, org, list);
	} else {
		/* every org with someone online: SCAN the org sets */
		char pattern[PD_KEYS_MAX], cursor[32] = "0";
		if (pd_keys_presence_org(pattern, sizeof(pattern), kv_prefix(c), "*") != 0) {
			json_decref(list);
			pd_kvc_free(kv);
			return fail(EXIT_RUNTIME, "adapter_key too long");
		}
		size_t plen = strlen(pattern) - 1;
		/* SCAN reads one node: on a cluster, the node of the org sets'
		 * slot (one hash tag), whichever was connected first */
		if (pd_kvc_route(kv, pattern) == NULL) {
			json_decref(list);
			pd_kvc_free(kv);
			return fail(EXIT_RUNTIME, "valkey: no reply");
		}
		do {
			const char *a[6] = {"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"};
			redisReply *r = kv_cmd(c, kv, "SCAN", 6, a, NULL);
			if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
				if (r != NULL)
					freeReplyObject(r);
				rc = -1;
				break;
			}
			snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
			for (size_t i = 0; rc == 0 && i < r->element[1]->elements; i++) {
				const char *k = r->element[1]->element[i]->str;
				if (k != NULL && strlen(k) > plen)
					rc = online_org(c, kv, k + plen, list);
			}
			freeReplyObject(r);
		} while (rc == 0 && strcmp(cursor, "0") != 0);
	}
	pd_kvc_free(kv);
	if (rc != 0) {
		json_decref(list);
		return EXIT_RUNTIME;
	}
	if (c->json) {
		print_json(list); /* takes the reference */
		return 0;
	} else {
		size_t i;
		json_t *x;
		printf("%-36s  %-36s  %-7s  %s\n", "ORG", "USER", "STATUS", "LAST_SEEN");
		json_array_foreach(list, i, x)
		{
			const char *when = json_string_value(json_object_get(x, "lastSeen"));
			printf("%-36s  %-36s  %-7s  %s\n", json_string_value(json_object_get(x, "org")),
			       json_string_value(json_object_get(x, "userId")),
			       json_string_value(json_object_get(x, "status")), when ? when : "-");
		}
	}
	json_decref(list);
	return 0;
}

/* The uids of the brokers whose lease is live, as an array reply (owned),
 * or NULL after fail(). */
static redisReply *live_brokers(struct ctl *c, struct pd_kvc *kv)
{
	char key[PD_KEYS_MAX];
	const char *a[4] = {"EVAL", pd_keys_lua_live, "1", key};
	if (pd_keys_brokers(key, sizeof(key), kv_prefix(c)) != 0) {
		fail(EXIT_RUNTIME, "adapter_key too long");
		return NULL;
	}
	redisReply *r = kv_cmd(c, kv, "EVAL", 4, a, NULL);
	if (r != NULL && r->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(r);
		fail(EXIT_RUNTIME, "valkey: unexpected reply listing the brokers");
		return NULL;
	}
	return r;
}

static const char *str_or(const json_t *v)
{
	return json_is_string(v) ? json_string_value(v) : "?";
}

static int cmd_stats(struct ctl *c)
{
	struct pd_kvc *kv;
	redisReply *live;
	json_t *brokers, *total;
	long long sum[4] = {0, 0, 0, 0};
	double eps = 0;

	if ((kv = kv_connect(c)) == NULL)
		return EXIT_RUNTIME;
	if ((live = live_brokers(c, kv)) == NULL) {
		pd_kvc_free(kv);
		return EXIT_RUNTIME;
	}
	brokers = json_array();
	for (size_t i = 0; i < live->elements; i++) {
		char key[PD_KEYS_MAX], err[128];
		const char *uid = live->element[i]->str;
		if (uid == NULL || pd_keys_broker(key, sizeof(key), kv_prefix(c), uid) != 0)
			continue;
		const char *a[2] = {"GET", key};
		redisReply *r = kv_cmd(c, kv, "GET", 2, a, NULL);
		if (r == NULL) {
			freeReplyObject(live);
			pd_kvc_free(kv);
			json_decref(brokers);
			return EXIT_RUNTIME;
		}
		/* the lease expired between the two commands: that broker is gone */
		json_t *b = r->type == REDIS_REPLY_STRING ? pd_json_parse(r->str, r->len, err, sizeof(err))
							  : NULL;
		freeReplyObject(r);
		if (!json_is_object(b)) {
			json_decref(b);
			continue;
		}
		static const char *const f[4] = {"connections", "sockets", "events_in", "events_out"};
		for (int k = 0; k < 4; k++)
			sum[k] += json_integer_value(json_object_get(b, f[k]));
		eps += json_number_value(json_object_get(b, "eps"));
		json_array_append_new(brokers, b);
	}
	freeReplyObject(live);
	pd_kvc_free(kv);
	total = json_pack("{s:I, s:I, s:I, s:I, s:I, s:f}", "brokers",
			  (json_int_t)json_array_size(brokers), "connections", (json_int_t)sum[0],
			  "sockets", (json_int_t)sum[1], "events_in", (json_int_t)sum[2],
			  "events_out", (json_int_t)sum[3], "eps", eps);
	if (c->json) {
		json_t *o = json_pack("{s:o, s:o}", "brokers", brokers, "total", total);
		print_json(o); /* takes the reference */
		return 0;
	}
	size_t i;
	json_t *b;
	printf("%-16s  %-20s  %7s  %11s  %9s  %9s\n", "BROKER", "HOST", "PID", "CONNECTIONS",
	       "SOCKETS", "EVENTS/S");
	json_array_foreach(brokers, i, b)
	{
		printf("%-16s  %-20.20s  %7" JSON_INTEGER_FORMAT "  %11" JSON_INTEGER_FORMAT
		       "  %9" JSON_INTEGER_FORMAT "  %9.1f\n",
		       str_or(json_object_get(b, "uid")),
		       str_or(json_object_get(b, "host")),
		       json_integer_value(json_object_get(b, "pid")),
		       json_integer_value(json_object_get(b, "connections")),
		       json_integer_value(json_object_get(b, "sockets")),
		       json_number_value(json_object_get(b, "eps")));
	}
	printf("%-16s  %-20s  %7s  %11lld  %9lld  %9.1f\n", "TOTAL",
	       json_array_size(brokers) == 1 ? "1 broker" : "", "", sum[0], sum[1], eps);
	if (json_array_size(brokers) != 1)
		printf("%zu brokers\n", json_array_size(brokers));
	json_decref(brokers);
	json_decref(total);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static long long mono_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int cmd_rooms(struct ctl *c, const char *nsp)
{
	struct pd_kvc *kv = NULL, *sub = NULL;
	redisReply *live = NULL, *r;
	json_t *rooms = json_object(), *answered = json_array();
	struct pd_buf req, ch, rch;
	char uid[17], reqid[40], err[256];
	long timeout;
	int rc = EXIT_RUNTIME;

	pd_buf_init(&req, 0);
	pd_buf_init(&ch, 0);
	pd_buf_init(&rch, 0);
	if (nsp == NULL)
		nsp = "/";
	if (nsp[0] != '/' || strlen(nsp) > 256) {
		rc = fail(EXIT_USAGE, "rooms: --namespace must start with '/'");
		goto out;
	}
	if (pd_cfg_get_long(c->cfg, "broker_request_timeout", 10, 600000, &timeout, err,
			    sizeof(err)) != 0) {
		fail(EXIT_RUNTIME, "%s", err);
		goto out;
	}
	if ((kv = kv_connect(c)) == NULL || (sub = kv_connect(c)) == NULL ||
	    (live = live_brokers(c, kv)) == NULL)
		goto out;
	/* a requester uid of our own: the brokers answer on its channel */
	static const char abc[] = "0123456789abcdefghijklmnopqrstuvwxyz";
	unsigned char rnd[16];
	randombytes_buf(rnd, sizeof(rnd));
	for (int i = 0; i < 16; i++)
		uid[i] = abc[rnd[i] % 36];
	uid[16] = '\0';
	snprintf(reqid, sizeof(reqid), "%s-ctl-1", uid);
	if (pd_wire_channel_response(&rch, kv_prefix(c), "/", uid) != 0 ||
	    pd_wire_channel_request(&ch, kv_prefix(c), "/") != 0) {
		fail(EXIT_RUNTIME, "rooms: channel name too long");
		goto out;
	}
	const char *sa[2] = {"SUBSCRIBE", rch.data};
	if ((r = kv_cmd(c, sub, "SUBSCRIBE", 2, sa, NULL)) == NULL)
		goto out;
	freeReplyObject(r);
	json_t *arg = json_pack("{s:s}", "nsp", nsp);
	int erc = arg != NULL ? pd_wire_query_encode(&req, uid, reqid, "rooms", arg) : -ENOMEM;
	json_decref(arg);
	if (erc != 0) {
		fail(EXIT_RUNTIME, "rooms: cannot encode the request");
		goto out;
	}
	const char *pa[3] = {"PUBLISH", ch.data, req.data};
	size_t pl[3] = {7, ch.len, req.len};
	if ((r = kv_cmd(c, kv, "PUBLISH", 3, pa, pl)) == NULL)
		goto out;
	freeReplyObject(r);

	long long deadline = mono_now_ms() + timeout;
	size_t want = live->elements;
	while (json_array_size(answered) < want) {
		long long left = deadline - mono_now_ms();
		if (left <= 0)
			break;
		struct timeval tv = {left / 1000, (left % 1000) * 1000};
		redisSetTimeout(pd_kvc_ctx(sub), tv);
		void *rp = NULL;
		if (redisGetReply(pd_kvc_ctx(sub), &rp) != REDIS_OK || rp == NULL)
			break; /* timeout or connection lost: report what came */
		r = rp;
		if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
		    r->element[0]->str != NULL && strcmp(r->element[0]->str, "message") == 0 &&
		    r->element[2]->type == REDIS_REPLY_STRING) {
			char rid[PD_WIRE_MAX_UID + 1];
			json_t *a;
			int ok = pd_wire_answer_decode(r->element[2]->str, r->element[2]->len, rid,
						       &a) == 0;
			if (ok && strcmp(rid, reqid) == 0) {
				const json_t *res;
				const char *from = pd_wire_answer_uid(a, &res);
				int dup = 0;
				for (size_t i = 0; from != NULL && i < json_array_size(answered); i++)
					dup |= strcmp(json_string_value(json_array_get(answered, i)),
						      from) == 0;
				if (from != NULL && !dup) {
					const char *k;
					json_t *v;
					json_array_append_new(answered, json_string(from));
					json_object_foreach((json_t *)res, k, v)
					{
						json_int_t have =
						    json_integer_value(json_object_get(rooms, k));
						json_object_set_new(rooms, k,
								    json_integer(have + json_integer_value(v)));
					}
				}
			}
			json_decref(a);
		}
		freeReplyObject(r);
	}
	size_t got = json_array_size(answered);
	if (got < want)
		fprintf(stderr, "pushdeskctl: rooms: %zu of %zu brokers answered within %ld ms\n", got,
			want, timeout);
	if (c->json) {
		json_t *o = json_pack("{s:s, s:O, s:I, s:I}", "namespace", nsp, "rooms", rooms,
				      "brokers", (json_int_t)want, "answered", (json_int_t)got);
		print_json(o); /* takes the reference */
	} else {
		/* sorted by name */
		size_t n = json_object_size(rooms), k = 0;
		const char **names = calloc(n ? n : 1, sizeof(*names));
		const char *key;
		json_t *v;
		if (names == NULL) {
			fail(EXIT_RUNTIME, "out of memory");
			goto out;
		}
		json_object_foreach(rooms, key, v)
		{
			names[k++] = key;
		}
		qsort(names, n, sizeof(*names), cmp_str);
		printf("%-60s  %s\n", "ROOM", "MEMBERS");
		for (size_t i = 0; i < n; i++)
			printf("%-60s  %" JSON_INTEGER_FORMAT "\n", names[i],
			       json_integer_value(json_object_get(rooms, names[i])));
		free(names);
	}
	rc = 0;
out:
	if (live != NULL)
		freeReplyObject(live);
	if (kv != NULL)
		pd_kvc_free(kv);
	if (sub != NULL)
		pd_kvc_free(sub);
	json_decref(rooms);
	json_decref(answered);
	pd_buf_free(&req);
	pd_buf_free(&ch);
	pd_buf_free(&rch);
	return rc;
}

/* ---- command line ----------------------------------------------------- */

enum { OPT_CONFIG = 256, OPT_JSON, OPT_HELP, OPT_SQL_DIR, OPT_ORG, OPT_ROLE, OPT_NAME,
       OPT_EMAIL, OPT_TEAM, OPT_PASSWORD_STDIN, OPT_USER, OPT_TTL, OPT_NAMESPACE, OPT_ROOM,
       OPT__LAST = OPT_ROOM };

#define COMMON_OPTS                                                                           \
	{"config", required_argument, NULL, OPT_CONFIG}, {"json", no_argument, NULL, OPT_JSON}, \
		{"help", no_argument, NULL, OPT_HELP}

/* The value of each option seen, by OPT_ code. */
struct opts {
	const char *v[OPT__LAST + 1];
	int seen[OPT__LAST + 1];
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
			if (ch > OPT__LAST)
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

#define EMIT_MAX_ROOMS 64

/* emit's options: --room and --user repeat, so they are collected here
 * rather than by parse(). -1 for --help, else an exit status (0 done). */
static int cmd_emit_args(struct ctl *c, int argc, char **argv)
{
	static const struct option lo[] = {COMMON_OPTS,
					   {"namespace", required_argument, NULL, OPT_NAMESPACE},
					   {"room", required_argument, NULL, OPT_ROOM},
					   {"user", required_argument, NULL, OPT_USER},
					   {NULL, 0, NULL, 0}};
	char *rooms[EMIT_MAX_ROOMS];
	const char *nsp = NULL;
	size_t n = 0;
	int ch, rc;

	opterr = 0;
	optind = 0;
	while ((ch = getopt_long(argc, argv, ":", lo, NULL)) != -1) {
		switch (ch) {
		case OPT_CONFIG:
			c->config = optarg;
			break;
		case OPT_JSON:
			c->json = 1;
			break;
		case OPT_HELP:
			rc = -1; /* not EXIT_RUNTIME (1): a failed emit is no --help */
			goto out;
		case OPT_NAMESPACE:
			nsp = optarg;
			break;
		case OPT_ROOM:
		case OPT_USER:
			if (n == EMIT_MAX_ROOMS) {
				rc = fail(EXIT_USAGE, "emit: at most %d --room/--user", EMIT_MAX_ROOMS);
				goto out;
			}
			if (ch == OPT_USER && check_uuid("--user", optarg) != 0) {
				rc = EXIT_USAGE;
				goto out;
			}
			/* seed spellings an operator copies from a backend: ws:<org>, conv:<id> */
			if ((rooms[n] = malloc(PD_ROOM_MAX)) == NULL) {
				rc = fail(EXIT_RUNTIME, "out of memory");
				goto out;
			}
			if ((ch == OPT_USER ? pd_room_user(rooms[n], PD_ROOM_MAX, optarg)
					    : pd_room_unalias(optarg, rooms[n], PD_ROOM_MAX)) != 0) {
				free(rooms[n]);
				rc = fail(EXIT_USAGE, "emit: room name too long: %.40s...", optarg);
				goto out;
			}
			n++;
			break;
		case '?':
			rc = fail(EXIT_USAGE, "%s: unknown option", argv[optind - 1]);
			goto out;
		case ':':
			rc = fail(EXIT_USAGE, "%s: option needs a value", argv[optind - 1]);
			goto out;
		default:
			rc = fail(EXIT_USAGE, "bad option");
			goto out;
		}
	}
	if ((rc = operands(argc, 2, "emit")) != 0 || (rc = load_config(c)) != 0)
		goto out;
	rc = cmd_emit(c, nsp, (const char *const *)rooms, n, argv[optind], argv[optind + 1]);
out:
	for (size_t i = 0; i < n; i++)
		free(rooms[i]);
	return rc;
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
	static const struct option lo_online[] = {
		COMMON_OPTS, {"org", required_argument, NULL, OPT_ORG}, {NULL, 0, NULL, 0}};
	static const struct option lo_rooms[] = {
		COMMON_OPTS, {"namespace", required_argument, NULL, OPT_NAMESPACE}, {NULL, 0, NULL, 0}};
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
	if (strcmp(cmd, "emit") == 0) {
		rc = cmd_emit_args(c, argc, argv);
		return rc == -1 ? (fputs(usage_text, stdout), 0) : rc;
	}
	if (strcmp(cmd, "online") == 0 || strcmp(cmd, "rooms") == 0 || strcmp(cmd, "stats") == 0) {
		const struct option *lo = cmd[0] == 'o' ? lo_online : cmd[0] == 'r' ? lo_rooms : lo_none;
		if ((rc = parse(c, argc, argv, lo, 0, &o)) != 0 || (rc = operands(argc, 0, cmd)))
			return rc == 1 ? (fputs(usage_text, stdout), 0) : rc;
		if ((rc = load_config(c)) != 0)
			return rc;
		if (cmd[0] == 'o')
			return cmd_online(c, o.v[OPT_ORG]);
		if (cmd[0] == 'r')
			return cmd_rooms(c, o.v[OPT_NAMESPACE]);
		return cmd_stats(c);
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
