/* pd_db: small helpers over libpq shared by the API workers and the broker's
 * database thread: connect with a statement timeout, run parameterised
 * statements (PQexecParams only, never SQL built from strings), and map a
 * failure to the error vocabulary of pd_err without leaking SQL text. */
#ifndef PD_DB_H
#define PD_DB_H

#include <libpq-fe.h>
#include <stddef.h>

#include "pd_err.h"

/* Connect to url (a libpq connection string or URI) with connect_timeout 3 s
 * unless the string sets one, and statement_timeout_ms (0 = server default)
 * set for the session. NULL on failure, logged with libpq's text. */
PGconn *pd_db_connect(const char *url, long statement_timeout_ms);

/* Run one statement with text parameters (NULL entries are SQL NULL).
 * Returns the result (caller PQclears it) when its status is COMMAND_OK or
 * TUPLES_OK; otherwise logs, clears it, stores the mapped error in *err (if
 * not NULL) and returns NULL. */
PGresult *pd_db_exec(PGconn *c, const char *sql, int nparams, const char *const *params,
		     enum pd_err *err);

/* BEGIN / COMMIT / ROLLBACK. 0 or -1 (err filled for BEGIN/COMMIT). ROLLBACK
 * ignores errors: it is the path taken after one. */
int pd_db_begin(PGconn *c, enum pd_err *err);
int pd_db_commit(PGconn *c, enum pd_err *err);
void pd_db_rollback(PGconn *c);

/* The pd_err for a failed result: 23505 unique -> CONFLICT, 22xxx/23514/23502
 * -> BAD_REQUEST, 23503 -> NOT_FOUND, anything else (connection lost,
 * statement timeout, server shutting down) -> UNAVAILABLE. */
enum pd_err pd_db_map_error(const PGresult *r);

/* 1 if the connection is known to be dead (PQstatus CONNECTION_BAD). */
int pd_db_dead(const PGconn *c);

/* 1 if an idle connection must not be used for new work: NULL, not
 * CONNECTION_OK, inside a transaction, or its socket is readable. An idle
 * backend sends nothing unasked except to say it is going away (FATAL
 * 57P01 after a server restart or pg_terminate_backend, then EOF), so a
 * readable socket means the server closed it; libpq only notices at the
 * next statement. Polls with a zero timeout: never blocks. The caller
 * PQfinishes a stale connection and connects again. */
int pd_db_stale(PGconn *c);

/* Column value of row i as a C string; NULL for SQL NULL. Borrowed from r. */
const char *pd_db_get(const PGresult *r, int row, int col);

/* ISO 8601 UTC with milliseconds, as an SQL expression over a timestamptz
 * column or expression x: use PD_DB_TS("t.created_at") in a select list. */
#define PD_DB_TS(x) "to_char((" x ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

#endif
