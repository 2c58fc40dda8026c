/* pushdesk-api internals: the per-worker context, the request being served
 * and the handler signature. One worker serves one request at a time, so
 * the context holds one PGconn and one hiredis context, reconnected on
 * demand. */
#ifndef API_H
#define API_H

#include <fcgiapp.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>

#include "pd_buf.h"
#include "pd_err.h"
#include "pd_jwt.h"

struct pd_cfg;
struct redisContext;
struct pd_kvc;

struct api_ctx {
	const struct pd_cfg *cfg;
	struct pd_jwt *jwt;
	PGconn *db;                 /* NULL until first use or after a failure */
	struct pd_kvc *kv;          /* idem (shared/pd_kvc.h) */
	const char *adapter_key;
	int adapter_mode;           /* enum pd_emit_mode */
	const char *valkey_url;     /* "" = no Valkey */
	const char *database_url;
	const char *token_cookie;   /* cookie name login sets (a checked RFC 6265 token) */
	long statement_timeout;
	long max_body;
	long token_ttl;
	long login_n, login_s;      /* login_rate "N/S" */
	long stream_max;            /* pd_emit_target.stream_max (connection state recovery) */
	long seen_ms;               /* pd_emit_target.seen_ms: recovery_window */
	long kv_retry_at;           /* monotonic s: no Valkey reconnect before */
};

#define API_MAX_PARAMS 8

struct req {
	struct api_ctx *ctx;
	FCGX_Request *fcgi;         /* NULL in unit tests and the fuzz target */
	const char *method;
	char path[512];             /* below /api/v1, without the query */
	const char *query;          /* "" when none */
	const char *params[API_MAX_PARAMS]; /* {id} segments of the matched route */
	char segbuf[512];           /* the path split into segments; params point here */
	int authed;
	struct pd_claims claims;
	/* response */
	int status;
	char allow[64];             /* 405 Allow header */
	char retry_after[24];       /* 429 Retry-After header */
	char *set_cookie;           /* malloc'd Set-Cookie value, or NULL */
	json_t *body;               /* owned; dumped after the handler */
	long long events[16];       /* outbox ids to publish after the response commit */
	size_t nevents;
};

typedef void api_handler_fn(struct req *r);

/* Responses. api_reply takes ownership of body (may be NULL: no body). */
void api_reply(struct req *r, int status, json_t *body);
/* {"error":{"code","message"}} with the status of e; message NULL = default. */
void api_error(struct req *r, enum pd_err e, const char *message);
void api_errorf(struct req *r, enum pd_err e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Require a token; 0, or -1 after replying 401. */
int api_auth(struct req *r);
/* 1 if the caller's role is in the space-separated list. */
int api_role_in(const struct req *r, const char *roles);
/* api_auth plus a role check (403). 0 or -1 after replying. */
int api_require(struct req *r, const char *roles);

/* Read and parse the JSON object body (413, 415, 400 as the contract says).
 * Returns a new reference or NULL after replying. */
json_t *api_body(struct req *r);

/* Query parameter name, copied into out (URL-decoded). 1 found, 0 absent
 * or empty, -1 too long or badly encoded. */
int api_query(const struct req *r, const char *name, char *out, size_t outlen);

/* The database connection, (re)connected; NULL after replying 503. A
 * connection the server closed while idle is replaced first (api_db_check),
 * so a request gets 503 only if PostgreSQL is down now. */
PGconn *api_db(struct req *r);
/* Drop ctx->db if pd_db_stale says it cannot be used (no I/O wait). */
void api_db_check(struct api_ctx *ctx);
/* Reply for a failed store/db call: UNAVAILABLE names the database. */
void api_db_error(struct req *r, enum pd_err e, const char *msg);
/* The Valkey client, (re)connected; NULL if down (no reply sent). */
struct pd_kvc *api_kv(struct api_ctx *ctx);
/* Drop a context after an I/O error so that the next call reconnects. */
void api_kv_drop(struct api_ctx *ctx);
/* A command on ctx's client (api_kv first), sent to the node of its
 * key's slot on a Valkey Cluster (shared/pd_kvc.h). The reply, or NULL:
 * the caller drops the context. */
struct redisReply *api_kv_cmd(struct api_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void api_db_drop(struct api_ctx *ctx);

/* Remember outbox ids to publish once the handler's transaction committed. */
void api_publish_later(struct req *r, const long long *ids, size_t n);
/* Publish the remembered events now (called by the dispatcher). */
void api_publish(struct req *r);

/* The `limit` query parameter (default 50, capped at 100); 0 or -1 after
 * replying 400. */
int api_list_limit(struct req *r, long *limit);
/* Lists ordered by (created_at DESC, id DESC): parse limit (default 50,
 * capped at 100) and cursor into micros/id ("" when absent). 0 or -1 after
 * replying 400. */
int api_list_cursor(struct req *r, char *micros, size_t mlen, char *id, size_t idlen,
		    long *limit);
/* Reply {data, nextCursor} from rows (json text, micros, id) of which up to
 * limit+1 were fetched. */
void api_list_reply(struct req *r, PGresult *res, long limit);

/* Handlers. */
api_handler_fn h_health, h_login, h_me, h_users_create, h_users_list;
api_handler_fn h_tickets_create, h_tickets_list, h_ticket_get, h_ticket_patch;
api_handler_fn h_messages_list, h_messages_create, h_message_patch, h_messages_unread;
api_handler_fn h_notifications_list, h_notifications_create, h_notification_read,
	h_notifications_read_all;
api_handler_fn h_presence, h_emit;

/* Dispatch one request: route, run, reply. Sets r->status. */
void api_dispatch(struct req *r);

/* Start and end of one FastCGI request in a worker (req.c). */
void api_serve(struct api_ctx *ctx, FCGX_Request *f);

#endif
