/* h_room: the operations contract 7 adds to section 3, for the dialects
 * that need them: rooms a client names (free rooms of its org, and
 * ticket:<id> / conv:<id> through the ticket access check), user:joined /
 * user:left, room messages (not stored), typing in a room, and the
 * post-connect `auth` of seed 002. Free rooms live under the internal name
 * free:<org>:<name> (pd_rooms), so two orgs never meet and no client
 * name equals a reserved one. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h> /* time() for pd_jwt_verify */

#include "app.h"
#include "pd_jwt.h"
#include "pd_log.h"
#include "pd_rooms.h"
#include "room.h"
#include "typing.h"

/* What a client's room name is for the socket. */
enum room_ref {
	REF_BAD,       /* not a string, empty, too long, control characters */
	REF_FORBIDDEN, /* reserved, and not one a client may name */
	REF_FREE,      /* out = free:<org>:<name> */
	REF_TICKET,    /* id = the ticket id (access checked by h_ticket_*) */
};

static enum room_ref room_ref(const struct sio_socket *s, const json_t *arg, char *out, size_t len,
			      const char **id)
{
	const char *name = json_string_value(arg);
	if (name == NULL || strlen(name) != json_string_length(arg))
		return REF_BAD;
	switch (pd_room_classify(name)) {
	case PD_ROOM_INVALID:
		return REF_BAD;
	case PD_ROOM_FREE:
		return pd_room_free(out, len, app_of(s)->who.org, name) == 0 ? REF_FREE : REF_BAD;
	case PD_ROOM_TICKET:
		*id = name + strlen("ticket:");
		return **id != '\0' ? REF_TICKET : REF_BAD;
	case PD_ROOM_CONV:
		*id = name + strlen("conv:");
		return **id != '\0' ? REF_TICKET : REF_BAD;
	default:
		return REF_FORBIDDEN;
	}
}

/* The client's name of a free room (after free:<org>:), or NULL. */
static const char *free_name(const struct sio_socket *s, const char *internal)
{
	char prefix[DBQ_ID + 8];
	int n = snprintf(prefix, sizeof(prefix), "free:%s:", app_of(s)->who.org);
	if (n <= 0 || (size_t)n >= sizeof(prefix) || strncmp(internal, prefix, (size_t)n) != 0)
		return NULL;
	return internal + n;
}

/* Refusal of a bad or forbidden room name; 1 when answered. */
static int refuse(struct sio_socket *s, long long ack, enum room_ref r)
{
	if (r == REF_BAD)
		sio_error(s, ack, "BAD_REQUEST", "room must be a room name (1 to 200 characters)");
	else if (r == REF_FORBIDDEN)
		sio_error(s, ack, "FORBIDDEN", "this room cannot be joined");
	return r == REF_BAD || r == REF_FORBIDDEN;
}

/* user:joined / user:left {userId, room} to the room's other members. */
static void member_event(struct sio_socket *s, const char *internal, const char *name,
			 const char *event)
{
	const char *rooms[1] = {internal}, *except[1] = {s->id};
	json_t *p = json_pack("{s:s, s:s}", "userId", app_of(s)->who.id, "room", name);
	if (p != NULL)
		app_emit(s->nsp->w->loop, app_emit_nsp(s), rooms, 1, except, 1, event, p);
	json_decref(p);
}

/* The free room a join/leave names (into room, 0); a ticket's goes to
 * ticket_fn with the id (its reply: joined/left {room}) and a bad name is
 * refused: then -1. */
static int free_target(struct sio_socket *s, const json_t *arg, long long ack, char *room,
		       size_t len, void (*ticket_fn)(struct sio_socket *, const json_t *, long long))
{
	const char *id = NULL;
	enum room_ref r = room_ref(s, arg, room, len, &id);
	if (refuse(s, ack, r))
		return -1;
	if (r == REF_TICKET) {
		json_t *t = json_string(id);
		ticket_fn(s, t, ack);
		json_decref(t);
		return -1;
	}
	return 0;
}

void h_room_join(struct sio_socket *s, const json_t *arg, long long ack)
{
	char room[PD_ROOM_MAX];
	if (free_target(s, arg, ack, room, sizeof(room), h_ticket_join) < 0)
		return;
	int had = room_has(s, room), rc = room_join(s, room);
	if (rc < 0) {
		sio_error(s, ack, rc == -ENOMEM ? "INTERNAL" : "BAD_REQUEST",
			  rc == -E2BIG ? "too many rooms" : rc == -EINVAL ? "room name too long"
									: "out of memory");
		return;
	}
	if (!had)
		member_event(s, room, json_string_value(arg), "user:joined");
	app_ok(s, ack, json_pack("{s:s}", "room", json_string_value(arg)));
}

void h_room_leave(struct sio_socket *s, const json_t *arg, long long ack)
{
	char room[PD_ROOM_MAX];
	if (free_target(s, arg, ack, room, sizeof(room), h_ticket_leave) < 0)
		return;
	if (room_has(s, room)) {
		room_leave(s, room);
		member_event(s, room, json_string_value(arg), "user:left");
	}
	app_ok(s, ack, json_pack("{s:s}", "room", json_string_value(arg)));
}

void h_room_disconnect(struct sio_socket *s)
{
	for (size_t i = 0; i < s->nrooms; i++) {
		const char *name = free_name(s, s->rooms[i].r->name);
		if (name != NULL)
			member_event(s, s->rooms[i].r->name, name, "user:left");
	}
}

/* The internal room a client's name refers to, for a socket that must be
 * in it already; 0, or -1 after answering. */
static int member_room(struct sio_socket *s, const json_t *name, char *out, size_t len,
		       long long ack)
{
	const char *id = NULL;
	enum room_ref r = room_ref(s, name, out, len, &id);
	if (refuse(s, ack, r))
		return -1;
	if (r == REF_TICKET) {
		struct dbq_access q;
		dbq_access_prepare(&q, &app_of(s)->who, id, NULL);
		snprintf(out, len, "ticket:%s", q.ticket[0] != '\0' ? q.ticket : id);
	}
	if (!room_has(s, out)) {
		sio_error(s, ack, "FORBIDDEN", "not a member of this room");
		return -1;
	}
	return 0;
}

void h_room_message(struct sio_socket *s, const json_t *arg, long long ack)
{
	char room[PD_ROOM_MAX], id[24], at[DIA_ISO_LEN];
	const json_t *name = json_object_get(arg, "room"), *text = json_object_get(arg, "text");
	if (!json_is_object(arg) || !json_is_string(text)) {
		sio_error(s, ack, "BAD_REQUEST", "expected {room, text}");
		return;
	}
	if (member_room(s, name, room, sizeof(room), ack) < 0)
		return;
	broker_random_id(id, 20);
	dia_iso_time(dia_now_ms(), at, sizeof(at));
	json_t *m = json_pack("{s:s, s:O, s:O, s:s, s:s, s:s}", "id", id, "room", name, "text", text,
			      "userId", app_of(s)->who.id, "userName", s->ident->name, "createdAt",
			      at);
	const char *rooms[1] = {room};
	int rc = m != NULL ? app_emit(s->nsp->w->loop, app_emit_nsp(s), rooms, 1, NULL, 0, "message", m)
			   : -ENOMEM;
	if (rc < 0)
		sio_error(s, ack, "INTERNAL", "out of memory");
	else
		app_ok(s, ack, json_pack("{s:O}", "message", m));
	json_decref(m);
}

/* ---- typing in a room ---- */

struct room_typing {
	struct loop_timer t;
	struct sio_socket *s; /* NULL: idle */
	char room[PD_ROOM_MAX];
};

static void typing_relay(struct sio_socket *s, const char *room, int start)
{
	char self[DBQ_ID + 8];
	const char *name = free_name(s, room);
	snprintf(self, sizeof(self), "user:%s", app_of(s)->who.id);
	const char *rooms[1] = {room}, *except[1] = {self};
	json_t *p = json_pack("{s:s, s:s}", "userId", app_of(s)->who.id, "room", name ? name : room);
	if (p != NULL)
		app_emit(s->nsp->w->loop, app_emit_nsp(s), rooms, 1, except, 1,
			 start ? "typing:start" : "typing:stop", p);
	json_decref(p);
}

static void typing_timeout(struct loop_timer *lt)
{
	struct room_typing *t = container_of(lt, struct room_typing, t);
	struct sio_socket *s = t->s;
	t->s = NULL;
	if (s != NULL)
		typing_relay(s, t->room, 0);
}

void h_room_typing(struct sio_socket *s, const json_t *arg, long long ack, int start)
{
	char room[PD_ROOM_MAX];
	const char *id = NULL;
	/* a ticket's room: section 3's typing, access-checked there */
	if (room_ref(s, arg, room, sizeof(room), &id) == REF_TICKET) {
		json_t *t = json_string(id);
		typing_event(s, t, ack, start);
		json_decref(t);
		return;
	}
	if (member_room(s, arg, room, sizeof(room), ack) < 0)
		return;
	struct app_sock *a = app_of(s);
	struct loop *l = s->nsp->w->loop;
	if (a->room_typing == NULL && (a->room_typing = calloc(1, sizeof(*a->room_typing))) == NULL) {
		sio_error(s, ack, "INTERNAL", "out of memory");
		return;
	}
	struct room_typing *t = a->room_typing;
	if (t->s != NULL && strcmp(t->room, room) != 0) {
		/* one room at a time: the previous one stops */
		loop_timer_cancel(l, &t->t);
		t->s = NULL;
		typing_relay(s, t->room, 0);
	}
	if (start) {
		if (t->s == NULL) {
			loop_timer_init(&t->t, typing_timeout);
			snprintf(t->room, sizeof(t->room), "%s", room);
			t->s = s;
		}
		/* re-armed by every start; relayed every time, as section 3 */
		if (loop_timer_set(l, &t->t, l->now + (uint64_t)g_app.typing_timeout_ms) < 0) {
			t->s = NULL;
			sio_error(s, ack, "INTERNAL", "out of memory");
			return;
		}
		typing_relay(s, room, 1);
	} else {
		if (t->s != NULL)
			loop_timer_cancel(l, &t->t);
		t->s = NULL;
		typing_relay(s, room, 0);
	}
	app_ok(s, ack, NULL);
}

void h_room_typing_fini(struct sio_socket *s)
{
	struct room_typing *t = app_of(s)->room_typing;
	if (t == NULL)
		return;
	if (t->s != NULL) {
		loop_timer_cancel(s->nsp->w->loop, &t->t);
		t->s = NULL;
		typing_relay(s, t->room, 0);
	}
	free(t);
	app_of(s)->room_typing = NULL;
}

/* ---- auth {userId, token?} (seed 002) ---- */

void h_auth(struct sio_socket *s, const json_t *arg, long long ack)
{
	const char *user = json_string_value(json_object_get(arg, "userId"));
	const json_t *tok = json_object_get(arg, "token");
	if (user == NULL || strcmp(user, s->ident->sub) != 0 ||
	    (tok != NULL && !json_is_string(tok) && !json_is_null(tok))) {
		sio_error(s, ack, "FORBIDDEN", "userId is not this connection's user");
		return;
	}
	if (json_is_string(tok)) {
		struct pd_claims cl;
		const struct pd_jwt *jwt = s->nsp->w->cfg->jwt;
		if (jwt == NULL ||
		    pd_jwt_verify(jwt, json_string_value(tok), time(NULL), &cl) != PD_JWT_OK ||
		    strcmp(cl.sub, s->ident->sub) != 0 || strcmp(cl.org, s->ident->org) != 0) {
			sio_error(s, ack, "FORBIDDEN", "token refused");
			return;
		}
	}
	json_t *a = json_pack("[{s:s}]", "userId", user);
	if (ack >= 0)
		app_ok(s, ack, json_pack("{s:s}", "userId", user));
	else if (a != NULL)
		sio_emit(s, "auth:success", a, NULL, 0);
	json_decref(a);
}
