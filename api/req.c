/* req: one FastCGI request from accept to finish: parameters, the bounded
 * JSON body, authentication, replies in the contract's error shape, the
 * per-worker database and Valkey connections, and the one log line. */
#include <ctype.h>
#include <errno.h>
#include <hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "config.h"
#include "pd_cfg.h"
#include "pd_db.h"
#include "pd_emitter.h"
#include "pd_json.h"
#include "pd_kvc.h"
#include "pd_log.h"
#include "pd_store.h"
#include "pd_url.h"
#include "valid.h"

void api_reply(struct req *r, int status, json_t *body)
{
	json_decref(r->body);
	r->status = status;
	r->body = body;
}

void api_error(struct req *r, enum pd_err e, const char *message)
{
	json_t *b = json_pack("{s:{s:s,s:s}}", "error", "code", pd_err_code(e), "message",
			      message != NULL ? message : pd_err_message(e));
	api_reply(r, pd_err_http_status(e), b);
}

void api_errorf(struct req *r, enum pd_err e, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	api_error(r, e, msg);
}

static const char *param(const struct req *r, const char *name)
{
	return r->fcgi != NULL ? FCGX_GetParam(name, r->fcgi->envp) : NULL;
}

int api_auth(struct req *r)
{
	const char *h = param(r, "HTTP_AUTHORIZATION");
	enum pd_jwt_status st;

	if (r->authed)
		return 0;
	if (h == NULL || h[0] == '\0') {
		api_error(r, PD_E_UNAUTHORIZED, "missing bearer token");
		return -1;
	}
	if (strncasecmp(h, "Bearer ", 7) != 0) {
		api_error(r, PD_E_UNAUTHORIZED, "authorization must be a bearer token");
		return -1;
	}
	h += 7;
	while (*h == ' ')
		h++;
	st = pd_jwt_verify(r->ctx->jwt, h, time(NULL), &r->claims);
	if (st != PD_JWT_OK) {
		api_error(r, PD_E_UNAUTHORIZED,
			  st == PD_JWT_EXPIRED   ? "token expired"
			  : st == PD_JWT_MISSING ? "missing bearer token"
						 : "invalid token");
		return -1;
	}
	/* Ids go into SQL parameters and room names: refuse odd ones early. */
	if (!pd_uuid_valid(r->claims.sub) || !pd_uuid_valid(r->claims.org)) {
		api_error(r, PD_E_UNAUTHORIZED, "invalid token");
		return -1;
	}
	r->authed = 1;
	return 0;
}

int api_role_in(const struct req *r, const char *roles)
{
	size_t n = strlen(r->claims.role);
	const char *p = roles;
	while ((p = strstr(p, r->claims.role)) != NULL) {
		if ((p == roles || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return n > 0;
		p += n > 0 ? n : 1;
	}
	return 0;
}

int api_require(struct req *r, const char *roles)
{
	if (api_auth(r) != 0)
		return -1;
	if (!api_role_in(r, roles)) {
		api_errorf(r, PD_E_FORBIDDEN, "role %s may not do this", r->claims.role);
		return -1;
	}
	return 0;
}

json_t *api_body(struct req *r)
{
	const char *cl = param(r, "CONTENT_LENGTH");
	const char *ct = param(r, "CONTENT_TYPE");
	char err[256];
	long long n = 0;
	char *buf;
	json_t *v;
	int got;

	if (cl != NULL && cl[0] != '\0') {
		char *end;
		errno = 0;
		n = strtoll(cl, &end, 10);
		if (errno != 0 || *end != '\0' || n < 0) {
			api_error(r, PD_E_BAD_REQUEST, "invalid Content-Length");
			return NULL;
		}
	}
	if (n > r->ctx->max_body) {
		api_errorf(r, PD_E_TOO_LARGE, "body must be at most %ld bytes", r->ctx->max_body);
		return NULL;
	}
	if (n == 0) {
		api_error(r, PD_E_BAD_REQUEST, "body is required: a JSON object");
		return NULL;
	}
	if (!api_content_type_json(ct)) {
		api_error(r, PD_E_UNSUPPORTED_MEDIA, "body must be application/json");
		return NULL;
	}
	if ((buf = malloc((size_t)n + 1)) == NULL) {
		api_error(r, PD_E_UNAVAILABLE, "out of memory");
		return NULL;
	}
	got = r->fcgi != NULL ? FCGX_GetStr(buf, (int)n, r->fcgi->in) : 0;
	if (got != n) {
		free(buf);
		api_error(r, PD_E_BAD_REQUEST, "body is shorter than Content-Length");
		return NULL;
	}
	v = api_parse_object(buf, (size_t)n, err, sizeof(err));
	free(buf);
	if (v == NULL)
		api_error(r, PD_E_BAD_REQUEST, err);
	return v;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int api_query(const struct req *r, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);
	const char *p = r->query;

	while (p != NULL && *p != '\0') {
		const char *amp = strchr(p, '&');
		const char *end = amp != NULL ? amp : p + strlen(p);
		if ((size_t)(end - p) >= nl && strncmp(p, name, nl) == 0 &&
		    (p + nl == end || p[nl] == '=')) {
			size_t o = 0;
			const char *v = p + nl + (p + nl < end ? 1 : 0);
			while (v < end) {
				int c = (unsigned char)*v;
				if (c == '+') {
					c = ' ';
					v++;
				} else if (c == '%') {
					int hi, lo;
					if (end - v < 3 || (hi = hexval(v[1])) < 0 || (lo = hexval(v[2])) < 0)
						return -1;
					c = hi * 16 + lo;
					v += 3;
				} else {
					v++;
				}
				if (c == 0 || o + 1 >= outlen)
					return -1;
				out[o++] = (char)c;
			}
			out[o] = '\0';
			/* "?status=&assigneeId=" (empty values) means no filter. */
			return o > 0 ? 1 : 0;
		}
		p = amp != NULL ? amp + 1 : NULL;
	}
	return 0;
}

/* Drop ctx->db if it can no longer serve a request (pd_db_stale): after a
 * PostgreSQL restart every worker's idle connection is dead, and only a
 * statement would tell libpq so; checking first lets the request reconnect
 * instead of failing. */
void api_db_check(struct api_ctx *c)
{
	if (c->db != NULL && pd_db_stale(c->db)) {
		pd_log(LOG_NOTICE, "db connection closed by the server: reconnecting");
		api_db_drop(c);
	}
}

PGconn *api_db(struct req *r)
{
	struct api_ctx *c = r->ctx;

	api_db_check(c);
	if (c->db == NULL)
		c->db = pd_db_connect(c->database_url, c->statement_timeout);
	if (c->db == NULL)
		api_error(r, PD_E_UNAVAILABLE, "database unavailable");
	return c->db;
}

void api_db_drop(struct api_ctx *ctx)
{
	if (ctx->db != NULL)
		PQfinish(ctx->db);
	ctx->db = NULL;
}

void api_db_error(struct req *r, enum pd_err e, const char *msg)
{
	if (e == PD_E_UNAVAILABLE || e == PD_E_INTERNAL || e == PD_OK) {
		/* A dead connection is rebuilt on the next request. */
		if (pd_db_dead(r->ctx->db))
			api_db_drop(r->ctx);
		api_error(r, PD_E_UNAVAILABLE, "database unavailable");
		return;
	}
	api_error(r, e, msg != NULL && msg[0] != '\0' ? msg : NULL);
}

void api_kv_drop(struct api_ctx *ctx)
{
	pd_kvc_free(ctx->kv);
	ctx->kv = NULL;
}

struct redisReply *api_kv_cmd(struct api_ctx *ctx, const char *fmt, ...)
{
	va_list ap;
	redisReply *r;
	if (api_kv(ctx) == NULL)
		return NULL;
	va_start(ap, fmt);
	r = pd_kvc_vcommand(ctx->kv, fmt, ap);
	va_end(ap);
	return r;
}

struct pd_kvc *api_kv(struct api_ctx *ctx)
{
	struct pd_redis_url u; /* all its seeds: pd_kvc_connect tries them */
	struct timeval ctv = {0, 500000}, tv = {1, 0};
	redisContext *c;
	redisReply *rep;

	struct timespec now;

	if (ctx->kv != NULL && pd_kvc_ctx(ctx->kv)->err == 0) {
		/* Valkey closed the idle connection (restart, client timeout):
		 * reconnect now rather than fail this caller's first command. */
		if (pd_kvc_usable(ctx->kv))
			return ctx->kv;
		pd_log(LOG_NOTICE, "valkey connection closed by the server: reconnecting");
		ctx->kv_retry_at = 0;
	}
	api_kv_drop(ctx);
	if (ctx->valkey_url[0] == '\0' || pd_redis_url_parse(ctx->valkey_url, &u) != 0)
		return NULL;
	/* Valkey down: try again at most once a second, not on every request. */
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec < ctx->kv_retry_at)
		return NULL;
	ctx->kv_retry_at = now.tv_sec + 1;
	c = pd_kvc_connect(&u, ctv);
	if (c == NULL || c->err != 0) {
		pd_log(LOG_WARNING, "valkey connect failed: %s", c != NULL ? c->errstr : "ENOMEM");
		if (c != NULL)
			redisFree(c);
		return NULL;
	}
	redisSetTimeout(c, tv);
	if (u.password[0] != '\0') {
		rep = u.user[0] != '\0' ? redisCommand(c, "AUTH %s %s", u.user, u.password)
					: redisCommand(c, "AUTH %s", u.password);
		if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
			pd_log(LOG_WARNING, "valkey auth failed");
			goto fail;
		}
		freeReplyObject(rep);
	}
	if (u.db != 0) {
		rep = redisCommand(c, "SELECT %d", u.db);
		if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
			pd_log(LOG_WARNING, "valkey select failed");
			goto fail;
		}
		freeReplyObject(rep);
	}
	if ((ctx->kv = pd_kvc_new(c, ctx->valkey_url)) == NULL) {
		rep = NULL;
		goto fail;
	}
	ctx->kv_retry_at = 0;
	return ctx->kv;
fail:
	if (rep != NULL)
		freeReplyObject(rep);
	redisFree(c);
	return NULL;
}

void api_publish_later(struct req *r, const long long *ids, size_t n)
{
	for (size_t i = 0; i < n && r->nevents < sizeof(r->events) / sizeof(r->events[0]); i++)
		r->events[r->nevents++] = ids[i];
}

void api_publish(struct req *r)
{
	struct api_ctx *c = r->ctx;
	long rc;

	if (r->nevents == 0)
		return;
#ifdef PD_TEST_HOOKS
	{
		const char *e = getenv("PUSHDESK_TEST_CRASH_AFTER_COMMIT");
		const char *h = param(r, "HTTP_X_PUSHDESK_TEST_CRASH");
		if ((e != NULL && strcmp(e, "1") == 0) || (h != NULL && strcmp(h, "after-commit") == 0)) {
			pd_log(LOG_WARNING, "test hook: exiting after commit, before publishing");
			_exit(1);
		}
	}
#endif
	if (c->valkey_url[0] == '\0' || c->db == NULL)
		return;
	/* Valkey down: the rows stay unpublished and the relay retries them. */
	if (api_kv(c) == NULL)
		return;
	struct pd_emit_target t = {c->kv, c->adapter_key, c->adapter_mode, c->stream_max,
				   c->seen_ms};
	rc = pd_outbox_publish(c->db, &t, r->events, r->nevents, 0);
	if (rc < 0 && c->kv != NULL && pd_kvc_ctx(c->kv)->err != 0)
		api_kv_drop(c);
	if (pd_db_dead(c->db))
		api_db_drop(c);
}

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 429: return "Too Many Requests";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

static void set_path(struct req *r)
{
	const char *p = param(r, "DOCUMENT_URI");
	size_t n;

	if (p == NULL || p[0] == '\0')
		p = param(r, "SCRIPT_NAME");
	if (p == NULL || p[0] == '\0')
		p = param(r, "REQUEST_URI");
	if (p == NULL)
		p = "/";
	n = strcspn(p, "?");
	if (strncmp(p, "/api/v1", 7) == 0 && (p[7] == '/' || p[7] == '\0' || p[7] == '?')) {
		p += 7;
		n -= 7;
	}
	if (n >= sizeof(r->path))
		n = sizeof(r->path) - 1;
	memcpy(r->path, p, n);
	r->path[n] = '\0';
}

void api_serve(struct api_ctx *ctx, FCGX_Request *f)
{
	struct req r;
	struct timespec t0;
	char *out = NULL;
	size_t outlen = 0;
	const char *full;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	memset(&r, 0, sizeof(r));
	r.ctx = ctx;
	r.fcgi = f;
	r.method = param(&r, "REQUEST_METHOD");
	if (r.method == NULL)
		r.method = "GET";
	r.query = param(&r, "QUERY_STRING");
	if (r.query == NULL)
		r.query = "";
	set_path(&r);

	api_dispatch(&r);
	/* The handler's transaction is committed: publish before answering, so
	 * that a client that got its 2xx can count on the event being out. */
	api_publish(&r);

	if (r.body != NULL)
		out = pd_json_dump(r.body, &outlen);
	{
		/* libfcgi's own printf knows no %zu: format here. */
		struct pd_buf head;
		pd_buf_init(&head, 16384);
		if (pd_buf_printf(&head,
				  "Status: %d %s\r\nContent-Type: application/json\r\n"
				  "Cache-Control: no-store\r\n%s%s%s%s%s%s%s%s%sContent-Length: "
				  "%zu\r\n\r\n",
				  r.status, reason(r.status), r.allow[0] ? "Allow: " : "", r.allow,
				  r.allow[0] ? "\r\n" : "", r.retry_after[0] ? "Retry-After: " : "",
				  r.retry_after, r.retry_after[0] ? "\r\n" : "",
				  r.set_cookie != NULL ? "Set-Cookie: " : "",
				  r.set_cookie != NULL ? r.set_cookie : "",
				  r.set_cookie != NULL ? "\r\n" : "", outlen) == 0)
			FCGX_PutStr(head.data, (int)head.len, f->out);
		pd_buf_free(&head);
	}
	if (out != NULL && strcmp(r.method, "HEAD") != 0)
		FCGX_PutStr(out, (int)outlen, f->out);
	free(out);
	free(r.set_cookie);
	json_decref(r.body);
	full = param(&r, "DOCUMENT_URI");
	{
		/* The path is client input: no control characters into the log. */
		char logpath[128], meth[16];
		const char *lp = full != NULL ? full : r.path;
		size_t ln = strnlen(lp, sizeof(logpath) - 1), mn = strnlen(r.method, sizeof(meth) - 1);
		memcpy(logpath, lp, ln);
		logpath[ln] = '\0';
		memcpy(meth, r.method, mn);
		meth[mn] = '\0';
		for (char *q = logpath; *q != '\0'; q++)
			if ((unsigned char)*q <= ' ' || (unsigned char)*q >= 0x7f)
				*q = '?';
		for (char *q = meth; *q != '\0'; q++)
			if ((unsigned char)*q <= ' ' || (unsigned char)*q >= 0x7f)
				*q = '?';
		pd_log(LOG_INFO, "req method=%s path=%s status=%d ms=%ld", meth, logpath, r.status,
		       elapsed_ms(&t0));
	}
}
