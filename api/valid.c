/* valid: request input checks with no I/O (see valid.h). Messages name the
 * field and the rule, e.g. "subject must be a string of 1..500 characters";
 * lengths count characters (code points), as PostgreSQL's length() does. */
#include "valid.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pd_buf.h"
#include "pd_jwt.h"
#include "pd_json.h"
#include "pd_url.h"

int api_content_type_json(const char *ct)
{
	size_t n;
	if (ct == NULL)
		return 0;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	n = strcspn(ct, "; \t");
	return n == 16 && strncasecmp(ct, "application/json", 16) == 0;
}

json_t *api_parse_object(const char *p, size_t n, char *err, size_t errlen)
{
	json_t *v;
	if (!pd_utf8_valid((const uint8_t *)p, n)) {
		snprintf(err, errlen, "body must be valid UTF-8");
		return NULL;
	}
	if ((v = pd_json_parse(p, n, err, errlen)) == NULL) {
		char tmp[256];
		snprintf(tmp, sizeof(tmp), "body is not valid JSON: %s", err);
		snprintf(err, errlen, "%s", tmp);
		return NULL;
	}
	if (!json_is_object(v)) {
		json_decref(v);
		snprintf(err, errlen, "body must be a JSON object");
		return NULL;
	}
	return v;
}

static size_t utf8_chars(const char *s)
{
	size_t n = 0;
	for (; *s != '\0'; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

/* A string field of min..max characters. 0 ok, 1 absent (and optional),
 * -1 error. */
static int vstr(const json_t *obj, const char *name, size_t min, size_t max, int required,
		const char **out, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, name);
	const char *s;
	size_t n;

	if (v == NULL) {
		if (!required)
			return 1;
		snprintf(err, errlen, "%s is required: a string of %zu..%zu characters", name, min, max);
		return -1;
	}
	if (!json_is_string(v))
		goto bad;
	s = json_string_value(v);
	if (strlen(s) != json_string_length(v))
		goto bad;
	n = utf8_chars(s);
	if (n < min || n > max)
		goto bad;
	*out = s;
	return 0;
bad:
	snprintf(err, errlen, "%s must be a string of %zu..%zu characters", name, min, max);
	return -1;
}

/* A UUID field; with nullable, JSON null gives *out = NULL. */
static int vuuid(const json_t *obj, const char *name, int required, int nullable,
		 const char **out, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, name);
	if (v == NULL) {
		if (!required)
			return 1;
		snprintf(err, errlen, "%s is required: a UUID", name);
		return -1;
	}
	if (nullable && json_is_null(v)) {
		*out = NULL;
		return 0;
	}
	if (!json_is_string(v) || !pd_uuid_valid(json_string_value(v))) {
		snprintf(err, errlen, "%s must be a UUID%s", name, nullable ? " or null" : "");
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

static int one_of(const char *s, const char *const *set)
{
	for (size_t i = 0; set[i] != NULL; i++)
		if (strcmp(s, set[i]) == 0)
			return 1;
	return 0;
}

static int venum(const json_t *obj, const char *name, const char *const *set, const char *desc,
		 const char **out, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, name);
	if (v == NULL)
		return 1;
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v) ||
	    !one_of(json_string_value(v), set)) {
		snprintf(err, errlen, "%s must be one of %s", name, desc);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

static const char *const STATUSES[] = {"open", "pending", "resolved", "closed", NULL};
static const char *const PRIORITIES[] = {"low", "normal", "high", "urgent", NULL};
static const char *const ROLES[] = {"customer", "agent", "admin", "service", NULL};

#define ONLY(obj, ...)                                                                 \
	do {                                                                           \
		static const char *const allowed_[] = {__VA_ARGS__, NULL};              \
		if (pd_json_only_fields((obj), allowed_, err, errlen) != 0)             \
			return -1;                                                     \
	} while (0)

int valid_login(const json_t *obj, struct v_login *out, char *err, size_t errlen)
{
	ONLY(obj, "email", "password");
	if (vstr(obj, "email", 1, 254, 1, &out->email, err, errlen) < 0 ||
	    vstr(obj, "password", 1, 1024, 1, &out->password, err, errlen) < 0)
		return -1;
	return 0;
}

static int email_ok(const char *e)
{
	const char *at = strchr(e, '@');
	if (at == NULL || at == e || at[1] == '\0' || strchr(at + 1, '@') != NULL)
		return 0;
	for (; *e != '\0'; e++)
		if ((unsigned char)*e <= ' ' || *e == 0x7f)
			return 0;
	return 1;
}

int valid_user(const json_t *obj, struct v_user *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	ONLY(obj, "name", "email", "role", "password", "teamId");
	if (vstr(obj, "name", 1, 200, 1, &out->name, err, errlen) < 0 ||
	    vstr(obj, "email", 3, 254, 1, &out->email, err, errlen) < 0)
		return -1;
	if (!email_ok(out->email)) {
		snprintf(err, errlen, "email must be an e-mail address");
		return -1;
	}
	if (json_object_get(obj, "role") == NULL) {
		snprintf(err, errlen, "role is required: one of customer, agent, admin, service");
		return -1;
	}
	if (venum(obj, "role", ROLES, "customer, agent, admin, service", &out->role, err, errlen) <
	    0)
		return -1;
	if (vstr(obj, "password", 8, 1024, 0, &out->password, err, errlen) < 0)
		return -1;
	if (json_is_null(json_object_get(obj, "teamId")))
		out->team_id = NULL;
	else if (vuuid(obj, "teamId", 0, 1, &out->team_id, err, errlen) < 0)
		return -1;
	return 0;
}

int valid_ticket(const json_t *obj, struct v_ticket *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	ONLY(obj, "subject", "priority", "customerId");
	if (vstr(obj, "subject", 1, 500, 1, &out->subject, err, errlen) < 0 ||
	    venum(obj, "priority", PRIORITIES, "low, normal, high, urgent", &out->priority, err,
		  errlen) < 0 ||
	    vuuid(obj, "customerId", 0, 0, &out->customer_id, err, errlen) < 0)
		return -1;
	return 0;
}

int valid_ticket_patch(const json_t *obj, struct pd_ticket_patch *out, char *err, size_t errlen)
{
	int rc;
	memset(out, 0, sizeof(*out));
	ONLY(obj, "subject", "status", "priority", "assigneeId");
	if (json_object_size(obj) == 0) {
		snprintf(err, errlen, "body must set at least one of subject, status, priority, "
				      "assigneeId");
		return -1;
	}
	if (vstr(obj, "subject", 1, 500, 0, &out->subject, err, errlen) < 0 ||
	    venum(obj, "status", STATUSES, "open, pending, resolved, closed", &out->status, err,
		  errlen) < 0 ||
	    venum(obj, "priority", PRIORITIES, "low, normal, high, urgent", &out->priority, err,
		  errlen) < 0)
		return -1;
	if ((rc = vuuid(obj, "assigneeId", 0, 1, &out->assignee_id, err, errlen)) < 0)
		return -1;
	out->set_assignee = rc == 0;
	return 0;
}

int valid_message(const json_t *obj, const char **content, char *err, size_t errlen)
{
	ONLY(obj, "content");
	return vstr(obj, "content", 1, 20000, 1, content, err, errlen) < 0 ? -1 : 0;
}

int valid_notification(const json_t *obj, struct v_notification *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	out->message = "";
	ONLY(obj, "userId", "type", "title", "message", "data");
	if (vuuid(obj, "userId", 1, 0, &out->user_id, err, errlen) < 0 ||
	    vstr(obj, "type", 1, 100, 1, &out->type, err, errlen) < 0 ||
	    vstr(obj, "title", 1, 500, 1, &out->title, err, errlen) < 0 ||
	    vstr(obj, "message", 0, 5000, 0, &out->message, err, errlen) < 0)
		return -1;
	out->data = json_object_get(obj, "data");
	if (out->data != NULL && !json_is_object(out->data)) {
		if (json_is_null(out->data)) {
			out->data = NULL;
		} else {
			snprintf(err, errlen, "data must be a JSON object");
			return -1;
		}
	}
	return 0;
}

static const char *const RESERVED[] = {"connect",       "connect_error",  "disconnect",
				       "disconnecting", "newListener",    "removeListener",
				       "error",         NULL};

static int vlist(const json_t *obj, const char *name, int uuids, const char **out, size_t *n,
		 char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, name), *x;
	size_t i;

	*n = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_array(v) || json_array_size(v) > V_EMIT_MAX_ROOMS)
		goto bad;
	json_array_foreach(v, i, x)
	{
		const char *s;
		if (!json_is_string(x))
			goto bad;
		s = json_string_value(x);
		if (strlen(s) != json_string_length(x) || s[0] == '\0' || strlen(s) > 200 ||
		    (uuids && !pd_uuid_valid(s)))
			goto bad;
		out[(*n)++] = s;
	}
	return 0;
bad:
	snprintf(err, errlen, "%s must be an array of at most %d %s", name, V_EMIT_MAX_ROOMS,
		 uuids ? "user ids (UUIDs)" : "room names (strings of 1..200 bytes)");
	return -1;
}

int valid_emit(const json_t *obj, struct v_emit *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	ONLY(obj, "namespace", "rooms", "users", "except", "event", "data");
	out->nsp = "/";
	if (vstr(obj, "namespace", 1, 100, 0, &out->nsp, err, errlen) < 0)
		return -1;
	if (out->nsp[0] != '/' || strchr(out->nsp, '#') != NULL) {
		snprintf(err, errlen, "namespace must start with / and not contain #");
		return -1;
	}
	if (vstr(obj, "event", 1, 100, 1, &out->event, err, errlen) < 0)
		return -1;
	if (one_of(out->event, RESERVED)) {
		snprintf(err, errlen, "event must not be a reserved name (%s)", out->event);
		return -1;
	}
	if (vlist(obj, "rooms", 0, out->rooms, &out->nrooms, err, errlen) < 0 ||
	    vlist(obj, "users", 1, out->users, &out->nusers, err, errlen) < 0 ||
	    vlist(obj, "except", 0, out->except, &out->nexcept, err, errlen) < 0)
		return -1;
	out->data = json_object_get(obj, "data");
	return 0;
}

static void b64url(struct pd_buf *b)
{
	size_t n = b->len;
	for (size_t i = 0; i < b->len; i++) {
		if (b->data[i] == '+')
			b->data[i] = '-';
		else if (b->data[i] == '/')
			b->data[i] = '_';
	}
	while (n > 0 && b->data[n - 1] == '=')
		n--;
	b->len = n;
	b->data[n] = '\0';
}

int api_cursor_encode(long long micros, const char *id, char *out, size_t outlen)
{
	char raw[128];
	struct pd_buf b;
	int rc = -1;

	if (snprintf(raw, sizeof(raw), "%lld.%s", micros, id) >= (int)sizeof(raw))
		return -1;
	pd_buf_init(&b, 256);
	if (pd_base64_encode((const uint8_t *)raw, strlen(raw), &b) == 0) {
		b64url(&b);
		if (b.len < outlen) {
			memcpy(out, b.data, b.len + 1);
			rc = 0;
		}
	}
	pd_buf_free(&b);
	return rc;
}

int api_cursor_decode(const char *s, long long *micros, char *id, size_t idlen)
{
	char tmp[128];
	size_t n = strlen(s), i;
	struct pd_buf b;
	char *dot, *end;
	int rc = -1;

	if (n == 0 || n > 96)
		return -1;
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (c == '-')
			c = '+';
		else if (c == '_')
			c = '/';
		else if (!isalnum((unsigned char)c))
			return -1;
		tmp[i] = c;
	}
	while (i % 4 != 0)
		tmp[i++] = '=';
	pd_buf_init(&b, 256);
	if (pd_base64_decode(tmp, i, &b) != 0 || b.data == NULL ||
	    strlen(b.data) != b.len || (dot = strchr(b.data, '.')) == NULL)
		goto out;
	*dot = '\0';
	errno = 0;
	*micros = strtoll(b.data, &end, 10);
	if (errno != 0 || *end != '\0' || end == b.data || !pd_uuid_valid(dot + 1) ||
	    strlen(dot + 1) >= idlen)
		goto out;
	strcpy(id, dot + 1);
	rc = 0;
out:
	pd_buf_free(&b);
	return rc;
}

long api_parse_limit(const char *s, long dflt, long max)
{
	char *end;
	long v;
	if (s == NULL)
		return dflt;
	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (*end != '\0' || v < 1)
		return -1;
	if (errno == ERANGE || v > max)
		return max;
	return v;
}

int api_kv_parse_url(const char *url, struct api_kv_url *u)
{
	struct pd_redis_url r;

	memset(u, 0, sizeof(*u));
	u->port = PD_URL_DEFAULT_PORT;
	if (pd_redis_url_parse(url, &r) != 0)
		return -1;
	strcpy(u->host, r.host);
	strcpy(u->user, r.user);
	strcpy(u->password, r.password);
	strcpy(u->unix_path, r.unix_path);
	u->port = r.port;
	u->db = r.db;
	return 0;
}

int api_parse_rate(const char *s, long *n, long *secs)
{
	char *end;
	errno = 0;
	*n = strtol(s, &end, 10);
	if (errno != 0 || *end != '/' || *n < 1)
		return -1;
	*secs = strtol(end + 1, &end, 10);
	if (errno != 0 || *end != '\0' || *secs < 1)
		return -1;
	return 0;
}

int api_cookie_name_valid(const char *s)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++)
		if (n == 64 || !(isalnum((unsigned char)s[n]) || strchr("!#$%&'*+-.^_`|~", s[n])))
			return 0;
	return n > 0;
}
