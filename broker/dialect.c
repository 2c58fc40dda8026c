/* dialect: the tables of contract 7 (one per vocabulary) and the pure
 * functions that apply them. Every builder reads its input and makes new
 * values: the input may be shared by several loops at once. */
#include "dialect.h"
#include "pd_rooms.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- builders ---- */

static const char *str_of(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* typing:start {ticketId, userId, userName} -> {ticketId, user:{id, name}}
 * (seed 001 /tickets); a free room's typing (no ticketId) is not a view's. */
static json_t *b_ticket_typing(const json_t *p, const char **name)
{
	(void)name;
	if (str_of(p, "ticketId") == NULL)
		return NULL;
	return json_pack("{s:O, s:{s:O?, s:O?}}", "ticketId", json_object_get(p, "ticketId"), "user",
			 "id", json_object_get(p, "userId"), "name", json_object_get(p, "userName"));
}

/* Only a ticket's events (ticketId present) are a view's. */
static json_t *b_ticket_only(const json_t *p, const char **name)
{
	(void)name;
	return str_of(p, "ticketId") != NULL ? json_incref((json_t *)p) : NULL;
}

/* message:new -> seed 004's new_message (staff, system) or user_message
 * (the customer). */
static json_t *b_ws_message(const json_t *p, const char **name)
{
	const char *role = str_of(p, "senderRole");
	if (str_of(p, "ticketId") == NULL)
		return NULL;
	if (role != NULL && strcmp(role, "customer") == 0) {
		*name = "user_message";
		return json_pack("{s:O, s:{s:O?, s:s, s:O?, s:s, s:O?}}", "conversationId",
				 json_object_get(p, "ticketId"), "message", "id",
				 json_object_get(p, "id"), "role", "USER", "content",
				 json_object_get(p, "content"), "channelType", "WEB", "createdAt",
				 json_object_get(p, "createdAt"));
	}
	*name = "new_message";
	return json_pack("{s:O, s:{s:O?, s:s, s:O?, s:O?}}", "conversationId",
			 json_object_get(p, "ticketId"), "message", "id", json_object_get(p, "id"),
			 "role", role != NULL && strcmp(role, "system") == 0 ? "SYSTEM" : "HUMAN_AGENT",
			 "content", json_object_get(p, "content"), "createdAt",
			 json_object_get(p, "createdAt"));
}

/* ticket:status (a ticket:updated whose status changed) ->
 * conversation_status_changed {conversationId, STATUS, updatedAt}. */
static json_t *b_ws_status(const json_t *p, const char **name)
{
	const char *st = str_of(p, "status"), *id = str_of(p, "id");
	char up[32];
	size_t i = 0;
	(void)name;
	if (st == NULL || id == NULL || strlen(st) >= sizeof(up))
		return NULL;
	for (; st[i] != '\0'; i++)
		up[i] = (char)(st[i] >= 'a' && st[i] <= 'z' ? st[i] - 'a' + 'A' : st[i]);
	up[i] = '\0';
	return json_pack("{s:s, s:s, s:O?}", "conversationId", id, "status", up, "updatedAt",
			 json_object_get(p, "updatedAt"));
}

/* message:new -> seed 003's new_message {message, conversationId} with
 * message = {id, conversationId, content, senderId, senderName,
 * senderRole, createdAt}; a stored change's eventId stays beside it. */
static json_t *b_pr_message(const json_t *p, const char **name)
{
	static const char *const keys[] = {"id", "content", "senderId", "senderName", "senderRole",
					   "createdAt"};
	const json_t *tid = json_object_get(p, "ticketId");
	json_t *m = json_is_string(tid) ? json_pack("{s:O}", "conversationId", tid) : NULL;
	(void)name;
	if (m == NULL)
		return NULL;
	for (size_t i = 0; i < N(keys); i++)
		if (json_object_get(p, keys[i]) != NULL &&
		    json_object_set(m, keys[i], json_object_get(p, keys[i])) < 0) {
			json_decref(m);
			return NULL;
		}
	json_t *r = json_pack("{s:o, s:O}", "message", m, "conversationId", tid);
	if (r != NULL && json_object_get(p, "eventId") != NULL)
		json_object_set(r, "eventId", json_object_get(p, "eventId"));
	return r;
}

/* The ack {ok, message, delivered} of message:send -> message:sent
 * {message, conversationId, delivered}, message as b_pr_message. */
static json_t *r_pr_sent(const json_t *f)
{
	const char *nm = NULL;
	json_t *nw = b_pr_message(json_object_get(f, "message"), &nm);
	if (nw == NULL)
		return NULL;
	json_object_set(nw, "delivered", json_object_get(f, "delivered") ? json_object_get(f, "delivered")
									 : json_false());
	return nw;
}

/* The ack fields of a room join/leave -> {room}: a free room's as the
 * client named it, a ticket's as ticket:<id>. */
static json_t *r_room(const json_t *f)
{
	const char *room = str_of(f, "room"), *t = str_of(f, "ticketId");
	char buf[300];
	if (room == NULL && t != NULL && pd_room_ticket(buf, sizeof(buf), t) == 0)
		room = buf;
	return room != NULL ? json_pack("{s:s}", "room", room) : NULL;
}

/* ---- tables ---- */

/* Contract 3.1: the internal vocabulary itself. */
static const struct dia_in in_helpdesk[] = {
    {"ticket:join", DOP_TICKET_JOIN, DARG_ASIS, NULL, NULL, NULL, NULL},
    {"ticket:leave", DOP_TICKET_LEAVE, DARG_ASIS, NULL, NULL, NULL, NULL},
    {"message:send", DOP_MESSAGE_SEND, DARG_ASIS, NULL, NULL, NULL, NULL},
    {"typing:start", DOP_TYPING_START, DARG_ASIS, NULL, NULL, NULL, NULL},
    {"typing:stop", DOP_TYPING_STOP, DARG_ASIS, NULL, NULL, NULL, NULL},
    {"presence:ping", DOP_PRESENCE_PING, DARG_ASIS, NULL, NULL, NULL, NULL},
    {"presence:status", DOP_PRESENCE_STATUS, DARG_ASIS, NULL, NULL, NULL, NULL},
    {"presence:subscribe", DOP_PRESENCE_SUBSCRIBE, DARG_ASIS, NULL, NULL, NULL, NULL},
    {"presence:unsubscribe", DOP_PRESENCE_UNSUBSCRIBE, DARG_ASIS, NULL, NULL, NULL, NULL},
    {"chat:focus", DOP_CHAT_FOCUS, DARG_ASIS, NULL, NULL, NULL, NULL},
    {"chat:blur", DOP_CHAT_BLUR, DARG_ASIS, NULL, NULL, NULL, NULL},
    {"notification:markRead", DOP_NOTIF_READ, DARG_ASIS, NULL, NULL, NULL, NULL},
    {"notification:markAllRead", DOP_NOTIF_READ_ALL, DARG_ASIS, NULL, NULL, NULL, NULL},
};
/* internal events no helpdesk client knows */
static const struct dia_out out_helpdesk[] = {
    {"presence:roster", NULL, NULL},
    {"ticket:status", NULL, NULL},
    {"presence:team", NULL, NULL},
    {"message:feed", NULL, NULL},
    {"message:participants", NULL, NULL},
};

/* 7.1 /tickets */
static const struct dia_in in_tickets[] = {
    {"ticket:subscribe", DOP_TICKET_JOIN, DARG_ASIS, NULL, NULL, "ticket:subscribed", NULL},
    {"ticket:unsubscribe", DOP_TICKET_LEAVE, DARG_ASIS, NULL, NULL, "ticket:unsubscribed", NULL},
    {"ticket:typing", DOP_TYPING_START, DARG_ASIS, NULL, NULL, NULL, NULL},
    {"ticket:stopTyping", DOP_TYPING_STOP, DARG_ASIS, NULL, NULL, NULL, NULL},
};
static const struct dia_out out_tickets[] = {
    {"typing:start", "ticket:typing", b_ticket_typing},
    {"typing:stop", "ticket:stopTyping", b_ticket_only},
    {"ticket:updated", "ticket:updated", NULL},
    {"ticket:assigned", "ticket:assigned", NULL},
    {"message:new", "message:new", NULL},
    {"message:updated", "message:updated", NULL},
    {"message:read", "message:read", NULL},
};

/* 7.1 /presence */
static const struct dia_in in_vpresence[] = {
    {"presence:status", DOP_PRESENCE_STATUS, DARG_ASIS, NULL, NULL, NULL, NULL},
    {"presence:subscribe", DOP_PRESENCE_SUBSCRIBE, DARG_ASIS, NULL, NULL, NULL, NULL},
    {"presence:unsubscribe", DOP_PRESENCE_UNSUBSCRIBE, DARG_ASIS, NULL, NULL, NULL, NULL},
};
/* the view is no member of org:<org> (app.c): updates come from the team
 * (presence:team) and from presence:subscribe's rooms (presence:update) */
static const struct dia_out out_vpresence[] = {
    {"presence:update", "presence:update", NULL},
    {"presence:team", "presence:update", NULL},
};

/* 7.1 /notifications */
static const struct dia_in in_vnotif[] = {
    {"notification:markRead", DOP_NOTIF_READ, DARG_ASIS, NULL, NULL, NULL, NULL},
    {"notification:markAllRead", DOP_NOTIF_READ_ALL, DARG_ASIS, NULL, NULL, NULL, NULL},
};
static const struct dia_out out_vnotif[] = {
    {"notification", "notification", NULL},
    {"notification:count", "notification:count", NULL},
};

/* 7.1 /chat */
static const struct dia_in in_vchat[] = {
    {"ticket:subscribe", DOP_TICKET_JOIN, DARG_ASIS, NULL, NULL, "ticket:subscribed", NULL},
    {"ticket:unsubscribe", DOP_TICKET_LEAVE, DARG_ASIS, NULL, NULL, "ticket:unsubscribed", NULL},
    {"chat:message", DOP_MESSAGE_SEND, DARG_ASIS, NULL, NULL, NULL, NULL},
};
static const struct dia_out out_vchat[] = {
    {"message:new", "message:new", NULL},
    {"message:updated", "message:updated", NULL},
};

/* 7.2 rooms (seed 002) */
static const struct dia_in in_rooms[] = {
    {"auth", DOP_AUTH, DARG_ASIS, NULL, NULL, NULL, NULL},
    {"join", DOP_ROOM_JOIN, DARG_ASIS, NULL, NULL, "joined", r_room},
    {"leave", DOP_ROOM_LEAVE, DARG_ASIS, NULL, NULL, "left", r_room},
    {"message", DOP_ROOM_MESSAGE, DARG_ASIS, NULL, NULL, NULL, NULL},
    {"presence", DOP_PRESENCE_STATUS, DARG_WRAP, "status", NULL, NULL, NULL},
    {"typing:start", DOP_ROOM_TYPING_START, DARG_ASIS, NULL, NULL, NULL, NULL},
    {"typing:stop", DOP_ROOM_TYPING_STOP, DARG_ASIS, NULL, NULL, NULL, NULL},
};

/* 7.3 presence (seed 003) */
static const struct dia_in in_presence[] = {
    {"heartbeat", DOP_PRESENCE_PING, DARG_ASIS, NULL, NULL, NULL, NULL},
    {"chat:focus", DOP_CHAT_FOCUS, DARG_ASIS, NULL, NULL, NULL, NULL},
    {"chat:blur", DOP_CHAT_BLUR, DARG_ASIS, NULL, NULL, NULL, NULL},
    {"join_conversation", DOP_TICKET_JOIN, DARG_UNWRAP, "conversationId", NULL, NULL, NULL},
    {"leave_conversation", DOP_TICKET_LEAVE, DARG_UNWRAP, "conversationId", NULL, NULL, NULL},
    {"send_message", DOP_MESSAGE_SEND, DARG_RENAME, "conversationId", "ticketId",
     "message:sent", r_pr_sent},
};
static const struct dia_out out_presence[] = {
    {"presence:update", NULL, NULL}, /* the list comes as presence:roster */
    {"presence:roster", "presence:update", NULL},
    {"presence:team", NULL, NULL},
    /* the participants' copy (their room and user rooms) carries it once */
    {"message:new", NULL, NULL},
    {"message:participants", "new_message", b_pr_message},
    {"message:feed", NULL, NULL},
    {"ticket:status", NULL, NULL},
};

/* 7.4 workspace (seed 004) */
static const struct dia_in in_workspace[] = {
    {"join_conversation", DOP_TICKET_JOIN, DARG_UNWRAP, "conversationId", NULL, NULL, NULL},
    {"leave_conversation", DOP_TICKET_LEAVE, DARG_UNWRAP, "conversationId", NULL, NULL, NULL},
};
static const struct dia_out out_workspace[] = {
    {"presence:roster", NULL, NULL},
    {"presence:team", NULL, NULL},
    {"message:participants", NULL, NULL},
    /* the staff feed (ws:<org> and conv:<id>) carries each message once */
    {"message:new", NULL, NULL},
    {"message:feed", "new_message", b_ws_message},
    /* a status change only (ticket:status), not every ticket:updated */
    {"ticket:updated", NULL, NULL},
    {"ticket:status", "conversation_status_changed", b_ws_status},
};

#define IN(t) .in = t, .nin = N(t)
#define OUT(t) .out = t, .nout = N(t)

const struct dialect dia_table[] = {
    {.name = "helpdesk", .nsp = "/", IN(in_helpdesk), OUT(out_helpdesk), .pass_unknown = 1,
     .err_status = "BAD_REQUEST"},
    {.name = "rooms", .nsp = "/", IN(in_rooms), OUT(out_helpdesk), .pass_unknown = 1,
     .err_status = "BAD_REQUEST", .err_not_found = "FORBIDDEN"},
    {.name = "presence", .nsp = "/", IN(in_presence), OUT(out_presence), .pass_unknown = 1,
     .err_status = "BAD_REQUEST", .on_connect_roster = "presence:connected"},
    {.name = "workspace", .nsp = "/", IN(in_workspace), OUT(out_workspace), .pass_unknown = 1,
     .err_missing = "MISSING_TOKEN", .err_invalid = "INVALID_TOKEN",
     .err_expired = "INVALID_TOKEN", .err_status = "BAD_REQUEST", .err_not_found = "FORBIDDEN"},
    /* the views of seed 001 (contract 7.1): only what they list */
    {.name = "tickets", .nsp = "/tickets", IN(in_tickets), OUT(out_tickets),
     .err_status = "BAD_REQUEST", .err_not_found = "FORBIDDEN"},
    {.name = "presence-view", .nsp = "/presence", IN(in_vpresence), OUT(out_vpresence),
     .err_status = "INVALID_STATUS"},
    {.name = "notifications", .nsp = "/notifications", IN(in_vnotif), OUT(out_vnotif),
     .err_status = "BAD_REQUEST"},
    {.name = "chat", .nsp = "/chat", IN(in_vchat), OUT(out_vchat), .err_status = "BAD_REQUEST",
     .err_not_found = "FORBIDDEN"},
};
const size_t dia_count = N(dia_table);

_Static_assert(N(dia_table) <= DIA_MAX, "DIA_MAX too small");

/* ---- times on the wire ---- */

long long dia_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void dia_iso_time(long long ms, char *out, size_t len)
{
	time_t sec = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&sec, &tm);
	size_t n = strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, len - n, ".%03lldZ", ms % 1000);
}

/* ---- lookups ---- */

int dia_find(const char *name)
{
	for (size_t i = 0; i < dia_count; i++)
		if (strcmp(dia_table[i].nsp, "/") == 0 && strcmp(dia_table[i].name, name) == 0)
			return (int)i;
	return -1;
}

int dia_of_view(const char *nsp)
{
	if (strcmp(nsp, "/") == 0)
		return -1;
	for (size_t i = 0; i < dia_count; i++)
		if (strcmp(dia_table[i].nsp, nsp) == 0)
			return (int)i;
	return -1;
}

const struct dia_in *dia_in_find(const struct dialect *d, const char *event)
{
	for (size_t i = 0; i < d->nin; i++)
		if (strcmp(d->in[i].name, event) == 0)
			return &d->in[i];
	return NULL;
}

json_t *dia_in_arg(const struct dia_in *e, const json_t *payload)
{
	if (payload == NULL)
		return NULL;
	switch (e->arg) {
	case DARG_WRAP:
		if (!json_is_object(payload))
			return json_pack("{s:O}", e->key, payload);
		break;
	case DARG_UNWRAP:
		if (json_is_object(payload)) {
			json_t *v = json_object_get(payload, e->key);
			return v != NULL ? json_incref(v) : json_null();
		}
		break;
	case DARG_RENAME:
		if (json_is_object(payload) && json_object_get(payload, e->key) != NULL) {
			json_t *c = json_copy((json_t *)payload);
			if (c == NULL || json_object_set(c, e->key2, json_object_get(payload, e->key)) < 0 ||
			    json_object_del(c, e->key) < 0) {
				json_decref(c);
				return NULL;
			}
			return c;
		}
		break;
	case DARG_ASIS:
		break;
	}
	return json_incref((json_t *)payload);
}

int dia_out(const struct dialect *d, const json_t *data, json_t **out)
{
	const char *ev = json_string_value(json_array_get(data, 0));
	const struct dia_out *o = NULL;
	*out = NULL;
	if (ev == NULL)
		return d->pass_unknown ? 1 : -1;
	for (size_t i = 0; i < d->nout && o == NULL; i++)
		if (strcmp(d->out[i].event, ev) == 0)
			o = &d->out[i];
	if (o == NULL)
		return d->pass_unknown ? 1 : -1;
	if (o->name == NULL)
		return -1;
	if (o->build == NULL && strcmp(o->name, ev) == 0)
		return 1;
	const char *name = o->name;
	json_t *p = json_array_get(data, 1);
	if (o->build != NULL && (p = o->build(p, &name)) == NULL)
		return -1;
	else if (o->build == NULL && p != NULL)
		json_incref(p);
	json_t *a = json_pack("[s]", name);
	if (a == NULL || (p != NULL && json_array_append(a, p) < 0)) {
		json_decref(a);
		json_decref(p);
		return -1;
	}
	json_decref(p);
	*out = a;
	return 0;
}

const char *dia_error_code(const struct dialect *d, const char *code)
{
	if (d->err_not_found != NULL && strcmp(code, "NOT_FOUND") == 0)
		return d->err_not_found;
	return code;
}

const char *dia_handshake_error(const struct dialect *d, const char *code)
{
	const char *r = NULL;
	if (strcmp(code, "AUTH_TOKEN_MISSING") == 0)
		r = d->err_missing;
	else if (strcmp(code, "AUTH_TOKEN_INVALID") == 0)
		r = d->err_invalid;
	else if (strcmp(code, "AUTH_TOKEN_EXPIRED") == 0)
		r = d->err_expired;
	return r != NULL ? r : code;
}
