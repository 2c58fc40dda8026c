/* pd_db: libpq helpers. Every statement goes through PQexecParams with text
 * parameters; errors are logged here with libpq's own text and passed up as
 * a pd_err, so that callers never put SQL text in a response. */
#include "pd_db.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "pd_log.h"

PGconn *pd_db_connect(const char *url, long statement_timeout_ms)
{
	const char *keys[] = {"connect_timeout", "dbname", NULL};
	const char *vals[] = {"3", url, NULL};
	PGconn *c = PQconnectdbParams(keys, vals, 1);
	char buf[32];

	if (c == NULL) {
		pd_log(LOG_ERR, "db connect failed: out of memory");
		return NULL;
	}
	if (PQstatus(c) != CONNECTION_OK) {
		pd_log(LOG_ERR, "db connect failed: %s", PQerrorMessage(c));
		PQfinish(c);
		return NULL;
	}
	if (statement_timeout_ms > 0) {
		const char *p[1] = {buf};
		PGresult *r;
		snprintf(buf, sizeof(buf), "%ld", statement_timeout_ms);
		r = pd_db_exec(c, "SELECT set_config('statement_timeout', $1, false)", 1, p, NULL);
		if (r == NULL) {
			PQfinish(c);
			return NULL;
		}
		PQclear(r);
	}
	return c;
}

enum pd_err pd_db_map_error(const PGresult *r)
{
	const char *st = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	if (st == NULL)
		return PD_E_UNAVAILABLE;
	if (strcmp(st, "23505") == 0)
		return PD_E_CONFLICT;
	if (strcmp(st, "23503") == 0)
		return PD_E_NOT_FOUND;
	if (strncmp(st, "22", 2) == 0 || strcmp(st, "23514") == 0 || strcmp(st, "23502") == 0)
		return PD_E_BAD_REQUEST;
	return PD_E_UNAVAILABLE;
}

PGresult *pd_db_exec(PGconn *c, const char *sql, int nparams, const char *const *params,
		     enum pd_err *err)
{
	PGresult *r;
	ExecStatusType st;

	if (c == NULL) {
		if (err != NULL)
			*err = PD_E_UNAVAILABLE;
		return NULL;
	}
	r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
	st = PQresultStatus(r);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return r;
	if (err != NULL)
		*err = pd_db_map_error(r);
	{
		const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
		/* A constraint error is the client's input, not a fault: log it quietly. */
		int lvl = (err != NULL && *err != PD_E_UNAVAILABLE) ? LOG_INFO : LOG_ERR;
		const char *msg = r != NULL ? PQresultErrorMessage(r) : PQerrorMessage(c);
		size_t n = strlen(msg);
		while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
			n--;
		pd_log(lvl, "db error sqlstate=%s msg=\"%.*s\"", state != NULL ? state : "-", (int)n,
		       msg);
	}
	PQclear(r);
	return NULL;
}

static int simple(PGconn *c, const char *sql, enum pd_err *err)
{
	PGresult *r = pd_db_exec(c, sql, 0, NULL, err);
	if (r == NULL)
		return -1;
	PQclear(r);
	return 0;
}

int pd_db_begin(PGconn *c, enum pd_err *err)
{
	return simple(c, "BEGIN", err);
}

int pd_db_commit(PGconn *c, enum pd_err *err)
{
	return simple(c, "COMMIT", err);
}

void pd_db_rollback(PGconn *c)
{
	if (c != NULL && PQstatus(c) == CONNECTION_OK &&
	    PQtransactionStatus(c) != PQTRANS_IDLE) {
		PGresult *r = PQexec(c, "ROLLBACK");
		PQclear(r);
	}
}

int pd_db_dead(const PGconn *c)
{
	return c == NULL || PQstatus(c) == CONNECTION_BAD;
}

int pd_db_stale(PGconn *c)
{
	struct pollfd p;
	int n;

	if (c == NULL || PQstatus(c) != CONNECTION_OK || PQtransactionStatus(c) != PQTRANS_IDLE)
		return 1;
	if ((p.fd = PQsocket(c)) < 0)
		return 1;
	p.events = POLLIN;
	p.revents = 0;
	do
		n = poll(&p, 1, 0);
	while (n < 0 && errno == EINTR);
	/* Readable (data, EOF, POLLHUP or POLLERR) or poll failing: stale. */
	return n != 0;
}

const char *pd_db_get(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return NULL;
	return PQgetvalue(r, row, col);
}
