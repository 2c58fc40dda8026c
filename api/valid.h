/* valid: the API's input checks that need no I/O: content type, the JSON
 * object body, each endpoint's body fields (naming the field in the error),
 * ticket cursors and the Valkey URL. The fuzz target drives all of them. */
#ifndef API_VALID_H
#define API_VALID_H

#include <jansson.h>
#include <stddef.h>

#include "pd_store.h"

/* 1 for application/json (any case, optional parameters), 0 otherwise. */
int api_content_type_json(const char *ct);

/* Parse a body: a JSON object, valid UTF-8, no trailing data. NULL with err. */
json_t *api_parse_object(const char *p, size_t n, char *err, size_t errlen);

/* Field checks: 0, or -1 with err naming the field. Strings point into obj. */
struct v_login {
	const char *email, *password;
};
int valid_login(const json_t *obj, struct v_login *out, char *err, size_t errlen);

struct v_user {
	const char *name, *email, *role, *password, *team_id; /* password, team_id may be NULL */
};
int valid_user(const json_t *obj, struct v_user *out, char *err, size_t errlen);

struct v_ticket {
	const char *subject, *priority, *customer_id; /* priority, customer_id may be NULL */
};
int valid_ticket(const json_t *obj, struct v_ticket *out, char *err, size_t errlen);
int valid_ticket_patch(const json_t *obj, struct pd_ticket_patch *out, char *err, size_t errlen);

/* {content}: 1..20000 characters. */
int valid_message(const json_t *obj, const char **content, char *err, size_t errlen);

struct v_notification {
	const char *user_id, *type, *title, *message; /* message "" when absent */
	const json_t *data;                             /* NULL when absent */
};
int valid_notification(const json_t *obj, struct v_notification *out, char *err, size_t errlen);

#define V_EMIT_MAX_ROOMS 64
struct v_emit {
	const char *nsp, *event;
	const json_t *data;  /* NULL when absent (sent as null) */
	const char *rooms[V_EMIT_MAX_ROOMS];
	size_t nrooms;
	const char *users[V_EMIT_MAX_ROOMS];
	size_t nusers;
	const char *except[V_EMIT_MAX_ROOMS];
	size_t nexcept;
};
int valid_emit(const json_t *obj, struct v_emit *out, char *err, size_t errlen);

/* Ticket list cursor: (created_at in microseconds since the epoch, id),
 * encoded as base64url of "<micros>.<uuid>". */
int api_cursor_encode(long long micros, const char *id, char *out, size_t outlen);
int api_cursor_decode(const char *s, long long *micros, char *id, size_t idlen);

/* 1 if s is a cookie name (an RFC 6265 / RFC 7230 token of 1..64 bytes). */
int api_cookie_name_valid(const char *s);

/* The `limit` query value: default when s is NULL, capped at max; -1 if not
 * a positive integer. */
long api_parse_limit(const char *s, long dflt, long max);

/* valkey_url parsed by shared/pd_url.h's pd_redis_url_parse (see there for
 * the accepted forms); the field sizes are pd_redis_url's. */
struct api_kv_url {
	char host[256];
	int port;
	int db;
	char user[128], password[256];
	char unix_path[108];
};
/* pd_redis_url_parse into an api_kv_url. 0 or -1. */
int api_kv_parse_url(const char *url, struct api_kv_url *u);

/* "N/S" -> n, s (both > 0). 0 or -1. */
int api_parse_rate(const char *s, long *n, long *secs);

#endif
